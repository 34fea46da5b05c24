//! The vocabulary shared by the plugin contracts and the engine: what a voting proposal asks
//! for ([`ProposalAction`]), its kind ([`ProposalKind`]), how it ended ([`Verdict`]) and the
//! steward misbehaviours a policy is told about ([`Violation`]).
//!
//! This module sits below both the plugin traits ([`crate::steward`], [`crate::consensus`]) and
//! the [`engine`](crate::engine): they depend on it, it depends on nothing but
//! [`crate::types`]. It owns only these plain data types and their wire codes; it must not
//! grow behaviour of the engine or of any policy. The old paths (`demls::engine::ProposalAction`,
//! `demls::consensus::Verdict`, ...) re-export these types.

use crate::types::MemberId;

/// A steward misbehaviour (LIP-104 steward violation list), or the protocol deadlock that an
/// Emergency Criteria Proposal may signal.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Violation {
    /// A commit that does not match the voted proposals (unapproved, mismatched or unauthorized).
    BrokenCommit,
    /// A commit that lost commit selection with a different proposal sequence.
    ConflictingCommit,
    /// A steward that did not commit ready proposals in its turn.
    Inactivity,
    /// No steward can produce a commit (Layer 3): asks for recovery mode.
    Deadlock,
    /// A leave claimed for someone else (its owner or its sender is not the leaving member).
    ForgedLeave,
}

impl Violation {
    /// The wire code.
    pub fn code(self) -> u32 {
        match self {
            Violation::BrokenCommit => 1,
            Violation::ConflictingCommit => 2,
            Violation::Inactivity => 3,
            Violation::Deadlock => 4,
            Violation::ForgedLeave => 5,
        }
    }

    /// Parses a wire code.
    pub fn from_code(code: u32) -> Option<Violation> {
        match code {
            1 => Some(Violation::BrokenCommit),
            2 => Some(Violation::ConflictingCommit),
            3 => Some(Violation::Inactivity),
            4 => Some(Violation::Deadlock),
            5 => Some(Violation::ForgedLeave),
            _ => None,
        }
    }
}

/// The three kinds of voting proposal, in LIP-104's priority order.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum ProposalKind {
    /// Adds and removals ("commit proposals"): lowest priority.
    Membership,
    /// Steward elections.
    Election,
    /// Emergency criteria proposals: highest priority.
    Emergency,
}

/// The change a voting proposal asks for.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ProposalAction {
    /// Add the holder of a KeyPackage.
    Add {
        /// The would-be member.
        member: MemberId,
    },
    /// Remove a member.
    Remove {
        /// The member to remove.
        member: MemberId,
    },
    /// A member leaves: proposed by that member itself and final without a vote.
    Leave {
        /// The leaving member (the proposal's owner).
        member: MemberId,
    },
    /// Install a steward list (a Steward Election Proposal).
    Election {
        /// Re-election counter within the epoch the proposal belongs to.
        retry_round: u32,
        /// The stewards, in commit order.
        stewards: Vec<MemberId>,
    },
    /// An Emergency Criteria Proposal: remove `target` for a violation, or (with no target)
    /// declare a deadlock and enter recovery mode.
    Emergency {
        /// The violation.
        violation: Violation,
        /// The member to remove, if any.
        target: Option<MemberId>,
    },
}

impl ProposalAction {
    /// The member the proposal adds or removes, if any.
    pub fn member(&self) -> Option<MemberId> {
        match self {
            ProposalAction::Add { member }
            | ProposalAction::Remove { member }
            | ProposalAction::Leave { member } => Some(*member),
            ProposalAction::Emergency { target, .. } => *target,
            ProposalAction::Election { .. } => None,
        }
    }

    /// The member whose removal this proposal asks for, if any.
    pub fn removes(&self) -> Option<MemberId> {
        match self {
            ProposalAction::Remove { member } | ProposalAction::Leave { member } => Some(*member),
            ProposalAction::Emergency { target, .. } => *target,
            _ => None,
        }
    }

    /// Its kind.
    pub fn kind(&self) -> ProposalKind {
        match self {
            ProposalAction::Add { .. }
            | ProposalAction::Remove { .. }
            | ProposalAction::Leave { .. } => ProposalKind::Membership,
            ProposalAction::Election { .. } => ProposalKind::Election,
            ProposalAction::Emergency { .. } => ProposalKind::Emergency,
        }
    }
}

/// How a proposal ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Verdict {
    /// Accepted.
    Yes,
    /// Rejected (including a tie under a reject policy).
    No,
    /// No decision: too few voters before expiry, or a tie to be re-run.
    Failed,
}
