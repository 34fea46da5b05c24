//! The backend's errors, one enum per layer, and their mapping to the framework's
//! [`TransportError`] and [`ConfigError`].

use std::time::Duration;

use demls::{ConfigError, TransportError};
use libp2p::PeerId;

/// A Waku message that could not be decoded (dropped, and rejected at the gossipsub layer).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// Not a valid protobuf message.
    #[error("malformed protobuf: {0}")]
    Protobuf(#[source] prost::DecodeError),
    /// Field 1 (`payload`) is absent.
    #[error("the message has no payload field")]
    MissingPayload,
    /// Field 2 (`content_topic`) is absent or empty.
    #[error("the message has no content topic")]
    MissingContentTopic,
    /// `meta` is longer than 64 bytes.
    #[error("meta of {0} bytes exceeds 64 bytes")]
    MetaTooLong(usize),
    /// The serialized message is larger than the configured maximum.
    #[error("message of {size} bytes exceeds the {limit}-byte limit")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
}

/// A segment (lip-segmentation) that could not be accepted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum SegmentError {
    /// Not a valid `SegmentMessageProto`.
    #[error("malformed segment protobuf")]
    Malformed,
    /// `entire_message_hash` is not 32 bytes.
    #[error("entire-message hash of {0} bytes, expected 32")]
    BadHash(usize),
    /// Counts or indices outside what the spec allows.
    #[error("invalid segment counts: {0}")]
    BadCounts(&'static str),
    /// A segment disagrees with earlier segments of the same message.
    #[error("segment inconsistent with earlier ones: {0}")]
    Inconsistent(&'static str),
    /// The reassembled payload does not hash to `entire_message_hash`.
    #[error("reassembled payload does not match its hash")]
    HashMismatch,
    /// The message would not fit in the reassembly budget.
    #[error("message of up to {0} bytes does not fit the reassembly budget")]
    OverBudget(usize),
    /// Parity segments are not used by this implementation.
    #[error("parity segments are not supported")]
    ParityUnsupported,
}

/// Why the node could not start or keep running.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogosError {
    /// The configuration is invalid (see [`Config::validate`](crate::Config::validate)).
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// The node key file could not be read, parsed or written.
    #[error("node key file {path}: {message}")]
    NodeKey {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The swarm could not be built (transport, behaviour).
    #[error("cannot build the libp2p swarm: {0}")]
    Swarm(String),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {message}")]
    Listen {
        /// The address.
        addr: String,
        /// Why.
        message: String,
    },
    /// No tokio runtime is running (the transport must be built inside one).
    #[error("the logos transport must be started inside a tokio runtime")]
    NoRuntime,
    /// The swarm task has stopped.
    #[error("the relay node has stopped")]
    Stopped,
    /// Gossipsub refused a publication.
    #[error("publish failed: {0}")]
    Publish(String),
}

/// Why the [`Gate`](crate::gate::Gate) refused a connection: the peer was rejected for its
/// cluster and is under backoff. Only seen inside the swarm (a denied connection), never
/// returned to callers.
#[derive(Debug, thiserror::Error)]
#[error("peer {peer} was rejected for its cluster and is refused for {remaining:?} more")]
pub(crate) struct UnderBackoff {
    /// The peer.
    pub peer: PeerId,
    /// How long its backoff still runs.
    pub remaining: Duration,
}

impl From<LogosError> for TransportError {
    fn from(e: LogosError) -> Self {
        match e {
            LogosError::Stopped => TransportError::Closed,
            other => TransportError::Unavailable(other.to_string()),
        }
    }
}

impl LogosError {
    /// As a start-up failure of the transport slot.
    pub fn into_config_error(self) -> ConfigError {
        ConfigError::Backend {
            slot: demls::config::Slot::Transport,
            backend: crate::NAME.into(),
            message: self.to_string(),
        }
    }
}
