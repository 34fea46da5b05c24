//! The steward side: deciding when to commit and building the commit from decided proposals.

use std::collections::BTreeSet;

use super::epoch;
use super::event::{GroupEvent, ProposalAction, Violation};
use super::group::Group;
use super::records::{ProposalRecord, ProposalStatus};
use super::selection::state::Candidate;
use super::step::{Abort, Step};
use super::validation::CommitPlan;
use crate::mls::validate_key_package;
use crate::roster::Roster;
use crate::steward::CommitFacts;
use crate::types::{MemberId, ProposalId};
use crate::wire::{self, CommitInfo, Envelope, Kind, sealed};

/// Whether a decided-YES proposal can still be applied to `roster`.
pub(crate) fn applicable(rec: &ProposalRecord, roster: &Roster) -> bool {
    match &rec.action {
        ProposalAction::Add { member } => !roster.contains(member) && rec.key_package.is_some(),
        ProposalAction::Remove { member } | ProposalAction::Leave { member } => {
            roster.contains(member)
        }
        ProposalAction::Emergency {
            target: Some(member),
            ..
        } => roster.contains(member),
        ProposalAction::Emergency { target: None, .. } | ProposalAction::Election { .. } => true,
    }
}

/// Plans this member's next commit: sets `commit_due` if it is a steward with work to do.
pub(crate) fn schedule(group: &mut Group, step: &mut Step<'_>) {
    if group.selection.is_open() {
        tracing::trace!(group = %group.id.display(), "commit being selected");
        return; // a commit for this epoch is already being selected
    }
    let roster = group.roster().clone();
    let epoch = group.epoch();
    // A ready election alone does not need a commit: it rides along with the next one.
    // (Earliest decided first: the first that needs a commit gives the time.)
    let ready_at = group
        .proposals
        .ready_by_time()
        .filter(|r| r.decided_at.is_some() && r.epoch == epoch && applicable(r, &roster))
        .find(|r| !matches!(r.action, ProposalAction::Election { .. }))
        .and_then(|r| r.decided_at);
    let ready_at = [ready_at, group.rejoin.oldest()]
        .into_iter()
        .flatten()
        .min();
    let Some(ready_at) = ready_at else {
        group.meta.commit_due = None;
        return;
    };
    let at = group.with_view(step.me(), |policy, view| policy.commit_at(view, ready_at));
    tracing::trace!(group = %group.id.display(), ?at, rejoins = group.rejoin.pending(), "commit planned");
    group.meta.commit_due = match (group.meta.commit_due, at) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (_, b) => b,
    };
}

/// The proposals this member would commit now: opened in this epoch, decided YES and still
/// applicable; at most one per target member, one steward election (the latest), one deadlock
/// declaration; never its own removal. In id order.
fn select(group: &Group, me: MemberId) -> Vec<ProposalRecord> {
    let roster = group.roster();
    let epoch = group.epoch();
    let ready: Vec<&ProposalRecord> = group
        .proposals
        .ready_records()
        .filter(|r| r.epoch == epoch && applicable(r, roster))
        .filter(|r| r.action.removes() != Some(me))
        .collect();
    let election = ready
        .iter()
        .filter_map(|r| match &r.action {
            ProposalAction::Election { retry_round, .. } => Some(((r.epoch, *retry_round), r.id)),
            _ => None,
        })
        .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)))
        .map(|(_, id)| id);
    let deadlock = ready
        .iter()
        .find(|r| {
            matches!(
                r.action,
                ProposalAction::Emergency {
                    violation: Violation::Deadlock,
                    ..
                }
            )
        })
        .map(|r| r.id);
    let mut members = BTreeSet::new();
    ready
        .into_iter()
        .filter(|r| match &r.action {
            ProposalAction::Election { .. } => Some(r.id) == election,
            ProposalAction::Emergency { target: None, .. } => Some(r.id) == deadlock,
            action => action.member().is_some_and(|m| members.insert(m)),
        })
        .cloned()
        .collect()
}

