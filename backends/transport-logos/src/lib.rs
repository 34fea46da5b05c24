//! # demls-transport-logos
//!
//! The `"logos"` transport backend: each node is a Waku relay peer (Logos messaging) built on
//! rust-libp2p, wire-compatible with nwaku and js-waku: gossipsub v1.1 under
//! `/vac/waku/relay/2.0.0` with unsigned messages and `sha256(data)` message ids, TCP + Noise +
//! Yamux, identify, ping, and the `/vac/waku/metadata/1.0.0` cluster check. A peer of another
//! cluster is disconnected and its connections are refused for an exponential backoff.
//!
//! The node relays one static-shard pubsub topic (`/waku/2/rs/<cluster>/<shard>`) and filters
//! by content topic on receipt: a framework [`Topic`](demls::Topic) is a content topic.
//! Payloads travel as lip-segmentation segments inside 14/WAKU2 messages, so payloads larger
//! than one Waku message (150 KiB) are split and reassembled transparently. The message id of
//! an [`Inbound`](demls::Inbound) is the 14/WAKU2 deterministic message hash (of segment 0 for
//! segmented payloads).
//!
//! ```toml
//! [transport]
//! backend = "logos"
//! listen = "/ip4/0.0.0.0/tcp/60001"
//! static_peers = ["/ip4/127.0.0.1/tcp/60000/p2p/16Uiu2HAm..."]
//! cluster_id = 42
//! shard = 0
//! ```
//!
//! Programs that build nodes from configuration call [`link`] once so the registration is kept.
#![warn(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod behaviour;
mod cluster_backoff;
mod config;
mod error;
mod gate;
mod hash;
mod keys;
mod metadata;
mod plugin;
mod redial;
mod segmentation;
mod swarm;
mod topics;
mod transport;
mod wire;

pub use behaviour::{AGENT_VERSION, RELAY_PROTOCOL};
pub use config::{
    Config, DEFAULT_LISTEN, DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_MAX_PAYLOAD, GossipsubConfig,
    ReassemblyConfig, SEGMENT_OVERHEAD, StaticPeer,
};
pub use error::{LogosError, SegmentError, WireError};
pub use hash::{MESSAGE_HASH_LEN, gossip_message_id, message_hash};
pub use keys::load_or_generate as load_or_generate_node_key;
pub use metadata::{Metadata, MetadataCodec, PROTOCOL as METADATA_PROTOCOL};
pub use plugin::link;
pub use segmentation::{
    ENTIRE_HASH_LEN, MAX_DATA_SEGMENTS, Reassembled, Reassembler, ReassemblyLimits, Segment,
    entire_hash, parse as parse_segment, split as segment_payload,
};
pub use swarm::{MessageHash, Status};
pub use topics::{MAX_CONTENT_TOPIC_LEN, pubsub_topic};
pub use transport::LogosTransport;
pub use wire::WakuMessage;

/// The name this backend is registered under (`backend = "logos"`).
pub const NAME: &str = "logos";
