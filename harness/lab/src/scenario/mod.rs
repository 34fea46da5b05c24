//! Scenario files: their shape ([`schema`]), reading them with errors that name the line and
//! key, validation, and the protocol stack they select from the registry.

mod error;
pub mod locate;
mod schema;
mod validate;

use std::path::Path;

pub use error::ScenarioError;
pub use schema::*;
pub use validate::{MAX_DURATION_S, MAX_MEMBERS, MAX_MESSAGE_BYTES, Stack};

/// A scenario read and checked, with its stack built.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The scenario.
    pub scenario: Scenario,
    /// Its stack.
    pub stack: Stack,
    /// The file's text (for the results directory).
    pub source: String,
}

/// Parses and checks a scenario's TOML text. The stack's backends must be registered in this
/// program (link their crates).
pub fn parse(src: &str) -> Result<Loaded, ScenarioError> {
    let scenario: Scenario = toml::from_str(src).map_err(|e| ScenarioError::from_toml(src, &e))?;
    validate::check(src, &scenario)?;
    let stack = validate::stack(src, &scenario)?;
    Ok(Loaded {
        scenario,
        stack,
        source: src.to_owned(),
    })
}

/// Reads, parses and checks a scenario file.
pub fn load(path: &Path) -> Result<Loaded, ScenarioError> {
    let src = std::fs::read_to_string(path).map_err(|e| ScenarioError {
        file: Some(path.to_owned()),
        line: None,
        column: None,
        key: None,
        message: format!("cannot read: {e}"),
    })?;
    parse(&src).map_err(|e| e.in_file(path))
}
