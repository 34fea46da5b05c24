//! Catching up on missed epochs: when a member believes it is behind, when it asks, who
//! answers and with what. This module owns that evidence, the request and the answer; the
//! rest of loss repair (duplicates, missing messages, votes) is in [`super::sync`].
//!
//! The rules keep catch-up traffic bounded at any group size and delivery delay:
//!
//! - **Evidence.** Traffic of a later epoch held here is a sign of being behind, but on a
//!   network that reorders it is also what a member sees just before the commit that leads
//!   there arrives. So a member asks only once such traffic is older than its *patience*:
//!   `max(repair_delay_ms, 2 × the delivery spread it has seen)`, plus a spread of up to
//!   `repair_backoff_ms` that differs between members. The delivery spread is a decaying
//!   maximum (a quarter off per observation) of two things every member observes anyway: how
//!   long later-epoch traffic came before the commit that led there, and how long a proposal
//!   took from its first message here to its decision by votes. Status beacons of members in an
//!   earlier epoch are no evidence of anything: the beacon may simply have crossed the commit,
//!   so nobody answers them (a member that really is behind hears the later epoch and asks).
//! - **One request serves everyone.** Answers are broadcast, so a member that sees another
//!   member's request for its own epoch waits `repair_retry_ms` before asking itself.
//! - **Few answers per request.** The committer of the epoch answers at once; any other member
//!   holding the commit answers with probability `catch_up_fanout × 2^attempt / members`
//!   (`attempt` travels in the request), after a random backoff, unless someone answered (the
//!   first commit of the answer was seen again) within the last `repair_retry_ms / 2`. So a
//!   request draws about `1 + catch_up_fanout` answers whatever the size of the group, and an
//!   asker that heard nothing asks again with twice the chance of being answered.
//! - **Bounded answers.** One answer covers at most [`CATCH_UP_EPOCHS`] epochs and
//!   [`MAX_ANSWER_BYTES`] of application messages.
//!
//! The bound this gives, per epoch transition: no request at all when nothing was lost and
//! the patience covers the reordering the member has seen; when `m` members really missed the
//! commit, about one request per `repair_retry_ms` (more only if their requests cross) and
//! `1 + catch_up_fanout` answers per request in expectation.

use std::collections::BTreeMap;

use super::group::Group;
use super::repair::{backoff, branch_of, digest};
use super::{Abort, Step};
use crate::types::{Epoch, MemberId, Timestamp};
use crate::wire::{Envelope, Kind, bundle, sealed};

/// Epochs of history one catch-up answer covers (a member far behind asks again from where
/// the answer left it; answers stay within a receiver's default future-epoch window).
pub(crate) const CATCH_UP_EPOCHS: u64 = 8;
/// Unanswered catch-up requests (in one epoch) after which a member rejoins.
const REJOIN_AFTER_ATTEMPTS: u32 = 4;
/// Application message bytes one catch-up answer carries at most.
pub(crate) const MAX_ANSWER_BYTES: usize = 1024 * 1024;
/// How long unconfirmed evidence of being behind is believed: envelope epochs are not
/// authenticated, so a made-up far-future epoch must not silence this member for good.
pub(crate) const AHEAD_BELIEF_MS: u64 = 20_000;
/// The patience never exceeds this, however slow the network looked.
const MAX_PATIENCE_MS: u64 = 30_000;

/// What this member knows about being behind, and its requests (transient, bounded).
#[derive(Default)]
pub(crate) struct CatchUp {
    /// The latest epoch heard of beyond this member's, and since when.
    ahead: Option<(Epoch, Timestamp)>,
    /// When traffic of a later epoch was first seen in the current epoch.
    first_ahead_at: Option<Timestamp>,
    /// The delivery spread seen here (decaying maximum of the observations, ms).
    spread_ms: u64,
    /// When this member last asked, and from which epoch.
    requested: Option<(Epoch, Timestamp)>,
    /// When another member's request from this member's epoch was last seen.
    others_asked: Option<(Epoch, Timestamp)>,
    /// Requests made in a row without reaching a later epoch.
    attempts: u32,
    /// The first epoch this member asked to catch up from since it was last up to date: what
    /// it sent from then on, the others (already past that epoch) may not be able to read.
    behind_from: Option<Epoch>,
    /// When unauthenticated evidence of a later epoch (traffic held for it, a request from
    /// it) was first seen in the current epoch: it holds this member's commit back for one
    /// catch-up window from then, never longer ([`CatchUp::claim_deadline`]).
    claim_since: Option<Timestamp>,
    /// The current epoch's claims of later epochs went unconfirmed for a whole window: they
    /// no longer hold this member back in this epoch, and its requests back off.
    refuted: bool,
    /// The epoch in which a roster member signed that it moved beyond the history it
    /// retains for it ([`crate::wire::BeyondHistory`]): the only ground for rejoining.
    beyond: Option<Epoch>,
    /// When this member last sent such a statement (at most one per `repair_retry_ms`).
    beyond_sent: Option<Timestamp>,
    /// The epoch for which a commit opened here (under its key, signed by a member): proof
    /// that it is ending, so claims of a later epoch made in it are never refuted.
    ending: Option<Epoch>,
}

