//! Registration of the backend as transport `"memory"`, and the [`link`] function that keeps
//! the registration in a program.
//!
//! The `inventory::submit!` and `link` must stay in this one module: calling `link` is what
//! makes the linker keep the object code holding the registration.

use std::sync::Arc;

use demls::registry::{BuildContext, TransportPlugin};
use demls::{ConfigError, Transport};

use crate::config::Config;
use crate::network::MemoryNetwork;

/// Builds an endpoint labelled with the node's name on the configured named network.
fn build(options: &toml::Table, ctx: &BuildContext) -> Result<Arc<dyn Transport>, ConfigError> {
    let config = Config::from_options(options)?;
    tracing::debug!(node = %ctx.node_name, network = %config.network, "joining memory network");
    let endpoint =
        MemoryNetwork::named(&config.network).endpoint_with(ctx.node_name.clone(), config.limits());
    Ok(endpoint)
}

demls::register_plugin!(
    transport,
    TransportPlugin {
        name: crate::NAME,
        description: "in-process network shared by the nodes of one process (tests, examples, embedding)",
        build,
    }
);

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use demls::config::{BackendConfig, Slot};
    use demls::registry::{available, build_transport};

    use super::*;

    fn ctx(node: &str) -> BuildContext {
        BuildContext {
            node_name: node.into(),
            base_dir: PathBuf::from("."),
        }
    }

    fn config(options: toml::Table) -> BackendConfig {
        BackendConfig {
            backend: "memory".into(),
            options,
        }
    }

    #[test]
    fn the_backend_is_registered_as_memory() {
        link();
        assert!(available(Slot::Transport).contains(&"memory"));
    }

    #[tokio::test]
    async fn nodes_built_with_the_same_network_option_reach_each_other() {
        let options = toml::toml! {
            network = "plugin-test-shared"
            max_payload = 64
        };
        let alice = build_transport(&config(options.clone()), &ctx("alice")).unwrap();
        let bob = build_transport(&config(options), &ctx("bob")).unwrap();
        assert_eq!((alice.name(), alice.max_payload()), ("memory", 64));
        let topic = demls::Topic::new("t");
        bob.subscribe(&topic).await.unwrap();
        alice.publish(&topic, b"hi".to_vec()).await.unwrap();
        assert_eq!(bob.recv().await.unwrap().payload, b"hi".to_vec());
        assert_eq!(
            MemoryNetwork::named("plugin-test-shared").endpoint_count(),
            2
        );
    }

    #[test]
    fn an_unknown_option_is_reported_by_name() {
        let options = toml::toml! { colour = "red" };
        match build_transport(&config(options), &ctx("n")) {
            Err(ConfigError::UnknownKey { key, section, .. }) => {
                assert_eq!((key.as_str(), section.as_str()), ("colour", "transport"));
            }
            other => panic!(
                "expected UnknownKey, got {:?}",
                other.map(|t| t.name().to_owned())
            ),
        }
    }
}
