//! The `StewardPolicy` plugin trait: who may commit in an epoch, when, how the steward set is
//! chosen and checked, and how stewards are held to account.
//!
//! The engine asks the policy before it commits and before it accepts anyone else's commit; it
//! never hard-codes who the steward is. It also tells the policy about decisions, commits,
//! observed violations and the passage of time, and carries out the proposals the policy asks
//! for (steward elections, emergency criteria proposals). Built-in policies live in
//! [`crate::policy`] and are selected with `[steward] backend = "..."`.

use std::collections::{BTreeMap, BTreeSet};

use crate::proposal::{ProposalAction, ProposalKind, Verdict, Violation};
use crate::roster::Roster;
use crate::types::{Epoch, GroupId, MemberId, ProposalId, Timestamp};

/// A proposal decided YES and not yet committed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadyProposal {
    /// Its id.
    pub id: ProposalId,
    /// What it asks for.
    pub action: ProposalAction,
    /// The epoch whose roster voted on it.
    pub epoch: Epoch,
    /// When it was decided here.
    pub decided_at: Timestamp,
}

/// What a policy sees of the group when deciding.
pub struct EpochView<'a> {
    /// The group.
    pub group_id: &'a GroupId,
    /// The current epoch.
    pub epoch: Epoch,
    /// The current members.
    pub roster: &'a Roster,
    /// The local member.
    pub me: MemberId,
    /// Members whose removal has been decided YES but not yet committed.
    pub pending_removals: &'a BTreeSet<MemberId>,
    /// Proposals decided YES and not yet committed, by id.
    pub ready: &'a BTreeMap<ProposalId, ReadyProposal>,
    /// Proposals (of any kind) still being voted on, by id.
    pub open: &'a BTreeMap<ProposalId, ProposalAction>,
    /// Members asking to be re-added without a vote (a commit is due for them like for a
    /// decided proposal).
    pub rejoins: &'a [MemberId],
}

/// A commit the engine wants to make or has received, as the policy judges it.
pub struct CommitFacts<'a> {
    /// Who committed.
    pub author: MemberId,
    /// Members it removes.
    pub removed: &'a [MemberId],
    /// The voting proposals it applies.
    pub proposals: &'a [(ProposalId, ProposalAction)],
}

/// How good an authorized commit is when several compete for one epoch: the engine applies
/// the commit with the most proposals, then the lowest `position`, then the smallest author id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct CommitRank {
    /// The author's standing (e.g. its index in the steward list); lower is preferred.
    pub position: u32,
}

/// Something the policy asks the engine to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PolicyAction {
    /// Open a voting proposal (a steward election or an emergency criteria proposal).
    Propose {
        /// What to propose.
        action: ProposalAction,
        /// Evidence to carry with an emergency proposal.
        evidence: Vec<u8>,
    },
}

/// Why a policy refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The author may not commit in this epoch (or not this commit).
    #[error("{author} is not an authorized committer (expected {expected:?})")]
    UnauthorizedCommitter {
        /// Who committed.
        author: MemberId,
        /// Who the policy expected, in priority order.
        expected: Vec<MemberId>,
    },
    /// A proposal this policy is asked to judge is invalid.
    #[error("invalid proposal: {0}")]
    InvalidProposal(String),
    /// The policy does not handle this kind of proposal.
    #[error("{0:?} proposals are not supported by this steward policy")]
    Unsupported(ProposalKind),
    /// Saved policy state could not be restored.
    #[error("corrupt policy state: {0}")]
    CorruptState(String),
    /// The configuration is invalid.
    #[error("invalid steward policy configuration: {0}")]
    Config(String),
}

/// Decides who commits.
///
/// # Note for implementers
/// - Every member runs the same policy and must reach the same answers where agreement
///   matters: [`authorize_commit`](Self::authorize_commit), [`voters`](Self::voters),
///   [`validate_proposal`](Self::validate_proposal) and the effect of
///   [`on_commit`](Self::on_commit) may depend only on the view, the commit or proposal itself
///   and state changed by earlier commits — never on local timing, local votes or local
///   scores — so that all honest members accept or reject alike.
/// - [`commit_at`](Self::commit_at), [`tick`](Self::tick), scores and the proposals the policy
///   asks for are local planning and may differ between members.
/// - A steward never commits its own removal (MLS forbids it): the engine leaves such
///   proposals out of the local member's commits, so a policy must let someone else commit
///   them.
/// - State that must survive a restart is returned by [`save`](Self::save) and handed back to
///   the factory; the restored instance answers like the one that saved. Bytes the policy did
///   not write (to the factory, or to [`adopt_joiner_state`](Self::adopt_joiner_state)) are
///   refused with [`PolicyError::CorruptState`]; a policy that keeps no state (empty `save`
///   and `joiner_state`) may ignore them.
/// - [`stewards`](Self::stewards) names current members only, never one whose removal is
///   pending, and is not empty while a proposal is ready (a policy with an elected list may
///   name nobody until its first election is decided). A commit of every ready proposal by
///   the first of them is authorized by every member. A commit by anyone else — an outsider,
///   or a member neither listed nor installed by an election the commit applies — is refused
///   with [`PolicyError::UnauthorizedCommitter`] naming the author.
/// - Only the listed stewards schedule commits ([`commit_at`](Self::commit_at) is `None` for
///   everyone else), never earlier than the proposals became ready.
/// - [`voters`](Self::voters), when `Some`, names distinct current members, at least one.
/// - A member that joined through a Welcome and adopted
///   [`joiner_state`](Self::joiner_state) answers the agreement-critical questions like the
///   members that applied the commit.
/// - Two instances fed the same calls at the same times answer identically: no clock, no
///   randomness, no hash-map iteration order.
///
/// The conformance suite `demls::steward_conformance!` (feature `testkit`) checks these
/// rules; every policy runs it from its own tests.
pub trait StewardPolicy: Send {
    /// The policy's name (e.g. `"single"`).
    fn name(&self) -> &str;