/// Builds and publishes a commit of every selectable proposal, if the policy lets this member
/// commit it, and applies it (or enters it into the selection window).
pub(crate) fn create_commit(group: &mut Group, step: &mut Step<'_>) -> Result<(), Abort> {
    group.meta.commit_due = None;
    let epoch = group.epoch();
    let me = step.me();
    if held_back(group, step, epoch) {
        return Ok(());
    }
    let mut chosen = select(group, me);
    let mut adds = revalidate_adds(group, step, &mut chosen);
    let removed: Vec<MemberId> = chosen.iter().filter_map(|r| r.action.removes()).collect();
    let rejoining = super::rejoin::selectable(group, step, &removed);
    if rejoining.is_empty()
        && chosen
            .iter()
            .all(|r| matches!(r.action, ProposalAction::Election { .. }))
    {
        return Ok(());
    }
    let added: Vec<MemberId> = chosen
        .iter()
        .filter_map(|r| match r.action {
            ProposalAction::Add { member } => Some(member),
            _ => None,
        })
        .collect();
    let named: Vec<(ProposalId, ProposalAction)> =
        chosen.iter().map(|r| (r.id, r.action.clone())).collect();
    let facts = CommitFacts {
        author: me,
        removed: &removed,
        proposals: &named,
    };
    let rank = match group.with_view(me, |policy, view| policy.authorize_commit(view, &facts)) {
        Ok(rank) => rank,
        Err(e) => {
            tracing::debug!(group = %group.id.display(), error = %e, "not committing: not this member's turn");
            return Ok(());
        }
    };
    let roster = group.roster().clone();
    let mut removes: Vec<u32> = removed
        .iter()
        .filter_map(|m| roster.get(m).map(|e| e.leaf))
        .collect();
    let ids: Vec<ProposalId> = chosen.iter().map(|r| r.id).collect(); // ascending: BTreeMap order
    let mut rejoins = Vec::with_capacity(rejoining.len());
    let mut welcomed = added.clone();
    for (member, request, key_package) in rejoining {
        // Ascending member order: the requests are a BTreeMap.
        if let Some(entry) = roster.get(&member) {
            removes.push(entry.leaf);
            adds.push(key_package);
            welcomed.push(member);
            rejoins.push(wire::Rejoin {
                member_id: member.as_bytes().to_vec(),
                key_package_ref: request.reference,
                since_epoch: request.since,
            });
        }
    }
    let policy_state = (!adds.is_empty())
        .then(|| group.with_view(me, |policy, view| policy.joiner_state(view, &facts)))
        .filter(|s| !s.is_empty());
    let draft = Draft {
        ids,
        rejoins,
        adds,
        removes,
        welcomed,
        rank,
        policy_state,
    };
    seal_and_publish(group, step, draft)
}

/// Whether this member must not commit now, though it is due to: a commit of this epoch is
/// pending, it is behind, or it just restarted (then `commit_due` says when to try again).
fn held_back(group: &mut Group, step: &Step<'_>, epoch: u64) -> bool {
    // A commit for this epoch is being selected or waits for its proposals' votes here: the
    // end of that settles what comes next.
    // (Only a parked commit by a member the policy lets commit in this epoch: anyone else's
    // can never be applied, and must not hold the stewards back.)
    let stewards = group.with_view(step.me(), |policy, view| policy.stewards(view));
    let parked = group
        .inbound
        .parked()
        .any(|h| h.epoch == epoch && h.author.is_some_and(|a| stewards.contains(&a)));
    if group.selection.is_open() || parked {
        tracing::debug!(group = %group.id.display(), "not committing: a commit of this epoch is pending");
        return true;
    }
    // Traffic from a later epoch shows this member is behind: committing now could only fork.
    // Try again later (catching up reschedules sooner; unconfirmed claims expire).
    // Only for one catch-up window per epoch: later-epoch traffic is not authenticated, and
    // made-up traffic must not keep the group from committing (`catch_up::refute_if_due`).
    // A member that a roster member told it is beyond retained history rejoins instead.
    let me = step.me();
    let claims = &group.repair.catch_up;
    if claims.blocks_commit(step.now, &me, step.params) || claims.is_beyond(epoch) {
        tracing::debug!(group = %group.id.display(), held = group.inbound.held_count(), "not committing: behind");
        let retry = step.now.plus_ms(step.params.repair_retry_ms);
        let window = claims
            .claim_deadline(&me, step.params)
            .filter(|d| *d > step.now);
        group.meta.commit_due = Some(window.map_or(retry, |d| d.min(retry)));
        return true;
    }
    // Just restarted: wait until members that moved on meanwhile had time to say so.
    if let Some(quiet_until) = group
        .repair
        .catch_up
        .quiet_after_restart(step.now, step.params)
    {
        group.meta.commit_due = Some(quiet_until);
        return true;
    }
    false
}

/// KeyPackages are re-validated: one may have expired since the vote. The adds whose
/// KeyPackage no longer validates leave `chosen` and become obsolete; returns the valid ones.
fn revalidate_adds(
    group: &mut Group,
    step: &Step<'_>,
    chosen: &mut Vec<ProposalRecord>,
) -> Vec<openmls::prelude::KeyPackage> {
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
    adds
}

