//! The backend's options (`[storage]` with `backend = "sqlite"`).
//!
//! This module owns parsing and validating options; opening the database is
//! [`SqliteStorage`](crate::SqliteStorage)'s job.

use std::path::{Path, PathBuf};

use demls::ConfigError;
use serde::Deserialize;

/// How hard SQLite works to make a committed transaction survive a power loss
/// (`PRAGMA synchronous`). Both settings are crash-consistent: a killed *process* never loses
/// a committed batch and never sees half of one. They differ only when the *machine* stops.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Synchronous {
    /// Every commit waits for the write-ahead log to reach the disk (`fsync`) before
    /// [`apply`](demls::Storage::apply) returns. This is what the `Storage` contract asks of a
    /// durable backend ("a crash after `Ok` loses nothing"), and it matters for MLS: a member
    /// that sent under a ratchet generation and then lost that step to a power cut could reuse
    /// the generation (a nonce reuse). The default.
    #[default]
    Full,
    /// Commits reach the operating system but are synced only at checkpoints: faster, still
    /// consistent after any crash, but a power loss may roll back the last few batches.
    Normal,
}

impl Synchronous {
    /// The pragma value.
    pub(crate) fn pragma(self) -> &'static str {
        match self {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
        }
    }
}

fn default_busy_timeout_ms() -> u64 {
    1_000
}

fn default_verify_on_open() -> bool {
    true
}

/// Options of the SQLite storage. Unknown keys are rejected (by the framework's
/// `parse_options`, which reports them as `ConfigError::UnknownKey`).
///
/// ```toml
/// [storage]
/// backend = "sqlite"
/// path = "alice.db"          # optional: default `<node name>.db`; relative to the config file
/// synchronous = "full"       # optional: "full" (default) or "normal"
/// busy_timeout_ms = 1000     # optional: how long to wait for a lock another process holds
/// max_page_count = 25600     # optional: a size limit in pages (4 KiB each); beyond it `Full`
/// verify_on_open = true      # optional: check the file's structure when opening
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The database file. Created (with its `-wal` companion) when absent. In a configuration
    /// file: a relative path is resolved against the file's directory, and without `path` the
    /// file is `<node name>.db` there (so a profile can select `sqlite` with no options).
    pub path: PathBuf,
    /// The durability level of a commit; see [`Synchronous`]. Default: `full`.
    pub synchronous: Synchronous,
    /// How long an open or a write waits for a lock held by another connection before failing
    /// with `StorageError::Locked`. Default: 1000 ms.
    pub busy_timeout_ms: u64,
    /// The most pages (of 4 KiB) the database file may grow to; a batch that needs more fails
    /// with `StorageError::Full` and changes nothing. Default: unlimited (SQLite's own limit).
    pub max_page_count: Option<u32>,
    /// Runs SQLite's `quick_check` (a structural check, linear in the file size) when opening,
    /// so a damaged or truncated file fails at once with `StorageError::Corrupt` instead of at
    /// the first read of a damaged page. Default: true.
    pub verify_on_open: bool,
}

/// The `[storage]` table as written (see [`Config`] for each option).
#[derive(Deserialize)]
struct Options {
    path: Option<PathBuf>,
    #[serde(default)]
    synchronous: Synchronous,
    /// How long an open or a write waits for a lock held by another connection before failing
    /// with `StorageError::Locked`. Default: 1000 ms.
    #[serde(default = "default_busy_timeout_ms")]
    busy_timeout_ms: u64,
    #[serde(default)]
    max_page_count: Option<u32>,
    #[serde(default = "default_verify_on_open")]
    verify_on_open: bool,
}

/// A file name made of the node's name: letters, digits, `-`, `_` and `.` kept, anything else
/// (path separators included) replaced by `_`.
fn file_name_for(node_name: &str) -> String {
    let name: String = node_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let name = name.trim_start_matches('.');
    if name.is_empty() {
        "node.db".into()
    } else {
        format!("{name}.db")
    }
}

