//! Everything the engine reports to the application: one event per protocol step, and a typed
//! rejection for every input it refuses.
//!
//! Events carry only ids, integers, byte strings and enums without data, so the C API can
//! mirror them field by field.

use std::fmt;

use crate::consensus::Verdict;
use crate::types::{Epoch, GroupId, MemberId, ProposalId};

// The proposal vocabulary moved below the plugin contracts (`crate::proposal`); these
// re-exports keep every `super::event::...` and `crate::engine::...` path compiling.
pub use crate::proposal::{ProposalAction, ProposalKind, Violation};

/// Why an input was refused. Every refused input produces exactly one
/// [`GroupEvent::Rejected`]; group state is unchanged by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RejectReason {
    /// Larger than the configured limit.
    Oversized,
    /// Not a decodable de-MLS or MLS message.
    Malformed,
    /// Arrived on a topic that does not belong to its group or kind.
    WrongTopic,
    /// For a group this node is neither in nor joining.
    UnknownGroup,
    /// From an epoch too old to process.
    StaleEpoch,
    /// From an epoch too far ahead to buffer.
    FutureEpoch,
    /// The sender is not a member (MLS could not authenticate it).
    NotAMember,
    /// MLS refused the message (undecryptable, bad signature, replay, wrong epoch).
    MlsRejected,
    /// A KeyPackage failed validation.
    InvalidKeyPackage,
    /// A voting proposal is invalid for this group (vote NO was cast where possible).
    InvalidProposal,
    /// A vote or consensus message failed validation (bad signature, tampered, expired).
    InvalidVote,
    /// A vote from a key that is not an eligible voter of the proposal.
    IneligibleVoter,
    /// A duplicate of a vote already counted.
    DuplicateVote,
    /// A commit from a member the steward policy does not allow to commit.
    UnauthorizedCommitter,
    /// A commit whose MLS changes do not match the voting proposals it claims to apply.
    CommitMismatch,
    /// A commit that applies a proposal not finalized YES here.
    CommitUnapprovedProposal,
    /// Buffers are full; the message was dropped.
    BufferFull,
    /// The application asked for something invalid.
    InvalidRequest,
    /// A Welcome whose MLS group is not the group being joined (its envelope relabelled).
    ForeignWelcome,
    /// Held for a later epoch that nobody confirmed (no commit of this member's epoch and no
    /// catch-up answer came within the catch-up window): dropped.
    Unconfirmed,
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Something that happened in a group.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum GroupEvent {
    /// This node created a group and is its first member.
    GroupCreated {
        /// The group.
        group_id: GroupId,
        /// Its first epoch.
        epoch: Epoch,
    },
    /// This node announced a KeyPackage to join a group.
    JoinRequested {
        /// The group.
        group_id: GroupId,
        /// The announced KeyPackage's reference.
        key_package_ref: Vec<u8>,
    },
    /// This node joined a group from a Welcome.
    Joined {
        /// The group.
        group_id: GroupId,
        /// The epoch joined at.
        epoch: Epoch,
        /// Number of members at that epoch.
        members: u32,
    },
    /// A would-be member announced a KeyPackage on the welcome topic.
    KeyPackageReceived {
        /// The group.
        group_id: GroupId,
        /// The would-be member.
        member: MemberId,
    },
    /// A voting proposal was opened (by this node or another member).
    ProposalOpened {
        /// The group.
        group_id: GroupId,
        /// The proposal.
        proposal: ProposalId,
        /// Who opened it.
        owner: MemberId,
        /// What it asks for.
        action: ProposalAction,
        /// The epoch whose roster votes on it.
        epoch: Epoch,
    },
    /// Manual voting: the application should call `vote` for this proposal.
    VoteRequested {
        /// The group.
        group_id: GroupId,
        /// The proposal.
        proposal: ProposalId,
        /// What it asks for.
        action: ProposalAction,
    },
    /// This node cast its vote on a proposal.
    VoteCast {
        /// The group.
        group_id: GroupId,
        /// The proposal.
        proposal: ProposalId,
        /// Its value.
        yes: bool,
    },
    /// A proposal reached its final outcome.
    ProposalDecided {
        /// The group.
        group_id: GroupId,
        /// The proposal.
        proposal: ProposalId,
        /// What it asked for.
        action: ProposalAction,
        /// YES, NO, or failed.
        outcome: Verdict,
        /// Distinct YES voters.
        yes: u32,
        /// Distinct NO voters.
        no: u32,
        /// Eligible voters.
        eligible: u32,
    },
    /// This member's own add or removal ended without a decision (too few votes arrived before
    /// it expired) and was opened again, with twice the lifetime (`EngineParams::
    /// max_vote_attempts`).
    ProposalRetried {
        /// The group.
        group_id: GroupId,
        /// The proposal that failed.
        failed: ProposalId,
        /// The proposal opened in its place.
        retry: ProposalId,
        /// What they ask for.
        action: ProposalAction,
        /// Which attempt the new proposal is (1 for the first retry).
        attempt: u32,
        /// The new proposal's lifetime, in milliseconds.
        vote_timeout_ms: u64,
    },
    /// This member's own add or removal ended without a decision on every attempt, or could
    /// not be opened again; nothing more is tried. The application may ask again later.
    ProposalAbandoned {
        /// The group.
        group_id: GroupId,
        /// The last proposal.
        proposal: ProposalId,
        /// What it asked for.
        action: ProposalAction,
        /// Attempts made.
        attempts: u32,
        /// Why nothing more is tried.
        reason: String,
    },
    /// This node, as steward, committed decided proposals.
    CommitCreated {
        /// The group.
        group_id: GroupId,
        /// The epoch the commit starts.
        epoch: Epoch,
        /// The proposals it applies.
        proposals: Vec<ProposalId>,
    },
    /// The group moved to a new epoch (a commit was accepted and merged).
    EpochAdvanced {
        /// The group.
        group_id: GroupId,
        /// The new epoch.
        epoch: Epoch,
        /// Who committed.
        committer: MemberId,
        /// Members added.
        added: Vec<MemberId>,
        /// Members removed.
        removed: Vec<MemberId>,
        /// Members now.
        members: u32,
        /// The new epoch's authenticator (equal at every member of the epoch).
        authenticator: Vec<u8>,
    },
    /// A decrypted application message.
    MessageReceived {
        /// The group.
        group_id: GroupId,
        /// The sender.
        sender: MemberId,
        /// The sender-chosen message id.
        message_id: Vec<u8>,
        /// The payload.
        payload: Vec<u8>,
        /// The epoch it was sent in.
        epoch: Epoch,
        /// True when it arrived as a re-send after a rejoin or a fork (first sent on a branch
        /// or in an epoch this member could not read); `epoch` is then the re-send's epoch.
        resent: bool,
    },
    /// Two branches of the group met (a fork after a partition) and the survival rule was
    /// applied to the commits that ended their last common epoch. If this member's branch did
    /// not survive, it is re-added to the surviving one (its messages sent after the fork are
    /// sent again there, its removal requests requested again).
    ForkResolved {
        /// The group.
        group_id: GroupId,
        /// The last epoch both branches share.
        fork_epoch: Epoch,
        /// Whether this member's branch survived.
        survived: bool,
    },
    /// This node was removed from the group; its group state has been erased.
    Removed {
        /// The group.
        group_id: GroupId,
        /// The epoch of the removing commit.
        epoch: Epoch,
        /// Who committed the removal.
        committer: MemberId,
    },
    /// A voter signed conflicting votes on a proposal.
    Equivocation {
        /// The group.
        group_id: GroupId,
        /// The proposal.
        proposal: ProposalId,
        /// The voter.
        voter: MemberId,
    },
    /// The node could not hand a message to the transport (the driver reports this; the
    /// engine's state already reflects the step that produced the message).
    PublishFailed {
        /// The topic.
        topic: String,
        /// The transport's error.
        detail: String,
    },
    /// An input was refused; state is unchanged.
    Rejected {
        /// The group, when known.
        group_id: Option<GroupId>,
        /// Why.
        reason: RejectReason,
        /// Human-readable detail (for logs; not for matching).
        detail: String,
    },
}
