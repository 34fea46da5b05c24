//! Asking to catch up: a sealed request for the epoch this member is stuck in, when the
//! evidence is older than its patience and nobody asked for the same epoch lately; after
//! several unanswered requests with no other branch heard of, a rejoin instead.

use super::{AHEAD_BELIEF_MS, REJOIN_AFTER_ATTEMPTS};
use crate::engine::group::Group;
use crate::engine::step::{Abort, Step};
use crate::wire::{Envelope, Kind, sealed};

/// Asks to catch up when due; after several unanswered requests with no other branch heard
/// of, starts a rejoin instead. Returns whether a request was sent.
pub(crate) fn request_if_due(group: &mut Group, step: &mut Step<'_>) -> Result<bool, Abort> {
    let now = step.now;
    let params = step.params;
    let epoch = group.epoch();
    let oldest_held = group.inbound.oldest_held();
    let me = step.me();
    let state = &mut group.repair.catch_up;
    // Evidence older than the patience: this member is behind, whether or not it asks itself
    // (another member's request may be serving it).
    let patience = state.patience_ms(params);
    let evidence = [oldest_held, state.ahead.map(|(_, since)| since)]
        .into_iter()
        .flatten()
        .min();
    if evidence.is_some_and(|t| t.plus_ms(patience) <= now) {
        state.fell_behind_in(epoch);
    }
    let due = state.due(epoch, oldest_held, &me, params);
    if due.is_none_or(|t| t > now) {
        return Ok(false);
    }
    // A commit of this epoch waits here for its proposals' decisions: the group is probably in
    // the epoch it starts (hence the later-epoch traffic), and the cheap remedy is the
    // decisions themselves, which this member asks for (`repair::tick`). It catches up only if
    // that request went unanswered for `repair_retry_ms`.
    let sync = &group.repair;
    let parked_until = group
        .inbound
        .parked()
        .filter(|h| h.epoch == epoch)
        .map(|h| {
            h.waiting
                .iter()
                .map(|id| {
                    sync.requested_at(id)
                        .map(|t| t.plus_ms(params.repair_retry_ms))
                })
                .min()
                .flatten()
                .unwrap_or(h.since.plus_ms(params.commit_grace_ms))
        })
        .max();
    if parked_until.is_some_and(|t| t > now) {
        return Ok(false);
    }
    let state = &mut group.repair.catch_up;
    let same_epoch = state.requested.is_some_and(|(e, _)| e == epoch);
    state.attempts = if same_epoch { state.attempts + 1 } else { 1 };
    // Nobody answered several requests and no other branch was heard of: this member is
    // behind every member's retained history. It rejoins (re-added without a vote).
    if state.attempts > REJOIN_AFTER_ATTEMPTS
        && state.is_beyond(epoch)
        && !group.fork.recently_seen(now, AHEAD_BELIEF_MS)
    {
        tracing::info!(group = %group.id.display(), epoch, "beyond retained history: rejoining");
        group.rejoin.want(epoch);
        return Ok(false);
    }
    let attempt = u8::try_from(state.attempts.saturating_sub(1)).unwrap_or(u8::MAX);
    state.requested = Some((epoch, now));
    let nonce = step
        .crypto
        .entropy()
        .array::<{ sealed::SEAL_NONCE_LEN }>()?;
    let gid = group.id.as_bytes().to_vec();
    let body = sealed::seal_catch_up(group.epochs.key(), &gid, epoch, nonce, attempt);
    tracing::debug!(group = %group.id.display(), epoch, attempt, "asking to catch up");
    step.out.publish(
        &group.topics.group,
        Envelope::new(Kind::CatchUp, &gid, epoch, body)
            .with_branch(group.epochs.branch())
            .encode_to_vec(),
    );
    Ok(true)
}