impl CatchUp {
    /// Notes that this member just entered `epoch`: evidence of being behind that this epoch
    /// satisfies is dropped, and the gap between later-epoch traffic and the commit is learnt.
    pub(crate) fn entered_epoch(&mut self, epoch: Epoch, now: Timestamp) {
        if let Some(first) = self.first_ahead_at.take() {
            self.note_spread(now.since(first));
        }
        match self.ahead {
            Some((e, _)) if e <= epoch => self.ahead = None,
            Some(_) => self.first_ahead_at = Some(now),
            None => {}
        }
        // A new epoch, a new window: claims heard before were about this one (or nothing).
        self.claim_since = self.ahead.map(|_| now);
        self.refuted = false;
    }

    /// Notes one observation of how spread out delivery is (ms): later-epoch traffic ahead of
    /// its commit, or a proposal's first message here to its decision by votes.
    pub(crate) fn note_spread(&mut self, ms: u64) {
        self.spread_ms = ms.max(self.spread_ms - self.spread_ms / 4);
    }

    /// Notes traffic of `epoch`, later than this member's: it may be behind. (The epoch of an
    /// envelope is not authenticated; a claim nobody confirms is dropped after a while.)
    pub(crate) fn note_ahead(&mut self, epoch: Epoch, now: Timestamp) {
        self.first_ahead_at.get_or_insert(now);
        self.claim_since.get_or_insert(now);
        match self.ahead {
            Some((e, _)) if e >= epoch => {}
            _ => self.ahead = Some((epoch, now)),
        }
    }

    /// Notes a request of another member stuck in `epoch` (this member's own epoch): its
    /// answer will serve this member too, and this member is as far behind.
    pub(crate) fn note_request_seen(&mut self, epoch: Epoch, now: Timestamp) {
        self.others_asked = Some((epoch, now));
        self.fell_behind_in(epoch);
    }

    /// Remembers that this member was behind in `epoch`: once it has caught up, what it sent
    /// from that epoch on is sent again (the others may have left those epochs).
    fn fell_behind_in(&mut self, epoch: Epoch) {
        self.behind_from = Some(self.behind_from.map_or(epoch, |e| e.min(epoch)));
    }

    /// If this member has just caught up (it had asked to, and now hears of no later epoch and
    /// holds nothing for one), the epoch it fell behind in.
    pub(crate) fn take_caught_up(&mut self, holding_future: bool) -> Option<Epoch> {
        if self.ahead.is_some() || holding_future {
            return None;
        }
        self.behind_from.take()
    }

    /// Forgets that later epochs were heard of (they were another branch's).
    pub(crate) fn forget_ahead(&mut self) {
        self.ahead = None;
        self.first_ahead_at = None;
    }

    /// Until when unauthenticated claims of a later epoch hold this member's commit back in
    /// the current epoch: its patience and spread (when it asks to catch up) plus
    /// `repair_retry_ms` for an answer. `None` when nothing is claimed or the claims were
    /// refuted. The window opens once per epoch, so an outsider repeating made-up later-epoch
    /// traffic delays an epoch by at most one window.
    pub(crate) fn claim_deadline(
        &self,
        me: &MemberId,
        params: &super::EngineParams,
    ) -> Option<Timestamp> {
        if self.refuted {
            return None;
        }
        let wait = self.patience_ms(params)
            + spread_of(me, params.repair_backoff_ms)
            + params.repair_retry_ms;
        self.claim_since.map(|t| t.plus_ms(wait))
    }

    /// Whether claims of a later epoch still hold this member's commit back.
    pub(crate) fn blocks_commit(
        &self,
        now: Timestamp,
        me: &MemberId,
        params: &super::EngineParams,
    ) -> bool {
        self.claim_deadline(me, params).is_some_and(|d| now < d)
    }

