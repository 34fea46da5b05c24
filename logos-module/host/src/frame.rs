//! The relay wire: length-prefixed frames carrying one published `(topic, payload)` each.
//!
//! Owns the byte format shared by the relay hub and the hosts' relay links, and nothing else.
//!
//! A frame is a 4-byte big-endian body length `N` (`1..=MAX_FRAME_BODY`) followed by the body.
//! The body is a 2-byte big-endian topic length `T` (`1..=MAX_TOPIC`), `T` bytes of UTF-8 topic,
//! then the payload (the rest of the body, possibly empty). Anything else is malformed: the hub
//! drops the connection that sent it.

use std::io::{self, Read, Write};

/// The largest frame body accepted (1 MiB): well above the delivery limit of 150 KiB.
pub const MAX_FRAME_BODY: usize = 1 << 20;
/// The longest topic accepted, in bytes.
pub const MAX_TOPIC: usize = 1024;

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The peer closed the stream between frames.
    #[error("connection closed")]
    Closed,
    /// Reading or writing the stream failed (including a closed stream inside a frame).
    #[error("relay i/o: {0}")]
    Io(#[from] io::Error),
    /// The bytes do not follow the frame format.
    #[error("malformed frame: {0}")]
    Malformed(&'static str),
}

/// One published message: its content topic and its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publication {
    /// The content topic it was published on.
    pub topic: String,
    /// The payload bytes.
    pub payload: Vec<u8>,
}

impl Publication {
    /// The frame (length prefix included) carrying this publication.
    pub fn encode(&self) -> Result<Vec<u8>, FrameError> {
        let topic = self.topic.as_bytes();
        if topic.is_empty() || topic.len() > MAX_TOPIC {
            return Err(FrameError::Malformed("topic length out of range"));
        }
        let body_len = 2 + topic.len() + self.payload.len();
        if body_len > MAX_FRAME_BODY {
            return Err(FrameError::Malformed("frame too large"));
        }
        let mut out = Vec::with_capacity(4 + body_len);
        out.extend_from_slice(&(body_len as u32).to_be_bytes());
        out.extend_from_slice(&(topic.len() as u16).to_be_bytes());
        out.extend_from_slice(topic);
        out.extend_from_slice(&self.payload);
        Ok(out)
    }

    /// Parses a frame body (without its length prefix).
    pub fn decode(body: &[u8]) -> Result<Self, FrameError> {
        if body.len() < 2 {
            return Err(FrameError::Malformed("body shorter than its topic length"));
        }
        let topic_len = usize::from(u16::from_be_bytes([body[0], body[1]]));
        if topic_len == 0 || topic_len > MAX_TOPIC || 2 + topic_len > body.len() {
            return Err(FrameError::Malformed("topic length out of range"));
        }
        let topic = std::str::from_utf8(&body[2..2 + topic_len])
            .map_err(|_| FrameError::Malformed("topic is not UTF-8"))?;
        Ok(Self {
            topic: topic.to_owned(),
            payload: body[2 + topic_len..].to_vec(),
        })
    }
}

/// Reads one frame body from `reader` (blocking). [`FrameError::Closed`] at a clean end of stream.
pub fn read_body(reader: &mut impl Read) -> Result<Vec<u8>, FrameError> {
    let mut len = [0u8; 4];
    let mut filled = 0;
    while filled < len.len() {
        match reader.read(&mut len[filled..]) {
            Ok(0) if filled == 0 => return Err(FrameError::Closed),
            Ok(0) => return Err(FrameError::Io(io::ErrorKind::UnexpectedEof.into())),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    let len = u32::from_be_bytes(len) as usize;
    if len == 0 || len > MAX_FRAME_BODY {
        return Err(FrameError::Malformed("frame length out of range"));
    }
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body)?;
    Ok(body)
}

/// Writes one already-encoded frame and flushes.
pub fn write_frame(writer: &mut impl Write, frame: &[u8]) -> Result<(), FrameError> {
    writer.write_all(frame)?;
    writer.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_publication_round_trips_through_its_frame() {
        let p = Publication {
            topic: "/logos-chat/1/ab/proto".into(),
            payload: vec![0, 1, 2, 255],
        };
        let frame = p.encode().unwrap();
        let body = read_body(&mut &frame[..]).unwrap();
        assert_eq!(Publication::decode(&body).unwrap(), p);
    }

    #[test]
    fn malformed_bodies_are_refused() {
        assert!(Publication::decode(&[0]).is_err());
        assert!(Publication::decode(&[0, 0, 1]).is_err());
        assert!(Publication::decode(&[0, 5, b'a']).is_err());
        assert!(Publication::decode(&[0, 1, 0xff]).is_err());
        let huge = ((MAX_FRAME_BODY + 1) as u32).to_be_bytes();
        assert!(matches!(
            read_body(&mut &huge[..]),
            Err(FrameError::Malformed(_))
        ));
        assert!(matches!(read_body(&mut &[][..]), Err(FrameError::Closed)));
    }
}
