//! Forks: two parts of the group that could not hear each other both committed, so the group
//! split into branches that share every epoch up to some epoch *f* and differ after it.
//!
//! **Detection.** Every group envelope carries the *branch tag* of its epoch (8 bytes of a hash
//! of the epoch authenticator). A member that receives an envelope of an epoch it knows, with a
//! different tag, has met another branch. It publishes a `ForkNotice` in the clear: its tags for
//! the epochs it retains. A member of the other branch finds *f*, the last epoch both lists
//! agree on, and answers with its own notice carrying the commit that ended *f* on its branch —
//! sealed under *f*'s epoch key, which both branches hold, so it cannot be forged by anyone who
//! was not a member in *f*. Each side then holds both first divergent commits.
//!
//! **Resolution.** Every member applies the same rule to the same two commits: the branch whose
//! first divergent commit has the smaller SHA-256 digest (of the MLS commit) survives. Members of
//! the other branch rejoin the survivor (see `rejoin`): re-added without a vote when still in its
//! roster, carrying their own messages sent after *f* (sent again there) and their own removal
//! requests committed only on their branch (requested again).

pub(super) mod state;

pub(crate) use state::TAG_LEN;

use self::state::FOREIGN;
use super::digest::digest;
use super::event::{GroupEvent, ProposalAction, RejectReason};
use super::group::Group;
use super::records::DeferredRequest;
use super::records::ProposalStatus;
use super::step::{Abort, Step, reject};
use crate::mls::MlsState;
use crate::types::{Epoch, MemberId, Timestamp};
use crate::wire::{self, BranchTag, Envelope, ForkNotice, Kind, sealed};

/// Checks the branch tag of an incoming group envelope against this member's tag of the same
/// epoch; a difference reveals another branch.
pub(crate) fn check(group: &mut Group, step: &mut Step<'_>, env: &Envelope) -> Result<(), Abort> {
    if env.branch.len() != TAG_LEN || group.rejoin.is_rejoining() {
        return Ok(());
    }
    let Some(mine) = group.branch_tag(env.epoch) else {
        return Ok(());
    };
    if mine[..] == env.branch[..] {
        return Ok(());
    }
    // Anyone can put any tag on an envelope: this only prompts a notice (rate-limited); the
    // fork counts once the other branch's commit opened here (`on_notice`).
    tracing::debug!(group = %group.id.display(), epoch = env.epoch, "envelope from another branch");
    send_notice(group, step, None)
}

/// This member's branch history: the tags of its current epoch and of the epochs its retained
/// commits ended and started (so the epoch it joined in is included), ascending.
fn tags(group: &Group) -> Vec<BranchTag> {
    let first = group.epochs.first_commit_epoch().unwrap_or(group.epoch());
    (first..=group.epoch())
        .filter_map(|epoch| {
            group.branch_tag(epoch).map(|t| BranchTag {
                epoch,
                tag: t.to_vec(),
            })
        })
        .collect()
}

/// Publishes a notice (after a random backoff, unless a member of this branch did first):
/// this member's tags, and its commit ending `commit.0` when answering another branch.
fn send_notice(
    group: &mut Group,
    step: &mut Step<'_>,
    commit: Option<(Epoch, Vec<u8>)>,
) -> Result<(), Abort> {
    let now = step.now;
    let retry = step.params.repair_retry_ms;
    match &commit {
        None => {
            if group
                .fork
                .last_notice
                .is_some_and(|t| t.plus_ms(retry) > now)
            {
                return Ok(());
            }
            group.fork.last_notice = Some(now);
        }
        Some((f, _)) => {
            if group
                .fork
                .last_commit_sent
                .is_some_and(|(e, t)| e == *f && t.plus_ms(retry) > now)
            {
                return Ok(());
            }
            group.fork.last_commit_sent = Some((*f, now));
        }
    }
    let (commit_epoch, commit) = commit.unwrap_or_default();
    let notice = ForkNotice {
        tags: tags(group),
        commit_epoch,
        commit,
        verdict: Vec::new(),
    };
    let epoch = group.epoch();
    let branch = group.branch_tag(epoch).unwrap_or_default();
    let env = Envelope::new(
        Kind::ForkNotice,
        group.id.as_bytes(),
        epoch,
        wire::encode(&notice),
    )
    .with_branch(&branch);
    // One notice per branch and purpose usually suffices.
    let key = notice_key(&branch, commit_epoch, !notice.commit.is_empty());
    let topic = group.topics.group.clone();
    group
        .repair
        .schedule_answer(key, step, topic, vec![env.encode_to_vec()]);
    Ok(())
}

