//! Registration of the backend as transport `"delivery_module"` (for nodes built from a
//! configuration file), and the [`link`] that keeps it.

use std::sync::Arc;

use demls::registry::{BuildContext, TransportPlugin};
use demls::{ConfigError, Transport};
use serde::Deserialize;

use super::transport::DeliveryTransport;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    #[serde(default)]
    delivery_config: Option<String>,
    #[serde(default)]
    logos_protocol_library: Option<String>,
}

/// Resolves the `lp_*` functions and makes an unconnected transport (it connects, off the
/// runtime's workers, on first use).
fn build(options: &toml::Table, _ctx: &BuildContext) -> Result<Arc<dyn Transport>, ConfigError> {
    let options = Options::deserialize(options.clone()).map_err(|e| ConfigError::InvalidValue {
        section: "transport".into(),
        message: e.to_string(),
    })?;
    let api = super::lp::resolve(options.logos_protocol_library.as_deref()).map_err(|e| {
        ConfigError::InvalidValue {
            section: "transport".into(),
            message: e.to_string(),
        }
    })?;
    crate::tokens::forward_to(api);
    Ok(Arc::new(DeliveryTransport::new(
        api,
        options.delivery_config.unwrap_or_else(|| "{}".into()),
    )))
}

demls::register_plugin!(
    transport,
    TransportPlugin {
        name: super::NAME,
        description: "the host's delivery_module, through the lp_* consumer ABI (inside Logos Core)",
        build,
    }
);
