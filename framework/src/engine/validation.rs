//! The commit validation service: whether an incoming commit may be applied.
//!
//! A commit is accepted only if (1) its authenticated data lists voting proposals, strictly
//! ascending, each opened in the epoch the commit ends, decided YES here and not yet committed, (2) its MLS proposals are exactly
//! those proposals' changes (the same KeyPackages added, the same members removed, nothing
//! else), and (3) the steward policy authorizes its author for this epoch and this commit. A
//! commit that references proposals this member has not seen decided yet is *parked* for up to
//! `commit_grace_ms` while their votes (or certificates proving their outcome) arrive, then
//! rejected. A commit that fails (1)–(3) is proof of misbehaviour by its author, reported to the
//! policy (peer scoring); so is a parked commit whose proposals stay undecided — unless this
//! member is behind (it holds traffic of later epochs), in which case it was probably absent
//! during the vote and accuses nobody.

use openmls::prelude::StagedCommit;

use super::event::{Event, ProposalAction, RejectReason, Violation};
use super::group::Group;
use super::records::ProposalStatus;
use super::{Abort, Step, reject};
use crate::consensus::Outcome;
use crate::mls::MlsState;
use crate::steward::{CommitFacts, CommitRank};
use crate::types::{MemberId, ProposalId};
use crate::wire;

/// A commit that passed validation.
pub(crate) struct CommitPlan {
    /// Its author.
    pub committer: MemberId,
    /// The voting proposals it applies.
    pub proposals: Vec<ProposalId>,
    /// The members it re-adds without a vote (§13).
    pub rejoins: Vec<wire::Rejoin>,
}

/// The service's answer for a commit that is not refused outright.
pub(crate) enum Verdict {
    /// Apply it (or enter it into the selection window), with its rank.
    Accept(CommitPlan, CommitRank),
    /// Hold it until these proposals are decided here.
    Park {
        /// Why.
        detail: String,
        /// The proposals it waits for.
        waiting: Vec<ProposalId>,
        /// Its author.
        author: MemberId,
    },
}

/// A refusal that proves `author` misbehaved: rolled back, then reported to the policy.
fn broken<T>(
    author: MemberId,
    reason: RejectReason,
    detail: impl Into<String>,
    evidence: &[u8],
) -> Result<T, Abort> {
    Err(Abort::Violation {
        reason,
        detail: detail.into(),
        offender: author,
        violation: Violation::BrokenCommit,
        evidence: evidence.to_vec(),
    })
}