/// What identifies a notice of `branch` for one purpose, whoever of that branch sends it.
fn notice_key(branch: &[u8], commit_epoch: Epoch, with_commit: bool) -> [u8; 32] {
    let mut input = b"demls/fork-notice".to_vec();
    input.extend_from_slice(branch);
    input.extend_from_slice(&commit_epoch.to_be_bytes());
    input.push(u8::from(with_commit));
    digest(&input)
}

/// A fork notice from another member.
pub(crate) fn on_notice(
    group: &mut Group,
    step: &mut Step<'_>,
    env: Envelope,
) -> Result<(), Abort> {
    let notice: ForkNotice = match wire::decode_fork_notice(&env.body) {
        Ok(n) => n,
        Err(e) => return reject(RejectReason::Malformed, e.to_string()),
    };
    // A member of the sender's branch need not send the same notice again.
    group.repair.note_answered(
        notice_key(&env.branch, notice.commit_epoch, !notice.commit.is_empty()),
        step.now,
    );
    if notice.tags.len() > 4 * step.params.retained_commits.max(1) + 1 {
        return reject(RejectReason::Malformed, "fork notice with too many tags");
    }
    let epoch = group.epoch();
    let mine = tags(group);
    // Someone of this very branch (same tag for its epoch): nothing to learn.
    let same_branch = group
        .branch_tag(env.epoch)
        .is_some_and(|t| t[..] == env.branch[..]);
    let common = notice
        .tags
        .iter()
        .filter(|t| mine.iter().any(|m| m.epoch == t.epoch && m.tag == t.tag))
        .map(|t| t.epoch)
        .max();
    let diverged = notice
        .tags
        .iter()
        .any(|t| mine.iter().any(|m| m.epoch == t.epoch && m.tag != t.tag));
    if !notice.verdict.is_empty() {
        return follow_verdict(group, step, &env, &notice);
    }
    if same_branch && !diverged {
        return Ok(());
    }
    let Some(f) = common else {
        tracing::debug!(group = %group.id.display(), epoch, "fork notice shares no retained epoch");
        return Ok(());
    };
    if !diverged {
        // One branch simply ends earlier (a member behind): catch-up, not a fork.
        return Ok(());
    }
    // The notice is in the clear: until it carries the other branch's commit ending `f`,
    // sealed under `f`'s key (only members of `f` hold it), nothing here changes but the
    // answer below — an outsider replaying sniffed tags must not make this member drop its
    // own branch's traffic or hold back its rejoin.
    if !notice.commit.is_empty() && notice.commit_epoch == f {
        let ours = group
            .epochs
            .commit(f)
            .map(|c| (c.key, c.sealed == notice.commit));
        if ours.is_some_and(|(_, same)| same) || group.fork.is_lost(&notice.commit) {
            // This branch's own commit, or one that lost its selection window here: no
            // other branch (anyone may have recorded these bytes).
            return Ok(());
        }
        let opens = ours
            .is_some_and(|(k, _)| sealed::open(&k, group.id.as_bytes(), f, &notice.commit).is_ok());
        if !opens {
            return reject(
                RejectReason::NotAMember,
                "fork notice commit does not open with the shared epoch's key",
            );
        }
        mark_foreign(group, step.now, f, &notice);
        decide(group, step, f, &notice.commit)?;
    }
    if group.rejoin.in_progress() {
        return Ok(());
    }
    // Answer with this branch's commit ending `f`, so the other side can decide too.
    if let Some(sealed) = group.epochs.commit(f).map(|c| c.sealed.clone()) {
        send_notice(group, step, Some((f, sealed)))?;
    }
    Ok(())
}

