//! The engine's errors: [`Rejection`] (why a message from the network was refused) and [`Error`]
//! (everything an engine call can fail with).
//!
//! This module owns only the error types. Every reject path leaves the engine state unchanged.

use crate::canonical::ProposalDigest;
use crate::scheme::SignerError;
use crate::store::StoreError;
use crate::wire::DecodeError;

/// Which hash-valued field of a vote was malformed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HashField {
    /// `Vote.vote_hash` (must be 32 bytes).
    VoteHash,
    /// `Vote.proposal_hash` (must be 32 bytes).
    ProposalHash,
    /// `Vote.parent_hash` (empty or 32 bytes).
    ParentHash,
    /// `Vote.received_hash` (empty or 32 bytes).
    ReceivedHash,
}

/// Where the early-vote buffer ran out of room.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BufferScope {
    /// The per-proposal bound ([`crate::Config::buffer_per_proposal`]).
    Proposal,
    /// The global bound ([`crate::Config::buffer_total`]).
    Total,
}

/// Why a proposal or vote received from the network (or a buffered vote) was refused.
///
/// Rejections never change engine state.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// A key field (`proposal_owner`, `vote_owner`) has the wrong length.
    #[error("key field has {actual} bytes, expected {expected}")]
    MalformedKey {
        /// Expected length.
        expected: usize,
        /// Received length.
        actual: usize,
    },
    /// The signature has the wrong length.
    #[error("signature has {actual} bytes, expected {expected}")]
    MalformedSignature {
        /// Expected length.
        expected: usize,
        /// Received length.
        actual: usize,
    },
    /// A hash field has the wrong length.
    #[error("{field:?} has {actual} bytes")]
    MalformedHash {
        /// Which field.
        field: HashField,
        /// Received length.
        actual: usize,
    },
    /// `name` or `payload` exceeds the configured bound.
    #[error("proposal {field} is {actual} bytes, more than the {limit} allowed")]
    FieldTooLong {
        /// `"name"` or `"payload"`.
        field: &'static str,
        /// Received length.
        actual: usize,
        /// Configured bound.
        limit: usize,
    },
    /// `proposal_id` is not the first four bytes of the proposal digest.
    #[error("proposal_id {claimed:#010x} does not match the digest (expected {derived:#010x})")]
    ProposalIdMismatch {
        /// The id in the message.
        claimed: u32,
        /// The id derived from the digest.
        derived: u32,
    },
    /// `expected_voters_count` differs from the size of the voter set.
    #[error("expected_voters_count {claimed} but the voter set has {voters} voters")]
    VoterCountMismatch {
        /// The count in the proposal.
        claimed: u32,
        /// The size of the voter set.
        voters: u32,
    },
    /// The proposal owner or vote owner is not in the voter set.
    #[error("key is not in the voter set")]
    NotEligible,
    /// The proposal's `timestamp` is further in the future than the clock skew allows.
    #[error("proposal starts at {timestamp}, too far after now={now}")]
    NotYetValid {
        /// Proposal timestamp.
        timestamp: u64,
        /// Local time.
        now: u64,
    },
    /// The proposal's expiration has passed.
    #[error("proposal expired at {expiration}, now={now}")]
    Expired {
        /// Proposal expiration.
        expiration: u64,
        /// Local time.
        now: u64,
    },
    /// `expiration_timestamp ≤ timestamp`.
    #[error("proposal expires at {expiration}, not after its timestamp {timestamp}")]
    InvalidLifetime {
        /// Proposal timestamp.
        timestamp: u64,
        /// Proposal expiration.
        expiration: u64,
    },
    /// `expiration_timestamp − timestamp` exceeds [`crate::Config::max_lifetime_ms`].
    #[error("proposal lifetime {lifetime} ms exceeds the {max} ms allowed")]
    LifetimeTooLong {
        /// Requested lifetime.
        lifetime: u64,
        /// Configured maximum.
        max: u64,
    },
    /// The proposal was finished and forgotten recently: the message is a replay.
    #[error("proposal {0} was already finished: replay")]
    Replay(ProposalDigest),
    /// `round` differs from the number of votes in the message.
    #[error("round {round} but {votes} votes")]
    RoundMismatch {
        /// The message's round.
        round: u32,
        /// Number of votes carried.
        votes: usize,
    },
    /// `round` exceeds the mode's limit.
    #[error("round {round} exceeds the limit {limit} of this mode")]
    RoundLimitExceeded {
        /// The message's round.
        round: u32,
        /// The limit.
        limit: u32,
    },
    /// The vote is bound to another proposal (`proposal_hash` or `proposal_id` differ).
    #[error("vote belongs to another proposal")]
    WrongProposal,
    /// `vote_hash` is not the hash of the vote's fields.
    #[error("vote_hash does not match the vote's fields")]
    VoteHashMismatch,
    /// The same vote appears twice in one certificate part.
    #[error("the same vote appears twice in the part")]
    RepeatedVote,
    /// The vote's timestamp is outside the proposal's window (with skew) or ahead of local time.
    #[error("vote timestamp {timestamp} outside [{not_before}, {not_after}]")]
    VoteOutsideWindow {
        /// Vote timestamp.
        timestamp: u64,
        /// Earliest accepted.
        not_before: u64,
        /// Latest accepted.
        not_after: u64,
    },
    /// `received_hash` does not link to the previous vote of the list.
    #[error("received_hash does not match the previous vote in the list")]
    ReceivedHashMismatch,
    /// `parent_hash` names a vote that is not this owner's previous vote.
    #[error("parent_hash does not reference this owner's previous vote")]
    ParentHashMismatch,
    /// The voter equivocated on this proposal, or already has the maximum number of stored votes
    /// ([`crate::Config::max_votes_per_voter`]); the vote could not change anything.
    #[error("the voter's votes on this proposal are no longer accepted")]
    VoteLimit,
    /// The signature does not verify.
    #[error("signature does not verify")]
    BadSignature,
    /// [`crate::Config::max_proposals`] proposals are already held; the new one was dropped.
    #[error("too many proposals held ({limit})")]
    TooManyProposals {
        /// The configured bound.
        limit: usize,
    },
    /// The early-vote buffer is full; the vote was dropped.
    #[error("early-vote buffer full ({0:?} bound)")]
    BufferFull(BufferScope),
    /// A vote inside a proposal message was refused; the whole message is refused with it.
    #[error("vote #{index} of the message: {reason}")]
    InVoteList {
        /// Position of the vote in `Proposal.votes`.
        index: usize,
        /// Why it was refused.
        reason: Box<Rejection>,
    },
}

