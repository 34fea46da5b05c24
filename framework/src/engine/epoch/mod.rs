//! What happens when a commit has been merged: the steward policy learns of it, the new roster
//! is installed, records are marked committed (and moot ones obsolete), the commit is retained,
//! buffered KeyPackages and messages are handled, and — if this member was removed — the group
//! is erased. What the group knows of its epochs is [`state`].

pub(super) mod state;

use std::collections::BTreeSet;
use std::sync::Arc;

use super::commit;
use super::event::{GroupEvent, ProposalAction, Violation};
use super::freeze;
use super::group::Group;
use super::records::{CommitRecord, ProposalStatus};
use super::step::{Abort, Step};
use super::validation::CommitPlan;
use crate::roster::Roster;
use crate::steward::CommitFacts;
use crate::types::{Epoch, MemberId, ProposalId};

/// This member was removed by `committer`'s commit, which started `epoch`: its state of the
/// group is erased (the engine drops the group after the step) and it stops listening.
pub(crate) fn removed(
    group: &mut Group,
    step: &mut Step<'_>,
    epoch: Epoch,
    committer: MemberId,
) -> Result<(), Abort> {
    tracing::info!(group = %group.id.display(), epoch, "removed from the group");
    step.out.event(GroupEvent::Removed {
        group_id: group.id.clone(),
        epoch,
        committer,
    });
    group.mls.delete(&step.provider())?;
    group.erase(step.txn);
    group.epochs.mark_removed();
    step.out.unsubscribe.push(group.topics.group.clone());
    step.out.unsubscribe.push(group.topics.welcome.clone());
    Ok(())
}

/// Finishes an epoch transition after `plan`'s commit was merged.
pub(crate) fn after_merge(
    group: &mut Group,
    step: &mut Step<'_>,
    plan: CommitPlan,
    sealed: Vec<u8>,
) -> Result<(), Abort> {
    let epoch = group.epoch();
    group.selection.clear();
    group.meta.selection_due = None;
    if !group.mls.is_active() {
        return removed(group, step, epoch, plan.committer);
    }
    group.repair.entered_epoch(epoch, step.now);
    let me = step.me();
    policy_sees_commit(group, step, &plan);
    let ended = ended_epoch(group, &plan, sealed, epoch);
    let authenticator = ended.authenticator_after.clone();
    let (roster, added, removed) = install_roster(group, step)?;
    settle_proposals(group, step, &plan, &roster, epoch);
    group.put_commit(ended, step.params.retained_commits);
    drop_done_key_packages(group, step, &roster, epoch);
    group.with_policy_mut(me, |policy, view| policy.on_epoch(view, step.now));
    group.refresh_voters(me);
    super::rejoin::after_commit(group, step, &plan.rejoins)?;
    resend_if_caught_up(group, step, epoch)?;
    tracing::info!(group = %group.id.display(), epoch, members = roster.len(), added = added.len(), removed = removed.len(), "epoch advanced");
    step.out.event(GroupEvent::EpochAdvanced {
        group_id: group.id.clone(),
        epoch,
        committer: plan.committer,
        added,
        removed,
        members: roster.len() as u32,
        authenticator,
    });
    release_held(group, step, epoch);
    commit::schedule(group, step);
    freeze::release_deferred(group, step)?;
    super::keypackages::retry_pending(group, step)
}

/// The policy sees the commit in the epoch it was made in (the roster is not swapped yet).
fn policy_sees_commit(group: &mut Group, step: &Step<'_>, plan: &CommitPlan) {
    let named: Vec<(ProposalId, ProposalAction)> = plan
        .proposals
        .iter()
        .filter_map(|id| group.proposals.get(id).map(|r| (*id, r.action.clone())))
        .collect();
    let removed: Vec<MemberId> = named.iter().filter_map(|(_, a)| a.removes()).collect();
    group.with_policy_mut(step.me(), |policy, view| {
        let facts = CommitFacts {
            author: plan.committer,
            removed: &removed,
            proposals: &named,
        };
        policy.on_commit(view, &facts, step.now)
    });
}

/// The record of the commit that ended the epoch before `epoch` (merged already): with the
/// ended epoch's key and branch tag, the new epoch's authenticator and the certificates of the
/// proposals it applied (taken before the consensus plugin forgets them).
fn ended_epoch(group: &Group, plan: &CommitPlan, sealed: Vec<u8>, epoch: Epoch) -> CommitRecord {
    let certificates: Vec<(ProposalId, Vec<Vec<u8>>)> = plan
        .proposals
        .iter()
        .map(|id| {
            let parts = group
                .consensus
                .certificate(id, super::repair::CERTIFICATE_VOTES_PER_PART);
            (*id, parts)
        })
        .filter(|(_, parts)| !parts.is_empty())
        .collect();
    CommitRecord {
        epoch: epoch - 1,
        sealed,
        committer: plan.committer,
        authenticator_after: group.mls.epoch_authenticator(),
        key: *group.epochs.key(),
        certificates,
        branch_before: group.epochs.branch().to_vec(),
    }
}

/// Installs the new epoch's roster; returns it with the members it added and removed (these
/// are remembered for the in-flight window of §9).
#[allow(clippy::type_complexity)]
fn install_roster(
    group: &mut Group,
    step: &Step<'_>,
) -> Result<(Arc<Roster>, Vec<MemberId>, Vec<MemberId>), Abort> {
    let old: BTreeSet<MemberId> = group.roster().ids().collect();
    group.push_epoch(step.crypto, step.params.max_past_epochs)?;
    let roster = group.roster().clone();
    let new: BTreeSet<MemberId> = roster.ids().collect();
    let added: Vec<MemberId> = new.difference(&old).copied().collect();
    let removed: Vec<MemberId> = old.difference(&new).copied().collect();
    group.inbound.note_removed(&removed, step.now);
    Ok((roster, added, removed))
}

