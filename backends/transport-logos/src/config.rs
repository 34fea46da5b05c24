//! The backend's options (`[transport]` with `backend = "logos"`): where to listen, which
//! peers to keep connected, the cluster and shard, the node key, gossipsub tuning and limits.
//!
//! This module owns parsing and validating; [`LogosTransport::start`](crate::LogosTransport)
//! builds the node from a validated [`Config`].

use std::path::PathBuf;
use std::time::Duration;

use demls::ConfigError;
use libp2p::Multiaddr;
use libp2p::multiaddr::Protocol;
use serde::Deserialize;

use crate::segmentation::{MAX_DATA_SEGMENTS, ReassemblyLimits};

/// nwaku's maximum Waku message size: 150 KiB.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 150 * 1024;
/// Bytes of every Waku message kept for everything but the segment's chunk (WakuMessage
/// fields, the segment header, a content topic of up to 512 bytes).
pub const SEGMENT_OVERHEAD: usize = 1024;
/// Default largest payload the framework may publish: 16 MiB (segmented transparently).
pub const DEFAULT_MAX_PAYLOAD: usize = 16 * 1024 * 1024;
/// Default listen address: loopback, any free port.
pub const DEFAULT_LISTEN: &str = "/ip4/127.0.0.1/tcp/0";

/// Options of the Logos messaging transport.
///
/// ```toml
/// [transport]
/// backend = "logos"
/// listen = "/ip4/0.0.0.0/tcp/60001"
/// static_peers = ["/ip4/127.0.0.1/tcp/60000/p2p/16Uiu2HAm..."]
/// cluster_id = 42
/// shard = 0
/// node_key_file = "node.key"   # created on first start; relative to the config file
/// max_message_size = 153600
/// max_payload = 16777216
/// queue_capacity = 4096
///
/// [transport.gossipsub]
/// d = 6
/// d_low = 4
/// d_high = 8
/// heartbeat_ms = 1000
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Config {
    /// The multiaddr to listen on (`/ip4/.../tcp/<port>`; port 0 picks a free one).
    /// Default: `/ip4/127.0.0.1/tcp/0`.
    pub listen: String,
    /// Peers to dial at start and redial with backoff whenever disconnected. Each must end in
    /// `/p2p/<peer id>`. Default: none.
    pub static_peers: Vec<String>,
    /// The Waku cluster (must match the peers'; a private cluster needs no RLN). Default: 0.
    pub cluster_id: u16,
    /// The static shard relayed: pubsub topic `/waku/2/rs/<cluster_id>/<shard>` (0..=1023).
    /// Default: 0.
    pub shard: u16,
    /// File holding the node's ed25519 key (hex of the 32-byte secret); generated and written
    /// (mode 0600) when absent. Relative paths are relative to the config file's directory.
    /// Default: none, a fresh identity on every start.
    pub node_key_file: Option<PathBuf>,
    /// The largest serialized Waku message sent or accepted, in bytes (4096..=1048576).
    /// Default: 153,600 (150 KiB, nwaku's limit).
    pub max_message_size: usize,
    /// The largest payload `publish` accepts; larger-than-message payloads are segmented
    /// (at most 255 segments). Default: 16 MiB.
    pub max_payload: usize,
    /// Inbound messages buffered for `recv` before new ones are dropped. Default: 4096.
    pub queue_capacity: usize,
    /// Bounds on reassembling segmented messages.
    pub reassembly: ReassemblyConfig,
    /// Gossipsub parameters (nwaku's values by default).
    pub gossipsub: GossipsubConfig,
}

/// Bounds on reassembling segmented payloads.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ReassemblyConfig {
    /// Incomplete messages kept at once (oldest evicted). Default: 32.
    pub max_partial_messages: usize,
    /// Bytes buffered across incomplete messages; at least `max_payload`. Default: 64 MiB.
    pub max_bytes: usize,
    /// Seconds an incomplete message is kept. Default: 60.
    pub timeout_secs: u64,
}

/// Gossipsub (11/WAKU2-RELAY) parameters; the defaults are nwaku's.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct GossipsubConfig {
    /// Target mesh degree D. Default: 6.
    pub d: usize,
    /// Lower mesh bound D_low. Default: 4.
    pub d_low: usize,
    /// Upper mesh bound D_high. Default: 8.
    pub d_high: usize,
    /// Outbound peers kept in the mesh D_out (< D_low, ≤ D/2). Default: 3.
    pub d_out: usize,
    /// Peers gossiped to D_lazy. Default: 6.
    pub d_lazy: usize,
    /// Heartbeat interval in milliseconds. Default: 1000.
    pub heartbeat_ms: u64,
    /// Heartbeats of message history kept. Default: 6.
    pub history_length: usize,
    /// Heartbeats of history gossiped. Default: 3.
    pub history_gossip: usize,
    /// Fanout time-to-live in milliseconds. Default: 60,000.
    pub fanout_ttl_ms: u64,
    /// How long seen message ids are remembered (duplicates dropped), in milliseconds.
    /// Default: 120,000.
    pub seen_ttl_ms: u64,
    /// Publish to every peer on the topic, not only the mesh. Default: true.
    pub flood_publish: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: DEFAULT_LISTEN.to_owned(),
            static_peers: Vec::new(),
            cluster_id: 0,
            shard: 0,
            node_key_file: None,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            max_payload: DEFAULT_MAX_PAYLOAD,
            queue_capacity: 4096,
            reassembly: ReassemblyConfig::default(),
            gossipsub: GossipsubConfig::default(),
        }
    }
}