    /// Nobody confirmed the claims of a later epoch within the window: they stop counting.
    fn refute(&mut self) {
        self.refuted = true;
        self.ahead = None;
        self.first_ahead_at = None;
    }

    /// A roster member of `epoch` signed that it moved beyond the history it retains for it.
    pub(crate) fn confirm_beyond(&mut self, epoch: Epoch) {
        self.beyond = Some(epoch);
    }

    /// A commit of `epoch` opened here (parked for its votes or in the selection window).
    pub(crate) fn confirm_ending(&mut self, epoch: Epoch) {
        self.ending = Some(epoch);
    }

    /// Whether a roster member of `epoch` signed that it moved beyond it.
    pub(crate) fn is_beyond(&self, epoch: Epoch) -> bool {
        self.beyond == Some(epoch)
    }

    /// Whether this member may send a beyond-history statement now (at most one per
    /// `repair_retry_ms`, whatever epochs are asked about); notes it as sent if so.
    pub(crate) fn may_state_beyond(&mut self, now: Timestamp, retry_ms: u64) -> bool {
        if self.beyond_sent.is_some_and(|t| t.plus_ms(retry_ms) > now) {
            return false;
        }
        self.beyond_sent = Some(now);
        true
    }

    /// Whether the later epochs heard of are still believed.
    pub(crate) fn is_ahead_known(&self) -> bool {
        self.ahead.is_some()
    }

    /// True while recent traffic shows later epochs than this member's.
    #[cfg(test)]
    fn is_behind(&self, now: Timestamp) -> bool {
        self.ahead
            .is_some_and(|(_, since)| since.plus_ms(AHEAD_BELIEF_MS) > now)
    }

    /// How long later-epoch traffic must wait here before it counts as evidence.
    pub(crate) fn patience_ms(&self, params: &super::EngineParams) -> u64 {
        params
            .repair_delay_ms
            .max(self.spread_ms.saturating_mul(2))
            .min(MAX_PATIENCE_MS)
    }

    /// When this member, in `epoch`, should next ask to catch up, given the oldest later-epoch
    /// message it holds (if any). A request from an earlier epoch was answered (at least in
    /// part): the next one may go at once.
    pub(crate) fn due(
        &self,
        epoch: Epoch,
        oldest_held: Option<Timestamp>,
        me: &MemberId,
        params: &super::EngineParams,
    ) -> Option<Timestamp> {
        let since = [oldest_held, self.ahead.map(|(_, since)| since)]
            .into_iter()
            .flatten()
            .min()?;
        let spread = spread_of(me, params.repair_backoff_ms);
        let mut due = since.plus_ms(self.patience_ms(params) + spread);
        if let Some((e, t)) = self.requested {
            if e == epoch {
                // Once this epoch's claims were refuted, each unanswered request doubles the
                // wait (made-up traffic must not keep every member asking).
                let doubling = if self.refuted {
                    self.attempts.min(6)
                } else {
                    0
                };
                due = due.max(t.plus_ms(params.repair_retry_ms << doubling));
            }
        }
        if let Some((e, t)) = self.others_asked {
            if e == epoch {
                due = due.max(t.plus_ms(params.repair_retry_ms));
            }
        }
        Some(due)
    }

    /// The earliest time this state needs a tick (to forget an unconfirmed claim).
    pub(crate) fn next_deadline(&self) -> Option<Timestamp> {
        self.ahead.map(|(_, since)| since.plus_ms(AHEAD_BELIEF_MS))
    }

    /// Drops a claim of being behind that nobody confirmed in time.
    pub(crate) fn expire(&mut self, now: Timestamp) {
        if self
            .ahead
            .is_some_and(|(_, since)| since.plus_ms(AHEAD_BELIEF_MS) <= now)
        {
            self.ahead = None;
        }
    }
}

/// When unauthenticated claims of a later epoch stop holding `group` back, unless something
/// authenticated shows its epoch is ending: a commit of it was opened here (parked for its
/// proposals' votes, or in the selection window — now or earlier in the epoch: a parked commit
/// that expires comes back with a catch-up answer), or a roster member stated that the group
/// moved beyond it.
pub(crate) fn claim_deadline(
    group: &Group,
    me: &MemberId,
    params: &super::EngineParams,
) -> Option<Timestamp> {
    let epoch = group.epoch();
    let state = &group.sync.catch_up;
    if state.is_beyond(epoch)
        || state.ending == Some(epoch)
        || !group.candidates.is_empty()
        || group.parked.iter().any(|h| h.epoch == epoch)
    {
        return None;
    }
    state.claim_deadline(me, params)
}

