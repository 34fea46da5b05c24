//! Registration of the backend as transport `"logos"`, and the [`link`] function that keeps
//! the registration in a program.

use std::sync::Arc;

use demls::registry::{BuildContext, TransportPlugin};
use demls::{ConfigError, Transport};

use crate::config::Config;
use crate::transport::LogosTransport;

/// Starts a relay node from the `[transport]` options (inside the node's runtime).
fn build(options: &toml::Table, ctx: &BuildContext) -> Result<Arc<dyn Transport>, ConfigError> {
    let config = Config::from_options(options)?;
    let transport =
        LogosTransport::start(&config, &ctx.base_dir).map_err(|e| e.into_config_error())?;
    tracing::debug!(node = %ctx.node_name, peer_id = %transport.peer_id(), "logos transport built");
    Ok(transport)
}

demls::register_plugin!(
    transport,
    TransportPlugin {
        name: crate::NAME,
        description: "Logos messaging: a Waku relay peer (gossipsub /vac/waku/relay/2.0.0) on a static shard",
        build,
    }
);

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use demls::config::{BackendConfig, Slot};
    use demls::registry::{available, build_transport};

    use super::*;

    fn ctx() -> BuildContext {
        BuildContext {
            node_name: "n".into(),
            base_dir: PathBuf::from("."),
        }
    }

    fn config(options: toml::Table) -> BackendConfig {
        BackendConfig {
            backend: "logos".into(),
            options,
        }
    }

    #[test]
    fn the_backend_is_registered_as_logos() {
        link();
        assert!(available(Slot::Transport).contains(&"logos"));
    }

    #[tokio::test]
    async fn a_node_built_from_options_reports_its_name_and_limit() {
        let options = toml::toml! { max_payload = 5000000 };
        let t = build_transport(&config(options), &ctx()).unwrap();
        assert_eq!((t.name(), t.max_payload()), ("logos", 5_000_000));
        t.close().await;
    }

    #[test]
    fn building_outside_a_runtime_is_a_clear_error() {
        match build_transport(&config(toml::Table::new()), &ctx()) {
            Err(ConfigError::Backend { message, .. }) => {
                assert!(message.contains("tokio runtime"), "{message}");
            }
            other => panic!(
                "expected a Backend error, got {:?}",
                other.map(|t| t.name().to_owned())
            ),
        }
    }

    #[tokio::test]
    async fn an_unbindable_listen_address_is_a_backend_error() {
        let options = toml::toml! { listen = "/ip4/203.0.113.1/udp/1" };
        assert!(matches!(
            build_transport(&config(options), &ctx()),
            Err(ConfigError::Backend { .. })
        ));
    }
}
