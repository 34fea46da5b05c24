//! The single-steward policy (LIP-104 "single steward"): one member commits for the whole group.
//!
//! The steward is the member with the lowest leaf index — the creator, until it leaves — so
//! every member computes it from the roster alone, with no election. A commit that removes the
//! steward is made by the next member in leaf order, because a steward never commits its own
//! removal. A silent steward stalls the group: that is this policy's known weakness, and the
//! reason the multi-steward policy exists. Researchers keep it as the baseline to compare with.
//!
//! Votes: in the big consensus model every member votes on adds and removals. In the small one
//! (`consensus_model = "auto"` above `small_consensus_above` members, the default) a
//! **committee** votes on them and opens them: the first `committee_size` members in leaf
//! order — the steward and the members that commit after it when it is removed. It is computed
//! from the epoch's roster alone, so every member agrees on it (`specs/de-mls.md` §7).

use std::sync::Arc;

use serde::Deserialize;

use crate::config::ConfigError;

use crate::policy::{ConsensusModel, Excluded};
use crate::proposal::ProposalKind;
use crate::registry::{BuildContext, StewardPlugin};
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
    /// Who votes on adds and removals: everyone (`big`), the committee (`small`), or everyone
    /// up to `small_consensus_above` members and the committee above (`auto`).
    pub consensus_model: ConsensusModel,
    /// With `consensus_model = "auto"`: the roster size above which only the committee votes.
    pub small_consensus_above: usize,
    /// The committee of the small model: this many members, the first in leaf order.
    pub committee_size: usize,
}

impl Default for SinglePolicyConfig {
    fn default() -> Self {
        SinglePolicyConfig {
            commit_delay_ms: 200,
            consensus_model: ConsensusModel::Auto,
            small_consensus_above: 100,
            committee_size: 7,
        }
    }
}

impl SinglePolicyConfig {
    /// Checks the options' consistency.
    pub fn validate(&self) -> Result<(), PolicyError> {
        if self.committee_size == 0 {
            return Err(PolicyError::Config(
                "committee_size must be at least 1".into(),
            ));
        }
        Ok(())
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

    /// The committee of `view`'s epoch when it votes in the small model.
    fn committee(&self, view: &EpochView<'_>) -> Option<Vec<MemberId>> {
        let small = self
            .config
            .consensus_model
            .is_small(view.roster.len(), self.config.small_consensus_above);
        small.then(|| {
            view.roster
                .ids()
                .take(self.config.committee_size.max(1))
                .collect()
        })
    }
}

impl StewardPolicy for SinglePolicy {
    fn name(&self) -> &str {
        NAME
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
        let steward = Self::steward(view, view.pending_removals);
        match self.committee(view) {
            // Only the committee may open adds. The steward is on it unless every committee
            // member is pending removal; then the first of them opens adds.
            Some(committee) if !steward.is_some_and(|s| committee.contains(&s)) => {
                committee.first() == Some(&view.me)
            }
            _ => steward == Some(view.me),
        }
    }

    fn voters(&self, view: &EpochView<'_>, kind: ProposalKind) -> Option<Vec<MemberId>> {
        (kind == ProposalKind::Membership)
            .then(|| self.committee(view))
            .flatten()
    }

    fn on_commit(&mut self, _view: &EpochView<'_>, _commit: &CommitFacts<'_>, _now: Timestamp) {}

    fn on_epoch(&mut self, _view: &EpochView<'_>, _now: Timestamp) {}

    fn save(&self) -> Vec<u8> {
        Vec::new()
    }
}

/// The name `[steward] backend = "single"` selects.
pub const NAME: &str = "single";

/// Builds the `single` factory from its `[steward]` options (unknown keys refused).
fn build(
    options: &toml::Table,
    _ctx: &BuildContext,
) -> Result<Arc<dyn StewardPolicyFactory>, ConfigError> {
    let config: SinglePolicyConfig = crate::config::parse_options("steward", options)?;
    config.validate().map_err(|e| ConfigError::InvalidValue {
        section: "steward".into(),
        message: e.to_string(),
    })?;
    Ok(Arc::new(SinglePolicyFactory::new(config)))
}

crate::register_plugin!(
    steward,
    StewardPlugin {
        name: NAME,
        description: "one steward: the lowest-leaf member commits every change",
        build,
    }
);

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
        NAME
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

    #[test]
    fn above_the_threshold_the_first_members_in_leaf_order_vote_on_membership() {
        let gid = GroupId::new(b"g".to_vec()).unwrap();
        let p = SinglePolicy::new(SinglePolicyConfig {
            small_consensus_above: 10,
            committee_size: 3,
            ..SinglePolicyConfig::default()
        });
        let none = BTreeSet::new();
        // At the threshold everyone votes; above it the committee does, on adds and removals only.
        let r = roster(10);
        assert_eq!(
            p.voters(&view(&gid, &r, 5, &none), ProposalKind::Membership),
            None
        );
        let r = roster(11);
        let committee: Vec<MemberId> = (0..3).map(|i| MemberId([i; 20])).collect();
        assert_eq!(
            p.voters(&view(&gid, &r, 5, &none), ProposalKind::Membership),
            Some(committee.clone())
        );
        assert_eq!(
            p.voters(&view(&gid, &r, 5, &none), ProposalKind::Election),
            None
        );
        // Pending removals do not change it (members' views of them differ; the committee may not).
        let pending: BTreeSet<MemberId> = [MemberId([0; 20])].into();
        assert_eq!(
            p.voters(&view(&gid, &r, 5, &pending), ProposalKind::Membership),
            Some(committee)
        );
        // The steward opens adds; with every committee member pending removal, the first does.
        assert!(p.opens_add_proposal(&view(&gid, &r, 0, &none), 0));
        assert!(!p.opens_add_proposal(&view(&gid, &r, 1, &none), 0));
        let all: BTreeSet<MemberId> = (0..3).map(|i| MemberId([i; 20])).collect();
        assert!(p.opens_add_proposal(&view(&gid, &r, 0, &all), 0));
        assert!(!p.opens_add_proposal(&view(&gid, &r, 3, &all), 0));
        // `big` never narrows the electorate; `small` always does.
        let big = SinglePolicy::new(SinglePolicyConfig {
            consensus_model: ConsensusModel::Big,
            small_consensus_above: 10,
            ..SinglePolicyConfig::default()
        });
        assert_eq!(
            big.voters(&view(&gid, &r, 5, &none), ProposalKind::Membership),
            None
        );
        let small = SinglePolicy::new(SinglePolicyConfig {
            consensus_model: ConsensusModel::Small,
            ..SinglePolicyConfig::default()
        });
        assert_eq!(
            small
                .voters(&view(&gid, &roster(4), 2, &none), ProposalKind::Membership)
                .map(|v| v.len()),
            Some(4)
        );
    }

    #[test]
    fn a_committee_of_no_one_is_refused() {
        let bad = SinglePolicyConfig {
            committee_size: 0,
            ..SinglePolicyConfig::default()
        };
        assert!(bad.validate().is_err());
        assert!(SinglePolicyConfig::default().validate().is_ok());
    }
}