/// Everything an engine call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The message was refused; state is unchanged.
    #[error("rejected: {0}")]
    Rejected(#[from] Rejection),
    /// The bytes did not decode.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// No proposal with this digest is known (never seen, or forgotten).
    #[error("unknown proposal {0}")]
    UnknownProposal(ProposalDigest),
    /// A proposal with the same digest already exists.
    #[error("proposal {0} already exists")]
    DuplicateProposal(ProposalDigest),
    /// The local signer's key is not in the proposal's voter set.
    #[error("the local signer is not a voter of this proposal")]
    NotAVoter,
    /// The local signer has already voted on this proposal (a second vote would be equivocation).
    #[error("already voted on proposal {0}")]
    AlreadyVoted(ProposalDigest),
    /// The signer failed.
    #[error(transparent)]
    Signer(#[from] SignerError),
    /// The store failed; in-memory state is unchanged.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Restoring found a proposal whose voter set was not supplied.
    #[error("no voter set with fingerprint {fingerprint:02x?} was supplied for proposal {digest}")]
    MissingVoterSet {
        /// The stored proposal.
        digest: ProposalDigest,
        /// Fingerprint of the voter set it was bound to.
        fingerprint: [u8; 32],
    },
}

impl Rejection {
    /// Wraps a vote-level rejection with the vote's position in a list.
    pub(crate) fn at(self, index: usize) -> Rejection {
        Rejection::InVoteList {
            index,
            reason: Box::new(self),
        }
    }

    /// The innermost reason (unwrapping [`Rejection::InVoteList`]).
    pub fn root(&self) -> &Rejection {
        match self {
            Rejection::InVoteList { reason, .. } => reason.root(),
            other => other,
        }
    }
}

impl Error {
    /// The rejection behind this error, if it is one (unwrapping vote-list positions).
    pub fn rejection(&self) -> Option<&Rejection> {
        match self {
            Error::Rejected(r) => Some(r.root()),
            _ => None,
        }
    }
}
