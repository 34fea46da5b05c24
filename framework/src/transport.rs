//! The `Transport` plugin trait: how a node's bytes reach other nodes.
//!
//! A transport moves opaque payloads between nodes by delivery address ([`Topic`]). It knows
//! nothing about groups, MLS or consensus; the [`Node`](crate::Node) owns one transport and
//! feeds what it receives into the sans-IO engine. This module defines only the contract.

use async_trait::async_trait;

use crate::types::Topic;

/// One message received from the network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inbound {
    /// The delivery address it was published to.
    pub topic: Topic,
    /// The payload exactly as published.
    pub payload: Vec<u8>,
    /// A transport-defined id for the message (for Logos messaging: the deterministic message
    /// hash). Used for tracing and duplicate suppression; never trusted for security.
    pub message_id: Vec<u8>,
}

/// Why a transport operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The payload is larger than [`Transport::max_payload`].
    #[error("payload of {size} bytes exceeds the transport limit of {limit} bytes")]
    PayloadTooLarge {
        /// Size of the rejected payload.
        size: usize,
        /// The transport's limit.
        limit: usize,
    },
    /// The topic is not acceptable to this transport (empty, malformed, or too long).
    #[error("invalid topic {topic:?}: {reason}")]
    InvalidTopic {
        /// The rejected topic.
        topic: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The transport has been shut down; no further messages will be sent or received.
    #[error("transport closed")]
    Closed,
    /// The message could not be handed to the network right now (no peers, queue full).
    /// The caller may retry later; nothing was sent.
    #[error("transport unavailable: {0}")]
    Unavailable(String),
    /// An I/O or protocol failure inside the transport.
    #[error("transport failure: {0}")]
    Io(#[from] std::io::Error),
}

/// Moves payloads between nodes by topic.
///
/// # Note for implementers
/// - `publish` hands a payload to the network for every *other* node subscribed to `topic`.
///   A node must **not** receive its own publications back from `recv`.
/// - Payloads arrive unmodified or not at all; a transport may drop, delay or reorder
///   messages (the engine tolerates all three) but must never deliver a corrupted payload.
///   Messages from one publisher on one topic should keep their order when the network does.
/// - A payload larger than [`max_payload`](Transport::max_payload) must be rejected by
///   `publish` with [`TransportError::PayloadTooLarge`] and must not be partially sent.
///   Transports that segment large payloads report the reassembled limit.
/// - `subscribe` and `unsubscribe` are idempotent. After `unsubscribe` returns, no message for
///   that topic is returned by `recv` unless it was already queued.
/// - `recv` waits for the next inbound message; after shutdown it returns
///   [`TransportError::Closed`]. It must be cancel-safe: dropping its future before it
///   completes (the node does so inside `select!`) must not lose a message. Inbound queues must be bounded: when full, the transport drops
///   (and may count) messages rather than growing without limit.
/// - All methods take `&self` and may be called concurrently.
#[async_trait]
pub trait Transport: Send + Sync {
    /// The name this backend is registered under (e.g. `"memory"`, `"logos"`).
    fn name(&self) -> &str;

    /// The largest payload `publish` accepts, in bytes.
    fn max_payload(&self) -> usize;

    /// Publishes `payload` to every other node subscribed to `topic`.
    async fn publish(&self, topic: &Topic, payload: Vec<u8>) -> Result<(), TransportError>;

    /// Starts receiving messages published to `topic`.
    async fn subscribe(&self, topic: &Topic) -> Result<(), TransportError>;

    /// Stops receiving messages published to `topic`.
    async fn unsubscribe(&self, topic: &Topic) -> Result<(), TransportError>;

    /// Waits for the next inbound message.
    async fn recv(&self) -> Result<Inbound, TransportError>;

    /// Shuts the transport down; pending and later `recv` calls return `Closed`.
    async fn close(&self);
}
