//! Byte strings in the canonical JSON form: standard base64 with padding (RFC 4648 §4), for
//! every identifier and payload alike. `#[serde(with = "...")]` helpers for the API's types.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serializer};

use crate::types::{GroupId, MemberId, ProposalId};

/// A value that travels as a byte string.
pub(crate) trait Bytes: Sized {
    /// Its bytes.
    fn bytes(&self) -> &[u8];
    /// Parses it from bytes; `None` when they have the wrong length or shape.
    fn parse(bytes: Vec<u8>) -> Option<Self>;
    /// What it is, for error messages.
    const WHAT: &'static str;
}

impl Bytes for Vec<u8> {
    fn bytes(&self) -> &[u8] {
        self
    }
    fn parse(bytes: Vec<u8>) -> Option<Self> {
        Some(bytes)
    }
    const WHAT: &'static str = "bytes";
}

impl Bytes for GroupId {
    fn bytes(&self) -> &[u8] {
        self.as_bytes()
    }
    fn parse(bytes: Vec<u8>) -> Option<Self> {
        GroupId::new(bytes)
    }
    const WHAT: &'static str = "a group id (1 to 255 bytes)";
}

impl Bytes for MemberId {
    fn bytes(&self) -> &[u8] {
        self.as_bytes()
    }
    fn parse(bytes: Vec<u8>) -> Option<Self> {
        MemberId::from_slice(&bytes)
    }
    const WHAT: &'static str = "a member id (20 bytes)";
}

impl Bytes for ProposalId {
    fn bytes(&self) -> &[u8] {
        self.as_bytes()
    }
    fn parse(bytes: Vec<u8>) -> Option<Self> {
        ProposalId::from_slice(&bytes)
    }
    const WHAT: &'static str = "a decision id (32 bytes)";
}

/// Encodes bytes as canonical base64.
pub fn encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Decodes canonical base64 (padding required).
pub fn decode(text: &str) -> Option<Vec<u8>> {
    STANDARD.decode(text).ok()
}

fn parse<T: Bytes>(text: &str) -> Result<T, String> {
    let bytes = decode(text).ok_or_else(|| format!("not base64: {text:?}"))?;
    T::parse(bytes).ok_or_else(|| format!("not {}: {text:?}", T::WHAT))
}

/// One byte string.
pub(crate) mod one {
    use super::*;

    pub(crate) fn serialize<T: Bytes, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&encode(v.bytes()))
    }

    pub(crate) fn deserialize<'de, T: Bytes, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
        let text = String::deserialize(d)?;
        parse(&text).map_err(D::Error::custom)
    }
}

/// An optional byte string (`null` when absent).
pub(crate) mod opt {
    use super::*;

    pub(crate) fn serialize<T: Bytes, S: Serializer>(
        v: &Option<T>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_str(&encode(v.bytes())),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, T: Bytes, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<T>, D::Error> {
        match Option::<String>::deserialize(d)? {
            Some(text) => parse(&text).map(Some).map_err(D::Error::custom),
            None => Ok(None),
        }
    }
}

/// A list of byte strings.
pub(crate) mod list {
    use super::*;
    use serde::ser::SerializeSeq;

    pub(crate) fn serialize<T: Bytes, S: Serializer>(v: &[T], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(v.len()))?;
        for item in v {
            seq.serialize_element(&encode(item.bytes()))?;
        }
        seq.end()
    }

    pub(crate) fn deserialize<'de, T: Bytes, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<T>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|t| parse(t).map_err(D::Error::custom))
            .collect()
    }
}
