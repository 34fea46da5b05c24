//! Canonical encodings and their SHA-256 hashes: the proposal digest, the vote hash, the vote id
//! and the voter-set fingerprint.
//!
//! This module owns the exact byte layouts that another implementation must reproduce (they are
//! spelled out in `specs/consensus-hashgraph.md`). It hashes with `ring::digest` and never
//! allocates. It does not decide whether a field is acceptable; callers reject oversized fields
//! before hashing (every variable-length field is prefixed with its length as a big-endian `u32`).

use std::fmt;

use ring::digest::{Context, SHA256};

use crate::wire::{Proposal, Vote};

/// Domain tag of the proposal digest.
pub const PROPOSAL_DOMAIN: &[u8] = b"demls/consensus-hashgraph/v1/proposal";
/// Domain tag of the vote hash.
pub const VOTE_DOMAIN: &[u8] = b"demls/consensus-hashgraph/v1/vote";
/// Domain tag of the vote id this implementation assigns to its own votes.
pub const VOTE_ID_DOMAIN: &[u8] = b"demls/consensus-hashgraph/v1/vote-id";
/// Domain tag of the voter-set fingerprint.
pub const VOTER_SET_DOMAIN: &[u8] = b"demls/consensus-hashgraph/v1/voter-set";

/// Length in bytes of every hash this crate uses (SHA-256).
pub const HASH_LEN: usize = 32;

/// The 32-byte identity of a proposal: SHA-256 over the canonical encoding of its immutable header.
///
/// `Proposal.proposal_id` must equal [`ProposalDigest::proposal_id`]; votes carry the full digest in
/// their `proposal_hash` field.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProposalDigest(pub [u8; HASH_LEN]);

impl ProposalDigest {
    /// The 32-bit proposal id derived from this digest: its first four bytes, big-endian.
    pub fn proposal_id(&self) -> u32 {
        u32::from_be_bytes([self.0[0], self.0[1], self.0[2], self.0[3]])
    }

    /// The digest bytes.
    pub fn as_bytes(&self) -> &[u8; HASH_LEN] {
        &self.0
    }

    /// Reads a digest from a slice, if it is exactly 32 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; HASH_LEN]>::try_from(bytes).ok().map(ProposalDigest)
    }
}

impl fmt::Display for ProposalDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ProposalDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProposalDigest({self})")
    }
}

/// Incremental writer of the canonical encoding straight into a SHA-256 context.
struct Canonical(Context);

impl Canonical {
    fn new(domain: &[u8]) -> Self {
        let mut c = Canonical(Context::new(&SHA256));
        c.bytes(domain);
        c
    }

    /// A variable-length field: its length as a big-endian `u32`, then the bytes. Callers reject
    /// fields longer than `u32::MAX` before hashing; the saturation only keeps this total.
    fn bytes(&mut self, b: &[u8]) {
        let len = u32::try_from(b.len()).unwrap_or(u32::MAX);
        self.0.update(&len.to_be_bytes());
        self.0.update(b);
    }

    fn u32(&mut self, v: u32) {
        self.0.update(&v.to_be_bytes());
    }

    fn u64(&mut self, v: u64) {
        self.0.update(&v.to_be_bytes());
    }

    fn bool(&mut self, v: bool) {
        self.0.update(&[u8::from(v)]);
    }

    fn finish(self) -> [u8; HASH_LEN] {
        let d = self.0.finish();
        let mut out = [0u8; HASH_LEN];
        out.copy_from_slice(d.as_ref());
        out
    }
}

/// Computes the digest of a proposal's immutable header. `proposal_id`, `votes` and `round` are
/// not covered.
pub fn proposal_digest(p: &Proposal) -> ProposalDigest {
    let mut c = Canonical::new(PROPOSAL_DOMAIN);
    c.bytes(p.name.as_bytes());
    c.bytes(&p.payload);
    c.bytes(&p.proposal_owner);
    c.u32(p.expected_voters_count);
    c.u64(p.timestamp);
    c.u64(p.expiration_timestamp);
    c.bool(p.liveness_criteria_yes);
    ProposalDigest(c.finish())
}

/// Computes the hash a vote's `vote_hash` field must hold (the `vote_hash` and `signature` fields
/// themselves are not covered). The owner signs these 32 bytes.
pub fn vote_hash(v: &Vote) -> [u8; HASH_LEN] {
    let mut c = Canonical::new(VOTE_DOMAIN);
    c.u32(v.vote_id);
    c.bytes(&v.vote_owner);
    c.u32(v.proposal_id);
    c.u64(v.timestamp);
    c.bool(v.vote);
    c.bytes(&v.parent_hash);
    c.bytes(&v.received_hash);
    c.bytes(&v.proposal_hash);
    c.finish()
}

