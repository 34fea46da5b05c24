//! Content ↔ payload: a message's content travels as a CONTENTFRAME (logos-lips, slug 240)
//! `ContentFrame { uint32 domain_id = 1; uint32 tag = 2; bytes payload = 3; }` whose payload
//! is the UTF-8 text, in domain 1 (logos-lips) under [`TEXT_TAG`].
//!
//! A received payload is read as: a valid frame (both ids positive) of the text type → its
//! text; a valid frame of another type → skipped (no other type is known here); not a valid
//! frame → its UTF-8 text if it is UTF-8 (plain payloads of other de-MLS clients); otherwise
//! skipped. Skips are warned about; nothing here panics on network input.

use prost::Message as _;

/// The CONTENTFRAME domain of logos-lips.
pub const DOMAIN_LOGOS_LIPS: u32 = 1;
/// The tag this module uses for UTF-8 text. Provisional: logos-lips registers no text type
/// yet; this is the value to change (in one place) when it does.
pub const TEXT_TAG: u32 = 1;

#[derive(Clone, PartialEq, prost::Message)]
struct ContentFrame {
    #[prost(uint32, tag = "1")]
    domain_id: u32,
    #[prost(uint32, tag = "2")]
    tag: u32,
    #[prost(bytes = "vec", tag = "3")]
    payload: Vec<u8>,
}

/// The payload carrying `text`.
pub fn encode_text(text: &str) -> Vec<u8> {
    ContentFrame {
        domain_id: DOMAIN_LOGOS_LIPS,
        tag: TEXT_TAG,
        payload: text.as_bytes().to_vec(),
    }
    .encode_to_vec()
}

/// The text a received payload shows, or `None` (skipped, with a warning).
pub fn decode(payload: &[u8]) -> Option<String> {
    if let Ok(frame) = ContentFrame::decode(payload) {
        if frame.domain_id > 0 && frame.tag > 0 {
            if (frame.domain_id, frame.tag) == (DOMAIN_LOGOS_LIPS, TEXT_TAG) {
                return match String::from_utf8(frame.payload) {
                    Ok(text) => Some(text),
                    Err(_) => {
                        tracing::warn!("a text frame that is not UTF-8 was skipped");
                        None
                    }
                };
            }
            tracing::warn!(
                domain = frame.domain_id,
                tag = frame.tag,
                "a content frame of an unknown type was skipped"
            );
            return None;
        }
    }
    match std::str::from_utf8(payload) {
        Ok(text) => Some(text.to_owned()),
        Err(_) => {
            tracing::warn!(
                bytes = payload.len(),
                "a payload that is neither a content frame nor UTF-8 was skipped"
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips_through_a_frame() {
        assert_eq!(decode(&encode_text("héllo")).as_deref(), Some("héllo"));
        assert_eq!(decode(&encode_text("")).as_deref(), Some(""));
    }

    #[test]
    fn plain_utf8_is_shown_and_garbage_is_skipped() {
        assert_eq!(decode(b"hi").as_deref(), Some("hi"));
        assert_eq!(decode(&[0xff, 0xfe, 0x00]), None);
        let other = ContentFrame {
            domain_id: 1,
            tag: 99,
            payload: b"x".to_vec(),
        }
        .encode_to_vec();
        assert_eq!(decode(&other), None);
    }
}
