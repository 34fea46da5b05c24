//! The events of the API and their canonical JSON form: one object per event, its `type` in
//! snake_case, byte strings in base64. They speak of groups, members, messages and membership
//! decisions; how a decision is reached is not visible.
//!
//! Every engine event ([`GroupEvent`]) maps to exactly one API event (the mapping is total, so
//! a new engine event cannot be forgotten here without the build failing).

use serde::{Deserialize, Serialize};

use super::b64;
use super::change::Change;
use crate::engine::{GroupEvent, RejectReason};
use crate::proposal::Verdict;
use crate::types::{Epoch, GroupId, MemberId, ProposalId};

/// How a membership decision ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Approved: a steward commits the change.
    Approved,
    /// Rejected by the group.
    Rejected,
    /// Too few members answered in time: no decision.
    NoDecision,
}

impl From<Verdict> for Outcome {
    fn from(v: Verdict) -> Self {
        match v {
            Verdict::Yes => Outcome::Approved,
            Verdict::No => Outcome::Rejected,
            Verdict::Failed => Outcome::NoDecision,
        }
    }
}

/// Something that happened at this node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    /// This node created a group and is its only member.
    GroupCreated {
        /// The group.
        #[serde(with = "b64::one")]
        group: GroupId,
        /// Its first epoch.
        epoch: Epoch,
    },
    /// This node asked to join a group (it announces itself until it is added).
    JoinRequested {
        /// The group.
        #[serde(with = "b64::one")]
        group: GroupId,
    },
    /// This node joined a group.
    Joined {
        /// The group.
        #[serde(with = "b64::one")]
        group: GroupId,
        /// The epoch joined at.
        epoch: Epoch,
        /// Members at that epoch.
        members: u32,
    },
    /// Someone asked to join a group this node is in (the group decides on adding them).
    JoinRequestReceived {
        /// The group.
        #[serde(with = "b64::one")]
        group: GroupId,
        /// Who asks.
        #[serde(with = "b64::one")]
        member: MemberId,
    },
    /// A membership decision was opened.
    DecisionOpened {
        /// The group.
        #[serde(with = "b64::one")]
        group: GroupId,
        /// The decision.
        #[serde(with = "b64::one")]
        decision: ProposalId,
        /// Who asked for it.
        #[serde(with = "b64::one")]
        requested_by: MemberId,
        /// What it is about.
        change: Change,
    },
    /// Manual voting (`[group] voting = "manual"`): this node should call `vote` on the decision.
    VoteRequested {
        /// The group.
        #[serde(with = "b64::one")]
        group: GroupId,
        /// The decision.
        #[serde(with = "b64::one")]
        decision: ProposalId,
        /// What it is about.
        change: Change,
    },
    /// This node cast its vote on a decision.
    Voted {
        /// The group.
        #[serde(with = "b64::one")]
        group: GroupId,
        /// The decision.
        #[serde(with = "b64::one")]
        decision: ProposalId,
        /// Whether it approved.
        approve: bool,
    },
    /// A membership decision was reached.
    DecisionMade {
        /// The group.
        #[serde(with = "b64::one")]
        group: GroupId,
        /// The decision.
        #[serde(with = "b64::one")]
        decision: ProposalId,
        /// What it was about.
        change: Change,
        /// How it ended.
        outcome: Outcome,
        /// Members who approved.
        approvals: u32,
        /// Members who rejected.
        rejections: u32,
        /// Members entitled to vote.
        eligible: u32,
    },
    /// This node's own request ended without a decision and was asked again, with more time.
    DecisionRetried {
        /// The group.
        #[serde(with = "b64::one")]
        group: GroupId,
        /// The decision that ended without a result.
        #[serde(with = "b64::one")]
        failed: ProposalId,
        /// The decision opened in its place.
        #[serde(with = "b64::one")]
        retry: ProposalId,
        /// What both are about.
        change: Change,
        /// Which retry this is (1 for the first).
        attempt: u32,
        /// How long the new decision stays open, in milliseconds.
        timeout_ms: u64,
    },
    /// This node's own request ended without a decision every time; nothing more is tried.
    DecisionAbandoned {
        /// The group.
        #[serde(with = "b64::one")]
        group: GroupId,
        /// The last decision.
        #[serde(with = "b64::one")]
        decision: ProposalId,
        /// What it was about.
        change: Change,
        /// Attempts made.
        attempts: u32,
        /// Why nothing more is tried.
        reason: String,
    },
    /// This node, as a steward, committed decided changes (the epoch changes when the group
    /// accepts the commit: `epoch_advanced`).
    Committed {
        /// The group.
        #[serde(with = "b64::one")]
        group: GroupId,
        /// The epoch the commit starts.
        epoch: Epoch,
        /// The decisions it applies.
        #[serde(with = "b64::list")]
        decisions: Vec<ProposalId>,
    },
    /// The group moved to a new epoch: its membership or keys changed.
    EpochAdvanced {
        /// The group.
        #[serde(with = "b64::one")]
        group: GroupId,
        /// The new epoch.
        epoch: Epoch,
        /// The steward who committed the change.
        #[serde(with = "b64::one")]
        committer: MemberId,
        /// Members added.
        #[serde(with = "b64::list")]
        added: Vec<MemberId>,
        /// Members removed (or who left).
        #[serde(with = "b64::list")]
        removed: Vec<MemberId>,
        /// Members now.
        members: u32,
        /// The epoch authenticator: equal at every member of this epoch (compare it out of band
        /// to detect an impostor between you).
        #[serde(with = "b64::one")]
        authenticator: Vec<u8>,
    },
    /// An application message.
    MessageReceived {
        /// The group.
        #[serde(with = "b64::one")]
        group: GroupId,
        /// The sender.
        #[serde(with = "b64::one")]
        sender: MemberId,
        /// The sender's 16-byte message id.
        #[serde(with = "b64::one")]
        message_id: Vec<u8>,
        /// The payload.
        #[serde(with = "b64::one")]
        payload: Vec<u8>,
        /// The epoch it was sent in.
        epoch: Epoch,
        /// True when it arrived as a re-send after this member was re-added (a partition healed
        /// or it fell behind); `epoch` is then the re-send's.
        resent: bool,
    },
    /// Two sides of a partitioned group met again and the group resynchronised on one side's
    /// history; if this node was on the other side it is re-added, and what it sent and asked
    /// for meanwhile is sent and asked for again.
    ForkResolved {
        /// The group.
        #[serde(with = "b64::one")]
        group: GroupId,
        /// The last epoch both sides shared.
        fork_epoch: Epoch,
        /// Whether this node's side was kept.
        survived: bool,
    },
    /// This node is no longer a member (removed, or its leave was committed); its state of
    /// the group is erased.
    Removed {
        /// The group.
        #[serde(with = "b64::one")]
        group: GroupId,
        /// The epoch of the removing commit.
        epoch: Epoch,
        /// The steward who committed it.
        #[serde(with = "b64::one")]
        committer: MemberId,
    },
    /// A member was caught contradicting itself on a decision (signed both answers).
    Misbehaviour {
        /// The group.
        #[serde(with = "b64::one")]
        group: GroupId,
        /// The member.
        #[serde(with = "b64::one")]
        member: MemberId,
        /// The decision.
        #[serde(with = "b64::one")]
        decision: ProposalId,
    },
    /// A message could not be handed to the network (the node's state already reflects it;
    /// repair re-sends what others miss).
    DeliveryFailed {
        /// The transport's error.
        detail: String,
    },
    /// An input from the network or a request was refused; nothing changed.
    Rejected {
        /// The group, when known.
        #[serde(with = "b64::opt")]
        group: Option<GroupId>,
        /// Why, as a stable name (see [`reason_name`]).
        reason: String,
        /// Human-readable detail (for logs; not for matching).
        detail: String,
    },
}