    /// Members allowed to commit in this epoch, most preferred first.
    fn stewards(&self, view: &EpochView<'_>) -> Vec<MemberId>;

    /// Accepts or refuses a commit; an accepted one gets its rank for commit selection.
    fn authorize_commit(
        &self,
        view: &EpochView<'_>,
        commit: &CommitFacts<'_>,
    ) -> Result<CommitRank, PolicyError>;

    /// How long a member collects competing commits for an epoch before applying the best
    /// one (0: apply the first valid commit at once — right when only one member may commit).
    fn selection_window_ms(&self) -> u64 {
        0
    }

    /// When the local member should commit proposals that became ready at `ready_at`, or
    /// `None` if it should not.
    fn commit_at(&self, view: &EpochView<'_>, ready_at: Timestamp) -> Option<Timestamp>;

    /// Whether the local member should open an add proposal for a KeyPackage announced on the
    /// welcome topic `waited_ms` ago (so that stewards, not every member, do it — and others
    /// step in if they stay silent).
    fn opens_add_proposal(&self, view: &EpochView<'_>, waited_ms: u64) -> bool;

    /// The eligible voters of proposals of `kind` opened in this epoch; `None` means every
    /// member (the default).
    fn voters(&self, view: &EpochView<'_>, kind: ProposalKind) -> Option<Vec<MemberId>> {
        let _ = (view, kind);
        None
    }

    /// Judges a steward election or emergency proposal opened in `view.epoch` by `owner`
    /// (membership proposals are judged by the engine). Policies that do not use these kinds
    /// refuse them.
    fn validate_proposal(
        &self,
        view: &EpochView<'_>,
        owner: &MemberId,
        action: &ProposalAction,
        evidence: &[u8],
    ) -> Result<(), PolicyError> {
        let _ = (view, owner, evidence);
        Err(PolicyError::Unsupported(action.kind()))
    }

    /// A proposal reached its outcome here. `Verdict::Failed` means too few votes arrived in
    /// time (for instance in a partition): the group did not judge the proposal, so a policy
    /// that scores proposal owners must not treat it as a rejection.
    fn on_decided(
        &mut self,
        view: &EpochView<'_>,
        owner: &MemberId,
        action: &ProposalAction,
        outcome: Verdict,
        now: Timestamp,
    ) -> Vec<PolicyAction> {
        let _ = (view, owner, action, outcome, now);
        Vec::new()
    }

    /// A commit authorized in `view` was applied (called before the epoch changes).
    fn on_commit(&mut self, view: &EpochView<'_>, commit: &CommitFacts<'_>, now: Timestamp);

    /// The engine saw `offender` misbehave.
    fn on_violation(
        &mut self,
        view: &EpochView<'_>,
        offender: &MemberId,
        violation: Violation,
        evidence: &[u8],
        now: Timestamp,
    ) -> Vec<PolicyAction> {
        let _ = (view, offender, violation, evidence, now);
        Vec::new()
    }

    /// Called after every epoch change, with the new epoch's view.
    fn on_epoch(&mut self, view: &EpochView<'_>, now: Timestamp);

    /// Time passed: timers (inactivity, re-election, deadlock) may fire.
    fn tick(&mut self, view: &EpochView<'_>, now: Timestamp) -> Vec<PolicyAction> {
        let _ = (view, now);
        Vec::new()
    }

    /// The earliest time [`tick`](Self::tick) has work to do.
    fn next_deadline(&self) -> Option<Timestamp> {
        None
    }

    /// The state a member joining through the Welcome of `commit` needs (it joins in the
    /// epoch the commit starts). Sent inside the Welcome's signed GroupInfo.
    fn joiner_state(&self, view: &EpochView<'_>, commit: &CommitFacts<'_>) -> Vec<u8> {
        let _ = (view, commit);
        Vec::new()
    }

    /// Installs the state received with the Welcome this member joined by.
    fn adopt_joiner_state(&mut self, state: &[u8]) -> Result<(), PolicyError> {
        let _ = state;
        Ok(())
    }

    /// State to persist.
    fn save(&self) -> Vec<u8>;
}

/// Creates policy instances; one factory per node, built from the `[steward]` config.
pub trait StewardPolicyFactory: Send + Sync {
    /// The backend name.
    fn name(&self) -> &str;

    /// Creates (or, given saved state, restores) the policy of one group.
    fn create(
        &self,
        group_id: &GroupId,
        saved: Option<&[u8]>,
    ) -> Result<Box<dyn StewardPolicy>, PolicyError>;
}