/// The `vote_id` this implementation puts in its own votes: the first four bytes (big-endian) of
/// a hash of the proposal digest, the owner key and the vote timestamp. Other implementations may
/// choose any value; validation never interprets it.
pub fn own_vote_id(digest: &ProposalDigest, owner: &[u8], timestamp: u64) -> u32 {
    let mut c = Canonical::new(VOTE_ID_DOMAIN);
    c.bytes(digest.as_bytes());
    c.bytes(owner);
    c.u64(timestamp);
    let h = c.finish();
    u32::from_be_bytes([h[0], h[1], h[2], h[3]])
}

/// Fingerprint of a voter set given its keys in canonical (ascending byte) order.
pub fn voter_set_fingerprint<'a>(
    sorted_keys: impl ExactSizeIterator<Item = &'a [u8]>,
) -> [u8; HASH_LEN] {
    let mut c = Canonical::new(VOTER_SET_DOMAIN);
    c.u32(u32::try_from(sorted_keys.len()).unwrap_or(u32::MAX));
    for k in sorted_keys {
        c.bytes(k);
    }
    c.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha256(bytes: &[u8]) -> Vec<u8> {
        ring::digest::digest(&SHA256, bytes).as_ref().to_vec()
    }

    fn lp(out: &mut Vec<u8>, b: &[u8]) {
        out.extend_from_slice(&(b.len() as u32).to_be_bytes());
        out.extend_from_slice(b);
    }

    #[test]
    fn proposal_digest_follows_the_documented_layout() {
        let p = Proposal {
            name: "n".into(),
            payload: vec![1, 2],
            proposal_owner: vec![3; 32],
            expected_voters_count: 5,
            timestamp: 0x0102_0304_0506_0708,
            expiration_timestamp: 9,
            liveness_criteria_yes: true,
            // Not covered by the digest:
            proposal_id: 77,
            round: 3,
            votes: vec![],
        };
        let mut expected = Vec::new();
        lp(&mut expected, PROPOSAL_DOMAIN);
        lp(&mut expected, b"n");
        lp(&mut expected, &[1, 2]);
        lp(&mut expected, &[3; 32]);
        expected.extend_from_slice(&5u32.to_be_bytes());
        expected.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
        expected.extend_from_slice(&9u64.to_be_bytes());
        expected.push(1);
        assert_eq!(proposal_digest(&p).0.to_vec(), sha256(&expected));
    }

    #[test]
    fn proposal_digest_ignores_round_votes_and_id_but_covers_the_header() {
        let base = Proposal {
            name: "x".into(),
            expected_voters_count: 3,
            ..Default::default()
        };
        let d = proposal_digest(&base);
        let moved = Proposal {
            round: 2,
            proposal_id: 1,
            ..base.clone()
        };
        assert_eq!(proposal_digest(&moved), d);
        let changed = Proposal {
            liveness_criteria_yes: true,
            ..base
        };
        assert_ne!(proposal_digest(&changed), d);
    }

    #[test]
    fn length_prefixes_keep_adjacent_fields_apart() {
        let a = Proposal {
            name: "ab".into(),
            payload: b"c".to_vec(),
            ..Default::default()
        };
        let b = Proposal {
            name: "a".into(),
            payload: b"bc".to_vec(),
            ..Default::default()
        };
        assert_ne!(proposal_digest(&a), proposal_digest(&b));
    }

    #[test]
    fn vote_hash_follows_the_documented_layout() {
        let v = Vote {
            vote_id: 1,
            vote_owner: vec![2; 32],
            proposal_id: 3,
            timestamp: 4,
            vote: false,
            parent_hash: vec![],
            received_hash: vec![5; 32],
            proposal_hash: vec![6; 32],
            // Not covered:
            vote_hash: vec![7; 32],
            signature: vec![8; 64],
        };
        let mut expected = Vec::new();
        lp(&mut expected, VOTE_DOMAIN);
        expected.extend_from_slice(&1u32.to_be_bytes());
        lp(&mut expected, &[2; 32]);
        expected.extend_from_slice(&3u32.to_be_bytes());
        expected.extend_from_slice(&4u64.to_be_bytes());
        expected.push(0);
        lp(&mut expected, &[]);
        lp(&mut expected, &[5; 32]);
        lp(&mut expected, &[6; 32]);
        assert_eq!(vote_hash(&v).to_vec(), sha256(&expected));
    }

    #[test]
    fn proposal_id_is_the_big_endian_prefix_of_the_digest() {
        let mut bytes = [0u8; 32];
        bytes[..4].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(ProposalDigest(bytes).proposal_id(), 0xdead_beef);
        assert_eq!(ProposalDigest(bytes).to_string().len(), 64);
    }
}