impl Config {
    /// The default options for a database at `path`.
    pub fn at(path: impl Into<PathBuf>) -> Config {
        Config {
            path: path.into(),
            synchronous: Synchronous::default(),
            busy_timeout_ms: default_busy_timeout_ms(),
            max_page_count: None,
            verify_on_open: default_verify_on_open(),
        }
    }

    /// Parses and validates the `[storage]` table (without its `backend` key) of node
    /// `node_name`: a relative `path` is resolved against `base_dir`, and a missing one is
    /// `<node name>.db` there. Unknown keys are [`ConfigError::UnknownKey`]; invalid values are
    /// [`ConfigError::InvalidValue`].
    pub fn from_options(
        options: &toml::Table,
        base_dir: &Path,
        node_name: &str,
    ) -> Result<Config, ConfigError> {
        let options: Options = demls::config::parse_options("storage", options)?;
        let path = options
            .path
            .unwrap_or_else(|| PathBuf::from(file_name_for(node_name)));
        if path.as_os_str().is_empty() {
            return Err(invalid("`path` must not be empty"));
        }
        if options.max_page_count == Some(0) {
            return Err(invalid("`max_page_count` must be at least 1"));
        }
        Ok(Config {
            path: base_dir.join(path),
            synchronous: options.synchronous,
            busy_timeout_ms: options.busy_timeout_ms,
            max_page_count: options.max_page_count,
            verify_on_open: options.verify_on_open,
        })
    }
}

fn invalid(message: &str) -> ConfigError {
    ConfigError::InvalidValue {
        section: "storage".into(),
        message: message.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_alone_gives_durable_defaults() {
        let config = Config::from_options(&toml::toml! { path = "/var/a.db" }, Path::new("."), "n");
        assert_eq!(config.unwrap(), Config::at("/var/a.db"));
        assert_eq!(Config::at("x").synchronous, Synchronous::Full);
    }

    #[test]
    fn without_a_path_the_file_is_named_after_the_node_next_to_the_config() {
        let base = Path::new("/etc/demls");
        for (node, file) in [
            ("alice", "alice.db"),
            ("../../etc/passwd", "_.._etc_passwd.db"),
            ("", "node.db"),
            ("bob smith", "bob_smith.db"),
        ] {
            let config = Config::from_options(&toml::Table::new(), base, node).unwrap();
            assert_eq!(config, Config::at(base.join(file)), "node {node:?}");
        }
    }

    #[test]
    fn every_option_is_read_and_relative_paths_follow_the_config_file() {
        let options = toml::toml! {
            path = "alice.db"
            synchronous = "normal"
            busy_timeout_ms = 5
            max_page_count = 100
            verify_on_open = false
        };
        assert_eq!(
            Config::from_options(&options, Path::new("/etc/demls"), "n").unwrap(),
            Config {
                path: PathBuf::from("/etc/demls/alice.db"),
                synchronous: Synchronous::Normal,
                busy_timeout_ms: 5,
                max_page_count: Some(100),
                verify_on_open: false,
            }
        );
    }

    #[test]
    fn unknown_keys_and_bad_values_are_rejected() {
        match Config::from_options(
            &toml::toml! { path = "a.db" capacity_bytes = 5 },
            Path::new("."),
            "n",
        ) {
            Err(ConfigError::UnknownKey { key, section, .. }) => {
                assert_eq!(
                    (key.as_str(), section.as_str()),
                    ("capacity_bytes", "storage")
                );
            }
            other => panic!("expected UnknownKey, got {other:?}"),
        }
        for options in [
            toml::toml! { path = "" },
            toml::toml! { path = "a.db" synchronous = "off" },
            toml::toml! { path = "a.db" max_page_count = 0 },
            toml::toml! { path = "a.db" max_page_count = -1 },
            toml::toml! { path = "a.db" busy_timeout_ms = "long" },
        ] {
            assert!(
                matches!(
                    Config::from_options(&options, Path::new("."), "n"),
                    Err(ConfigError::InvalidValue { .. })
                ),
                "{options:?} was accepted"
            );
        }
    }
}