impl Event {
    /// The event's `type` in the JSON form.
    pub fn type_name(&self) -> &'static str {
        match self {
            Event::GroupCreated { .. } => "group_created",
            Event::JoinRequested { .. } => "join_requested",
            Event::Joined { .. } => "joined",
            Event::JoinRequestReceived { .. } => "join_request_received",
            Event::DecisionOpened { .. } => "decision_opened",
            Event::VoteRequested { .. } => "vote_requested",
            Event::Voted { .. } => "voted",
            Event::DecisionMade { .. } => "decision_made",
            Event::DecisionRetried { .. } => "decision_retried",
            Event::DecisionAbandoned { .. } => "decision_abandoned",
            Event::Committed { .. } => "committed",
            Event::EpochAdvanced { .. } => "epoch_advanced",
            Event::MessageReceived { .. } => "message_received",
            Event::ForkResolved { .. } => "fork_resolved",
            Event::Removed { .. } => "removed",
            Event::Misbehaviour { .. } => "misbehaviour",
            Event::DeliveryFailed { .. } => "delivery_failed",
            Event::Rejected { .. } => "rejected",
        }
    }

    /// The canonical JSON form (one line).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| {
            // Serialising these plain types cannot fail; say so loudly if it ever does.
            tracing::error!(error = %e, "event did not serialise");
            String::from("{\"type\":\"rejected\",\"group\":null,\"reason\":\"internal\",\"detail\":\"serialisation\"}")
        })
    }

    /// The group the event is about, if any.
    pub fn group(&self) -> Option<&GroupId> {
        match self {
            Event::GroupCreated { group, .. }
            | Event::JoinRequested { group }
            | Event::Joined { group, .. }
            | Event::JoinRequestReceived { group, .. }
            | Event::DecisionOpened { group, .. }
            | Event::VoteRequested { group, .. }
            | Event::Voted { group, .. }
            | Event::DecisionMade { group, .. }
            | Event::DecisionRetried { group, .. }
            | Event::DecisionAbandoned { group, .. }
            | Event::Committed { group, .. }
            | Event::EpochAdvanced { group, .. }
            | Event::MessageReceived { group, .. }
            | Event::ForkResolved { group, .. }
            | Event::Removed { group, .. }
            | Event::Misbehaviour { group, .. } => Some(group),
            Event::Rejected { group, .. } => group.as_ref(),
            Event::DeliveryFailed { .. } => None,
        }
    }
}