/// Ends the catch-up window of this epoch if it is over and nothing confirmed the claims of a
/// later epoch: they stop holding this member back, what was held for later epochs is dropped
/// (one `Rejected` each: nobody can tell it from an outsider's invention, and what a member
/// sent there is repaired once this member really gets there), and committing resumes.
pub(crate) fn refute_if_due(group: &mut Group, step: &mut Step<'_>) {
    let me = step.me();
    if claim_deadline(group, &me, step.params).is_none_or(|d| d > step.now) {
        return;
    }
    let epoch = group.epoch();
    tracing::info!(group = %group.id.display(), epoch, held = group.future.len(), "later epochs unconfirmed: committing resumes");
    group.sync.catch_up.refute();
    for held in std::mem::take(&mut group.future) {
        step.out.event(super::event::Event::Rejected {
            group_id: Some(group.id.clone()),
            reason: super::event::RejectReason::Unconfirmed,
            detail: format!(
                "held for epoch {}: nobody confirmed an epoch after {epoch}",
                held.epoch
            ),
        });
    }
    super::commit::schedule(group, step);
}

/// A delay in `[0, max)` that differs between members and stays the same for one member.
fn spread_of(me: &MemberId, max: u64) -> u64 {
    if max == 0 {
        return 0;
    }
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&me.as_bytes()[..8]);
    u64::from_be_bytes(bytes) % max
}

/// Asks to catch up when due; after several unanswered requests with no other branch heard
/// of, starts a rejoin instead. Returns whether a request was sent.
pub(crate) fn request_if_due(group: &mut Group, step: &mut Step<'_>) -> Result<bool, Abort> {
    let now = step.now;
    let params = step.params;
    let epoch = group.epoch();
    let oldest_held = group.future.iter().map(|h| h.since).min();
    let me = step.me();
    let state = &mut group.sync.catch_up;
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
    let sync = &group.sync;
    let parked_until = group
        .parked
        .iter()
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
    let state = &mut group.sync.catch_up;
    let same_epoch = state.requested.is_some_and(|(e, _)| e == epoch);
    state.attempts = if same_epoch { state.attempts + 1 } else { 1 };
    // Nobody answered several requests and no other branch was heard of: this member is
    // behind every member's retained history. It rejoins (re-added without a vote).
    if state.attempts > REJOIN_AFTER_ATTEMPTS
        && state.is_beyond(epoch)
        && !group.fork.recently_seen(now, AHEAD_BELIEF_MS)
    {
        tracing::info!(group = %group.id.display(), epoch, "beyond retained history: rejoining");
        group.wants_rejoin = Some(epoch);
        return Ok(false);
    }
    let attempt = u8::try_from(state.attempts.saturating_sub(1)).unwrap_or(u8::MAX);
    state.requested = Some((epoch, now));
    let nonce = step
        .crypto
        .entropy()
        .array::<{ sealed::SEAL_NONCE_LEN }>()?;
    let gid = group.id.as_bytes().to_vec();
    let body = sealed::seal_catch_up(&group.commit_key, &gid, epoch, nonce, attempt);
    tracing::debug!(group = %group.id.display(), epoch, attempt, "asking to catch up");
    step.out.publish(
        &group.topics.group,
        Envelope::new(Kind::CatchUp, &gid, epoch, body)
            .with_branch(&group.branch)
            .encode_to_vec(),
    );
    Ok(true)
}

