//! The steward policy's view of a group: roster, pending removals, ready and open proposals.

use super::group::Group;
use super::records::ProposalStatus;
use crate::engine::ProposalAction;
use crate::steward::{EpochView, ReadyProposal, StewardPolicy};
use crate::types::{MemberId, ProposalId};

impl Group {
    /// Ids of members whose removal is decided YES and not yet committed.
    pub(crate) fn pending_removals(&self) -> Vec<MemberId> {
        self.proposals
            .values()
            .filter(|r| r.is_ready())
            .filter_map(|r| r.action.removes())
            .collect()
    }

    /// Proposals decided YES and not yet committed.
    pub(crate) fn ready(&self) -> Vec<ReadyProposal> {
        self.proposals
            .values()
            .filter(|r| r.is_ready())
            .map(|r| ReadyProposal {
                id: r.id,
                action: r.action.clone(),
                epoch: r.epoch,
                decided_at: r.decided_at.unwrap_or(r.seen_at),
            })
            .collect()
    }

    /// Proposals still being voted on.
    pub(crate) fn open(&self) -> Vec<(ProposalId, ProposalAction)> {
        self.proposals
            .values()
            .filter(|r| r.status == ProposalStatus::Open)
            .map(|r| (r.id, r.action.clone()))
            .collect()
    }

    /// Runs `f` with the policy's view of the current epoch.
    pub(crate) fn with_view<T>(
        &self,
        me: MemberId,
        f: impl FnOnce(&dyn StewardPolicy, &EpochView<'_>) -> T,
    ) -> T {
        let (pending, ready, open) = (self.pending_removals(), self.ready(), self.open());
        let rejoins: Vec<MemberId> = self.rejoins.requests.keys().copied().collect();
        let view = EpochView {
            group_id: &self.id,
            epoch: self.epochs[0].epoch,
            roster: self.roster(),
            me,
            pending_removals: &pending,
            ready: &ready,
            open: &open,
            rejoins: &rejoins,
        };
        f(self.policy.as_ref(), &view)
    }

    /// Runs `f` with mutable access to the policy and the view of the current epoch.
    pub(crate) fn with_policy_mut<T>(
        &mut self,
        me: MemberId,
        f: impl FnOnce(&mut dyn StewardPolicy, &EpochView<'_>) -> T,
    ) -> T {
        let (pending, ready, open) = (self.pending_removals(), self.ready(), self.open());
        let rejoins: Vec<MemberId> = self.rejoins.requests.keys().copied().collect();
        let roster = self.roster().clone();
        // The roster's epoch, not OpenMLS's: between merging a commit and installing the new
        // roster, the policy still sees the epoch the commit was made in.
        let view = EpochView {
            group_id: &self.id,
            epoch: self.epochs[0].epoch,
            roster: &roster,
            me,
            pending_removals: &pending,
            ready: &ready,
            open: &open,
            rejoins: &rejoins,
        };
        f(self.policy.as_mut(), &view)
    }
}

impl Group {
    /// Asks the policy who votes on each kind of proposal opened in the current epoch.
    pub(crate) fn refresh_voters(&mut self, me: MemberId) {
        use crate::engine::ProposalKind;
        for kind in [
            ProposalKind::Membership,
            ProposalKind::Election,
            ProposalKind::Emergency,
        ] {
            if let Some(members) = self.with_view(me, |policy, view| policy.voters(view, kind)) {
                self.epochs[0].restrict(kind, &members);
            }
        }
    }
}
