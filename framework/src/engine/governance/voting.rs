//! Voting: this member's own votes, cast at the application's request, at once on a valid
//! proposal (or left to the application in manual mode), NO on an invalid one, or held back
//! while a higher-priority proposal is open (the partial freeze, released in
//! [`crate::engine::freeze`]).

use super::broadcast_and_drain;
use crate::engine::event::{GroupEvent, ProposalKind, RejectReason};
use crate::engine::freeze::frozen;
use crate::engine::group::Group;
use crate::engine::params::VotingMode;
use crate::engine::publish::broadcast;
use crate::engine::step::{Abort, Step, reject};
use crate::types::ProposalId;

/// Casts this member's vote (application request).
pub(crate) fn cast_vote(
    group: &mut Group,
    step: &mut Step<'_>,
    id: ProposalId,
    yes: bool,
) -> Result<(), Abort> {
    let messages = match group.consensus.vote(&id, yes, step.now) {
        Ok(m) => m,
        Err(e) => return reject(RejectReason::InvalidRequest, e.to_string()),
    };
    group.meta.deferred_votes.retain(|d| *d != id);
    step.out.event(GroupEvent::VoteCast {
        group_id: group.id.clone(),
        proposal: id,
        yes,
    });
    broadcast_and_drain(group, step, id, messages)
}

/// Votes on a valid open proposal now, or holds the vote back during a partial freeze.
pub(crate) fn decide_own_vote(
    group: &mut Group,
    step: &mut Step<'_>,
    id: ProposalId,
) -> Result<(), Abort> {
    let Some(rec) = group.proposals.get(&id) else {
        return Ok(());
    };
    let action = rec.action.clone();
    if frozen(group, action.kind()) {
        if !group.meta.deferred_votes.contains(&id) {
            group.meta.deferred_votes.push(id);
        }
        return Ok(());
    }
    if step.params.voting == VotingMode::Manual && action.kind() == ProposalKind::Membership {
        step.out.event(GroupEvent::VoteRequested {
            group_id: group.id.clone(),
            proposal: id,
            action,
        });
        return Ok(());
    }
    cast_own_vote(group, step, id, true)
}

pub(super) fn cast_own_vote(
    group: &mut Group,
    step: &mut Step<'_>,
    id: ProposalId,
    yes: bool,
) -> Result<(), Abort> {
    group.meta.deferred_votes.retain(|d| *d != id);
    if group.consensus.has_voted(&id) || group.consensus.outcome(&id).is_some() {
        return Ok(());
    }
    match group.consensus.vote(&id, yes, step.now) {
        Ok(messages) => {
            step.out.event(GroupEvent::VoteCast {
                group_id: group.id.clone(),
                proposal: id,
                yes,
            });
            broadcast(group, step, id, messages)
        }
        // Not a voter (small consensus), expired or decided meanwhile: nothing to vote on.
        Err(e) => {
            tracing::debug!(proposal = %id.short(), error = %e, "own vote not cast");
            Ok(())
        }
    }
}