/// Validates a staged commit from `sender_leaf` against the local proposal records.
/// `evidence` is the sealed commit, kept as proof if the commit is broken.
pub(crate) fn validate(
    group: &Group,
    step: &Step<'_>,
    sender_leaf: u32,
    aad: &[u8],
    staged: &StagedCommit,
    evidence: &[u8],
) -> Result<Verdict, Abort> {
    let roster = group.roster().clone();
    let Some(author) = roster.at_leaf(sender_leaf).map(|e| e.id) else {
        return reject(
            RejectReason::NotAMember,
            format!("no member at leaf {sender_leaf}"),
        );
    };
    let changes = MlsState::changes(step.crypto, staged)?;
    if changes.has_other_proposals {
        return broken(
            author,
            RejectReason::CommitMismatch,
            "commit carries proposals other than add/remove",
            evidence,
        );
    }
    let mut removed = Vec::with_capacity(changes.removed_leaves.len());
    for leaf in &changes.removed_leaves {
        match roster.at_leaf(*leaf) {
            Some(e) => removed.push(e.id),
            None => {
                return broken(
                    author,
                    RejectReason::CommitMismatch,
                    "commit removes an empty leaf",
                    evidence,
                );
            }
        }
    }
    let info = match wire::decode_commit_info(aad) {
        Ok(info) => info,
        Err(e) => {
            return broken(
                author,
                RejectReason::CommitMismatch,
                e.to_string(),
                evidence,
            );
        }
    };
    let mut ids = Vec::with_capacity(info.proposals.len());
    for raw in &info.proposals {
        let Some(id) = ProposalId::from_slice(raw) else {
            return broken(
                author,
                RejectReason::CommitMismatch,
                "proposal id is not 32 bytes",
                evidence,
            );
        };
        if ids.last().is_some_and(|last| *last >= id) {
            return broken(
                author,
                RejectReason::CommitMismatch,
                "proposal ids not strictly ascending",
                evidence,
            );
        }
        ids.push(id);
    }
    let mut waiting = Vec::new();
    let mut named = Vec::with_capacity(ids.len());
    let mut expected_adds = Vec::new();
    let mut expected_removes = Vec::new();
    let epoch = group.epoch();
    for id in &ids {
        let Some(rec) = group.proposals.get(id) else {
            waiting.push(*id);
            continue;
        };
        if rec.epoch != epoch {
            let detail = format!(
                "proposal {} was opened in epoch {}, the commit ends epoch {epoch}",
                id.short(),
                rec.epoch
            );
            return broken(author, RejectReason::CommitMismatch, detail, evidence);
        }
        match rec.status {
            ProposalStatus::Open => {
                waiting.push(*id);
                continue;
            }
            ProposalStatus::Decided(Outcome::Yes) => {}
            // Too few votes were seen here in time: others may hold proof of a YES.
            ProposalStatus::Decided(Outcome::Failed) => {
                waiting.push(*id);
                continue;
            }
            ProposalStatus::Decided(outcome) => {
                let detail = format!("proposal {} was decided {outcome:?}", id.short());
                return broken(
                    author,
                    RejectReason::CommitUnapprovedProposal,
                    detail,
                    evidence,
                );
            }
            ProposalStatus::Committed(_) | ProposalStatus::Obsolete => {
                let detail = format!("proposal {} is already committed or moot", id.short());
                return broken(author, RejectReason::CommitMismatch, detail, evidence);
            }
        }
        named.push((*id, rec.action.clone()));
        if let Some(target) = rec.action.removes() {
            match roster.get(&target) {
                Some(e) => expected_removes.push(e.leaf),
                None => {
                    return broken(
                        author,
                        RejectReason::CommitMismatch,
                        "removal of a non-member",
                        evidence,
                    );
                }
            }
        }
        match (&rec.action, &rec.key_package) {
            (ProposalAction::Add { .. }, Some((_, reference))) => {
                expected_adds.push(reference.clone())
            }
            (ProposalAction::Add { .. }, None) => {
                return broken(
                    author,
                    RejectReason::CommitMismatch,
                    "add proposal without KeyPackage",
                    evidence,
                );
            }
            _ => {}
        }
    }
    // Rejoins: a member of this roster, not removed by the commit, re-added at a new leaf with
    // a KeyPackage of its own identity — nothing else.
    let mut previous: Option<&[u8]> = None;
    for r in &info.rejoins {
        if previous.is_some_and(|p| p >= r.member_id.as_slice()) {
            return broken(
                author,
                RejectReason::CommitMismatch,
                "rejoins not strictly ascending",
                evidence,
            );
        }
        previous = Some(&r.member_id);
        let entry = MemberId::from_slice(&r.member_id).and_then(|m| roster.get(&m));
        let Some(entry) = entry else {
            return broken(
                author,
                RejectReason::CommitMismatch,
                "rejoin of a non-member",
                evidence,
            );
        };
        if named.iter().any(|(_, a)| a.removes() == Some(entry.id)) {
            return broken(
                author,
                RejectReason::CommitMismatch,
                "rejoin of a member the same commit removes",
                evidence,
            );
        }
        let added = changes
            .added_members
            .iter()
            .find(|(reference, member, _)| *reference == r.key_package_ref && *member == entry.id);
        let Some((_, _, encryption_key)) = added else {
            return broken(
                author,
                RejectReason::CommitMismatch,
                "rejoin KeyPackage is not the member's own",
                evidence,
            );
        };
        if *encryption_key == entry.encryption_key {
            // A replay of the KeyPackage the member's current leaf came from: it would evict
            // the member (the KeyPackage's private key is spent).
            return broken(
                author,
                RejectReason::CommitMismatch,
                "rejoin with the KeyPackage of the member's current leaf",
                evidence,
            );
        }
        expected_removes.push(entry.leaf);
        expected_adds.push(r.key_package_ref.clone());
    }
    if !waiting.is_empty() {
        return Ok(Verdict::Park {
            detail: format!(
                "{} referenced proposals not decided here yet",
                waiting.len()
            ),
            waiting,
            author,
        });
    }
    let mut actual_adds = changes.added_key_packages;
    let mut actual_removes = changes.removed_leaves;
    expected_adds.sort();
    actual_adds.sort();
    expected_removes.sort_unstable();
    actual_removes.sort_unstable();
    if expected_adds != actual_adds || expected_removes != actual_removes {
        let detail = "MLS changes differ from the voting proposals the commit names";
        return broken(author, RejectReason::CommitMismatch, detail, evidence);
    }
    // Rejoiners keep their place in the roster: not removals to the policy.
    removed.retain(|m| {
        !info
            .rejoins
            .iter()
            .any(|r| r.member_id.as_slice() == m.as_bytes())
    });
    let facts = CommitFacts {
        author,
        removed: &removed,
        proposals: &named,
    };
    let rank = match group.with_view(step.me(), |policy, view| {
        policy.authorize_commit(view, &facts)
    }) {
        Ok(rank) => rank,
        Err(e) => {
            return broken(
                author,
                RejectReason::UnauthorizedCommitter,
                e.to_string(),
                evidence,
            );
        }
    };
    Ok(Verdict::Accept(
        CommitPlan {
            committer: author,
            proposals: ids,
            rejoins: info.rejoins,
        },
        rank,
    ))
}

