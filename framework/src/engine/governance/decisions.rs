//! Decisions: what a decided proposal means here. The record is updated and the application
//! told; the steward policy hears of it; a failed proposal of this member's own is opened
//! again; parked commits that waited for it are tried again; a YES plans a commit; deferred
//! votes and requests are released.

use super::run_policy_actions;
use crate::consensus::{Tally, Verdict};
use crate::engine::event::{GroupEvent, ProposalAction};
use crate::engine::freeze::{self, release_deferred};
use crate::engine::group::Group;
use crate::engine::records::{ProposalRecord, ProposalStatus};
use crate::engine::step::{Abort, Step};
use crate::engine::{commit, keypackages};
use crate::types::ProposalId;

/// This member's own add or removal of the current epoch ended without a decision for want
/// of votes (delivery slower than its lifetime, or a quorum out of reach): it is opened again
/// with twice the lifetime, up to `max_vote_attempts` attempts in all, each reported
/// ([`GroupEvent::ProposalRetried`]); then, or when it cannot be opened again, the application is
/// told ([`GroupEvent::ProposalAbandoned`]) and, for an add, the KeyPackage is dropped (the joiner's
/// next announcement starts over).
fn retry_failed(group: &mut Group, step: &mut Step<'_>, rec: &ProposalRecord) -> Result<(), Abort> {
    let membership = matches!(
        rec.action,
        ProposalAction::Add { .. } | ProposalAction::Remove { .. }
    );
    if rec.owner != step.me() || rec.epoch != group.epoch() || !membership {
        return Ok(());
    }
    let attempts = rec.attempt + 1;
    let abandon = |group: &mut Group, step: &mut Step<'_>, reason: String| {
        tracing::info!(group = %group.id.display(), proposal = %rec.id.short(), attempts, %reason, "proposal abandoned");
        if let ProposalAction::Add { member } = rec.action {
            group.remove_key_package(&member);
        }
        step.out.event(GroupEvent::ProposalAbandoned {
            group_id: group.id.clone(),
            proposal: rec.id,
            action: rec.action.clone(),
            attempts,
            reason,
        });
    };
    if attempts >= step.params.max_vote_attempts.max(1) {
        abandon(group, step, format!("no decision in {attempts} attempts"));
        return Ok(());
    }
    let still = match rec.action {
        ProposalAction::Add { member } => !group.roster().contains(&member),
        ProposalAction::Remove { member } => group.roster().contains(&member),
        _ => false,
    };
    // (`rec` itself ended without a decision, so it is not live.)
    let in_flight = group.proposals.in_flight(&rec.action);
    if !still || in_flight {
        return Ok(()); // moot, or someone else's proposal carries it
    }
    // During a partial freeze the retry waits with the deferred requests, as an application
    // request would, and opens (as this attempt) when the higher-priority vote ends.
    match freeze::defer_or_open(
        group,
        step,
        rec.action.clone(),
        rec.key_package.clone(),
        attempts,
    ) {
        Ok(freeze::Submission::Opened(retry)) => {
            if let ProposalAction::Add { member } = rec.action {
                if let Some(mut kp) = group.key_package(&member).cloned() {
                    kp.proposal = Some(retry);
                    group.put_key_package(kp);
                }
            }
            let voters = group.epochs.current().voters(rec.action.kind()).len();
            step.out.event(GroupEvent::ProposalRetried {
                group_id: group.id.clone(),
                failed: rec.id,
                retry,
                action: rec.action.clone(),
                attempt: attempts,
                vote_timeout_ms: step.params.vote_timeout_for(voters, attempts),
            });
            Ok(())
        }
        Ok(freeze::Submission::Deferred) => {
            tracing::info!(group = %group.id.display(), proposal = %rec.id.short(), attempts, "retry deferred by the partial freeze");
            Ok(())
        }
        Err(Abort::Reject(_, detail)) => {
            abandon(group, step, detail);
            Ok(())
        }
        Err(e) => Err(e),
    }
}

pub(crate) fn on_decided(
    group: &mut Group,
    step: &mut Step<'_>,
    id: ProposalId,
    outcome: Verdict,
    tally: Tally,
) -> Result<(), Abort> {
    let Some(mut rec) = group.proposals.get(&id).cloned() else {
        return Ok(());
    };
    match rec.status {
        ProposalStatus::Open => {}
        // Too few votes were seen here in time; a certificate now proves the real outcome.
        ProposalStatus::Decided(Verdict::Failed) if outcome != Verdict::Failed => {}
        _ => return Ok(()), // already decided, committed or moot: nothing new
    }
    // How long its votes took to come in here tells how spread out delivery is (a decision at
    // expiry says nothing about it).
    if outcome != Verdict::Failed && tally.yes + tally.no >= (2 * tally.eligible).div_ceil(3) {
        let took = step.now.since(rec.seen_at);
        let lifetime = step
            .params
            .vote_timeout_for(tally.eligible as usize, rec.attempt);
        if took < lifetime / 2 {
            group.repair.catch_up.note_spread(took);
        }
    }
    rec.status = ProposalStatus::Decided(outcome);
    rec.decided_at = Some(step.now);
    group.put_proposal(rec.clone());
    tracing::info!(group = %group.id.display(), proposal = %id.short(), ?outcome, yes = tally.yes, no = tally.no, "proposal decided");
    step.out.event(GroupEvent::ProposalDecided {
        group_id: group.id.clone(),
        proposal: id,
        action: rec.action.clone(),
        outcome,
        yes: tally.yes,
        no: tally.no,
        eligible: tally.eligible,
    });
    let me = step.me();
    let actions = group.with_policy_mut(me, |policy, view| {
        policy.on_decided(view, &rec.owner, &rec.action, outcome, step.now)
    });
    if outcome == Verdict::Failed {
        retry_failed(group, step, &rec)?;
    }
    // Parked commits waiting only for decided proposals can be tried again.
    let proposals = &group.proposals;
    let ready = group.inbound.take_ready(|w| {
        proposals.get(w).is_some_and(|r| {
            !matches!(
                r.status,
                ProposalStatus::Open | ProposalStatus::Decided(Verdict::Failed)
            )
        })
    });
    step.requeue
        .extend(ready.into_iter().map(|h| (h.topic, h.payload)));
    if outcome == Verdict::Yes {
        commit::schedule(group, step);
    }
    release_deferred(group, step)?;
    run_policy_actions(group, step, actions)?;
    keypackages::after_decision(group, step, &rec.action, outcome)
}