impl Default for ReassemblyConfig {
    fn default() -> Self {
        ReassemblyConfig {
            max_partial_messages: 32,
            max_bytes: 64 * 1024 * 1024,
            timeout_secs: 60,
        }
    }
}

impl Default for GossipsubConfig {
    fn default() -> Self {
        GossipsubConfig {
            d: 6,
            d_low: 4,
            d_high: 8,
            d_out: 3,
            d_lazy: 6,
            heartbeat_ms: 1000,
            history_length: 6,
            history_gossip: 3,
            fanout_ttl_ms: 60_000,
            seen_ttl_ms: 120_000,
            flood_publish: true,
        }
    }
}

/// A static peer: where to dial and who must answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaticPeer {
    /// The peer's id (the `/p2p/` suffix).
    pub peer_id: libp2p::PeerId,
    /// The full multiaddr.
    pub addr: Multiaddr,
}

fn invalid<T>(message: String) -> Result<T, ConfigError> {
    Err(ConfigError::InvalidValue {
        section: "transport".into(),
        message,
    })
}

impl Config {
    /// Parses and validates the `[transport]` table (without its `backend` key). Unknown keys
    /// are [`ConfigError::UnknownKey`]; bad values are [`ConfigError::InvalidValue`] naming
    /// the option.
    pub fn from_options(options: &toml::Table) -> Result<Config, ConfigError> {
        let config: Config = demls::config::parse_options("transport", options)?;
        config.validate()?;
        Ok(config)
    }

    /// Checks ranges and relations between options.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.listen_addr()?;
        self.static_peers()?;
        if self.shard > 1023 {
            return invalid(format!("`shard` must be 0..=1023, got {}", self.shard));
        }
        if !(4096..=1024 * 1024).contains(&self.max_message_size) {
            return invalid(format!(
                "`max_message_size` must be 4096..=1048576 bytes, got {}",
                self.max_message_size
            ));
        }
        let most = self.segment_size() * MAX_DATA_SEGMENTS;
        if self.max_payload == 0 || self.max_payload > most {
            return invalid(format!(
                "`max_payload` must be 1..={most} bytes (255 segments), got {}",
                self.max_payload
            ));
        }
        if self.queue_capacity == 0 {
            return invalid("`queue_capacity` must be at least 1".into());
        }
        let r = &self.reassembly;
        if r.max_partial_messages == 0 || r.timeout_secs == 0 {
            return invalid(
                "`reassembly.max_partial_messages` and `reassembly.timeout_secs` must be at least 1"
                    .into(),
            );
        }
        if r.max_bytes < self.max_payload {
            return invalid(format!(
                "`reassembly.max_bytes` ({}) must be at least `max_payload` ({})",
                r.max_bytes, self.max_payload
            ));
        }
        let g = &self.gossipsub;
        if !(g.d_low <= g.d && g.d <= g.d_high && g.d_low > 0) {
            return invalid("gossipsub needs 0 < d_low <= d <= d_high".into());
        }
        if g.d_out >= g.d_low || g.d_out > g.d / 2 {
            return invalid("gossipsub needs d_out < d_low and d_out <= d / 2".into());
        }
        if g.heartbeat_ms == 0 || g.history_gossip == 0 || g.history_gossip > g.history_length {
            return invalid(
                "gossipsub needs heartbeat_ms > 0 and 0 < history_gossip <= history_length".into(),
            );
        }
        Ok(())
    }

    /// The parsed listen address.
    pub fn listen_addr(&self) -> Result<Multiaddr, ConfigError> {
        match self.listen.parse::<Multiaddr>() {
            Ok(addr) => Ok(addr),
            Err(e) => invalid(format!(
                "`listen` {:?} is not a multiaddr: {e}",
                self.listen
            )),
        }
    }

    /// The parsed static peers.
    pub fn static_peers(&self) -> Result<Vec<StaticPeer>, ConfigError> {
        let mut peers = Vec::with_capacity(self.static_peers.len());
        for text in &self.static_peers {
            let addr: Multiaddr = match text.parse() {
                Ok(addr) => addr,
                Err(e) => {
                    return invalid(format!("static peer {text:?} is not a multiaddr: {e}"));
                }
            };
            let Some(Protocol::P2p(peer_id)) = addr.iter().last() else {
                return invalid(format!("static peer {text:?} must end in /p2p/<peer id>"));
            };
            peers.push(StaticPeer { peer_id, addr });
        }
        Ok(peers)
    }

    /// Bytes of payload carried per segment.
    pub fn segment_size(&self) -> usize {
        self.max_message_size.saturating_sub(SEGMENT_OVERHEAD)
    }

    /// The reassembly bounds.
    pub fn reassembly_limits(&self) -> ReassemblyLimits {
        ReassemblyLimits {
            max_partials: self.reassembly.max_partial_messages,
            max_payload: self.max_payload,
            max_bytes: self.reassembly.max_bytes,
            timeout: Duration::from_secs(self.reassembly.timeout_secs),
        }
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