/// Every value of `type` an [`Event`] can have (the schema in `specs/api.md` lists each).
pub const EVENT_TYPES: &[&str] = &[
    "group_created",
    "join_requested",
    "joined",
    "join_request_received",
    "decision_opened",
    "vote_requested",
    "voted",
    "decision_made",
    "decision_retried",
    "decision_abandoned",
    "committed",
    "epoch_advanced",
    "message_received",
    "fork_resolved",
    "removed",
    "misbehaviour",
    "delivery_failed",
    "rejected",
];

/// The stable name of a rejection reason in the JSON form.
pub fn reason_name(reason: RejectReason) -> &'static str {
    match reason {
        RejectReason::Oversized => "oversized",
        RejectReason::Malformed => "malformed",
        RejectReason::WrongTopic => "wrong_topic",
        RejectReason::UnknownGroup => "unknown_group",
        RejectReason::StaleEpoch => "stale_epoch",
        RejectReason::FutureEpoch => "future_epoch",
        RejectReason::NotAMember => "not_a_member",
        RejectReason::MlsRejected => "mls_rejected",
        RejectReason::InvalidKeyPackage => "invalid_key_package",
        RejectReason::InvalidProposal => "invalid_decision",
        RejectReason::InvalidVote => "invalid_vote",
        RejectReason::IneligibleVoter => "ineligible_voter",
        RejectReason::DuplicateVote => "duplicate_vote",
        RejectReason::UnauthorizedCommitter => "unauthorized_committer",
        RejectReason::CommitMismatch => "commit_mismatch",
        RejectReason::CommitUnapprovedProposal => "commit_unapproved",
        RejectReason::BufferFull => "buffer_full",
        RejectReason::InvalidRequest => "invalid_request",
        RejectReason::ForeignWelcome => "foreign_welcome",
        RejectReason::Unconfirmed => "unconfirmed",
    }
}