/// A member stuck in `from` asked (its `attempt`-th request in a row, from 0). Schedules an
/// answer: for each retained epoch from `from` on (at most [`CATCH_UP_EPOCHS`]), the
/// certificates of the proposals its commit applied (sealed under that epoch's key), the
/// application messages of that epoch still in the log, and the commit itself — everything
/// re-published as this member holds it, so the asker can process each epoch as if it had been
/// there. Whether this member answers at all follows the rules in the module documentation.
pub(crate) fn answer(
    group: &mut Group,
    step: &mut Step<'_>,
    from: Epoch,
    attempt: u8,
) -> Result<(), Abort> {
    let Some(first) = group.commits.get(&from) else {
        return Ok(());
    };
    let gid = group.id.as_bytes().to_vec();
    let first_commit = Envelope::new(Kind::Commit, &gid, from, first.sealed.clone())
        .with_branch(&branch_of(group, from))
        .encode_to_vec();
    let key = digest(&first_commit);
    if group.sync.is_scheduled(&key)
        || group
            .sync
            .answered_within(&key, step.now, step.params.repair_retry_ms / 2)
    {
        return Ok(());
    }
    let committer = first.committer == step.me();
    if !committer {
        let members = group
            .members_at(from)
            .map(|m| m.roster.len())
            .unwrap_or_else(|| group.roster().len())
            .max(1) as u64;
        let chance = u64::from(step.params.catch_up_fanout).saturating_mul(1 << attempt.min(16));
        if backoff(step, members) >= chance {
            return Ok(());
        }
    }
    let spread = if committer {
        0
    } else {
        backoff(step, step.params.repair_backoff_ms)
    };
    // (epoch, envelope, a bundle ends after it): each epoch's messages travel with, and
    // before, the commit that ends it.
    let mut items: Vec<(Epoch, Vec<u8>, bool)> = Vec::new();
    let mut message_bytes = 0usize;
    // The logged messages of the epochs served, in one pass over the log.
    let last = from.saturating_add(CATCH_UP_EPOCHS);
    let mut logged: BTreeMap<Epoch, Vec<Vec<u8>>> = BTreeMap::new();
    for (message_epoch, bytes) in group.sync.logged() {
        if (from..last).contains(&message_epoch) {
            logged
                .entry(message_epoch)
                .or_default()
                .push(bytes.to_vec());
        }
    }
    for epoch in from..last {
        let Some(rec) = group.commits.get(&epoch) else {
            break;
        };
        for (id, parts) in &rec.certificates {
            for part in parts {
                let nonce = step
                    .crypto
                    .entropy()
                    .array::<{ sealed::SEAL_NONCE_LEN }>()?;
                let body = sealed::seal_certificate(&rec.key, &gid, epoch, &id.0, nonce, part);
                let env = Envelope::new(Kind::Certificate, &gid, epoch, body)
                    .with_branch(&branch_of(group, epoch));
                items.push((epoch, env.encode_to_vec(), false));
            }
        }
        for bytes in logged.remove(&epoch).unwrap_or_default() {
            if message_bytes + bytes.len() <= MAX_ANSWER_BYTES {
                message_bytes += bytes.len();
                items.push((epoch, bytes, false));
            }
        }
        let commit = Envelope::new(Kind::Commit, &gid, epoch, rec.sealed.clone())
            .with_branch(&branch_of(group, epoch));
        items.push((epoch, commit.encode_to_vec(), true));
    }
    let count = items.len();
    let envelopes = bundle::pack(&gid, items, step.params.max_inbound_bytes);
    tracing::debug!(group = %group.id.display(), from, count, bundles = envelopes.len(), "catch-up answer scheduled");
    let topic = group.topics.group.clone();
    group
        .sync
        .schedule_under(key, step.now.plus_ms(spread), step.now, topic, envelopes);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::EngineParams;

    fn me() -> MemberId {
        MemberId([7; crate::types::MEMBER_ID_LEN])
    }

    #[test]
    fn being_behind_ends_on_reaching_the_epoch_or_when_nobody_confirms_it() {
        let mut s = CatchUp::default();
        let t = Timestamp(1_000);
        assert!(!s.is_behind(t));
        s.note_ahead(9, t);
        assert!(s.is_behind(t.plus_ms(AHEAD_BELIEF_MS - 1)));
        assert!(
            !s.is_behind(t.plus_ms(AHEAD_BELIEF_MS)),
            "unconfirmed claims expire"
        );
        s.note_ahead(7, t.plus_ms(5)); // an older claim does not refresh a newer one
        assert_eq!(s.ahead, Some((9, t)));
        s.entered_epoch(8, t);
        assert!(s.is_behind(t), "still short of epoch 9");
        s.entered_epoch(9, t);
        assert!(!s.is_behind(t));
    }

    #[test]
    fn a_request_waits_for_the_retry_interval_only_within_one_epoch() {
        let params = EngineParams::default();
        let mut s = CatchUp::default();
        let t = Timestamp(10_000);
        assert_eq!(s.due(3, None, &me(), &params), None, "not behind");
        s.note_ahead(6, t);
        let spread = spread_of(&me(), params.repair_backoff_ms);
        let first = t.plus_ms(params.repair_delay_ms + spread);
        assert_eq!(s.due(3, None, &me(), &params), Some(first));
        s.requested = Some((3, first));
        assert_eq!(
            s.due(3, None, &me(), &params),
            Some(first.plus_ms(params.repair_retry_ms))
        );
        assert_eq!(
            s.due(4, None, &me(), &params),
            Some(first),
            "progress: ask again at once"
        );
    }

    #[test]
    fn patience_follows_the_reordering_seen_and_forgets_it_slowly() {
        let params = EngineParams::default();
        let mut s = CatchUp::default();
        assert_eq!(s.patience_ms(&params), params.repair_delay_ms);
        // Later-epoch traffic 3 s before the commit that leads there.
        s.note_ahead(5, Timestamp(1_000));
        s.entered_epoch(5, Timestamp(4_000));
        assert_eq!(s.patience_ms(&params), 6_000);
        // A quick epoch afterwards: the estimate decays by a quarter, not to nothing.
        s.note_ahead(6, Timestamp(5_000));
        s.entered_epoch(6, Timestamp(5_100));
        assert_eq!(s.patience_ms(&params), 4_500);
        // An epoch without reordering changes nothing.
        s.entered_epoch(7, Timestamp(6_000));
        assert_eq!(s.patience_ms(&params), 4_500);
        // Never above the cap, however slow.
        s.note_ahead(8, Timestamp(10_000));
        s.entered_epoch(8, Timestamp(200_000));
        assert_eq!(s.patience_ms(&params), MAX_PATIENCE_MS);
    }

    #[test]
    fn another_members_request_defers_this_members_own() {
        let params = EngineParams::default();
        let mut s = CatchUp::default();
        let t = Timestamp(10_000);
        s.note_ahead(6, t);
        let alone = s.due(3, None, &me(), &params).unwrap();
        s.note_request_seen(3, t.plus_ms(100));
        assert_eq!(
            s.due(3, None, &me(), &params),
            Some(alone.max(t.plus_ms(100 + params.repair_retry_ms)))
        );
        // A member that reached a later epoch is not held back by it.
        assert_eq!(s.due(4, None, &me(), &params), Some(alone));
    }

    #[test]
    fn claims_of_a_later_epoch_hold_a_commit_back_for_one_window_per_epoch() {
        let params = EngineParams::default();
        let mut s = CatchUp::default();
        let t = Timestamp(10_000);
        assert!(!s.blocks_commit(t, &me(), &params), "nothing claimed");
        s.note_ahead(6, t);
        let end = s.claim_deadline(&me(), &params).unwrap();
        assert!(end > t.plus_ms(params.repair_retry_ms));
        // Claims repeated later in the same epoch do not move the end of the window.
        s.note_ahead(9, t.plus_ms(1));
        assert_eq!(s.claim_deadline(&me(), &params), Some(end));
        assert!(s.blocks_commit(Timestamp(end.0 - 1), &me(), &params));
        assert!(!s.blocks_commit(end, &me(), &params));
        s.refute();
        assert_eq!(s.claim_deadline(&me(), &params), None);
        s.note_ahead(12, end.plus_ms(1));
        assert!(
            !s.blocks_commit(end.plus_ms(2), &me(), &params),
            "refuted claims stay refuted for the epoch"
        );
        // Requests back off once refuted.
        s.requested = Some((3, end));
        s.attempts = 3;
        assert_eq!(
            s.due(3, None, &me(), &params),
            Some(end.plus_ms(params.repair_retry_ms << 3))
        );
        // A new epoch opens a new window (a claim still standing is a claim about it).
        s.entered_epoch(4, end.plus_ms(10));
        assert_eq!(
            s.claim_deadline(&me(), &params),
            Some(end.plus_ms(10).plus_ms(end.since(t)))
        );
        s.entered_epoch(12, end.plus_ms(20));
        assert_eq!(s.claim_deadline(&me(), &params), None, "caught up");
    }

    #[test]
    fn beyond_history_statements_are_rate_limited_and_name_their_epoch() {
        let mut s = CatchUp::default();
        let t = Timestamp(1_000);
        assert!(s.may_state_beyond(t, 2_000));
        assert!(!s.may_state_beyond(t.plus_ms(1_999), 2_000));
        assert!(s.may_state_beyond(t.plus_ms(2_000), 2_000));
        assert!(!s.is_beyond(4));
        s.confirm_beyond(4);
        assert!(s.is_beyond(4));
        assert!(!s.is_beyond(5));
    }
}
