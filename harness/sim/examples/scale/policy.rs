//! The benchmark's steward policy: the harness names the steward (and, for the small
//! consensus model, the voters of membership proposals); every member reads the same shared
//! value.
//!
//! The built-in policies choose stewards from the roster (`single`: the lowest leaf; `multi`:
//! a hash-ordered elected list), which here could be a light member — and light members never
//! commit. This policy lets the harness put commits where the measurement needs them: the
//! creator for ordinary commits, and, to fill the creator's copath, one commit each by full
//! members placed in each of its copath subtrees. The harness changes the shared value only
//! while the group is idle (no proposal open, no commit in flight), so every member answers
//! alike, as the `StewardPolicy` contract requires.

use std::sync::{Arc, Mutex, PoisonError};

use demls::engine::ProposalKind;
use demls::policy::Excluded;
use demls::{
    CommitFacts, CommitRank, EpochView, GroupId, MemberId, PolicyError, StewardPolicy,
    StewardPolicyFactory, Timestamp,
};

#[derive(Default)]
struct Shared {
    steward: Option<MemberId>,
    voters: Option<Vec<MemberId>>,
}

/// The harness's handle on the policy of every node.
#[derive(Clone, Default)]
pub struct Directed(Arc<Mutex<Shared>>);

impl Directed {
    /// From now on `member` commits (while it is a member; else the lowest leaf does).
    pub fn set_steward(&self, member: MemberId) {
        self.lock().steward = Some(member);
    }

    /// From the next epoch on, only `voters` vote on adds and removals (`None`: everyone).
    pub fn set_voters(&self, voters: Option<Vec<MemberId>>) {
        self.lock().voters = voters;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The steward of `view`, leaving out `excluded` (a steward never commits its own
    /// removal).
    fn steward(
        &self,
        view: &EpochView<'_>,
        excluded: &(impl Excluded + ?Sized),
    ) -> Option<MemberId> {
        let named = self.lock().steward;
        named
            .filter(|s| view.roster.contains(s) && !excluded.excludes(s))
            .or_else(|| view.roster.ids().find(|id| !excluded.excludes(id)))
    }

    /// A factory for every node, with freeze window `commit_delay_ms`.
    pub fn factory(&self, commit_delay_ms: u64) -> DirectedFactory {
        DirectedFactory {
            shared: self.clone(),
            commit_delay_ms,
        }
    }
}

/// Hands out [`DirectedPolicy`] instances sharing one [`Directed`].
pub struct DirectedFactory {
    shared: Directed,
    commit_delay_ms: u64,
}

impl StewardPolicyFactory for DirectedFactory {
    fn name(&self) -> &str {
        "directed"
    }

    fn create(
        &self,
        _group_id: &GroupId,
        _saved: Option<&[u8]>,
    ) -> Result<Box<dyn StewardPolicy>, PolicyError> {
        Ok(Box::new(DirectedPolicy {
            shared: self.shared.clone(),
            commit_delay_ms: self.commit_delay_ms,
        }))
    }
}

/// One member's instance of the directed policy.
pub struct DirectedPolicy {
    shared: Directed,
    commit_delay_ms: u64,
}

impl StewardPolicy for DirectedPolicy {
    fn name(&self) -> &str {
        "directed"
    }

    fn stewards(&self, view: &EpochView<'_>) -> Vec<MemberId> {
        self.shared
            .steward(view, view.pending_removals)
            .into_iter()
            .collect()
    }

    fn authorize_commit(
        &self,
        view: &EpochView<'_>,
        commit: &CommitFacts<'_>,
    ) -> Result<CommitRank, PolicyError> {
        let expected = self.shared.steward(view, commit.removed);
        if expected == Some(commit.author) {
            Ok(CommitRank { position: 0 })
        } else {
            Err(PolicyError::UnauthorizedCommitter {
                author: commit.author,
                expected: expected.into_iter().collect(),
            })
        }
    }

    fn commit_at(&self, view: &EpochView<'_>, ready_at: Timestamp) -> Option<Timestamp> {
        (self.shared.steward(view, view.pending_removals) == Some(view.me))
            .then(|| ready_at.plus_ms(self.commit_delay_ms))
    }

    fn opens_add_proposal(&self, view: &EpochView<'_>, _waited_ms: u64) -> bool {
        self.shared.steward(view, view.pending_removals) == Some(view.me)
    }

    fn voters(&self, view: &EpochView<'_>, kind: ProposalKind) -> Option<Vec<MemberId>> {
        if kind != ProposalKind::Membership {
            return None;
        }
        let voters = self.shared.lock().voters.clone()?;
        Some(
            voters
                .into_iter()
                .filter(|m| view.roster.contains(m))
                .collect(),
        )
    }

    fn on_commit(&mut self, _view: &EpochView<'_>, _commit: &CommitFacts<'_>, _now: Timestamp) {}

    fn on_epoch(&mut self, _view: &EpochView<'_>, _now: Timestamp) {}

    fn save(&self) -> Vec<u8> {
        Vec::new()
    }
}