/// A commit this member is about to create.
struct Draft {
    /// The voting proposals it applies, ascending.
    ids: Vec<ProposalId>,
    /// The members it re-adds without a vote.
    rejoins: Vec<wire::Rejoin>,
    /// The KeyPackages it adds (voted adds and rejoins).
    adds: Vec<openmls::prelude::KeyPackage>,
    /// The leaves it removes.
    removes: Vec<u32>,
    /// The members its Welcome is for.
    welcomed: Vec<MemberId>,
    /// Its rank from the steward policy.
    rank: crate::steward::CommitRank,
    /// The steward policy's state for the joiners, if any.
    policy_state: Option<Vec<u8>>,
}

/// Creates the commit in OpenMLS, seals and publishes it, then enters it into the selection
/// window or, without one, applies it at once.
fn seal_and_publish(group: &mut Group, step: &mut Step<'_>, draft: Draft) -> Result<(), Abort> {
    let me = step.me();
    let epoch = group.epoch();
    let info = CommitInfo {
        proposals: draft.ids.iter().map(|id| id.as_bytes().to_vec()).collect(),
        rejoins: draft.rejoins.clone(),
    };
    let key = *group.epochs.key();
    group.touch_mls();
    let output = group.mls.commit(
        &step.provider(),
        step.identity,
        draft.adds,
        draft.removes,
        wire::encode(&info),
        draft.policy_state,
    )?;
    let nonce = step.crypto.entropy().array()?;
    let sealed = sealed::seal(&key, group.id.as_bytes(), epoch, nonce, &output.commit);
    let gid = group.id.as_bytes().to_vec();
    let envelope = Envelope::new(Kind::Commit, &gid, epoch, sealed.clone())
        .with_branch(group.epochs.branch())
        .encode_to_vec();
    // Echoes of our own commit come back: they are duplicates, not commits to process.
    group.repair.mark_seen(&envelope);
    step.out.publish(&group.topics.group, envelope);
    tracing::info!(group = %group.id.display(), epoch = epoch + 1, proposals = draft.ids.len(), "commit created");
    step.out.event(GroupEvent::CommitCreated {
        group_id: group.id.clone(),
        epoch: epoch + 1,
        proposals: draft.ids.clone(),
    });
    let window = group.policy.selection_window_ms();
    if window > 0 {
        // Our commit competes with any other steward's for this epoch: it stays pending in
        // OpenMLS until the window closes and the best candidate is applied.
        let candidate = Candidate {
            author: me,
            rank: draft.rank,
            proposals: draft.ids,
            rejoins: draft.rejoins,
            sealed,
            own: true,
            staged: None,
        };
        let welcome = output.welcome.map(|w| (w, draft.welcomed));
        group.selection.offer_own(candidate, welcome);
        group.meta.selection_due = Some(step.now.plus_ms(window));
        return Ok(());
    }
    group.mls.merge_pending(&step.provider())?;
    publish_welcome(group, step, output.welcome.map(|w| (w, draft.welcomed)))?;
    epoch::after_merge(
        group,
        step,
        CommitPlan {
            committer: me,
            proposals: draft.ids,
            rejoins: draft.rejoins,
        },
        sealed,
    )
}

/// Publishes the Welcome of our applied commit and, separately, the new epoch's ratchet tree.
/// The Welcome and tree are also kept (bounded, in memory) so they can be published again
/// when a joiner that missed them re-announces its KeyPackage.
pub(crate) fn publish_welcome(
    group: &mut Group,
    step: &mut Step<'_>,
    welcome: Option<(Vec<u8>, Vec<MemberId>)>,
) -> Result<(), Abort> {
    let Some((welcome, added)) = welcome else {
        return Ok(());
    };
    let tree = group.mls.export_tree()?;
    let gid = group.id.as_bytes().to_vec();
    let epoch = group.epoch();
    let topic = group.topics.join.clone();
    let welcome = Envelope::new(Kind::Welcome, &gid, epoch, welcome).encode_to_vec();
    let tree = Envelope::new(Kind::RatchetTree, &gid, epoch, tree).encode_to_vec();
    tracing::debug!(group = %group.id.display(), epoch, joiners = added.len(), "welcome published");
    step.out.publish(&topic, welcome.clone());
    step.out.publish(&topic, tree.clone());
    let shared = std::sync::Arc::new((welcome, tree));
    for member in added {
        group.selection.keep_welcome(member, shared.clone());
    }
    Ok(())
}