/// Parked commits one author may have waiting per epoch.
const PARKED_PER_AUTHOR: usize = 4;

/// Makes room for a commit of `author` for `epoch` that waits for undecided proposals: an
/// author has at most [`PARKED_PER_AUTHOR`] parked commits per epoch, the latest (an honest
/// steward may retry with new commits, and any of them may be the one the group applied; a
/// member sending made-up commits again and again holds at most that many places). The oldest
/// one beyond is refused here.
pub(crate) fn make_room(group: &mut Group, step: &mut Step<'_>, author: MemberId, epoch: u64) {
    let mine = |h: &super::group::Held| h.epoch == epoch && h.author == Some(author);
    if group.parked.iter().filter(|h| mine(h)).count() < PARKED_PER_AUTHOR {
        return;
    }
    if let Some(oldest) = group.parked.iter().position(mine) {
        group.parked.remove(oldest);
        step.out.event(Event::Rejected {
            group_id: Some(group.id.clone()),
            reason: RejectReason::CommitUnapprovedProposal,
            detail: format!(
                "the oldest of {PARKED_PER_AUTHOR} parked commits of {} for epoch {epoch} dropped for a newer one",
                author.short()
            ),
        });
    }
}

/// Rejects parked commits whose grace period is over; returns their authors with the parked
/// bytes (they committed proposals nobody here saw approved).
pub(crate) fn expire_parked(group: &mut Group, step: &mut Step<'_>) -> Vec<(MemberId, Vec<u8>)> {
    let grace = step.params.commit_grace_ms;
    let now = step.now;
    // Behind (later-epoch claims not refuted): probably absent during the vote.
    let behind = group
        .sync
        .catch_up
        .claim_deadline(&step.me(), step.params)
        .is_some();
    let (expired, kept): (Vec<_>, Vec<_>) = group
        .parked
        .drain(..)
        .partition(|h| h.since.plus_ms(grace) <= now);
    group.parked = kept;
    let mut offenders = Vec::new();
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
        match held.author {
            Some(author) if !behind => offenders.push((author, held.payload)),
            _ => {}
        }
    }
    offenders
}
