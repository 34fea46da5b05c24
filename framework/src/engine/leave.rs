//! Leaving: a member asks for its own removal. The request is final without a vote (only the
//! leaving member can make it, so a leave claimed for someone else is refused and its sender
//! reported); it is settled YES at once and waits for a steward's commit, re-sent by the
//! leaver until one applies it. Opening the request is `Engine::leave`.

use super::event::{GroupEvent, ProposalAction, RejectReason, Violation};
use super::freeze::{self, Submission};
use super::governance;
use super::group::Group;
use super::records::{ProposalRecord, ProposalStatus};
use super::step::{Abort, Step};
use crate::consensus::{Tally, Verdict};
use crate::types::{Epoch, MemberId, ProposalId};

/// True while this member's own leave waits for a commit.
pub(crate) fn leaving(group: &Group, me: MemberId) -> bool {
    group
        .proposals
        .in_flight(&ProposalAction::Leave { member: me })
}

/// This member asks to leave: a fresh leave request, or the one of this epoch still pending.
pub(crate) fn request(group: &mut Group, step: &mut Step<'_>) -> Result<Submission, Abort> {
    let me = step.me();
    let action = ProposalAction::Leave { member: me };
    let pending = group
        .proposals
        .live_naming(&me)
        .find(|r| r.action == action && r.epoch == group.epoch());
    if let Some(rec) = pending {
        return Ok(Submission::Opened(rec.id));
    }
    freeze::submit(group, step, action, None)
}

/// A valid leave is decided YES at once, without a vote: the member asked for its own removal.
pub(crate) fn settle_leave(
    group: &mut Group,
    step: &mut Step<'_>,
    id: ProposalId,
) -> Result<(), Abort> {
    let eligible = group.roster().len() as u32;
    governance::on_decided(
        group,
        step,
        id,
        Verdict::Yes,
        Tally {
            yes: 1,
            no: 0,
            eligible,
        },
    )
}

/// Refuses a forged leave and reports its sender to the steward policy.
pub(crate) fn refuse_forged_leave(
    group: &mut Group,
    step: &mut Step<'_>,
    offender: MemberId,
    evidence: &[u8],
) -> Result<(), Abort> {
    tracing::info!(group = %group.id.display(), offender = %offender.short(), "forged leave refused");
    step.out.event(GroupEvent::Rejected {
        group_id: Some(group.id.clone()),
        reason: RejectReason::InvalidProposal,
        detail: format!("{} claimed a leave that is not its own", offender.short()),
    });
    let me = step.me();
    let actions = group.with_policy_mut(me, |policy, view| {
        policy.on_violation(view, &offender, Violation::ForgedLeave, evidence, step.now)
    });
    governance::run_policy_actions(group, step, actions)
}

/// Re-sends this member's own leave until it is committed, each `resend_interval_ms`: it needs
/// no votes, only a steward that heard it, and only the leaver can send it. Once its
/// proposal's lifetime has passed (nobody would take it any more: a long partition), a fresh
/// leave replaces it. (Votes are re-sent when someone asks, in repair.)
pub(crate) fn resend_own_if_due(
    group: &mut Group,
    step: &mut Step<'_>,
    epoch: Epoch,
) -> Result<(), Abort> {
    let now = step.now;
    let params = step.params;
    if !group
        .repair
        .leave_resend_due(now, params.resend_interval_ms)
    {
        return Ok(());
    }
    let me = step.me();
    let members = group.roster().len();
    let mut leaves: Vec<ProposalId> = Vec::new();
    let mut expired: Vec<ProposalRecord> = Vec::new();
    for r in group.proposals.live_naming(&me) {
        let own_leave =
            r.is_ready() && r.owner == me && matches!(r.action, ProposalAction::Leave { .. });
        if !own_leave || r.epoch + (params.max_past_epochs as u64) < epoch {
            continue;
        }
        if r.seen_at
            .plus_ms(params.vote_timeout_for(members, r.attempt))
            <= now
        {
            expired.push(r.clone());
        } else {
            leaves.push(r.id);
        }
    }
    for mut old in expired {
        match governance::open_proposal(group, step, old.action.clone(), None, Vec::new()) {
            Ok(_) => {
                old.status = ProposalStatus::Obsolete;
                group.put_proposal(old);
            }
            // Held back by a higher-priority vote: try again at the next round.
            Err(Abort::Reject(_, detail)) => {
                tracing::debug!(%detail, "leave not renewed yet")
            }
            Err(e) => return Err(e),
        }
    }
    let topic = group.topics.group.clone();
    for id in leaves {
        for bytes in group.repair.own_envelopes(&id) {
            step.out.publish(&topic, bytes);
        }
    }
    Ok(())
}
