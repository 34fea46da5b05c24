//! The `Repair` message: the request a member sends at its tick (missing messages, proposals it
//! cannot decide, messages of gone members to vouch for) and how a member answers another's.
//! Answers are *original* bytes (envelopes exactly as first published), scheduled after a
//! random backoff ([`super::answers`]).

use super::log::REQUEST_MESSAGES;
use super::proposals::{REQUEST_PROPOSALS, answer_proposal};
use super::{Abort, Group, Step, backoff, vouch};
use crate::engine::publish;
use crate::types::{Epoch, ProposalId};
use crate::wire::{Frame, Repair, frame};

/// Answers a repair request: schedules re-publication of what this member holds.
pub(crate) fn on_repair(
    group: &mut Group,
    step: &mut Step<'_>,
    sender_epoch: Epoch,
    repair: Repair,
) -> Result<(), Abort> {
    let max = step.params.repair_backoff_ms;
    let topic = group.topics.group.clone();
    vouch::answer_vouches(group, step, &repair.vouch)?;
    for id in repair.messages.iter().take(REQUEST_MESSAGES) {
        if let Some((_, bytes)) = group.repair.log.get(id).cloned() {
            let due = step.now.plus_ms(backoff(step, max));
            group.repair.schedule(due, step.now, topic.clone(), bytes);
        }
    }
    for raw in repair.proposals.iter().take(REQUEST_PROPOSALS) {
        let Some(id) = ProposalId::from_slice(raw) else {
            continue;
        };
        answer_proposal(group, step, sender_epoch, id)?;
    }
    Ok(())
}

/// Publishes this member's repair request, if it asks for anything.
pub(super) fn send(group: &mut Group, step: &mut Step<'_>, request: Repair) -> Result<(), Abort> {
    if request.messages.is_empty() && request.proposals.is_empty() && request.vouch.is_empty() {
        return Ok(());
    }
    publish::publish_control(
        group,
        step,
        &Frame {
            body: Some(frame::Body::Repair(request)),
        },
    )
}
