//! The backend's options (`[transport]` with `backend = "memory"`) and the per-endpoint limits
//! they set.
//!
//! This module owns parsing and validating options; building endpoints is
//! [`MemoryNetwork`](crate::MemoryNetwork)'s job.

use demls::ConfigError;
use serde::Deserialize;

/// Default largest payload: 1 MiB.
pub const DEFAULT_MAX_PAYLOAD: usize = 1_048_576;
/// Default inbound queue bound per endpoint.
pub const DEFAULT_QUEUE_CAPACITY: usize = 65_536;
/// Default network name.
pub const DEFAULT_NETWORK: &str = "default";

/// Options of the memory transport.
///
/// ```toml
/// [transport]
/// backend = "memory"
/// network = "demo"          # nodes naming the same network in one process reach each other
/// max_payload = 1048576     # bytes
/// queue_capacity = 65536    # inbound messages buffered per node; more are dropped
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Config {
    /// The process-global network to join ([`MemoryNetwork::named`](crate::MemoryNetwork::named)).
    /// Default: `"default"`.
    pub network: String,
    /// The largest payload `publish` accepts, in bytes (at least 1). Default: 1 MiB.
    pub max_payload: usize,
    /// How many inbound messages an endpoint buffers before dropping new ones (at least 1).
    /// Default: 65,536.
    pub queue_capacity: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            network: DEFAULT_NETWORK.to_owned(),
            max_payload: DEFAULT_MAX_PAYLOAD,
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
        }
    }
}

impl Config {
    /// Parses and validates the `[transport]` table (without its `backend` key). Unknown keys
    /// are [`ConfigError::UnknownKey`]; out-of-range values are [`ConfigError::InvalidValue`].
    pub fn from_options(options: &toml::Table) -> Result<Config, ConfigError> {
        let config: Config = demls::config::parse_options("transport", options)?;
        let invalid = |message: &str| {
            Err(ConfigError::InvalidValue {
                section: "transport".into(),
                message: message.into(),
            })
        };
        if config.network.is_empty() {
            return invalid("`network` must not be empty");
        }
        if config.max_payload == 0 {
            return invalid("`max_payload` must be at least 1 byte");
        }
        if config.queue_capacity == 0 {
            return invalid("`queue_capacity` must be at least 1");
        }
        Ok(config)
    }

    /// The limits these options set for an endpoint.
    pub fn limits(&self) -> Limits {
        Limits {
            max_payload: self.max_payload,
            queue_capacity: self.queue_capacity,
        }
    }
}

/// Per-endpoint limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The largest payload `publish` accepts, in bytes.
    pub max_payload: usize,
    /// How many inbound messages are buffered before new ones are dropped (0 drops all).
    pub queue_capacity: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Config::default().limits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_table_selects_the_defaults() {
        let config = Config::from_options(&toml::Table::new()).unwrap();
        assert_eq!(config, Config::default());
        assert_eq!(
            (
                config.network.as_str(),
                config.max_payload,
                config.queue_capacity
            ),
            ("default", 1_048_576, 65_536)
        );
    }

    #[test]
    fn every_option_is_read() {
        let options = toml::toml! {
            network = "demo"
            max_payload = 4096
            queue_capacity = 8
        };
        let config = Config::from_options(&options).unwrap();
        assert_eq!(
            config,
            Config {
                network: "demo".into(),
                max_payload: 4096,
                queue_capacity: 8
            }
        );
    }

    #[test]
    fn an_unknown_key_is_named() {
        let options = toml::toml! { netwrok = "typo" };
        match Config::from_options(&options) {
            Err(ConfigError::UnknownKey { section, key, .. }) => {
                assert_eq!((section.as_str(), key.as_str()), ("transport", "netwrok"));
            }
            other => panic!("expected UnknownKey, got {other:?}"),
        }
    }

    #[test]
    fn zero_limits_empty_names_and_wrong_types_are_invalid() {
        for options in [
            toml::toml! { queue_capacity = 0 },
            toml::toml! { max_payload = 0 },
            toml::toml! { network = "" },
            toml::toml! { max_payload = -1 },
            toml::toml! { network = 3 },
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
