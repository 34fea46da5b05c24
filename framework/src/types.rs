//! Small value types shared by every layer: identifiers, time, topics.
//!
//! Everything here is plain bytes or integers underneath, so the C API and ChatSDK can carry
//! them without Rust-only types. This module owns no state and performs no I/O.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch. The engine never reads a clock: every call takes `now`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// The timestamp `ms` milliseconds later, saturating.
    pub fn plus_ms(self, ms: u64) -> Timestamp {
        Timestamp(self.0.saturating_add(ms))
    }

    /// Milliseconds from `earlier` to `self`, zero if `earlier` is later.
    pub fn since(self, earlier: Timestamp) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

/// Length in bytes of a [`MemberId`].
pub const MEMBER_ID_LEN: usize = 20;

/// A member's identity: the first 20 bytes of SHA-256 over its Ed25519 signature public key
/// (the key in its MLS leaf). The MLS credential's identity must equal this value, so one key
/// pair names a member in MLS, in votes and in the steward list.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct MemberId(pub [u8; MEMBER_ID_LEN]);

impl MemberId {
    /// Derives the member id of a signature public key.
    pub fn from_signature_key(public_key: &[u8]) -> MemberId {
        let digest = ring::digest::digest(&ring::digest::SHA256, public_key);
        let mut id = [0u8; MEMBER_ID_LEN];
        id.copy_from_slice(&digest.as_ref()[..MEMBER_ID_LEN]);
        MemberId(id)
    }

    /// Parses a member id from exactly 20 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<MemberId> {
        <[u8; MEMBER_ID_LEN]>::try_from(bytes).ok().map(MemberId)
    }

    /// The raw 20 bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// A short, human-readable prefix for traces (`0x1a2b3c4d`).
    pub fn short(&self) -> String {
        format!("0x{}", hex::encode(&self.0[..4]))
    }
}

impl fmt::Debug for MemberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MemberId({})", hex::encode(self.0))
    }
}

impl fmt::Display for MemberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", hex::encode(self.0))
    }
}

/// Maximum length of a group id in bytes.
pub const MAX_GROUP_ID_LEN: usize = 255;

/// An MLS group id chosen by the group's creator: opaque bytes, 1..=255 long.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct GroupId(Vec<u8>);

impl GroupId {
    /// Wraps `bytes` if they are a valid group id (1..=255 bytes).
    pub fn new(bytes: impl Into<Vec<u8>>) -> Option<GroupId> {
        let bytes = bytes.into();
        (!bytes.is_empty() && bytes.len() <= MAX_GROUP_ID_LEN).then_some(GroupId(bytes))
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Shows the id as UTF-8 when printable, else as hex.
    pub fn display(&self) -> String {
        match std::str::from_utf8(&self.0) {
            Ok(s) if s.chars().all(|c| !c.is_control()) => s.to_owned(),
            _ => format!("0x{}", hex::encode(&self.0)),
        }
    }
}

impl fmt::Debug for GroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GroupId({})", self.display())
    }
}

/// Identifies one voting proposal: the 32-byte digest the consensus engine assigns to it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ProposalId(pub [u8; 32]);

impl ProposalId {
    /// Parses exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<ProposalId> {
        <[u8; 32]>::try_from(bytes).ok().map(ProposalId)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// A short prefix for traces.
    pub fn short(&self) -> String {
        hex::encode(&self.0[..4])
    }
}

impl fmt::Debug for ProposalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProposalId({})", hex::encode(self.0))
    }
}

/// A delivery address on the transport (a Waku content topic, or a memory-bus topic).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Topic(String);

impl Topic {
    /// Wraps a topic string.
    pub fn new(topic: impl Into<String>) -> Topic {
        Topic(topic.into())
    }

    /// The topic as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Topic({})", self.0)
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An MLS epoch number.
pub type Epoch = u64;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_id_is_a_prefix_of_the_key_hash() {
        let id = MemberId::from_signature_key(b"key");
        let digest = ring::digest::digest(&ring::digest::SHA256, b"key");
        assert_eq!(id.as_bytes(), &digest.as_ref()[..20]);
        assert_eq!(MemberId::from_slice(id.as_bytes()), Some(id));
        assert_eq!(MemberId::from_slice(&[0u8; 19]), None);
    }

    #[test]
    fn group_ids_must_be_one_to_255_bytes() {
        assert!(GroupId::new(Vec::new()).is_none());
        assert!(GroupId::new(vec![1u8; 256]).is_none());
        assert_eq!(
            GroupId::new(b"team".to_vec()).map(|g| g.display()),
            Some("team".into())
        );
        assert_eq!(
            GroupId::new(vec![0u8, 1]).map(|g| g.display()),
            Some("0x0001".into())
        );
    }
}
