//! `WakuMessage::decode` (14/WAKU2-MESSAGE, every relay message): never panics; a decoded
//! message round-trips (an empty `meta` is written as absent, which hashes the same); its
//! deterministic hash and gossip id are computable; its payload goes on to segment parsing.
#![no_main]

use demls_transport_logos::{WakuMessage, gossip_message_id, message_hash, parse_segment};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(message) = WakuMessage::decode(data) else {
        return;
    };
    assert!(!message.content_topic.is_empty());
    assert!(message.meta.as_ref().is_none_or(|m| m.len() <= 64));
    let mut expected = message.clone();
    if expected.meta.as_ref().is_some_and(Vec::is_empty) {
        expected.meta = None;
    }
    let bytes = message.encode();
    let back = WakuMessage::decode(&bytes).expect("an encoded message decodes");
    assert_eq!(back, expected, "decode(encode(x)) == x");
    assert_eq!(back.encode(), bytes, "encoding is stable");
    let topic = demls_transport_logos::pubsub_topic(42, 0);
    assert_eq!(message_hash(&topic, &message), message_hash(&topic, &back));
    let _ = gossip_message_id(data);
    let _ = parse_segment(&message.payload);
});
