//! What the engine reports back: [`Event`]s, the per-call [`IngestReport`], the final [`Decision`]
//! and [`EquivocationEvidence`] that anyone can check.
//!
//! This module owns these output types and the stand-alone verification of evidence; it holds no
//! engine state.

use crate::canonical::{ProposalDigest, vote_hash};
use crate::ed25519::Ed25519;
use crate::error::Rejection;
use crate::rules::Outcome;
use crate::scheme::SignatureScheme;
use crate::wire::Vote;

/// The public facts of a proposal, as reported when it is first seen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProposalInfo {
    /// The proposal digest.
    pub digest: ProposalDigest,
    /// The 32-bit id (digest prefix).
    pub proposal_id: u32,
    /// Proposal name.
    pub name: String,
    /// Public key of the creator.
    pub owner: Vec<u8>,
    /// What is being decided.
    pub payload: Vec<u8>,
    /// Number of voters.
    pub voters: u32,
    /// Creation time (ms since the Unix epoch).
    pub timestamp: u64,
    /// Expiration time (ms since the Unix epoch).
    pub expiration_timestamp: u64,
    /// How silent voters count at expiration.
    pub liveness_criteria_yes: bool,
}

/// The final result of a proposal, with the counts it was reached on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Decision {
    /// The outcome.
    pub outcome: Outcome,
    /// Distinct counted YES votes when decided.
    pub yes: u32,
    /// Distinct counted NO votes when decided.
    pub no: u32,
    /// Voters without a counted vote when decided.
    pub silent: u32,
    /// Local time of the decision (ms since the Unix epoch); differs between peers.
    pub at: u64,
}

/// Two votes signed by one voter with opposite values on the same proposal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EquivocationEvidence {
    /// The proposal both votes are bound to.
    pub digest: ProposalDigest,
    /// The vote that was counted first.
    pub first: Vote,
    /// The conflicting vote.
    pub second: Vote,
}

/// Why a piece of equivocation evidence does not prove anything.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EvidenceError {
    /// The two votes have different owners.
    #[error("the two votes have different owners")]
    DifferentOwners,
    /// The two votes have the same value.
    #[error("the two votes do not conflict")]
    SameValue,
    /// One of the votes is not a valid vote on the proposal.
    #[error("vote {which} is invalid: {reason}")]
    InvalidVote {
        /// 0 for `first`, 1 for `second`.
        which: u8,
        /// What is wrong with it.
        reason: Rejection,
    },
}

impl EquivocationEvidence {
    /// The equivocating voter's public key.
    pub fn voter(&self) -> &[u8] {
        &self.first.vote_owner
    }

    /// Checks the evidence with Ed25519 signatures.
    pub fn verify(&self) -> Result<(), EvidenceError> {
        self.verify_with(&Ed25519)
    }

    /// Checks the evidence: same owner, opposite values, both bound to `digest`, both hashes
    /// correct and both signatures valid. Needs nothing but the two votes.
    pub fn verify_with<V: SignatureScheme>(&self, scheme: &V) -> Result<(), EvidenceError> {
        if self.first.vote_owner != self.second.vote_owner {
            return Err(EvidenceError::DifferentOwners);
        }
        if self.first.vote == self.second.vote {
            return Err(EvidenceError::SameValue);
        }
        let key =
            scheme
                .prepare_key(&self.first.vote_owner)
                .map_err(|_| EvidenceError::InvalidVote {
                    which: 0,
                    reason: Rejection::MalformedKey {
                        expected: scheme.public_key_len(),
                        actual: self.first.vote_owner.len(),
                    },
                })?;
        for (which, v) in [(0u8, &self.first), (1u8, &self.second)] {
            let fail = |reason| EvidenceError::InvalidVote { which, reason };
            if v.proposal_hash != self.digest.as_bytes()
                || v.proposal_id != self.digest.proposal_id()
            {
                return Err(fail(Rejection::WrongProposal));
            }
            let h = vote_hash(v);
            if v.vote_hash != h {
                return Err(fail(Rejection::VoteHashMismatch));
            }
            if !scheme.verify(&key, &h, &v.signature) {
                return Err(fail(Rejection::BadSignature));
            }
        }
        Ok(())
    }
}

/// Something the application should know about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A proposal was seen for the first time (not emitted for proposals opened locally).
    ProposalReceived(ProposalInfo),
    /// A proposal reached its final outcome. Emitted once per proposal.
    Decided {
        /// The proposal.
        digest: ProposalDigest,
        /// The outcome.
        outcome: Outcome,
        /// Distinct counted YES votes.
        yes: u32,
        /// Distinct counted NO votes.
        no: u32,
        /// Voters without a counted vote.
        silent: u32,
        /// Local time of the decision.
        at: u64,
    },
    /// A voter signed both YES and NO; its votes no longer count on this proposal.
    Equivocation {
        /// Both signed votes.
        evidence: Box<EquivocationEvidence>,
    },
    /// A vote accepted earlier into the verification queue (or the early-vote buffer) was refused
    /// when it was finally checked.
    VoteRejected {
        /// The proposal the vote claimed.
        digest: ProposalDigest,
        /// The claimed owner.
        vote_owner: Vec<u8>,
        /// The vote's `vote_hash`.
        vote_hash: Vec<u8>,
        /// Why.
        reason: Rejection,
    },
}

/// What one `ingest_*` call did. Counts cover votes resolved during the call, including votes
/// queued by earlier calls that this call's verification batch resolved.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IngestReport {
    /// The proposal the message belongs to.
    pub digest: Option<ProposalDigest>,
    /// Set when the message introduced a proposal this engine had not seen.
    pub new_proposal: Option<ProposalInfo>,
    /// Votes whose signatures were verified and that were applied during this call.
    pub accepted: usize,
    /// Votes of this message (or released from the early-vote buffer by it) waiting in the
    /// verification queue.
    pub queued: usize,
    /// Votes of this message already known (identical `vote_hash`): ignored, state unchanged.
    pub duplicates: usize,
    /// Votes of a proposal's list from a voter whose votes are no longer taken (it equivocated, or
    /// reached [`crate::Config::max_votes_per_voter`]): checked as part of the list, not stored.
    pub ignored: usize,
    /// Votes of this message held until their proposal arrives.
    pub buffered: usize,
    /// Votes for a proposal already decided here, with
    /// [`Config::count_after_decision`](crate::Config::count_after_decision) off: their shape
    /// and voter were checked, but not their signature, and they were not stored.
    pub late: usize,
    /// Votes from the verification queue or buffer refused during this call (see
    /// [`Event::VoteRejected`]).
    pub rejected: usize,
    /// True if a decision was reached during this call.
    pub decided: bool,
}
