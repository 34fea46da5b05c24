//! What the API answers about a node and its groups: a group's summary (epoch, members,
//! stewards, this node's role, open decisions), the node's status, and stored messages.

use serde::{Deserialize, Serialize};

use super::b64;
use super::change::Change;
use super::event::Outcome;
use crate::engine::{GroupSummary, ProposalStatus};
use crate::types::{Epoch, GroupId, MemberId, ProposalId};

/// This node's part in a group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A steward: it may commit the group's decided changes.
    Steward,
    /// A member.
    Member,
}

/// Where a membership decision stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum DecisionState {
    /// Members are voting.
    Open,
    /// Decided; not (yet) committed.
    Decided {
        /// How it ended.
        outcome: Outcome,
    },
    /// Applied by the commit that started this epoch.
    Committed {
        /// That epoch.
        epoch: Epoch,
    },
    /// Approved but no longer applicable (the member is gone, the join request expired).
    Obsolete,
}

impl From<ProposalStatus> for DecisionState {
    fn from(s: ProposalStatus) -> Self {
        match s {
            ProposalStatus::Open => DecisionState::Open,
            ProposalStatus::Decided(v) => DecisionState::Decided { outcome: v.into() },
            ProposalStatus::Committed(epoch) => DecisionState::Committed { epoch },
            ProposalStatus::Obsolete => DecisionState::Obsolete,
        }
    }
}

/// A membership decision a group knows of.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// Its id.
    #[serde(with = "b64::one")]
    pub decision: ProposalId,
    /// What it is about.
    pub change: Change,
    /// Where it stands.
    pub state: DecisionState,
}

/// A group as this node sees it now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupInfo {
    /// The group.
    #[serde(with = "b64::one")]
    pub group: GroupId,
    /// Its current epoch.
    pub epoch: Epoch,
    /// Its members, in tree order.
    #[serde(with = "b64::list")]
    pub members: Vec<MemberId>,
    /// Who may commit now, most preferred first.
    #[serde(with = "b64::list")]
    pub stewards: Vec<MemberId>,
    /// This node's role.
    pub role: Role,
    /// The current epoch's authenticator (equal at every member of the epoch).
    #[serde(with = "b64::one")]
    pub authenticator: Vec<u8>,
    /// Decisions known here (open ones and recent ones).
    pub decisions: Vec<Decision>,
}

impl GroupInfo {
    /// The summary as `me` sees it.
    pub fn of(summary: GroupSummary, me: MemberId) -> GroupInfo {
        let role = if summary.stewards.contains(&me) {
            Role::Steward
        } else {
            Role::Member
        };
        GroupInfo {
            group: summary.group_id,
            epoch: summary.epoch,
            members: summary.members,
            stewards: summary.stewards,
            role,
            authenticator: summary.authenticator,
            decisions: summary
                .proposals
                .into_iter()
                .map(|(decision, action, status)| Decision {
                    decision,
                    change: Change::from(&action),
                    state: status.into(),
                })
                .collect(),
        }
    }
}

/// A node's status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// The node's name (from its configuration).
    pub name: String,
    /// Its member id.
    #[serde(with = "b64::one")]
    pub member_id: MemberId,
    /// The library's version.
    pub version: String,
    /// Whether the node is running (false after shutdown or a fatal error).
    pub running: bool,
    /// Groups it is a member of.
    pub groups: u32,
    /// Events waiting to be taken from the queue.
    pub queued_events: u32,
}

/// A message of a group's history: received, or sent by this node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// The group.
    #[serde(with = "b64::one")]
    pub group: GroupId,
    /// The sender (this node for its own messages).
    #[serde(with = "b64::one")]
    pub sender: MemberId,
    /// The sender's 16-byte message id.
    #[serde(with = "b64::one")]
    pub message_id: Vec<u8>,
    /// The payload.
    #[serde(with = "b64::one")]
    pub payload: Vec<u8>,
    /// The epoch it was sent in (or re-sent in).
    pub epoch: Epoch,
    /// Milliseconds since the Unix epoch when this node received (or sent) it.
    pub at_ms: u64,
}
