//! The evidence of being behind: traffic of later epochs, other members' requests, the
//! delivery spread that sets this member's patience, and statements that the group moved
//! beyond this member's history.

use crate::engine::params::EngineParams;
use crate::types::{Epoch, MemberId, Timestamp};

/// Epochs of history one catch-up answer covers (a member far behind asks again from where
/// the answer left it; answers stay within a receiver's default future-epoch window).
pub(crate) const CATCH_UP_EPOCHS: u64 = 8;
/// Unanswered catch-up requests (in one epoch) after which a member rejoins.
pub(crate) const REJOIN_AFTER_ATTEMPTS: u32 = 4;
/// Application message bytes one catch-up answer carries at most.
pub(crate) const MAX_ANSWER_BYTES: usize = 1024 * 1024;
/// How long unconfirmed evidence of being behind is believed: envelope epochs are not
/// authenticated, so a made-up far-future epoch must not silence this member for good.
pub(crate) const AHEAD_BELIEF_MS: u64 = 20_000;
/// The patience never exceeds this, however slow the network looked.
pub(super) const MAX_PATIENCE_MS: u64 = 30_000;

/// A delay in `[0, max)` that differs between members and stays the same for one member.
pub(super) fn spread_of(me: &MemberId, max: u64) -> u64 {
    if max == 0 {
        return 0;
    }
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&me.as_bytes()[..8]);
    u64::from_be_bytes(bytes) % max
}

/// What this member knows about being behind, and its requests (transient, bounded).
#[derive(Default)]
pub(crate) struct CatchUp {
    /// The latest epoch heard of beyond this member's, and since when.
    pub(super) ahead: Option<(Epoch, Timestamp)>,
    /// When traffic of a later epoch was first seen in the current epoch.
    first_ahead_at: Option<Timestamp>,
    /// The delivery spread seen here (decaying maximum of the observations, ms).
    spread_ms: u64,
    /// When this member last asked, and from which epoch.
    pub(super) requested: Option<(Epoch, Timestamp)>,
    /// When another member's request from this member's epoch was last seen.
    others_asked: Option<(Epoch, Timestamp)>,
    /// Requests made in a row without reaching a later epoch.
    pub(super) attempts: u32,
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
    pub(super) ending: Option<Epoch>,
    /// When this member loaded the group from storage after a restart.
    restarted_at: Option<Timestamp>,
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
    pub(super) fn fell_behind_in(&mut self, epoch: Epoch) {
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
    pub(crate) fn claim_deadline(&self, me: &MemberId, params: &EngineParams) -> Option<Timestamp> {
        if self.refuted {
            return None;
        }
        let wait = self.patience_ms(params)
            + spread_of(me, params.repair_backoff_ms)
            + params.repair_retry_ms;
        self.claim_since.map(|t| t.plus_ms(wait))
    }

    /// Notes that this member loaded the group from storage after a restart at `now`: others
    /// may have moved on meanwhile.
    pub(crate) fn note_restart(&mut self, now: Timestamp) {
        self.restarted_at = Some(now);
    }

    /// Until when a member that restarted waits before it commits (members that moved on
    /// meanwhile must have had time to say so), if that is still ahead of `now`.
    pub(crate) fn quiet_after_restart(
        &self,
        now: Timestamp,
        params: &EngineParams,
    ) -> Option<Timestamp> {
        self.restarted_at
            .map(|t| t.plus_ms(params.restart_quiet_ms))
            .filter(|t| now < *t)
    }

    /// Whether claims of a later epoch still hold this member's commit back.
    pub(crate) fn blocks_commit(
        &self,
        now: Timestamp,
        me: &MemberId,
        params: &EngineParams,
    ) -> bool {
        self.claim_deadline(me, params).is_some_and(|d| now < d)
    }

    /// Nobody confirmed the claims of a later epoch within the window: they stop counting.
    pub(super) fn refute(&mut self) {
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
    pub(crate) fn patience_ms(&self, params: &EngineParams) -> u64 {
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
        params: &EngineParams,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::params::EngineParams;

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
