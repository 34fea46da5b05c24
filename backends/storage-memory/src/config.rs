//! The backend's options (`[storage]` with `backend = "memory"`).
//!
//! This module owns parsing and validating options; opening the store is
//! [`MemoryStorage`](crate::MemoryStorage)'s job.

use demls::ConfigError;
use serde::Deserialize;

/// Options of the memory storage.
///
/// ```toml
/// [storage]
/// backend = "memory"
/// name = "alice"             # optional: a process-global store, found again by name
/// capacity_bytes = 1048576   # optional: sum of key and value sizes the store may hold
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Config {
    /// The most bytes (sum of every key's and value's length) the store may hold; a batch that
    /// would grow it beyond fails with `StorageError::Full` and changes nothing. Default:
    /// unlimited.
    pub capacity_bytes: Option<usize>,
    /// Opens the process-global store of this name ([`MemoryStorage::named`](crate::MemoryStorage::named))
    /// instead of a private one, so a node rebuilt from the same file in the same process finds
    /// its state again. Default: a private store.
    pub name: Option<String>,
}

impl Config {
    /// Parses and validates the `[storage]` table (without its `backend` key). Unknown keys are
    /// [`ConfigError::UnknownKey`]; invalid values are [`ConfigError::InvalidValue`].
    pub fn from_options(options: &toml::Table) -> Result<Config, ConfigError> {
        let config: Config = demls::config::parse_options("storage", options)?;
        if config.name.as_deref() == Some("") {
            return Err(ConfigError::InvalidValue {
                section: "storage".into(),
                message: "`name` must not be empty".into(),
            });
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_table_is_a_private_unlimited_store() {
        assert_eq!(
            Config::from_options(&toml::Table::new()).unwrap(),
            Config::default()
        );
    }

    #[test]
    fn every_option_is_read() {
        let options = toml::toml! {
            name = "alice"
            capacity_bytes = 4096
        };
        assert_eq!(
            Config::from_options(&options).unwrap(),
            Config {
                capacity_bytes: Some(4096),
                name: Some("alice".into())
            }
        );
    }

    #[test]
    fn unknown_keys_and_bad_values_are_rejected() {
        match Config::from_options(&toml::toml! { path = "/tmp/x" }) {
            Err(ConfigError::UnknownKey { key, section, .. }) => {
                assert_eq!((key.as_str(), section.as_str()), ("path", "storage"));
            }
            other => panic!("expected UnknownKey, got {other:?}"),
        }
        for options in [
            toml::toml! { name = "" },
            toml::toml! { capacity_bytes = -5 },
            toml::toml! { capacity_bytes = "big" },
        ] {
            assert!(
                matches!(
                    Config::from_options(&options),
                    Err(ConfigError::InvalidValue { .. })
                ),
                "{options:?} was accepted"
            );
        }
    }
}