/// Every rejection reason name (the schema in `specs/api.md` lists each).
pub const REJECT_REASONS: &[&str] = &[
    "oversized",
    "malformed",
    "wrong_topic",
    "unknown_group",
    "stale_epoch",
    "future_epoch",
    "not_a_member",
    "mls_rejected",
    "invalid_key_package",
    "invalid_decision",
    "invalid_vote",
    "ineligible_voter",
    "duplicate_vote",
    "unauthorized_committer",
    "commit_mismatch",
    "commit_unapproved",
    "buffer_full",
    "invalid_request",
    "foreign_welcome",
    "unconfirmed",
];

impl From<GroupEvent> for Event {
    fn from(event: GroupEvent) -> Self {
        match event {
            GroupEvent::GroupCreated { group_id, epoch } => Event::GroupCreated {
                group: group_id,
                epoch,
            },
            GroupEvent::JoinRequested { group_id, .. } => Event::JoinRequested { group: group_id },
            GroupEvent::Joined {
                group_id,
                epoch,
                members,
            } => Event::Joined {
                group: group_id,
                epoch,
                members,
            },
            GroupEvent::KeyPackageReceived { group_id, member } => Event::JoinRequestReceived {
                group: group_id,
                member,
            },
            GroupEvent::ProposalOpened {
                group_id,
                proposal,
                owner,
                action,
                ..
            } => Event::DecisionOpened {
                group: group_id,
                decision: proposal,
                requested_by: owner,
                change: Change::from(&action),
            },
            GroupEvent::VoteRequested {
                group_id,
                proposal,
                action,
            } => Event::VoteRequested {
                group: group_id,
                decision: proposal,
                change: Change::from(&action),
            },
            GroupEvent::VoteCast {
                group_id,
                proposal,
                yes,
            } => Event::Voted {
                group: group_id,
                decision: proposal,
                approve: yes,
            },
            GroupEvent::ProposalDecided {
                group_id,
                proposal,
                action,
                outcome,
                yes,
                no,
                eligible,
            } => Event::DecisionMade {
                group: group_id,
                decision: proposal,
                change: Change::from(&action),
                outcome: outcome.into(),
                approvals: yes,
                rejections: no,
                eligible,
            },
            GroupEvent::ProposalRetried {
                group_id,
                failed,
                retry,
                action,
                attempt,
                vote_timeout_ms,
            } => Event::DecisionRetried {
                group: group_id,
                failed,
                retry,
                change: Change::from(&action),
                attempt,
                timeout_ms: vote_timeout_ms,
            },
            GroupEvent::ProposalAbandoned {
                group_id,
                proposal,
                action,
                attempts,
                reason,
            } => Event::DecisionAbandoned {
                group: group_id,
                decision: proposal,
                change: Change::from(&action),
                attempts,
                reason,
            },
            GroupEvent::CommitCreated {
                group_id,
                epoch,
                proposals,
            } => Event::Committed {
                group: group_id,
                epoch,
                decisions: proposals,
            },
            GroupEvent::EpochAdvanced {
                group_id,
                epoch,
                committer,
                added,
                removed,
                members,
                authenticator,
            } => Event::EpochAdvanced {
                group: group_id,
                epoch,
                committer,
                added,
                removed,
                members,
                authenticator,
            },
            GroupEvent::MessageReceived {
                group_id,
                sender,
                message_id,
                payload,
                epoch,
                resent,
            } => Event::MessageReceived {
                group: group_id,
                sender,
                message_id,
                payload,
                epoch,
                resent,
            },
            GroupEvent::ForkResolved {
                group_id,
                fork_epoch,
                survived,
            } => Event::ForkResolved {
                group: group_id,
                fork_epoch,
                survived,
            },
            GroupEvent::Removed {
                group_id,
                epoch,
                committer,
            } => Event::Removed {
                group: group_id,
                epoch,
                committer,
            },
            GroupEvent::Equivocation {
                group_id,
                proposal,
                voter,
            } => Event::Misbehaviour {
                group: group_id,
                member: voter,
                decision: proposal,
            },
            GroupEvent::PublishFailed { detail, .. } => Event::DeliveryFailed { detail },
            GroupEvent::Rejected {
                group_id,
                reason,
                detail,
            } => Event::Rejected {
                group: group_id,
                reason: reason_name(reason).to_owned(),
                detail,
            },
        }
    }
}
