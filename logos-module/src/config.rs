//! `DemlsConfig`, the argument of `init`: every field optional, unknown fields refused.
//! It arrives as the record (a JSON object) from a generated client, or as its JSON text
//! from `logoscore call` (which passes records as strings); an empty text or `null` means
//! all defaults.

use serde::Deserialize;
use serde_json::Value;

use crate::error::ModuleError;

/// Which transport the node uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransportKind {
    /// The host's `delivery_module`, through the `lp_*` consumer ABI (inside Logos Core).
    DeliveryModule,
    /// An own Waku relay peer (the `logos` backend; outside Logos Core).
    Logos,
    /// The in-process memory network (tests).
    Memory,
}

impl TransportKind {
    /// The backend name.
    pub fn backend(self) -> &'static str {
        match self {
            TransportKind::DeliveryModule => crate::delivery::NAME,
            TransportKind::Logos => "logos",
            TransportKind::Memory => "memory",
        }
    }
}

/// The `init` configuration.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemlsConfig {
    /// JSON text for delivery_module `createNode` (an object is accepted and serialised).
    /// Default `"{}"`.
    #[serde(default)]
    pub delivery_config: Option<Value>,
    /// Log filter: `error`, `warn`, `info` (default), `debug`, `trace`.
    #[serde(default)]
    pub log_level: Option<String>,
    /// `"delivery_module"` (default), `"logos"` or `"memory"`.
    #[serde(default)]
    pub transport: Option<String>,
    /// Join at once when an inbox invitation arrives (default false).
    #[serde(default)]
    pub auto_accept_invitations: Option<bool>,
    /// Path of the logos-protocol library to `dlopen` when the process does not export the
    /// `lp_*` functions (else env `LOGOS_PROTOCOL_LIBRARY`).
    #[serde(default)]
    pub logos_protocol_library: Option<String>,
    /// Options handed to the `logos` or `memory` transport backend (their TOML options as a
    /// JSON object). Not used by `delivery_module`.
    #[serde(default)]
    pub transport_options: Option<Value>,
}

impl DemlsConfig {
    /// Reads the argument of `init`.
    pub fn from_arg(arg: &Value) -> Result<DemlsConfig, ModuleError> {
        let parsed;
        let object = match arg {
            Value::Null => return Ok(DemlsConfig::default()),
            Value::String(text) if text.trim().is_empty() => return Ok(DemlsConfig::default()),
            Value::String(text) => {
                parsed = serde_json::from_str::<Value>(text).map_err(|e| {
                    ModuleError::InvalidConfig(format!("config text is not JSON: {e}"))
                })?;
                &parsed
            }
            other => other,
        };
        if !object.is_object() {
            return Err(ModuleError::InvalidConfig(
                "config must be a JSON object (or its text)".into(),
            ));
        }
        let config = DemlsConfig::deserialize(object)
            .map_err(|e| ModuleError::InvalidConfig(format!("config: {e}")))?;
        config.transport_kind()?;
        config.delivery_config_text()?;
        Ok(config)
    }

    /// The transport to use.
    pub fn transport_kind(&self) -> Result<TransportKind, ModuleError> {
        match self.transport.as_deref() {
            None | Some("delivery_module") => Ok(TransportKind::DeliveryModule),
            Some("logos") => Ok(TransportKind::Logos),
            Some("memory") => Ok(TransportKind::Memory),
            Some(other) => Err(ModuleError::InvalidConfig(format!(
                "unknown transport {other:?} (known: delivery_module, logos, memory)"
            ))),
        }
    }

    /// The `createNode` argument text.
    pub fn delivery_config_text(&self) -> Result<String, ModuleError> {
        match &self.delivery_config {
            None | Some(Value::Null) => Ok("{}".into()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(v @ Value::Object(_)) => Ok(v.to_string()),
            Some(_) => Err(ModuleError::InvalidConfig(
                "delivery_config must be a JSON text or object".into(),
            )),
        }
    }

    /// The transport backend options as TOML.
    pub fn transport_table(&self) -> Result<toml::Table, ModuleError> {
        match &self.transport_options {
            None | Some(Value::Null) => Ok(toml::Table::new()),
            Some(v) => toml::Table::try_from(v.clone())
                .map_err(|e| ModuleError::InvalidConfig(format!("transport_options: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_record_and_its_text_are_both_accepted() {
        let a = DemlsConfig::from_arg(&json!({"transport": "memory"})).unwrap();
        let b = DemlsConfig::from_arg(&json!("{\"transport\":\"memory\"}")).unwrap();
        assert_eq!(a.transport_kind().unwrap(), TransportKind::Memory);
        assert_eq!(b.transport_kind().unwrap(), TransportKind::Memory);
        let d = DemlsConfig::from_arg(&json!("")).unwrap();
        assert_eq!(d.transport_kind().unwrap(), TransportKind::DeliveryModule);
        assert_eq!(d.delivery_config_text().unwrap(), "{}");
    }

    #[test]
    fn unknown_fields_and_transports_are_refused() {
        assert!(DemlsConfig::from_arg(&json!({"transprot": "memory"})).is_err());
        assert!(DemlsConfig::from_arg(&json!({"transport": "carrier-pigeon"})).is_err());
        assert!(DemlsConfig::from_arg(&json!(5)).is_err());
    }
}
