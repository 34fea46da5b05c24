//! The engine's clock for one group: when it next has work ([`next_deadline`]) and what a tick
//! does ([`tick_group`]): consensus expiries, parked commits given up, the selection window
//! closed, a due commit created, repair, and the steward policy's timers.

use super::catch_up::claim_deadline;
use super::event::Violation;
use super::group::Group;
use super::params::EngineParams;
use super::step::{Abort, Step};
use super::{commit, governance, repair, selection, validation};
use crate::types::{MemberId, Timestamp};

/// Earliest time this group needs a tick.
pub(crate) fn next_deadline(
    group: &Group,
    me: &MemberId,
    params: &EngineParams,
) -> Option<Timestamp> {
    if group.rejoin.is_rejoining() {
        return None; // frozen until the replacement state arrives
    }
    let parked = group
        .inbound
        .parked()
        .map(|h| h.since.plus_ms(params.commit_grace_ms))
        .min();
    // Traffic of a later epoch means this member may be behind: ask to catch up.
    let oldest_held = group.inbound.oldest_held();
    let behind = group
        .repair
        .catch_up
        .due(group.epoch(), oldest_held, me, params);
    let claims = claim_deadline(group, me, params);
    [
        group.meta.commit_due,
        group.meta.selection_due,
        group.consensus.next_deadline(),
        group.policy.next_deadline(),
        group.repair.next_deadline(params),
        parked,
        behind,
        claims,
    ]
    .into_iter()
    .flatten()
    .min()
}

/// One tick of a group whose deadline has come.
pub(crate) fn tick_group(group: &mut Group, step: &mut Step<'_>) -> Result<(), Abort> {
    group.consensus.tick(step.now);
    governance::drain_consensus(group, step)?;
    let me = step.me();
    let mut actions = Vec::new();
    for (offender, evidence) in validation::expire_parked(group, step) {
        actions.extend(group.with_policy_mut(me, |policy, view| {
            policy.on_violation(
                view,
                &offender,
                Violation::BrokenCommit,
                &evidence,
                step.now,
            )
        }));
    }
    // A commit of this epoch still waiting for its proposals' votes may be the one
    // everyone else applies: the window stays open until it is judged (bounded by
    // the parking grace period).
    let epoch = group.epoch();
    let judging = group.inbound.is_parked_in(epoch);
    if !judging && group.meta.selection_due.is_some_and(|d| d <= step.now) {
        selection::close(group, step)?;
    }
    // The policy's answer may have changed since the last plan (a timer, a switch).
    commit::schedule(group, step);
    if group.meta.commit_due.is_some_and(|d| d <= step.now) {
        commit::create_commit(group, step)?;
    }
    repair::tick(group, step)?;
    actions.extend(group.with_policy_mut(me, |policy, view| policy.tick(view, step.now)));
    governance::run_policy_actions(group, step, actions)
}
