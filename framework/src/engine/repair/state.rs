//! The repair state of one group (transient, bounded): what the other repair modules read and
//! write through their methods on [`RepairState`].

use std::collections::{BTreeMap, HashMap, VecDeque};

use crate::engine::catch_up::state::CatchUp;
use crate::engine::params::EngineParams;
use crate::types::{Epoch, ProposalId, Timestamp, Topic};

/// Message ids remembered as known (delivered or sent).
pub(super) const KNOWN: usize = 8_192;

/// A bounded insertion-ordered set.
#[derive(Default)]
pub(super) struct Bounded<K: std::hash::Hash + Eq + Clone> {
    pub(super) set: HashMap<K, Option<Timestamp>>,
    pub(super) order: VecDeque<K>,
}

impl<K: std::hash::Hash + Eq + Clone> Bounded<K> {
    pub(super) fn insert(&mut self, key: K, cap: usize) -> bool {
        if self.set.contains_key(&key) {
            return false;
        }
        self.set.insert(key.clone(), None);
        self.order.push_back(key);
        while self.order.len() > cap {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        true
    }

    pub(super) fn contains(&self, key: &K) -> bool {
        self.set.contains_key(key)
    }
}

/// Per-group repair state (transient, bounded).
#[derive(Default)]
pub(crate) struct RepairState {
    pub(super) seen: Bounded<[u8; 32]>,
    /// When a duplicate of a processed envelope (or a certificate) last arrived: someone
    /// answered.
    pub(super) duplicate_at: HashMap<[u8; 32], Timestamp>,
    pub(super) known: Bounded<Vec<u8>>,
    pub(super) recent: VecDeque<Vec<u8>>,
    /// Application message envelopes by message id, with the epoch they were sent in.
    pub(super) log: BTreeMap<Vec<u8>, (Epoch, Vec<u8>)>,
    /// This member's own recent messages (id, payload, epoch first sent in), to send again
    /// to members that could not read them (after a rejoin or a fork).
    pub(super) outbox: VecDeque<(Vec<u8>, Vec<u8>, Epoch)>,
    pub(super) log_order: VecDeque<Vec<u8>>,
    pub(super) missing: BTreeMap<Vec<u8>, Missing>,
    /// Messages of members that are gone (removed since their epoch), held until a current
    /// member vouches for them: by message id.
    pub(super) unvouched: BTreeMap<Vec<u8>, Unvouched>,
    /// This member's own consensus envelopes (proposal and votes) per proposal, with how many
    /// times they were re-sent.
    pub(super) own: BTreeMap<ProposalId, (Vec<Vec<u8>>, u8)>,
    pub(super) answers: Vec<Answer>,
    pub(super) next_status: Option<Timestamp>,
    pub(super) next_resend: Option<Timestamp>,
    /// Whether this member is behind, and its catch-up requests.
    pub(crate) catch_up: CatchUp,
    /// When a proposal was last asked for (by this member or another one).
    pub(super) proposals_requested: BTreeMap<ProposalId, Timestamp>,
    /// Proposals known only from votes for them: since when, and how often asked for.
    pub(super) unknown_proposals: BTreeMap<ProposalId, (Timestamp, u32)>,
    /// Open proposals: when their last consensus message arrived, and how many votes did.
    pub(super) activity: BTreeMap<ProposalId, (Timestamp, u32)>,
    /// Set after a restart: the next tick announces this member's epoch unconditionally.
    pub(super) announce: bool,
    /// Set after a restart that found own messages of the current epoch in the history: the
    /// next tick sends them again (their publications may have died with the process).
    pub(super) resend_after_restart: bool,
}

/// A message named by someone else and not delivered here.
pub(super) struct Missing {
    pub(super) noticed: Timestamp,
    pub(super) requested: Option<Timestamp>,
    pub(super) attempts: u32,
}

impl Missing {
    /// When it is (next) asked for.
    pub(super) fn due(&self, params: &EngineParams) -> Timestamp {
        match self.requested {
            Some(t) => t.plus_ms(params.repair_retry_ms),
            None => self.noticed.plus_ms(params.repair_delay_ms),
        }
    }
}

/// A message of a member that is gone, held until a current member vouches for it.
pub(super) struct Unvouched {
    pub(super) topic: Topic,
    pub(super) raw: Vec<u8>,
    /// When it was last asked for a vouch, and how often.
    pub(super) asked: Option<Timestamp>,
    pub(super) attempts: u32,
}

impl Unvouched {
    /// When it is (next) asked for a vouch: at once, then each `repair_retry_ms`.
    pub(super) fn due(&self, params: &EngineParams) -> Timestamp {
        self.asked
            .map_or(Timestamp(0), |t| t.plus_ms(params.repair_retry_ms))
    }
}

/// An answer to a repair request, sent at `due` unless someone else answered first: `key` is
/// the digest of the one envelope re-published, or the
/// [`certificate_key`](super::certificate_key) of a certificate.
pub(super) struct Answer {
    pub(super) due: Timestamp,
    pub(super) key: [u8; 32],
    pub(super) topic: Topic,
    pub(super) envelopes: Vec<Vec<u8>>,
    pub(super) scheduled: Timestamp,
}
