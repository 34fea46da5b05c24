//! The libp2p behaviour of a Waku relay peer: the cluster backoff gate, gossipsub as
//! 11/WAKU2-RELAY, the metadata protocol, identify and ping.

use std::time::Duration;

use libp2p::swarm::NetworkBehaviour;
use libp2p::{gossipsub, identify, identity, ping, request_response};

use crate::cluster_backoff::Policy;
use crate::config::Config;
use crate::error::LogosError;
use crate::gate::Gate;
use crate::hash::gossip_message_id;
use crate::metadata::{MetadataCodec, PROTOCOL as METADATA_PROTOCOL};

/// The Waku relay protocol id (gossipsub v1.1 under another name).
pub const RELAY_PROTOCOL: &str = "/vac/waku/relay/2.0.0";
/// The agent version sent by identify.
pub const AGENT_VERSION: &str = concat!("demls-logos/", env!("CARGO_PKG_VERSION"));
/// Bytes allowed in a gossipsub RPC beyond one Waku message (topic, framing, control).
const RPC_OVERHEAD: usize = 8 * 1024;

/// The combined behaviour. The gate comes first: a connection it refuses gets no handler from
/// the others.
#[derive(NetworkBehaviour)]
pub struct Behaviour {
    /// Refuses connections with peers under cluster backoff.
    pub gate: Gate,
    /// 11/WAKU2-RELAY.
    pub relay: gossipsub::Behaviour,
    /// 66/WAKU2-METADATA.
    pub metadata: request_response::Behaviour<MetadataCodec>,
    /// Identify (`/ipfs/id/1.0.0`).
    pub identify: identify::Behaviour,
    /// Ping (`/ipfs/ping/1.0.0`).
    pub ping: ping::Behaviour,
}

/// The gossipsub configuration Waku relay needs: its protocol id, unsigned messages,
/// `sha256(data)` ids, the message size limit and the configured mesh parameters. Messages are
/// validated by the node before being forwarded.
pub fn relay_config(config: &Config) -> Result<gossipsub::Config, LogosError> {
    let g = &config.gossipsub;
    gossipsub::ConfigBuilder::default()
        .protocol_id(RELAY_PROTOCOL, gossipsub::Version::V1_1)
        .validation_mode(gossipsub::ValidationMode::Anonymous)
        .message_id_fn(|m: &gossipsub::Message| {
            gossipsub::MessageId::from(gossip_message_id(&m.data))
        })
        .max_transmit_size(config.max_message_size + RPC_OVERHEAD)
        .validate_messages()
        .mesh_n(g.d)
        .mesh_n_low(g.d_low)
        .mesh_n_high(g.d_high)
        .mesh_outbound_min(g.d_out)
        .gossip_lazy(g.d_lazy)
        .heartbeat_interval(Duration::from_millis(g.heartbeat_ms))
        .history_length(g.history_length)
        .history_gossip(g.history_gossip)
        .fanout_ttl(Duration::from_millis(g.fanout_ttl_ms))
        .duplicate_cache_time(Duration::from_millis(g.seen_ttl_ms))
        .flood_publish(g.flood_publish)
        .build()
        .map_err(|e| LogosError::Swarm(format!("gossipsub config: {e}")))
}

/// Builds the behaviour for `key`.
pub fn build(key: &identity::Keypair, config: &Config) -> Result<Behaviour, LogosError> {
    let relay = gossipsub::Behaviour::new(
        gossipsub::MessageAuthenticity::Anonymous,
        relay_config(config)?,
    )
    .map_err(|e| LogosError::Swarm(format!("gossipsub: {e}")))?;
    let metadata = request_response::Behaviour::with_codec(
        MetadataCodec,
        [(METADATA_PROTOCOL, request_response::ProtocolSupport::Full)],
        request_response::Config::default().with_request_timeout(Duration::from_secs(10)),
    );
    let identify = identify::Behaviour::new(
        identify::Config::new("/ipfs/id/1.0.0".into(), key.public())
            .with_agent_version(AGENT_VERSION.into()),
    );
    Ok(Behaviour {
        gate: Gate::new(Policy::default()),
        relay,
        metadata,
        identify,
        ping: ping::Behaviour::default(),
    })
}
