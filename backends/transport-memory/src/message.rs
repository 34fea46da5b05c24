//! A published message as the hub holds it: shared by every inbox it was delivered to, with the
//! message id computed once at publish time.
//!
//! This module owns the message id rule; it knows nothing about topics' subscribers or queues.

use std::sync::Arc;

use demls::{Inbound, Topic};
use ring::digest;

/// Length of a message id in bytes (a SHA-256 digest).
pub const MESSAGE_ID_LEN: usize = 32;

/// The id of `payload` published to `topic`: SHA-256 over the topic's UTF-8 bytes, one zero
/// byte, and the payload. Identical publications get identical ids.
pub fn message_id(topic: &Topic, payload: &[u8]) -> [u8; MESSAGE_ID_LEN] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(topic.as_str().as_bytes());
    ctx.update(&[0]);
    ctx.update(payload);
    let mut id = [0u8; MESSAGE_ID_LEN];
    id.copy_from_slice(ctx.finish().as_ref());
    id
}

/// One publication, shared (through an `Arc`) by every inbox it was queued in.
#[derive(Debug)]
pub(crate) struct Message {
    topic: Topic,
    payload: Vec<u8>,
    id: [u8; MESSAGE_ID_LEN],
}

impl Message {
    /// Wraps a publication and computes its id.
    pub(crate) fn new(topic: Topic, payload: Vec<u8>) -> Message {
        let id = message_id(&topic, &payload);
        Message { topic, payload, id }
    }

    /// The topic it was published to.
    pub(crate) fn topic(&self) -> &Topic {
        &self.topic
    }

    /// Turns the shared message into an owned [`Inbound`]: the last holder moves the payload
    /// out, every other holder copies it.
    pub(crate) fn into_inbound(message: Arc<Message>) -> Inbound {
        match Arc::try_unwrap(message) {
            Ok(Message { topic, payload, id }) => Inbound {
                topic,
                payload,
                message_id: id.to_vec(),
            },
            Err(shared) => Inbound {
                topic: shared.topic.clone(),
                payload: shared.payload.clone(),
                message_id: shared.id.to_vec(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_id_is_sha256_of_topic_nul_payload() {
        let topic = Topic::new("/app/1/chat/proto");
        let expected = digest::digest(&digest::SHA256, b"/app/1/chat/proto\x00hello");
        assert_eq!(&message_id(&topic, b"hello")[..], expected.as_ref());
    }

    #[test]
    fn the_separator_keeps_topic_and_payload_apart() {
        assert_ne!(
            message_id(&Topic::new("ab"), b"c"),
            message_id(&Topic::new("a"), b"bc")
        );
    }

    #[test]
    fn the_last_holder_moves_and_others_copy_the_same_inbound() {
        let shared = Arc::new(Message::new(Topic::new("t"), vec![1, 2, 3]));
        let copy = Message::into_inbound(shared.clone());
        let moved = Message::into_inbound(shared);
        assert_eq!(copy, moved);
        assert_eq!(moved.payload, vec![1, 2, 3]);
        assert_eq!(
            moved.message_id,
            message_id(&Topic::new("t"), &[1, 2, 3]).to_vec()
        );
    }
}