/// The commit's proposals are committed; decided ones it made moot, and what is left of the
/// ended epoch's voting, are obsolete; finished ones past the retention horizon are forgotten.
fn settle_proposals(
    group: &mut Group,
    step: &Step<'_>,
    plan: &CommitPlan,
    roster: &Roster,
    epoch: Epoch,
) {
    for id in &plan.proposals {
        if let Some(mut rec) = group.proposals.get(id).cloned() {
            rec.status = ProposalStatus::Committed(epoch);
            group.put_proposal(rec);
        }
    }
    mark_moot(group, plan, roster);
    retire_epoch(group, step.me(), epoch);
    forget_old_proposals(group, step, epoch);
}

/// Buffered KeyPackages of members now present, or received too many epochs ago, are dropped.
fn drop_done_key_packages(group: &mut Group, step: &Step<'_>, roster: &Roster, epoch: Epoch) {
    let expired: Vec<MemberId> = group
        .key_packages()
        .filter(|kp| {
            roster.contains(&kp.member)
                || kp.received_epoch + step.params.key_package_epochs < epoch
        })
        .map(|kp| kp.member)
        .collect();
    for member in expired {
        group.remove_key_package(&member);
    }
}

/// Caught up after falling behind: what this member sent meanwhile went out in epochs the
/// others had already left, so it is sent again now (receivers drop ids they have).
fn resend_if_caught_up(group: &mut Group, step: &mut Step<'_>, epoch: Epoch) -> Result<(), Abort> {
    let holding = group.inbound.holds_after(epoch);
    match group.repair.catch_up.take_caught_up(holding) {
        Some(since) => super::repair::resend_since(group, step, since),
        None => Ok(()),
    }
}

/// Messages held for `epoch` (or earlier) can be processed now, each as its own step; commits
/// parked for the ended epoch are moot.
fn release_held(group: &mut Group, step: &mut Step<'_>, epoch: Epoch) {
    let due = group.inbound.take_due(epoch);
    step.requeue
        .extend(due.into_iter().map(|h| (h.topic, h.payload)));
    group.inbound.drop_parked_before(epoch);
}

/// A commit ends its epoch's voting: proposals of earlier epochs it did not apply — still open,
/// or decided and left out — can never be committed (a commit applies only proposals of the
/// epoch it ends, so that every member, including one who joined by this commit, judges it on
/// votes it could see). This member's own membership requests among them are requested again
/// in the new epoch; buffered KeyPackages are re-proposed by their usual openers.
fn retire_epoch(group: &mut Group, me: MemberId, epoch: Epoch) {
    let retired: Vec<_> = group
        .proposals
        .values()
        .filter(|r| r.epoch < epoch && (r.status == ProposalStatus::Open || r.is_ready()))
        .cloned()
        .collect();
    for mut rec in retired {
        let again = rec.owner == me
            && matches!(
                rec.action,
                ProposalAction::Add { .. }
                    | ProposalAction::Remove { .. }
                    | ProposalAction::Leave { .. }
            );
        if again
            && !group
                .meta
                .deferred_requests
                .iter()
                .any(|r| r.action == rec.action)
        {
            group
                .meta
                .deferred_requests
                .push(super::records::DeferredRequest {
                    action: rec.action.clone(),
                    key_package: rec.key_package.clone(),
                    attempt: rec.attempt,
                });
        }
        rec.status = ProposalStatus::Obsolete;
        group.put_proposal(rec);
    }
}

/// Decided proposals a commit made moot will never be committed: an add of someone now
/// present, a removal of someone now gone, elections other than the one just installed, and a
/// deadlock declaration once any commit got through.
fn mark_moot(group: &mut Group, plan: &CommitPlan, roster: &Roster) {
    let installed_election = plan.proposals.iter().any(|id| {
        group
            .proposals
            .get(id)
            .is_some_and(|r| matches!(r.action, ProposalAction::Election { .. }))
    });
    let moot: Vec<_> = group
        .proposals
        .values()
        .filter(|r| r.is_ready())
        .filter(|r| {
            !commit::applicable(r, roster)
                || (installed_election && matches!(r.action, ProposalAction::Election { .. }))
                || matches!(
                    r.action,
                    ProposalAction::Emergency {
                        violation: Violation::Deadlock,
                        ..
                    }
                )
        })
        .cloned()
        .collect();
    for mut rec in moot {
        rec.status = ProposalStatus::Obsolete;
        group.put_proposal(rec);
    }
}

/// Finished proposals are forgotten after the retention horizon (bounded state).
fn forget_old_proposals(group: &mut Group, step: &Step<'_>, epoch: Epoch) {
    let horizon = epoch.saturating_sub(step.params.proposal_retention_epochs);
    let finished: Vec<_> = group
        .proposals
        .values()
        .filter(|r| r.epoch < horizon && r.status != ProposalStatus::Open && !r.is_ready())
        .map(|r| r.id)
        .collect();
    for id in finished {
        group.remove_proposal(&id);
        group.consensus.forget(&id, step.now);
        group.repair.forget_own(&id);
    }
}
