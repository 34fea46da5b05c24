//! What a membership decision is about, in the API's words: a member added, removed or
//! leaving, or the group's own upkeep (a new steward list, a steward removed for misbehaving).
//! How the decision is reached (votes, signatures, the consensus backend) is not said here.

use serde::{Deserialize, Serialize};

use super::b64;
use crate::proposal::{ProposalAction, Violation};
use crate::types::{MemberId, ProposalId};

/// The change a membership decision is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// Add a member (who announced a join request or whose KeyPackage was handed in).
    Add {
        /// The member to add.
        #[serde(with = "b64::one")]
        member: MemberId,
    },
    /// Remove a member.
    Remove {
        /// The member to remove.
        #[serde(with = "b64::one")]
        member: MemberId,
    },
    /// A member leaves (final without a vote).
    Leave {
        /// The leaving member.
        #[serde(with = "b64::one")]
        member: MemberId,
    },
    /// The group installs a new list of stewards (the members who commit changes).
    StewardElection {
        /// The stewards, in the order they take turns.
        #[serde(with = "b64::list")]
        stewards: Vec<MemberId>,
    },
    /// The group reacts to a steward that misbehaved (or to no steward being able to commit):
    /// the member, if named, is removed.
    StewardViolation {
        /// What happened.
        violation: ViolationKind,
        /// The member removed for it, if any.
        #[serde(with = "b64::opt")]
        member: Option<MemberId>,
    },
}

/// A steward's misbehaviour, as a [`Change::StewardViolation`] names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ViolationKind {
    /// A commit that does not apply what was decided.
    BrokenCommit,
    /// A commit that lost to another one applying different decisions.
    ConflictingCommit,
    /// A steward did not commit in its turn.
    Inactivity,
    /// No steward can commit: the group enters recovery.
    Deadlock,
    /// A leave claimed for somebody else.
    ForgedLeave,
}

impl From<Violation> for ViolationKind {
    fn from(v: Violation) -> Self {
        match v {
            Violation::BrokenCommit => ViolationKind::BrokenCommit,
            Violation::ConflictingCommit => ViolationKind::ConflictingCommit,
            Violation::Inactivity => ViolationKind::Inactivity,
            Violation::Deadlock => ViolationKind::Deadlock,
            Violation::ForgedLeave => ViolationKind::ForgedLeave,
        }
    }
}

impl From<&ProposalAction> for Change {
    fn from(action: &ProposalAction) -> Self {
        match action {
            ProposalAction::Add { member } => Change::Add { member: *member },
            ProposalAction::Remove { member } => Change::Remove { member: *member },
            ProposalAction::Leave { member } => Change::Leave { member: *member },
            ProposalAction::Election { stewards, .. } => Change::StewardElection {
                stewards: stewards.clone(),
            },
            ProposalAction::Emergency { violation, target } => Change::StewardViolation {
                violation: (*violation).into(),
                member: *target,
            },
        }
    }
}

/// What a request for a membership change led to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ChangeRequest {
    /// The decision is open under this id (a `decision_opened` event follows).
    Opened {
        /// The decision's id.
        #[serde(with = "b64::one")]
        decision: ProposalId,
    },
    /// A more urgent decision of the group's upkeep runs first: the request opens by itself
    /// when it ends (`decision_opened` with this member as `requested_by`), or is dropped with
    /// a `rejected` event if it no longer applies then.
    Deferred,
}

impl From<crate::engine::Submission> for ChangeRequest {
    fn from(s: crate::engine::Submission) -> Self {
        match s {
            crate::engine::Submission::Opened(decision) => ChangeRequest::Opened { decision },
            crate::engine::Submission::Deferred => ChangeRequest::Deferred,
        }
    }
}
