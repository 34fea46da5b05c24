//! The commit validation service: whether an incoming commit may be applied.
//!
//! A commit is accepted only if (1) the steward policy authorizes its author for this epoch and
//! for the removals it makes, (2) its authenticated data lists voting proposals, strictly
//! ascending, each decided YES here and not yet committed, and (3) its MLS proposals are
//! exactly those proposals: the same KeyPackages added, the same members removed, nothing
//! else. A commit that references proposals this member has not seen decided yet is *parked*
//! for up to `commit_grace_ms` while their votes arrive, then rejected.

use openmls::prelude::StagedCommit;

use super::event::{Event, ProposalAction, RejectReason};
use super::group::Group;
use super::records::ProposalStatus;
use super::{Abort, Step, reject};
use crate::consensus::Outcome;
use crate::mls::MlsState;
use crate::types::{MemberId, ProposalId};
use crate::wire;

/// A commit that passed validation.
pub(crate) struct CommitPlan {
    /// Its author.
    pub committer: MemberId,
    /// The voting proposals it applies.
    pub proposals: Vec<ProposalId>,
}

/// The service's answer for a commit that is not refused outright.
pub(crate) enum Verdict {
    /// Apply it.
    Accept(CommitPlan),
    /// Hold it until these proposals are decided here.
    Park(String, Vec<ProposalId>),
}

/// Validates a staged commit from `sender_leaf` against the local proposal records.
pub(crate) fn validate(
    group: &Group,
    step: &Step<'_>,
    sender_leaf: u32,
    aad: &[u8],
    staged: &StagedCommit,
) -> Result<Verdict, Abort> {
    let roster = group.roster().clone();
    let Some(committer) = roster.at_leaf(sender_leaf).map(|e| e.id) else {
        return reject(
            RejectReason::NotAMember,
            format!("no member at leaf {sender_leaf}"),
        );
    };
    let changes = MlsState::changes(step.crypto, staged)?;
    if changes.has_other_proposals {
        return reject(
            RejectReason::CommitMismatch,
            "commit carries proposals other than add/remove",
        );
    }
    let mut removed_ids = Vec::with_capacity(changes.removed_leaves.len());
    for leaf in &changes.removed_leaves {
        match roster.at_leaf(*leaf) {
            Some(e) => removed_ids.push(e.id),
            None => return reject(RejectReason::CommitMismatch, "commit removes an empty leaf"),
        }
    }
    if let Err(e) = group.with_view(step.me(), |policy, view| {
        policy.authorize_commit(view, &committer, &removed_ids)
    }) {
        return reject(RejectReason::UnauthorizedCommitter, e.to_string());
    }
    let info = match wire::decode_commit_info(aad) {
        Ok(info) => info,
        Err(e) => return reject(RejectReason::CommitMismatch, e.to_string()),
    };
    let mut ids = Vec::with_capacity(info.proposals.len());
    for raw in &info.proposals {
        let Some(id) = ProposalId::from_slice(raw) else {
            return reject(RejectReason::CommitMismatch, "proposal id is not 32 bytes");
        };
        if ids.last().is_some_and(|last| *last >= id) {
            return reject(
                RejectReason::CommitMismatch,
                "proposal ids not strictly ascending",
            );
        }
        ids.push(id);
    }
    let mut waiting = Vec::new();
    let mut expected_adds = Vec::new();
    let mut expected_removes = Vec::new();
    for id in &ids {
        let Some(rec) = group.proposals.get(id) else {
            waiting.push(*id);
            continue;
        };
        match rec.status {
            ProposalStatus::Open => {
                waiting.push(*id);
                continue;
            }
            ProposalStatus::Decided(Outcome::Yes) => {}
            ProposalStatus::Decided(outcome) => {
                return reject(
                    RejectReason::CommitUnapprovedProposal,
                    format!("proposal {} was decided {outcome:?}", id.short()),
                );
            }
            ProposalStatus::Committed(_) | ProposalStatus::Obsolete => {
                return reject(
                    RejectReason::CommitMismatch,
                    format!("proposal {} is already committed or moot", id.short()),
                );
            }
        }
        match (&rec.action, &rec.key_package) {
            (ProposalAction::Add { .. }, Some((_, reference))) => {
                expected_adds.push(reference.clone())
            }
            (ProposalAction::Remove { member }, _) => match roster.get(member) {
                Some(e) => expected_removes.push(e.leaf),
                None => return reject(RejectReason::CommitMismatch, "removal of a non-member"),
            },
            (ProposalAction::Add { .. }, None) => {
                return reject(
                    RejectReason::CommitMismatch,
                    "add proposal without KeyPackage",
                );
            }
        }
    }
    if !waiting.is_empty() {
        return Ok(Verdict::Park(
            format!(
                "{} referenced proposals not decided here yet",
                waiting.len()
            ),
            waiting,
        ));
    }
    let mut actual_adds = changes.added_key_packages;
    let mut actual_removes = changes.removed_leaves;
    expected_adds.sort();
    actual_adds.sort();
    expected_removes.sort_unstable();
    actual_removes.sort_unstable();
    if expected_adds != actual_adds || expected_removes != actual_removes {
        return reject(
            RejectReason::CommitMismatch,
            "MLS changes differ from the voting proposals the commit names",
        );
    }
    Ok(Verdict::Accept(CommitPlan {
        committer,
        proposals: ids,
    }))
}

/// Rejects parked commits whose grace period is over.
pub(crate) fn expire_parked(group: &mut Group, step: &mut Step<'_>) {
    let grace = step.params.commit_grace_ms;
    let now = step.now;
    let (expired, kept): (Vec<_>, Vec<_>) = group
        .parked
        .drain(..)
        .partition(|h| h.since.plus_ms(grace) <= now);
    group.parked = kept;
    for held in expired {
        step.out.event(Event::Rejected {
            group_id: Some(group.id.clone()),
            reason: RejectReason::CommitUnapprovedProposal,
            detail: format!(
                "commit for epoch {} still references {} undecided proposals after {grace} ms",
                held.epoch,
                held.waiting.len()
            ),
        });
    }
}
