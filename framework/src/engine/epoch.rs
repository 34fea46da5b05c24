//! What happens when a commit has been merged: the new roster, records marked committed, the
//! retained commit, buffered KeyPackages and messages, and — if this member was removed — the
//! erasure of the group.

use std::collections::BTreeSet;

use super::commit;
use super::event::Event;
use super::group::Group;
use super::records::{CommitRecord, ProposalStatus};
use super::validation::CommitPlan;
use super::{Abort, Step};
use crate::steward::EpochView;
use crate::types::MemberId;

/// Finishes an epoch transition after `plan`'s commit was merged.
pub(crate) fn after_merge(
    group: &mut Group,
    step: &mut Step<'_>,
    plan: CommitPlan,
    sealed: Vec<u8>,
) -> Result<(), Abort> {
    let epoch = group.epoch();
    if !group.mls.is_active() {
        tracing::info!(group = %group.id.display(), epoch, "removed from the group");
        step.out.event(Event::Removed {
            group_id: group.id.clone(),
            epoch,
            committer: plan.committer,
        });
        group.mls.delete(&step.provider())?;
        group.erase(step.txn);
        step.out.unsubscribe.push(group.topics.group.clone());
        step.out.unsubscribe.push(group.topics.welcome.clone());
        return Ok(());
    }
    let old: BTreeSet<MemberId> = group.roster().ids().collect();
    group.push_epoch(step.crypto, step.params.max_past_epochs)?;
    let roster = group.roster().clone();
    let new: BTreeSet<MemberId> = roster.ids().collect();
    let added: Vec<MemberId> = new.difference(&old).copied().collect();
    let removed: Vec<MemberId> = old.difference(&new).copied().collect();

    for id in &plan.proposals {
        if let Some(mut rec) = group.proposals.get(id).cloned() {
            rec.status = ProposalStatus::Committed(epoch);
            group.put_proposal(rec);
        }
    }
    // Decided proposals the commit made moot (an add of someone now present, a removal of
    // someone now gone) will never be committed.
    let moot: Vec<_> = group
        .proposals
        .values()
        .filter(|r| r.is_ready() && !commit::applicable(r, &roster))
        .cloned()
        .collect();
    for mut rec in moot {
        rec.status = ProposalStatus::Obsolete;
        group.put_proposal(rec);
    }
    // Finished proposals are forgotten after the retention horizon (bounded state).
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
    }
    let authenticator = group.mls.epoch_authenticator();
    group.put_commit(
        CommitRecord {
            epoch: epoch - 1,
            sealed,
            committer: plan.committer,
            authenticator_after: authenticator.clone(),
        },
        step.params.retained_commits,
    );
    let expired: Vec<MemberId> = group
        .key_packages
        .values()
        .filter(|kp| {
            new.contains(&kp.member) || kp.received_epoch + step.params.key_package_epochs < epoch
        })
        .map(|kp| kp.member)
        .collect();
    for member in expired {
        group.remove_key_package(&member);
    }
    let pending = group.pending_removals();
    let view = EpochView {
        group_id: &group.id,
        epoch,
        roster: &roster,
        me: step.me(),
        pending_removals: &pending,
    };
    group.policy.on_epoch(&view, step.now);
    tracing::info!(group = %group.id.display(), epoch, members = roster.len(), added = added.len(), removed = removed.len(), "epoch advanced");
    step.out.event(Event::EpochAdvanced {
        group_id: group.id.clone(),
        epoch,
        committer: plan.committer,
        added,
        removed,
        members: roster.len() as u32,
        authenticator,
    });
    // Messages held for this epoch can be processed now (each as its own step).
    let (now_due, later): (Vec<_>, Vec<_>) = group.future.drain(..).partition(|h| h.epoch <= epoch);
    group.future = later;
    step.requeue
        .extend(now_due.into_iter().map(|h| (h.topic, h.payload)));
    // Commits parked for the old epoch are moot.
    group.parked.retain(|h| h.epoch >= epoch);
    commit::schedule(group, step);
    Ok(())
}