/// Another branch, authenticated by its commit ending `f`: its epochs after `f` are dropped
/// from now on, and what is held of them.
fn mark_foreign(group: &mut Group, now: Timestamp, f: Epoch, notice: &ForkNotice) {
    group.fork.seen_at = Some(now);
    if group.fork.foreign.len() + notice.tags.len() > FOREIGN {
        group.fork.foreign.clear();
    }
    for t in notice
        .tags
        .iter()
        .filter(|t| t.epoch > f && t.tag.len() == TAG_LEN)
    {
        group.fork.foreign.insert(t.tag.clone());
    }
    group.inbound.drop_branches(&group.fork.foreign);
    group.repair.catch_up.forget_ahead();
}

/// Applies the survival rule to this branch's and the other branch's commits ending `f`.
fn decide(
    group: &mut Group,
    step: &mut Step<'_>,
    f: Epoch,
    theirs_sealed: &[u8],
) -> Result<(), Abort> {
    let Some(rec) = group.epochs.commit(f).cloned() else {
        return Ok(());
    };
    if rec.sealed == theirs_sealed || group.fork.resolved.contains(&f) {
        return Ok(());
    }
    let gid = group.id.as_bytes().to_vec();
    let their_commit = open_theirs(&rec.key, &gid, f, theirs_sealed)?;
    let Ok(our_commit) = sealed::open(&rec.key, &gid, f, &rec.sealed) else {
        return Ok(());
    };
    group.fork.resolved.push(f);
    let (ours, theirs) = (digest(&our_commit), digest(&their_commit));
    tracing::debug!(group = %group.id.display(), ours = ?&ours[..4], theirs = ?&theirs[..4], "fork commits compared");
    let survived = ours < theirs;
    tracing::info!(group = %group.id.display(), fork_epoch = f, survived, "fork resolved");
    step.out.event(GroupEvent::ForkResolved {
        group_id: group.id.clone(),
        fork_epoch: f,
        survived,
    });
    if survived {
        return Ok(());
    }
    // The surviving branch's commit ending `f` removed this member: that is where it stands,
    // not a member to re-add (a rejoin would put a removed member back).
    if let Some(committer) = removes_me(group, f, &their_commit) {
        tracing::info!(group = %group.id.display(), fork_epoch = f, "removed on the surviving branch");
        return super::epoch::removed(group, step, f + 1, committer);
    }
    request_removals_again(group, step.me(), f);
    group.rejoin.want(f);
    publish_verdict(group, step, f, theirs_sealed)
}

/// Opens the other branch's commit ending `f` with `f`'s epoch key and checks that it is an
/// MLS message of this group and epoch.
fn open_theirs(
    key: &[u8; 16],
    gid: &[u8],
    f: Epoch,
    theirs_sealed: &[u8],
) -> Result<Vec<u8>, Abort> {
    let Ok(their_commit) = sealed::open(key, gid, f, theirs_sealed) else {
        return reject(
            RejectReason::NotAMember,
            "fork notice commit does not open with the shared epoch's key",
        );
    };
    match MlsState::peek(&their_commit) {
        Ok((_, g, e)) if g == gid && e == f => Ok(their_commit),
        _ => reject(
            RejectReason::Malformed,
            "fork notice commit is not an MLS message of the shared epoch",
        ),
    }
}

/// Removals only this branch committed after `f` are requested again on the surviving one:
/// this member's own, and leaves (their owners erased their state when the leave was applied
/// here), which one member of this branch asks for, as removals put to the vote: the author
/// of this branch's commit ending `f` (surely on this branch), or if it is gone, the smallest
/// remaining member id.
fn request_removals_again(group: &mut Group, me: MemberId, f: Epoch) {
    let removed_here = |m: &MemberId| {
        group.proposals.values().any(|r| {
            matches!(r.status, ProposalStatus::Committed(e) if e > f)
                && r.action.removes() == Some(*m)
        })
    };
    let leave_keeper = group
        .epochs
        .commit(f)
        .map(|c| c.committer)
        .filter(|m| group.roster().contains(m) && !removed_here(m))
        .or_else(|| group.roster().ids().filter(|m| !removed_here(m)).min());
    let again: Vec<DeferredRequest> = group
        .proposals
        .values()
        .filter(|r| matches!(r.status, ProposalStatus::Committed(e) if e > f))
        .filter_map(|r| match r.action {
            ProposalAction::Remove { .. } if r.owner == me => Some(r.action.clone()),
            ProposalAction::Leave { member } if leave_keeper == Some(me) => {
                Some(ProposalAction::Remove { member })
            }
            _ => None,
        })
        .map(|action| DeferredRequest {
            action,
            key_package: None,
            attempt: 0,
        })
        .collect();
    for request in again {
        if !group
            .meta
            .deferred_requests
            .iter()
            .any(|r| r.action == request.action)
        {
            group.meta.deferred_requests.push(request);
        }
    }
}

