//! The wire format: the `Proposal` and `Vote` protobuf messages and the `ConsensusMessage` envelope.
//!
//! This module owns only the byte layout on the network (protobuf field numbers and types) and the
//! decoding errors. It does not validate anything beyond what protobuf decoding itself checks; every
//! semantic check lives in `validate`. Field numbers are those of the upstream hashgraph-like
//! consensus specification, plus one extension of ours (`Vote.proposal_hash`, field 29).
//!
//! All timestamps are **milliseconds since the Unix epoch** (UTC).

use prost::Message;

/// A proposal: the question being voted on, and (in P2P mode) the votes accumulated so far.
///
/// The fields `name`, `payload`, `proposal_owner`, `expected_voters_count`, `timestamp`,
/// `expiration_timestamp` and `liveness_criteria_yes` form the immutable *header*; its canonical
/// digest identifies the proposal (see [`crate::ProposalDigest`]). `votes` and `round` change as the
/// message travels.
#[derive(Clone, PartialEq, Eq, Hash, Message)]
pub struct Proposal {
    /// Human-readable proposal name (field 10, `string`, must be UTF-8).
    #[prost(string, tag = "10")]
    pub name: String,
    /// What is being decided (field 11). Upstream declares it `string`; we declare `bytes`, which is
    /// identical on the wire (both are length-delimited, wire type 2) but lets applications carry
    /// arbitrary binary payloads. A peer that declares `string` will reject non-UTF-8 payloads.
    #[prost(bytes = "vec", tag = "11")]
    pub payload: Vec<u8>,
    /// The first four bytes (big-endian) of the proposal digest (field 12).
    #[prost(uint32, tag = "12")]
    pub proposal_id: u32,
    /// Public key of the proposal's creator (field 13).
    #[prost(bytes = "vec", tag = "13")]
    pub proposal_owner: Vec<u8>,
    /// Votes carried by this message (field 14): the owner's vote and, in P2P mode, the votes
    /// appended hop by hop.
    #[prost(message, repeated, tag = "14")]
    pub votes: Vec<Vote>,
    /// Number of eligible voters; must equal the size of the voter set (field 15).
    #[prost(uint32, tag = "15")]
    pub expected_voters_count: u32,
    /// Number of votes in `votes` (field 16). Bounded by the mode: at most 2 in gossipsub mode,
    /// at most `ceil(2n/3)` in P2P mode.
    #[prost(uint32, tag = "16")]
    pub round: u32,
    /// Creation time, milliseconds since the Unix epoch (field 17).
    #[prost(uint64, tag = "17")]
    pub timestamp: u64,
    /// Time at which the proposal expires and is decided with the silent voters counted, milliseconds
    /// since the Unix epoch (field 18).
    #[prost(uint64, tag = "18")]
    pub expiration_timestamp: u64,
    /// How silent voters are counted at expiration: `true` counts them as YES, `false` as NO
    /// (field 19).
    #[prost(bool, tag = "19")]
    pub liveness_criteria_yes: bool,
}

/// One signed YES/NO vote on one proposal.
#[derive(Clone, PartialEq, Eq, Hash, Message)]
pub struct Vote {
    /// Identifier chosen by the voter (field 20). Covered by `vote_hash`, otherwise not interpreted.
    #[prost(uint32, tag = "20")]
    pub vote_id: u32,
    /// The voter's public key (field 21).
    #[prost(bytes = "vec", tag = "21")]
    pub vote_owner: Vec<u8>,
    /// The `proposal_id` of the proposal voted on (field 22).
    #[prost(uint32, tag = "22")]
    pub proposal_id: u32,
    /// When the vote was cast, milliseconds since the Unix epoch (field 23).
    #[prost(uint64, tag = "23")]
    pub timestamp: u64,
    /// `true` = YES, `false` = NO (field 24).
    #[prost(bool, tag = "24")]
    pub vote: bool,
    /// `vote_hash` of the same owner's previous vote on this proposal, empty if none (field 25).
    #[prost(bytes = "vec", tag = "25")]
    pub parent_hash: Vec<u8>,
    /// `vote_hash` of the vote just before this one in the message's vote list, empty for the first
    /// vote of a list and usually for a vote sent on its own (field 26).
    #[prost(bytes = "vec", tag = "26")]
    pub received_hash: Vec<u8>,
    /// SHA-256 over the canonical encoding of the fields above plus `proposal_hash` (field 27).
    #[prost(bytes = "vec", tag = "27")]
    pub vote_hash: Vec<u8>,
    /// The owner's signature over the 32 bytes of `vote_hash` (field 28).
    #[prost(bytes = "vec", tag = "28")]
    pub signature: Vec<u8>,
    /// **Extension (not in the upstream specification):** the full 32-byte proposal digest, so that
    /// a vote is bound to one exact proposal rather than to a 32-bit `proposal_id` (field 29).
    /// Peers that do not know the field skip it, as protobuf requires.
    #[prost(bytes = "vec", tag = "29")]
    pub proposal_hash: Vec<u8>,
}

/// Protobuf key byte of the proposal inside the [`ConsensusMessage`] envelope: field 1, wire type 2.
const ENVELOPE_PROPOSAL_KEY: u8 = (1 << 3) | 2;
/// Protobuf key byte of the vote inside the [`ConsensusMessage`] envelope: field 2, wire type 2.
const ENVELOPE_VOTE_KEY: u8 = (2 << 3) | 2;

/// What travels between peers: either a proposal (possibly carrying votes) or a single vote.
///
/// On the wire this is `message ConsensusMessage { oneof body { Proposal proposal = 1; Vote vote = 2; } }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConsensusMessage {
    /// A proposal with zero or more votes.
    Proposal(Proposal),
    /// A single vote.
    Vote(Vote),
}

