//! Starting connected relay nodes on 127.0.0.1 for the integration tests.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use demls::Transport;
use demls::testkit::transport::TransportHarness;
use demls_transport_logos::{Config, LogosTransport};

/// How long nodes get to connect and exchange subscriptions.
pub const MESH_TIMEOUT: Duration = Duration::from_secs(30);

/// A config for a test node on loopback with an ephemeral port and identity.
pub fn loopback_config(static_peers: Vec<String>) -> Config {
    Config {
        listen: "/ip4/127.0.0.1/tcp/0".into(),
        static_peers,
        cluster_id: 66,
        shard: 3,
        // A short heartbeat makes meshes form quickly in tests.
        gossipsub: demls_transport_logos::GossipsubConfig {
            heartbeat_ms: 200,
            ..Default::default()
        },
        ..Config::default()
    }
}

/// Starts `n` nodes, each dialing all earlier ones as static peers, and waits until every node
/// has the `n - 1` others as relay peers on the shard.
pub async fn start_nodes(
    n: usize,
    config: impl Fn(Vec<String>) -> Config,
) -> Vec<Arc<LogosTransport>> {
    let mut nodes: Vec<Arc<LogosTransport>> = Vec::with_capacity(n);
    let mut addrs: Vec<String> = Vec::with_capacity(n);
    for _ in 0..n {
        let node = LogosTransport::start(&config(addrs.clone()), Path::new("."))
            .expect("a relay node starts");
        let addr = node
            .listen_addrs(Duration::from_secs(5))
            .await
            .expect("the node listens")[0]
            .to_string();
        addrs.push(addr);
        nodes.push(node);
    }
    for (i, node) in nodes.iter().enumerate() {
        assert!(
            node.wait_for_relay_peers(n - 1, false, MESH_TIMEOUT).await,
            "node {i} did not see {} relay peers: {:?}",
            n - 1,
            node.status().await
        );
    }
    nodes
}

/// The conformance harness: fresh, fully connected nodes for every case.
pub struct LogosHarness;

#[async_trait]
impl TransportHarness for LogosHarness {
    async fn endpoints(&self, n: usize) -> Vec<Arc<dyn Transport>> {
        start_nodes(n, loopback_config)
            .await
            .into_iter()
            .map(|t| t as Arc<dyn Transport>)
            .collect()
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(20)
    }

    fn quiet(&self) -> Duration {
        Duration::from_millis(300)
    }
}
