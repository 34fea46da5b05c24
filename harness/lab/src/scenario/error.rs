//! The one error a scenario file can produce: where (file, line, column, key) and what.

use std::fmt;
use std::path::PathBuf;

use super::locate::{self, Seg};

/// A scenario file that cannot be used, and where the problem is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file, when read from one.
    pub file: Option<PathBuf>,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// The key path (`schedule[2].sets`), when known.
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl ScenarioError {
    /// An error about the value at `path` in `src`.
    pub fn at(src: &str, path: &[Seg], message: impl Into<String>) -> ScenarioError {
        let pos = locate::span_of(src, path).map(|s| locate::position(src, s.start));
        ScenarioError {
            file: None,
            line: pos.map(|p| p.line),
            column: pos.map(|p| p.column),
            key: Some(locate::render(path)).filter(|k| !k.is_empty()),
            message: message.into(),
        }
    }

    /// A TOML syntax or type error from the `toml` crate, located in `src`.
    pub fn from_toml(src: &str, e: &toml::de::Error) -> ScenarioError {
        let span = e.span();
        let pos = span.as_ref().map(|s| locate::position(src, s.start));
        ScenarioError {
            file: None,
            line: pos.map(|p| p.line),
            column: pos.map(|p| p.column),
            key: span.and_then(|s| locate::path_at(src, s.start)),
            message: e.message().trim().to_owned(),
        }
    }

    /// This error, naming `file`.
    pub fn in_file(self, file: impl Into<PathBuf>) -> ScenarioError {
        ScenarioError {
            file: Some(file.into()),
            ..self
        }
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            Some(p) => write!(f, "{}", p.display())?,
            None => write!(f, "scenario")?,
        }
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        write!(f, ": ")?;
        if let Some(key) = &self.key {
            write!(f, "`{key}`: ")?;
        }
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for ScenarioError {}
