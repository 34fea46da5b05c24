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

use super::event::{GroupEvent, ProposalAction, RejectReason, Violation};
use super::group::Group;
use super::records::ProposalStatus;
use super::step::{Abort, Step, reject};
use crate::consensus::Verdict;
use crate::mls::{CommitChanges, MlsState};
use crate::roster::Roster;
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
pub(crate) enum CommitJudgement {
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

/// Why a commit proves its author misbehaved (before the author and evidence are attached).
type Broken = (RejectReason, String);

fn mismatch<T>(detail: impl Into<String>) -> Result<T, Broken> {
    Err((RejectReason::CommitMismatch, detail.into()))
}

/// What the voting proposals a commit names ask of it.
#[derive(Default)]
struct Expected {
    /// Proposals not decided here yet.
    waiting: Vec<ProposalId>,
    /// The decided ones, with their actions.
    named: Vec<(ProposalId, ProposalAction)>,
    /// KeyPackage references the commit must add.
    adds: Vec<Vec<u8>>,
    /// Leaves the commit must remove.
    removes: Vec<u32>,
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
) -> Result<CommitJudgement, Abort> {
    let roster = group.roster().clone();
    let Some(author) = roster.at_leaf(sender_leaf).map(|e| e.id) else {
        return reject(
            RejectReason::NotAMember,
            format!("no member at leaf {sender_leaf}"),
        );
    };
    let changes = MlsState::changes(step.crypto, staged)?;
    let checked = check_structure(group, &roster, &changes, aad);
    let (removed, info, ids, mut expected) = match checked {
        Ok(checked) => checked,
        Err((reason, detail)) => return broken(author, reason, detail, evidence),
    };
    if !expected.waiting.is_empty() {
        return Ok(CommitJudgement::Park {
            detail: format!(
                "{} referenced proposals not decided here yet",
                expected.waiting.len()
            ),
            waiting: expected.waiting,
            author,
        });
    }
    if let Err((reason, detail)) = check_changes(&mut expected, changes) {
        return broken(author, reason, detail, evidence);
    }
    let rank = match authorize(group, step, author, removed, &info, &expected.named) {
        Ok(rank) => rank,
        Err(detail) => {
            return broken(
                author,
                RejectReason::UnauthorizedCommitter,
                detail,
                evidence,
            );
        }
    };
    Ok(CommitJudgement::Accept(
        CommitPlan {
            committer: author,
            proposals: ids,
            rejoins: info.rejoins,
        },
        rank,
    ))
}

/// The checks that need no decision: only add/remove proposals, removed leaves occupied, the
/// commit info well formed with strictly ascending proposal ids, the named proposals (see
/// [`check_proposal`]) and the rejoins (see [`check_rejoin`]). Returns the removed members,
/// the commit info, the proposal ids and what they expect of the commit.
fn check_structure(
    group: &Group,
    roster: &Roster,
    changes: &CommitChanges,
    aad: &[u8],
) -> Result<(Vec<MemberId>, wire::CommitInfo, Vec<ProposalId>, Expected), Broken> {
    if changes.has_other_proposals {
        return mismatch("commit carries proposals other than add/remove");
    }
    let mut removed = Vec::with_capacity(changes.removed_leaves.len());
    for leaf in &changes.removed_leaves {
        match roster.at_leaf(*leaf) {
            Some(e) => removed.push(e.id),
            None => return mismatch("commit removes an empty leaf"),
        }
    }
    let info = match wire::decode_commit_info(aad) {
        Ok(info) => info,
        Err(e) => return mismatch(e.to_string()),
    };
    let ids = proposal_ids(&info)?;
    let mut expected = Expected::default();
    for id in &ids {
        check_proposal(group, roster, *id, &mut expected)?;
    }
    // Rejoins: a member of this roster, not removed by the commit, re-added at a new leaf with
    // a KeyPackage of its own identity — nothing else.
    let mut previous: Option<&[u8]> = None;
    for r in &info.rejoins {
        if previous.is_some_and(|p| p >= r.member_id.as_slice()) {
            return mismatch("rejoins not strictly ascending");
        }
        previous = Some(&r.member_id);
        check_rejoin(roster, changes, r, &mut expected)?;
    }
    Ok((removed, info, ids, expected))
}

/// The proposal ids a commit names: 32 bytes each, strictly ascending.
fn proposal_ids(info: &wire::CommitInfo) -> Result<Vec<ProposalId>, Broken> {
    let mut ids = Vec::with_capacity(info.proposals.len());
    for raw in &info.proposals {
        let Some(id) = ProposalId::from_slice(raw) else {
            return mismatch("proposal id is not 32 bytes");
        };
        if ids.last().is_some_and(|last| *last >= id) {
            return mismatch("proposal ids not strictly ascending");
        }
        ids.push(id);
    }
    Ok(ids)
}

/// One proposal a commit names: opened in the epoch the commit ends, decided YES here (or
/// waited for while open or failed here), not committed yet; a removal of a member, an add
/// with its KeyPackage.
fn check_proposal(
    group: &Group,
    roster: &Roster,
    id: ProposalId,
    expected: &mut Expected,
) -> Result<(), Broken> {
    let epoch = group.epoch();
    let Some(rec) = group.proposals.get(&id) else {
        expected.waiting.push(id);
        return Ok(());
    };
    if rec.epoch != epoch {
        return mismatch(format!(
            "proposal {} was opened in epoch {}, the commit ends epoch {epoch}",
            id.short(),
            rec.epoch
        ));
    }
    match rec.status {
        ProposalStatus::Open => {
            expected.waiting.push(id);
            return Ok(());
        }
        ProposalStatus::Decided(Verdict::Yes) => {}
        // Too few votes were seen here in time: others may hold proof of a YES.
        ProposalStatus::Decided(Verdict::Failed) => {
            expected.waiting.push(id);
            return Ok(());
        }
        ProposalStatus::Decided(outcome) => {
            let detail = format!("proposal {} was decided {outcome:?}", id.short());
            return Err((RejectReason::CommitUnapprovedProposal, detail));
        }
        ProposalStatus::Committed(_) | ProposalStatus::Obsolete => {
            return mismatch(format!(
                "proposal {} is already committed or moot",
                id.short()
            ));
        }
    }
    expected.named.push((id, rec.action.clone()));
    if let Some(target) = rec.action.removes() {
        match roster.get(&target) {
            Some(e) => expected.removes.push(e.leaf),
            None => return mismatch("removal of a non-member"),
        }
    }
    match (&rec.action, &rec.key_package) {
        (ProposalAction::Add { .. }, Some((_, reference))) => expected.adds.push(reference.clone()),
        (ProposalAction::Add { .. }, None) => {
            return mismatch("add proposal without KeyPackage");
        }
        _ => {}
    }
    Ok(())
}

/// One rejoin a commit carries: a member of this roster, not removed by the same commit,
/// re-added with a fresh KeyPackage of its own identity.
fn check_rejoin(
    roster: &Roster,
    changes: &CommitChanges,
    r: &wire::Rejoin,
    expected: &mut Expected,
) -> Result<(), Broken> {
    let entry = MemberId::from_slice(&r.member_id).and_then(|m| roster.get(&m));
    let Some(entry) = entry else {
        return mismatch("rejoin of a non-member");
    };
    if expected
        .named
        .iter()
        .any(|(_, a)| a.removes() == Some(entry.id))
    {
        return mismatch("rejoin of a member the same commit removes");
    }
    let added = changes
        .added_members
        .iter()
        .find(|(reference, member, _)| *reference == r.key_package_ref && *member == entry.id);
    let Some((_, _, encryption_key)) = added else {
        return mismatch("rejoin KeyPackage is not the member's own");
    };
    if *encryption_key == entry.encryption_key {
        // A replay of the KeyPackage the member's current leaf came from: it would evict the
        // member (the KeyPackage's private key is spent).
        return mismatch("rejoin with the KeyPackage of the member's current leaf");
    }
    expected.removes.push(entry.leaf);
    expected.adds.push(r.key_package_ref.clone());
    Ok(())
}

/// The commit's MLS changes must be exactly what its proposals and rejoins expect.
fn check_changes(expected: &mut Expected, changes: CommitChanges) -> Result<(), Broken> {
    let mut actual_adds = changes.added_key_packages;
    let mut actual_removes = changes.removed_leaves;
    expected.adds.sort();
    actual_adds.sort();
    expected.removes.sort_unstable();
    actual_removes.sort_unstable();
    if expected.adds != actual_adds || expected.removes != actual_removes {
        return mismatch("MLS changes differ from the voting proposals the commit names");
    }
    Ok(())
}

/// Asks the steward policy whether `author` may commit this (rejoiners keep their place in
/// the roster: they are not removals to the policy). Returns the commit's rank.
fn authorize(
    group: &Group,
    step: &Step<'_>,
    author: MemberId,
    mut removed: Vec<MemberId>,
    info: &wire::CommitInfo,
    named: &[(ProposalId, ProposalAction)],
) -> Result<CommitRank, String> {
    removed.retain(|m| {
        !info
            .rejoins
            .iter()
            .any(|r| r.member_id.as_slice() == m.as_bytes())
    });
    let facts = CommitFacts {
        author,
        removed: &removed,
        proposals: named,
    };
    group
        .with_view(step.me(), |policy, view| {
            policy.authorize_commit(view, &facts)
        })
        .map_err(|e| e.to_string())
}

/// Parked commits one author may have waiting per epoch.
const PARKED_PER_AUTHOR: usize = 4;

/// Makes room for a commit of `author` for `epoch` that waits for undecided proposals: an
/// author has at most [`PARKED_PER_AUTHOR`] parked commits per epoch, the latest (an honest
/// steward may retry with new commits, and any of them may be the one the group applied; a
/// member sending made-up commits again and again holds at most that many places). The oldest
/// one beyond is refused here.
pub(crate) fn make_room(group: &mut Group, step: &mut Step<'_>, author: MemberId, epoch: u64) {
    if group.inbound.make_room(author, epoch, PARKED_PER_AUTHOR) {
        step.out.event(GroupEvent::Rejected {
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
        .repair
        .catch_up
        .claim_deadline(&step.me(), step.params)
        .is_some();
    let expired = group.inbound.take_expired(now, grace);
    let mut offenders = Vec::new();
    for held in expired {
        step.out.event(GroupEvent::Rejected {
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
