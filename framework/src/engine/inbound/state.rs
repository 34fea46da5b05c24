//! What inbound traffic leaves behind in one group (transient, bounded): messages held for a
//! later epoch, commits parked until their proposals are decided, and the members recent
//! commits removed (their messages still in flight are taken for a short while, §9).
//!
//! Who changes what: the epoch window ([`super::epoch_window`]) holds future messages and
//! `inbound/mls.rs` parks commits; a new epoch ([`crate::engine::epoch`]) releases what is due,
//! drops moot parked commits and notes removed members; decisions release parked commits whose
//! proposals are decided (`governance/decisions.rs`), validation bounds and expires them; the
//! catch-up window drops unconfirmed future messages and a fork drops another branch's. Every
//! other file only reads.

use std::collections::{BTreeSet, VecDeque};

use crate::types::{Epoch, MemberId, ProposalId, Timestamp, Topic};
use crate::wire::Envelope;

/// Removed members remembered for the in-flight window of §9.
const REMOVED_REMEMBERED: usize = 1_024;

/// A message held until its epoch is reached, or a commit held until its proposals are decided.
#[derive(Clone, Debug)]
pub(crate) struct Held {
    pub topic: Topic,
    pub payload: Vec<u8>,
    pub epoch: Epoch,
    pub since: Timestamp,
    /// For a parked commit: the proposals whose decision it waits for.
    pub waiting: Vec<ProposalId>,
    /// For a parked commit: its author.
    pub author: Option<MemberId>,
}

/// Held messages, parked commits and recently removed members of one group.
#[derive(Default)]
pub(crate) struct InboundState {
    /// Messages for future epochs.
    future: Vec<Held>,
    /// Commits waiting for their proposals' decisions.
    parked: Vec<Held>,
    /// Members removed by commits this member applied, and when it applied them.
    removed_at: VecDeque<(MemberId, Timestamp)>,
}

impl InboundState {
    /// True when held messages and parked commits together reach `max`.
    pub(crate) fn is_full(&self, max: usize) -> bool {
        self.future.len() + self.parked.len() >= max
    }

    /// Holds a message of a later epoch.
    pub(crate) fn hold(&mut self, held: Held) {
        self.future.push(held);
    }

    /// How many messages are held for later epochs.
    pub(crate) fn held_count(&self) -> usize {
        self.future.len()
    }

    /// When the oldest message held for a later epoch arrived.
    pub(crate) fn oldest_held(&self) -> Option<Timestamp> {
        self.future.iter().map(|h| h.since).min()
    }

    /// True if a message is held for an epoch after `epoch`.
    pub(crate) fn holds_after(&self, epoch: Epoch) -> bool {
        self.future.iter().any(|h| h.epoch > epoch)
    }

    /// Takes the held messages of `epoch` and earlier (their time came).
    pub(crate) fn take_due(&mut self, epoch: Epoch) -> Vec<Held> {
        let (due, later): (Vec<_>, Vec<_>) = self.future.drain(..).partition(|h| h.epoch <= epoch);
        self.future = later;
        due
    }

    /// Takes every held message.
    pub(crate) fn take_held(&mut self) -> Vec<Held> {
        std::mem::take(&mut self.future)
    }

    /// Drops the held messages whose branch tag is one of `foreign` (another branch's).
    pub(crate) fn drop_branches(&mut self, foreign: &BTreeSet<Vec<u8>>) {
        self.future.retain(|h| {
            Envelope::decode_checked(&h.payload).is_ok_and(|(e, _)| !foreign.contains(&e.branch))
        });
    }

    /// Parks a commit until its proposals are decided.
    pub(crate) fn park(&mut self, held: Held) {
        self.parked.push(held);
    }

    /// The parked commits, oldest first.
    pub(crate) fn parked(&self) -> impl Iterator<Item = &Held> {
        self.parked.iter()
    }

    /// True if a commit of `epoch` is parked.
    pub(crate) fn is_parked_in(&self, epoch: Epoch) -> bool {
        self.parked.iter().any(|h| h.epoch == epoch)
    }

    /// Makes room for another parked commit of `author` for `epoch`: when it has `cap`
    /// already, the oldest of them is dropped (returns true).
    pub(crate) fn make_room(&mut self, author: MemberId, epoch: Epoch, cap: usize) -> bool {
        let mine = |h: &Held| h.epoch == epoch && h.author == Some(author);
        if self.parked.iter().filter(|h| mine(h)).count() < cap {
            return false;
        }
        match self.parked.iter().position(mine) {
            Some(oldest) => {
                self.parked.remove(oldest);
                true
            }
            None => false,
        }
    }

    /// Takes the parked commits that arrived `grace_ms` or longer before `now`.
    pub(crate) fn take_expired(&mut self, now: Timestamp, grace_ms: u64) -> Vec<Held> {
        let (expired, kept): (Vec<_>, Vec<_>) = self
            .parked
            .drain(..)
            .partition(|h| h.since.plus_ms(grace_ms) <= now);
        self.parked = kept;
        expired
    }

    /// Takes the parked commits for which every proposal waited for is `decided`.
    pub(crate) fn take_ready(&mut self, decided: impl Fn(&ProposalId) -> bool) -> Vec<Held> {
        let (ready, waiting): (Vec<_>, Vec<_>) = self
            .parked
            .drain(..)
            .partition(|held| held.waiting.iter().all(&decided));
        self.parked = waiting;
        ready
    }

    /// Drops the parked commits of epochs before `epoch` (moot: their epoch ended).
    pub(crate) fn drop_parked_before(&mut self, epoch: Epoch) {
        self.parked.retain(|h| h.epoch >= epoch);
    }

    /// Notes members a commit applied at `now` removed.
    pub(crate) fn note_removed(&mut self, members: &[MemberId], now: Timestamp) {
        for member in members {
            self.removed_at.push_back((*member, now));
        }
        while self.removed_at.len() > REMOVED_REMEMBERED {
            self.removed_at.pop_front();
        }
    }

    /// True if `member` was removed by a commit applied within `patience_ms` before `now`.
    pub(crate) fn removed_within(
        &self,
        member: &MemberId,
        now: Timestamp,
        patience_ms: u64,
    ) -> bool {
        self.removed_at
            .iter()
            .rev()
            .find(|(m, _)| m == member)
            .is_some_and(|(_, at)| at.plus_ms(patience_ms) > now)
    }
}