/// Members of this branch that hold no commit ending `f` (they joined after it) cannot apply
/// the rule: this member tells them, sealed under this branch's current epoch key. The winning
/// commit rides along (still sealed under `f`'s key): a branch-mate that holds its own commit
/// ending `f` but missed the other branch's notice (loss) applies the rule itself instead of
/// committing on a branch that lost.
fn publish_verdict(
    group: &Group,
    step: &mut Step<'_>,
    f: Epoch,
    theirs_sealed: &[u8],
) -> Result<(), Abort> {
    let gid = group.id.as_bytes();
    let epoch = group.epoch();
    let nonce = step
        .crypto
        .entropy()
        .array::<{ sealed::SEAL_NONCE_LEN }>()?;
    let verdict = sealed::seal_verdict(group.epochs.key(), gid, epoch, nonce, f);
    let notice = ForkNotice {
        tags: Vec::new(),
        commit_epoch: f,
        commit: theirs_sealed.to_vec(),
        verdict,
    };
    let env = Envelope::new(Kind::ForkNotice, gid, epoch, wire::encode(&notice))
        .with_branch(group.epochs.branch());
    step.out.publish(&group.topics.group, env.encode_to_vec());
    Ok(())
}

/// The committer of `commit` (the other branch's commit ending `f`, already authenticated) if
/// it removes this member's leaf. Leaf indices are those of epoch `f`, which this member
/// shares: its own leaf is the same in every epoch since it joined.
fn removes_me(group: &Group, f: Epoch, commit: &[u8]) -> Option<MemberId> {
    let outline = crate::mls::commit_outline(commit).ok()?;
    if !outline.removed_leaves.contains(&group.mls.own_leaf()) {
        return None;
    }
    // The committer sits at its leaf in this member's roster of `f` if still retained, else
    // (leaves never move) at the same leaf of this branch's roster, unless this branch
    // emptied that leaf: then the removal cannot be attributed and this member rejoins.
    group
        .epochs
        .at(f)
        .and_then(|e| e.roster.at_leaf(outline.sender_leaf).map(|e| e.id))
        .or_else(|| group.roster().at_leaf(outline.sender_leaf).map(|e| e.id))
}

/// A member of this branch found that the branch lost a fork. A member that holds its own
/// commit ending the fork epoch applies the rule itself to the winning commit the verdict
/// carries (it may have missed the other branch's notice); one that holds no such commit (it
/// joined later) follows the verdict and rejoins: as a non-member of the surviving branch, its
/// request is an ordinary join there, put to the vote.
fn follow_verdict(
    group: &mut Group,
    step: &mut Step<'_>,
    env: &Envelope,
    notice: &ForkNotice,
) -> Result<(), Abort> {
    let epoch = group.epoch();
    if env.epoch != epoch || group.rejoin.in_progress() {
        return Ok(());
    }
    if env.branch.len() == TAG_LEN
        && group
            .branch_tag(epoch)
            .is_some_and(|t| t[..] != env.branch[..])
    {
        // Another branch's verdict (a member of the surviving branch hears the losers').
        return Ok(());
    }
    let Ok(f) = sealed::open_verdict(
        group.epochs.key(),
        group.id.as_bytes(),
        epoch,
        &notice.verdict,
    ) else {
        return reject(
            RejectReason::NotAMember,
            "fork verdict does not open with this epoch's key",
        );
    };
    if f >= epoch {
        return Ok(());
    }
    if group.epochs.commit(f).is_some() {
        if notice.commit_epoch == f && !notice.commit.is_empty() {
            return decide(group, step, f, &notice.commit);
        }
        return Ok(());
    }
    tracing::info!(group = %group.id.display(), fork_epoch = f, "following a branch-mate's fork verdict");
    step.out.event(GroupEvent::ForkResolved {
        group_id: group.id.clone(),
        fork_epoch: f,
        survived: false,
    });
    group.rejoin.want(group.meta.joined_epoch);
    Ok(())
}
