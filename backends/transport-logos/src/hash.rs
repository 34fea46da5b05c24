//! The 14/WAKU2 deterministic message hash:
//! `sha256(pubsub_topic ‖ payload ‖ content_topic ‖ meta ‖ timestamp as 8 big-endian bytes)`,
//! with absent attributes left out. Exposed as [`Inbound::message_id`](demls::Inbound).

use crate::wire::WakuMessage;

/// Length of a deterministic message hash.
pub const MESSAGE_HASH_LEN: usize = 32;

/// The deterministic hash of `message` published on `pubsub_topic`.
pub fn message_hash(pubsub_topic: &str, message: &WakuMessage) -> [u8; MESSAGE_HASH_LEN] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(pubsub_topic.as_bytes());
    ctx.update(&message.payload);
    ctx.update(message.content_topic.as_bytes());
    if let Some(meta) = &message.meta {
        ctx.update(meta);
    }
    if let Some(timestamp) = message.timestamp {
        ctx.update(&timestamp.to_be_bytes());
    }
    let mut out = [0u8; MESSAGE_HASH_LEN];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// The gossipsub message id Waku relay uses: `sha256` of the serialized WakuMessage.
pub fn gossip_message_id(data: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, data)
        .as_ref()
        .to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    // The four test vectors of 14/WAKU2-MESSAGE, "Deterministic message hashing".
    const PUBSUB: &str = "/waku/2/default-waku/proto";
    const CONTENT: &str = "/waku/2/default-content/proto";
    const TIMESTAMP: i64 = 0x175789bfa23f8400;

    fn vector(payload: &str, meta: Option<&str>) -> WakuMessage {
        WakuMessage {
            payload: hex::decode(payload).unwrap(),
            content_topic: CONTENT.into(),
            timestamp: Some(TIMESTAMP),
            meta: meta.map(|m| hex::decode(m).unwrap()),
            ..WakuMessage::default()
        }
    }

    #[test]
    fn the_spec_vector_with_twelve_bytes_of_meta_matches() {
        let m = vector("010203045445535405060708", Some("73757065722d736563726574"));
        assert_eq!(
            hex::encode(message_hash(PUBSUB, &m)),
            "64cce733fed134e83da02b02c6f689814872b1a0ac97ea56b76095c3c72bfe05"
        );
    }

    #[test]
    fn the_spec_vector_with_sixty_four_bytes_of_meta_matches() {
        let meta: String = (0u8..64).map(|b| format!("{b:02x}")).collect();
        let m = vector("010203045445535405060708", Some(&meta));
        assert_eq!(
            hex::encode(message_hash(PUBSUB, &m)),
            "7158b6498753313368b9af8f6e0a0a05104f68f972981da42a43bc53fb0c1b27"
        );
    }

    #[test]
    fn the_spec_vector_without_meta_matches() {
        let m = vector("010203045445535405060708", None);
        assert_eq!(
            hex::encode(message_hash(PUBSUB, &m)),
            "a2554498b31f5bcdfcbf7fa58ad1c2d45f0254f3f8110a85588ec3cf10720fd8"
        );
    }

    #[test]
    fn the_spec_vector_with_an_empty_payload_matches() {
        let m = vector("", Some("73757065722d736563726574"));
        assert_eq!(
            hex::encode(message_hash(PUBSUB, &m)),
            "483ea950cb63f9b9d6926b262bb36194d3f40a0463ce8446228350bd44e96de4"
        );
    }

    #[test]
    fn the_gossip_id_is_sha256_of_the_serialized_message() {
        assert_eq!(
            hex::encode(gossip_message_id(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
