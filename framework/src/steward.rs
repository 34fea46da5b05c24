//! The `StewardPolicy` plugin trait: who may commit in an epoch, when, and how that set of
//! stewards is chosen and checked.
//!
//! The engine asks the policy before it commits and before it accepts anyone else's commit;
//! it never hard-codes who the steward is. Built-in policies live in [`crate::policy`] and are
//! selected with `[steward] backend = "..."`.

use crate::roster::Roster;
use crate::types::{Epoch, GroupId, MemberId, Timestamp};

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
    /// Members whose removal has been voted YES but not yet committed.
    pub pending_removals: &'a [MemberId],
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
/// - Every member runs the same policy on the same roster and must reach the same answers:
///   `authorize_commit` may depend only on the view and the commit itself (never on local
///   timing or local votes), so that all honest members accept or reject a commit alike.
/// - `commit_at` is local planning: when, if ever, *this* member should commit pending
///   proposals that became ready at `ready_at`.
/// - A steward never commits its own removal (MLS forbids it): the engine leaves such
///   proposals out of the local member's commits, and a policy must let someone else commit
///   them.
/// - State that must survive a restart is returned by `save` and handed back to the factory.
pub trait StewardPolicy: Send {
    /// The policy's name (e.g. `"single"`).
    fn name(&self) -> &str;

    /// Members allowed to commit in this epoch, most preferred first.
    fn stewards(&self, view: &EpochView<'_>) -> Vec<MemberId>;

    /// Accepts or refuses a commit by `author` that removes `removed` members.
    fn authorize_commit(
        &self,
        view: &EpochView<'_>,
        author: &MemberId,
        removed: &[MemberId],
    ) -> Result<(), PolicyError>;

    /// When the local member should commit proposals that became ready at `ready_at`, or
    /// `None` if it should not.
    fn commit_at(&self, view: &EpochView<'_>, ready_at: Timestamp) -> Option<Timestamp>;

    /// Whether the local member should open an add proposal for a KeyPackage announced on the
    /// welcome topic (so that exactly the stewards, not every member, do it).
    fn opens_add_proposals(&self, view: &EpochView<'_>) -> bool;

    /// Called after every epoch change.
    fn on_epoch(&mut self, view: &EpochView<'_>, now: Timestamp);

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
