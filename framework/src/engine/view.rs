//! The steward policy's view of a group: roster, pending removals, ready and open proposals.

use std::sync::Arc;

use super::group::Group;
use crate::steward::{EpochView, StewardPolicy};
use crate::types::MemberId;

impl Group {
    /// Runs `f` with the policy's view of the current epoch.
    pub(crate) fn with_view<T>(
        &self,
        me: MemberId,
        f: impl FnOnce(&dyn StewardPolicy, &EpochView<'_>) -> T,
    ) -> T {
        let rejoins: Vec<MemberId> = self.rejoin.members();
        let view = EpochView {
            group_id: &self.id,
            epoch: self.epochs.current().epoch,
            roster: self.roster(),
            me,
            pending_removals: self.proposals.pending_removals(),
            ready: self.proposals.ready(),
            open: self.proposals.open(),
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
        let rejoins: Vec<MemberId> = self.rejoin.members();
        let roster = Arc::clone(self.roster());
        // The roster's epoch, not OpenMLS's: between merging a commit and installing the new
        // roster, the policy still sees the epoch the commit was made in.
        let view = EpochView {
            group_id: &self.id,
            epoch: self.epochs.current().epoch,
            roster: &roster,
            me,
            pending_removals: self.proposals.pending_removals(),
            ready: self.proposals.ready(),
            open: self.proposals.open(),
            rejoins: &rejoins,
        };
        f(self.policy.as_mut(), &view)
    }
}

impl Group {
    /// Asks the policy who votes on each kind of proposal opened in the current epoch.
    pub(crate) fn refresh_voters(&mut self, me: MemberId) {
        use crate::engine::event::ProposalKind;
        for kind in [
            ProposalKind::Membership,
            ProposalKind::Election,
            ProposalKind::Emergency,
        ] {
            if let Some(members) = self.with_view(me, |policy, view| policy.voters(view, kind)) {
                self.epochs.current_mut().restrict(kind, &members);
            }
        }
    }
}
