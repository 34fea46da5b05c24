//! The 14/WAKU2-MESSAGE codec: the protobuf every Waku relay message carries.
//!
//! Field 1 (`payload`) is always written, even when empty: nwaku rejects a message without it.
//! `version` is written only when non-zero (proto3 default), `meta` only when non-empty and
//! `ephemeral` only when true. `rate_limit_proof` is kept as opaque bytes.

use prost::Message as _;

use crate::error::WireError;

/// The largest `meta` attribute the spec allows, in bytes.
pub const MAX_META_LEN: usize = 64;

/// One Waku message (14/WAKU2-MESSAGE).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WakuMessage {
    /// The application payload (for this transport: one serialized segment).
    pub payload: Vec<u8>,
    /// The content topic, `/{application}/{version}/{name}/{encoding}`.
    pub content_topic: String,
    /// Payload encryption version; this transport writes 0.
    pub version: u32,
    /// Unix time in nanoseconds when the message was generated.
    pub timestamp: Option<i64>,
    /// Up to 64 bytes that take part in the deterministic hash.
    pub meta: Option<Vec<u8>>,
    /// An RLN proof, kept opaque (a private cluster needs none).
    pub rate_limit_proof: Option<Vec<u8>>,
    /// Whether the network should not persist the message.
    pub ephemeral: bool,
}

/// The protobuf layout; `optional` on `payload` makes prost write it even when empty.
#[derive(Clone, PartialEq, prost::Message)]
struct WakuMessageProto {
    #[prost(bytes = "vec", optional, tag = "1")]
    payload: Option<Vec<u8>>,
    #[prost(string, tag = "2")]
    content_topic: String,
    #[prost(uint32, tag = "3")]
    version: u32,
    #[prost(sint64, optional, tag = "10")]
    timestamp: Option<i64>,
    #[prost(bytes = "vec", optional, tag = "11")]
    meta: Option<Vec<u8>>,
    #[prost(bytes = "vec", optional, tag = "21")]
    rate_limit_proof: Option<Vec<u8>>,
    #[prost(bool, tag = "31")]
    ephemeral: bool,
}

impl WakuMessage {
    /// Serializes the message.
    pub fn encode(&self) -> Vec<u8> {
        WakuMessageProto {
            payload: Some(self.payload.clone()),
            content_topic: self.content_topic.clone(),
            version: self.version,
            timestamp: self.timestamp,
            meta: self.meta.clone().filter(|m| !m.is_empty()),
            rate_limit_proof: self.rate_limit_proof.clone(),
            ephemeral: self.ephemeral,
        }
        .encode_to_vec()
    }

    /// Parses a message received from the network. Malformed protobuf, a missing payload or
    /// content topic and an oversized `meta` are errors.
    pub fn decode(bytes: &[u8]) -> Result<WakuMessage, WireError> {
        let proto = WakuMessageProto::decode(bytes).map_err(WireError::Protobuf)?;
        let payload = proto.payload.ok_or(WireError::MissingPayload)?;
        if proto.content_topic.is_empty() {
            return Err(WireError::MissingContentTopic);
        }
        if let Some(meta) = &proto.meta
            && meta.len() > MAX_META_LEN
        {
            return Err(WireError::MetaTooLong(meta.len()));
        }
        Ok(WakuMessage {
            payload,
            content_topic: proto.content_topic,
            version: proto.version,
            timestamp: proto.timestamp,
            meta: proto.meta,
            rate_limit_proof: proto.rate_limit_proof,
            ephemeral: proto.ephemeral,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> WakuMessage {
        WakuMessage {
            payload: vec![1, 2, 3],
            content_topic: "/logos-chat/1/00112233445566778899aabbccddeeff/proto".into(),
            timestamp: Some(1_700_000_000_000_000_000),
            meta: Some(b"m".to_vec()),
            ..WakuMessage::default()
        }
    }

    #[test]
    fn a_message_round_trips() {
        let m = sample();
        assert_eq!(WakuMessage::decode(&m.encode()).unwrap(), m);
    }

    #[test]
    fn an_empty_payload_is_still_written_as_field_one() {
        let m = WakuMessage {
            payload: Vec::new(),
            ..sample()
        };
        let bytes = m.encode();
        // Field 1, wire type 2 (0x0a), length 0.
        assert_eq!(&bytes[..2], &[0x0a, 0x00]);
        assert_eq!(
            WakuMessage::decode(&bytes).unwrap().payload,
            Vec::<u8>::new()
        );
    }

    #[test]
    fn the_timestamp_is_a_zigzag_sint64_in_field_ten() {
        let m = WakuMessage {
            payload: Vec::new(),
            content_topic: "/a/1/b/c".into(),
            timestamp: Some(1),
            ..WakuMessage::default()
        };
        let bytes = m.encode();
        // ... field 10 varint: key (10 << 3) = 0x50, zigzag(1) = 2.
        assert!(bytes.ends_with(&[0x50, 0x02]));
    }

    #[test]
    fn a_message_without_payload_field_is_rejected() {
        // Only field 2 (content topic "x").
        assert!(matches!(
            WakuMessage::decode(&[0x12, 0x01, b'x']),
            Err(WireError::MissingPayload)
        ));
    }

    #[test]
    fn garbage_oversized_meta_and_missing_topics_are_typed_errors() {
        assert!(matches!(
            WakuMessage::decode(&[0xff, 0xff, 0xff]),
            Err(WireError::Protobuf(_))
        ));
        let no_topic = WakuMessage {
            content_topic: String::new(),
            ..sample()
        };
        assert!(matches!(
            WakuMessage::decode(&no_topic.encode()),
            Err(WireError::MissingContentTopic)
        ));
        let big_meta = WakuMessage {
            meta: Some(vec![0; 65]),
            ..sample()
        };
        assert!(matches!(
            WakuMessage::decode(&big_meta.encode()),
            Err(WireError::MetaTooLong(65))
        ));
    }

    #[test]
    fn unknown_fields_are_skipped() {
        let mut bytes = sample().encode();
        // Field 99, varint 5.
        bytes.extend_from_slice(&[0x98, 0x06, 0x05]);
        assert_eq!(WakuMessage::decode(&bytes).unwrap(), sample());
    }
}
