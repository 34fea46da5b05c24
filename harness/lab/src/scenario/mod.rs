//! Scenario files: their shape ([`schema`]), reading them with errors that name the line and
//! key, validation, and the protocol stack they select from the registry.

mod error;
pub mod locate;
mod schema;
mod validate;

use std::path::Path;

pub use error::ScenarioError;
pub use schema::*;
pub use validate::{BuiltStack, MAX_DURATION_S, MAX_MEMBERS, MAX_MESSAGE_BYTES};

/// A scenario read and checked, with its stack built.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The scenario.
    pub scenario: Scenario,
    /// Its stack.
    pub stack: BuiltStack,
    /// The file's text (for the results directory).
    pub source: String,
}

/// Parses and checks a scenario's TOML text. The stack's backends must be registered in this
/// program (link their crates).
pub fn parse(src: &str) -> Result<Loaded, ScenarioError> {
    check_schedule_entries(src)?;
    let scenario: Scenario = toml::from_str(src).map_err(|e| ScenarioError::from_toml(src, &e))?;
    validate::check(src, &scenario)?;
    let stack = validate::stack(src, &scenario)?;
    Ok(Loaded {
        scenario,
        stack,
        source: src.to_owned(),
    })
}

/// Parses each `[[schedule]]` entry on its own first: the `toml` crate places an error inside
/// an array of tables at the array's start, and a researcher needs the entry's own line.
fn check_schedule_entries(src: &str) -> Result<(), ScenarioError> {
    let Ok(doc) = toml::from_str::<toml::Table>(src) else {
        return Ok(()); // a syntax error: the full parse reports it with its position
    };
    let Some(toml::Value::Array(entries)) = doc.get("schedule") else {
        return Ok(());
    };
    for (i, entry) in entries.iter().enumerate() {
        if let toml::Value::Table(t) = entry
            && let Err(message) = Scheduled::try_from(t.clone())
        {
            return Err(ScenarioError::at(
                src,
                &crate::key_path!["schedule", i],
                message,
            ));
        }
    }
    Ok(())
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
