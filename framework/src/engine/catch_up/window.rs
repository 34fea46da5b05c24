//! The catch-up window: for one window per epoch, claims of a later epoch (traffic this member
//! cannot check) hold its commits back; when nothing confirms them by the end of the window,
//! they are refuted and committing resumes.

use crate::engine::group::Group;
use crate::engine::params::EngineParams;
use crate::engine::step::Step;
use crate::types::{MemberId, Timestamp};

/// When unauthenticated claims of a later epoch stop holding `group` back, unless something
/// authenticated shows its epoch is ending: a commit of it was opened here (parked for its
/// proposals' votes, or in the selection window — now or earlier in the epoch: a parked commit
/// that expires comes back with a catch-up answer), or a roster member stated that the group
/// moved beyond it.
pub(crate) fn claim_deadline(
    group: &Group,
    me: &MemberId,
    params: &EngineParams,
) -> Option<Timestamp> {
    let epoch = group.epoch();
    let state = &group.repair.catch_up;
    if state.is_beyond(epoch)
        || state.ending == Some(epoch)
        || group.selection.is_open()
        || group.inbound.is_parked_in(epoch)
    {
        return None;
    }
    state.claim_deadline(me, params)
}

/// Ends the catch-up window of this epoch if it is over and nothing confirmed the claims of a
/// later epoch: they stop holding this member back, what was held for later epochs is dropped
/// (one `Rejected` each: nobody can tell it from an outsider's invention, and what a member
/// sent there is repaired once this member really gets there), and committing resumes.
pub(crate) fn refute_if_due(group: &mut Group, step: &mut Step<'_>) {
    let me = step.me();
    if claim_deadline(group, &me, step.params).is_none_or(|d| d > step.now) {
        return;
    }
    let epoch = group.epoch();
    tracing::info!(group = %group.id.display(), epoch, held = group.inbound.held_count(), "later epochs unconfirmed: committing resumes");
    group.repair.catch_up.refute();
    for held in group.inbound.take_held() {
        step.out.event(crate::engine::event::GroupEvent::Rejected {
            group_id: Some(group.id.clone()),
            reason: crate::engine::event::RejectReason::Unconfirmed,
            detail: format!(
                "held for epoch {}: nobody confirmed an epoch after {epoch}",
                held.epoch
            ),
        });
    }
    crate::engine::commit::schedule(group, step);
}