/// The envelope as prost sees it (private: callers use [`ConsensusMessage`]).
#[derive(Clone, PartialEq, Message)]
struct Envelope {
    #[prost(oneof = "EnvelopeBody", tags = "1, 2")]
    body: Option<EnvelopeBody>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
enum EnvelopeBody {
    #[prost(message, tag = "1")]
    Proposal(Proposal),
    #[prost(message, tag = "2")]
    Vote(Vote),
}

/// Why bytes could not be decoded into a [`ConsensusMessage`].
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The bytes are not a valid protobuf encoding of the envelope (truncated, bad varint, invalid
    /// UTF-8 in `name`, wrong wire type...).
    #[error("malformed consensus message: {0}")]
    Protobuf(#[from] prost::DecodeError),
    /// The envelope decoded but carries neither a proposal nor a vote.
    #[error("consensus message carries neither a proposal nor a vote")]
    Empty,
}

impl ConsensusMessage {
    /// Encodes the message into protobuf bytes.
    pub fn encode(&self) -> Vec<u8> {
        let (key, body_len) = match self {
            ConsensusMessage::Proposal(p) => (ENVELOPE_PROPOSAL_KEY, p.encoded_len()),
            ConsensusMessage::Vote(v) => (ENVELOPE_VOTE_KEY, v.encoded_len()),
        };
        let mut buf = Vec::with_capacity(body_len + 1 + prost::length_delimiter_len(body_len));
        buf.push(key);
        // Writing into a `Vec` cannot run out of space, so the encode results are infallible here.
        let written = match self {
            ConsensusMessage::Proposal(p) => p.encode_length_delimited(&mut buf),
            ConsensusMessage::Vote(v) => v.encode_length_delimited(&mut buf),
        };
        debug_assert!(written.is_ok());
        buf
    }

    /// Decodes a message from protobuf bytes. Unknown fields are skipped, as protobuf requires.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let envelope = Envelope::decode(bytes)?;
        match envelope.body {
            Some(EnvelopeBody::Proposal(p)) => Ok(ConsensusMessage::Proposal(p)),
            Some(EnvelopeBody::Vote(v)) => Ok(ConsensusMessage::Vote(v)),
            None => Err(DecodeError::Empty),
        }
    }

    /// Number of bytes [`ConsensusMessage::encode`] produces.
    pub fn encoded_len(&self) -> usize {
        let body_len = match self {
            ConsensusMessage::Proposal(p) => p.encoded_len(),
            ConsensusMessage::Vote(v) => v.encoded_len(),
        };
        1 + prost::length_delimiter_len(body_len) + body_len
    }
}

impl From<Proposal> for ConsensusMessage {
    fn from(p: Proposal) -> Self {
        ConsensusMessage::Proposal(p)
    }
}

impl From<Vote> for ConsensusMessage {
    fn from(v: Vote) -> Self {
        ConsensusMessage::Vote(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_vote() -> Vote {
        Vote {
            vote_id: 7,
            vote_owner: vec![1; 32],
            proposal_id: 9,
            timestamp: 1_700_000_000_000,
            vote: true,
            parent_hash: vec![],
            received_hash: vec![2; 32],
            vote_hash: vec![3; 32],
            signature: vec![4; 64],
            proposal_hash: vec![5; 32],
        }
    }

    #[test]
    fn envelope_round_trips_both_kinds() {
        let vote = sample_vote();
        let proposal = Proposal {
            name: "add".into(),
            payload: vec![0xff, 0x00],
            proposal_id: 9,
            proposal_owner: vec![1; 32],
            votes: vec![vote.clone()],
            expected_voters_count: 3,
            round: 1,
            timestamp: 1,
            expiration_timestamp: 2,
            liveness_criteria_yes: true,
        };
        for msg in [
            ConsensusMessage::Vote(vote),
            ConsensusMessage::Proposal(proposal),
        ] {
            let bytes = msg.encode();
            assert_eq!(bytes.len(), msg.encoded_len());
            assert_eq!(ConsensusMessage::decode(&bytes).ok(), Some(msg));
        }
    }

    #[test]
    fn upstream_field_numbers_are_used_on_the_wire() {
        // Field 21 (vote_owner), wire type 2 => key varint (21 << 3) | 2 = 170 = 0xaa 0x01.
        let bytes = sample_vote().encode_to_vec();
        assert!(bytes.windows(2).any(|w| w == [0xaa, 0x01]));
        // Field 29 (proposal_hash, our extension) => (29 << 3) | 2 = 234 = 0xea 0x01.
        assert!(bytes.windows(2).any(|w| w == [0xea, 0x01]));
    }

    #[test]
    fn garbage_and_empty_envelopes_are_typed_errors() {
        assert!(matches!(
            ConsensusMessage::decode(&[0x0a, 0x05, 0x01]),
            Err(DecodeError::Protobuf(_))
        ));
        assert!(matches!(
            ConsensusMessage::decode(&[]),
            Err(DecodeError::Empty)
        ));
    }

    #[test]
    fn invalid_utf8_name_is_rejected_by_decoding() {
        // Proposal with field 10 (name) = [0xff]: key (10 << 3) | 2 = 0x52.
        let inner = [0x52, 0x01, 0xff];
        let mut bytes = vec![0x0a, inner.len() as u8];
        bytes.extend_from_slice(&inner);
        assert!(matches!(
            ConsensusMessage::decode(&bytes),
            Err(DecodeError::Protobuf(_))
        ));
    }
}
