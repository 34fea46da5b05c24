//! The steward side: deciding when to commit and building the commit from decided proposals.

use std::collections::BTreeSet;

use super::event::{Event, ProposalAction};
use super::group::Group;
use super::records::{ProposalRecord, ProposalStatus};
use super::validation::CommitPlan;
use super::{Abort, Step, epoch};
use crate::mls::validate_key_package;
use crate::roster::Roster;
use crate::types::{MemberId, ProposalId};
use crate::wire::{self, CommitInfo, Envelope, Kind, sealed};

/// Whether a decided-YES proposal can still be applied to `roster`.
pub(crate) fn applicable(rec: &ProposalRecord, roster: &Roster) -> bool {
    match rec.action {
        ProposalAction::Add { member } => !roster.contains(&member) && rec.key_package.is_some(),
        ProposalAction::Remove { member } => roster.contains(&member),
    }
}

/// Plans this member's next commit: sets `commit_due` if it is a steward with work to do.
pub(crate) fn schedule(group: &mut Group, step: &mut Step<'_>) {
    let roster = group.roster().clone();
    let ready_at = group
        .proposals
        .values()
        .filter(|r| r.is_ready() && applicable(r, &roster))
        .filter_map(|r| r.decided_at)
        .min();
    let Some(ready_at) = ready_at else {
        group.meta.commit_due = None;
        return;
    };
    let at = group.with_view(step.me(), |policy, view| policy.commit_at(view, ready_at));
    group.meta.commit_due = match (group.meta.commit_due, at) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (_, b) => b,
    };
}

/// The proposals this member would commit now: decided YES, still applicable, at most one per
/// target member, and never its own removal.
fn select(group: &Group, me: MemberId) -> Vec<ProposalRecord> {
    let roster = group.roster();
    let mut seen = BTreeSet::new();
    group
        .proposals
        .values()
        .filter(|r| r.is_ready() && applicable(r, roster))
        .filter(|r| r.action != ProposalAction::Remove { member: me })
        .filter(|r| seen.insert(r.action.member()))
        .cloned()
        .collect()
}

/// Builds, publishes and applies a commit of every selectable proposal, if the policy lets
/// this member commit it.
pub(crate) fn create_commit(group: &mut Group, step: &mut Step<'_>) -> Result<(), Abort> {
    group.meta.commit_due = None;
    let me = step.me();
    let mut chosen = select(group, me);
    if chosen.is_empty() {
        return Ok(());
    }
    let removed: Vec<MemberId> = chosen
        .iter()
        .filter_map(|r| match r.action {
            ProposalAction::Remove { member } => Some(member),
            ProposalAction::Add { .. } => None,
        })
        .collect();
    if let Err(e) = group.with_view(me, |policy, view| {
        policy.authorize_commit(view, &me, &removed)
    }) {
        tracing::debug!(group = %group.id.display(), error = %e, "not committing: not this member's turn");
        return Ok(());
    }
    // KeyPackages are re-validated: one may have expired since the vote.
    let mut adds = Vec::new();
    let mut obsolete = Vec::new();
    chosen.retain(|r| match (&r.action, &r.key_package) {
        (ProposalAction::Add { .. }, Some((message, _))) => {
            match validate_key_package(step.crypto, message) {
                Ok(kp) => {
                    adds.push(kp.key_package);
                    true
                }
                Err(_) => {
                    obsolete.push(r.clone());
                    false
                }
            }
        }
        _ => true,
    });
    for mut rec in obsolete {
        rec.status = ProposalStatus::Obsolete;
        group.put_proposal(rec);
    }
    if chosen.is_empty() {
        return Ok(());
    }
    let roster = group.roster().clone();
    let removes: Vec<u32> = removed
        .iter()
        .filter_map(|m| roster.get(m).map(|e| e.leaf))
        .collect();
    let ids: Vec<ProposalId> = chosen.iter().map(|r| r.id).collect(); // ascending: BTreeMap order
    let info = CommitInfo {
        proposals: ids.iter().map(|id| id.as_bytes().to_vec()).collect(),
    };
    let epoch = group.epoch();
    let key = group.commit_key;
    group.mls_touched = true;
    let output = group.mls.commit(
        &step.provider(),
        step.identity,
        adds,
        removes,
        wire::encode(&info),
    )?;
    let nonce = step.crypto.entropy().array()?;
    let sealed = sealed::seal(&key, group.id.as_bytes(), epoch, nonce, &output.commit);
    group.mls.merge_pending(&step.provider())?;
    let gid = group.id.as_bytes().to_vec();
    step.out.publish(
        &group.topics.group,
        Envelope::new(Kind::Commit, &gid, epoch, sealed.clone()).encode_to_vec(),
    );
    if let Some(welcome) = output.welcome {
        let tree = group.mls.export_tree()?;
        let topic = group.topics.welcome.clone();
        step.out.publish(
            &topic,
            Envelope::new(Kind::Welcome, &gid, epoch + 1, welcome).encode_to_vec(),
        );
        step.out.publish(
            &topic,
            Envelope::new(Kind::RatchetTree, &gid, epoch + 1, tree).encode_to_vec(),
        );
    }
    tracing::info!(group = %group.id.display(), epoch = epoch + 1, proposals = ids.len(), "commit created");
    step.out.event(Event::CommitCreated {
        group_id: group.id.clone(),
        epoch: epoch + 1,
        proposals: ids.clone(),
    });
    epoch::after_merge(
        group,
        step,
        CommitPlan {
            committer: me,
            proposals: ids,
        },
        sealed,
    )
}
