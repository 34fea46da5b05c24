//! The single-steward policy (LIP-104 "single steward"): one member commits for the whole group.
//!
//! The steward is the member with the lowest leaf index — the creator, until it leaves — so
//! every member computes it from the roster alone, with no election. A commit that removes the
//! steward is made by the next member in leaf order, because a steward never commits its own
//! removal. A silent steward stalls the group: that is this policy's known weakness, and the
//! reason the multi-steward policy exists. Researchers keep it as the baseline to compare with.

use serde::Deserialize;

use crate::policy::Excluded;
use crate::steward::{
    CommitFacts, CommitRank, EpochView, PolicyError, StewardPolicy, StewardPolicyFactory,
};
use crate::types::{GroupId, MemberId, Timestamp};

/// `[steward]` options of `backend = "single"`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct SinglePolicyConfig {
    /// The freeze window Δ in milliseconds: how long the steward waits after a proposal is
    /// decided before committing, so that stragglers finish voting and several decided
    /// proposals share one commit.
    pub commit_delay_ms: u64,
}

impl Default for SinglePolicyConfig {
    fn default() -> Self {
        SinglePolicyConfig {
            commit_delay_ms: 200,
        }
    }
}

/// The single-steward policy.
#[derive(Clone, Debug)]
pub struct SinglePolicy {
    config: SinglePolicyConfig,
}

impl SinglePolicy {
    /// A policy with `config`.
    pub fn new(config: SinglePolicyConfig) -> SinglePolicy {
        SinglePolicy { config }
    }

    /// The lowest-leaf member not in `excluded`.
    fn steward(view: &EpochView<'_>, excluded: &(impl Excluded + ?Sized)) -> Option<MemberId> {
        view.roster.ids().find(|id| !excluded.excludes(id))
    }
}

impl StewardPolicy for SinglePolicy {
    fn name(&self) -> &str {
        "single"
    }

    fn stewards(&self, view: &EpochView<'_>) -> Vec<MemberId> {
        Self::steward(view, view.pending_removals)
            .into_iter()
            .collect()
    }

    fn authorize_commit(
        &self,
        view: &EpochView<'_>,
        commit: &CommitFacts<'_>,
    ) -> Result<CommitRank, PolicyError> {
        let expected = Self::steward(view, commit.removed);
        if expected.as_ref() == Some(&commit.author) {
            Ok(CommitRank { position: 0 })
        } else {
            Err(PolicyError::UnauthorizedCommitter {
                author: commit.author,
                expected: expected.into_iter().collect(),
            })
        }
    }

    fn commit_at(&self, view: &EpochView<'_>, ready_at: Timestamp) -> Option<Timestamp> {
        (Self::steward(view, view.pending_removals) == Some(view.me))
            .then(|| ready_at.plus_ms(self.config.commit_delay_ms))
    }

    fn opens_add_proposal(&self, view: &EpochView<'_>, _waited_ms: u64) -> bool {
        Self::steward(view, view.pending_removals) == Some(view.me)
    }

    fn on_commit(&mut self, _view: &EpochView<'_>, _commit: &CommitFacts<'_>, _now: Timestamp) {}

    fn on_epoch(&mut self, _view: &EpochView<'_>, _now: Timestamp) {}

    fn save(&self) -> Vec<u8> {
        Vec::new()
    }
}

/// Builds [`SinglePolicy`] instances.
pub struct SinglePolicyFactory {
    config: SinglePolicyConfig,
}

impl SinglePolicyFactory {
    /// A factory handing out policies with `config`.
    pub fn new(config: SinglePolicyConfig) -> Self {
        SinglePolicyFactory { config }
    }
}

impl StewardPolicyFactory for SinglePolicyFactory {
    fn name(&self) -> &str {
        "single"
    }

    fn create(
        &self,
        _group_id: &GroupId,
        _saved: Option<&[u8]>,
    ) -> Result<Box<dyn StewardPolicy>, PolicyError> {
        Ok(Box::new(SinglePolicy::new(self.config.clone())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roster::Roster;
    use crate::testing::{NO_OPEN, NO_READY, roster};
    use std::collections::BTreeSet;

    fn view<'a>(
        gid: &'a GroupId,
        r: &'a Roster,
        me: u8,
        pending: &'a BTreeSet<MemberId>,
    ) -> EpochView<'a> {
        EpochView {
            group_id: gid,
            epoch: 1,
            roster: r,
            me: MemberId([me; 20]),
            pending_removals: pending,
            ready: &NO_READY,
            open: &NO_OPEN,
            rejoins: &[],
        }
    }

    fn commit(author: u8, removed: &[MemberId]) -> CommitFacts<'_> {
        CommitFacts {
            author: MemberId([author; 20]),
            removed,
            proposals: &[],
        }
    }

    #[test]
    fn the_lowest_leaf_commits_and_nobody_else() {
        let (gid, r) = (GroupId::new(b"g".to_vec()).unwrap(), roster(4));
        let p = SinglePolicy::new(SinglePolicyConfig::default());
        assert_eq!(
            p.commit_at(&view(&gid, &r, 0, &BTreeSet::new()), Timestamp(1000)),
            Some(Timestamp(1200))
        );
        assert_eq!(
            p.commit_at(&view(&gid, &r, 1, &BTreeSet::new()), Timestamp(1000)),
            None
        );
        assert!(
            p.authorize_commit(&view(&gid, &r, 2, &BTreeSet::new()), &commit(0, &[]))
                .is_ok()
        );
        assert!(
            p.authorize_commit(&view(&gid, &r, 2, &BTreeSet::new()), &commit(1, &[]))
                .is_err()
        );
    }

    #[test]
    fn the_next_member_commits_the_stewards_removal() {
        let (gid, r) = (GroupId::new(b"g".to_vec()).unwrap(), roster(4));
        let p = SinglePolicy::new(SinglePolicyConfig::default());
        let pending = [MemberId([0; 20])];
        assert_eq!(
            p.commit_at(&view(&gid, &r, 0, &pending.into()), Timestamp(0)),
            None
        );
        assert!(
            p.commit_at(&view(&gid, &r, 1, &pending.into()), Timestamp(0))
                .is_some()
        );
        // Member 1 may commit only a commit that removes member 0.
        assert!(
            p.authorize_commit(&view(&gid, &r, 3, &BTreeSet::new()), &commit(1, &pending))
                .is_ok()
        );
        assert!(
            p.authorize_commit(&view(&gid, &r, 3, &BTreeSet::new()), &commit(1, &[]))
                .is_err()
        );
    }
}
