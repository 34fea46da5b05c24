//! Commit selection: when several stewards may commit in one epoch, every member collects the
//! valid candidates for the policy's selection window, then applies the same one — the one
//! applying the most proposals, then the best-ranked author (e.g. the epoch steward), then the
//! smallest author id. Losers that applied a different proposal sequence are reported to the
//! policy as misbehaviour; losers with the same sequence were honest and are not.

use openmls::prelude::StagedCommit;

pub(super) mod state;

use self::state::Candidate;
use super::event::Violation;
use super::group::Group;
use super::step::{Abort, Step};
use super::validation::CommitPlan;
use super::{commit, epoch, governance};
use crate::mls::{MlsState, Processed};
use crate::steward::CommitRank;
use crate::wire::sealed;

/// A validated commit from another member: applied at once, or entered into the window.
pub(crate) fn accept(
    group: &mut Group,
    step: &mut Step<'_>,
    plan: CommitPlan,
    rank: CommitRank,
    sealed: Vec<u8>,
    staged: StagedCommit,
) -> Result<(), Abort> {
    let window = group.policy.selection_window_ms();
    let within = (window / 2).min(step.params.repair_backoff_ms);
    let epoch = group.epoch();
    super::repair::echo_commit(group, step, epoch, &sealed, within);
    if window == 0 && !group.selection.is_open() {
        group.mls.merge_staged(&step.provider(), staged)?;
        return epoch::after_merge(group, step, plan, sealed);
    }
    group.selection.offer(Candidate {
        author: plan.committer,
        rank,
        proposals: plan.proposals,
        rejoins: plan.rejoins,
        sealed,
        own: false,
        staged: Some(Box::new(staged)),
    });
    group
        .meta
        .selection_due
        .get_or_insert(step.now.plus_ms(window));
    // Nothing is merged until the window closes. (Staging changed nothing in the group, so
    // there is nothing to undo, and the staged commit is kept to merge the winner.)
    Ok(())
}

/// Closes the selection window: applies the best candidate and reports conflicting losers.
pub(crate) fn close(group: &mut Group, step: &mut Step<'_>) -> Result<(), Abort> {
    group.meta.selection_due = None;
    let mut candidates = group.selection.take_candidates();
    candidates.sort_by_key(Candidate::key);
    if candidates.is_empty() {
        return Ok(());
    }
    let mut best = candidates.remove(0);
    let losers = candidates;
    for loser in &losers {
        group.fork.note_lost(&loser.sealed);
    }
    tracing::info!(group = %group.id.display(), author = %best.author.short(), competing = losers.len() + 1, "commit selected");
    let plan = CommitPlan {
        committer: best.author,
        proposals: best.proposals.clone(),
        rejoins: best.rejoins.clone(),
    };
    if best.own {
        group.touch_mls();
        group.mls.merge_pending(&step.provider())?;
        let welcome = group.selection.take_own_welcome();
        commit::publish_welcome(group, step, welcome)?;
    } else {
        let staged = match best.staged.take() {
            Some(staged) => *staged,
            None => restage(group, step, &best.sealed)?,
        };
        group.touch_mls();
        group.mls.merge_staged(&step.provider(), staged)?;
    }
    epoch::after_merge(group, step, plan, best.sealed)?;
    let me = step.me();
    let mut actions = Vec::new();
    for loser in losers
        .iter()
        .filter(|l| l.proposals != best.proposals && !l.own)
    {
        actions.extend(group.with_policy_mut(me, |policy, view| {
            policy.on_violation(
                view,
                &loser.author,
                Violation::ConflictingCommit,
                &loser.sealed,
                step.now,
            )
        }));
    }
    governance::run_policy_actions(group, step, actions)
}

/// Processes a candidate's sealed commit again to obtain its staged commit.
fn restage(
    group: &mut Group,
    step: &mut Step<'_>,
    sealed_body: &[u8],
) -> Result<StagedCommit, Abort> {
    let epoch = group.epoch();
    let bytes = sealed::open(group.epochs.key(), group.id.as_bytes(), epoch, sealed_body)
        .map_err(|e| Abort::Fatal(super::error::EngineError::InvalidRequest(e.to_string())))?;
    let (message, _, _) = MlsState::peek(&bytes)?;
    group.touch_mls();
    match group.mls.process(&step.provider(), message)? {
        Processed::Commit { staged, .. } => Ok(*staged),
        _ => Err(Abort::Fatal(super::error::EngineError::InvalidRequest(
            "selected candidate is not a commit".into(),
        ))),
    }
}
