//! The message log: application message envelopes kept to answer repair requests, the causal
//! history carried in chat messages, and the messages this member learned it is missing (named
//! by someone else's history or beacon) and asks for.

use super::state::{KNOWN, Missing};
use super::{ATTEMPTS, HISTORY, Repair, RepairState, STATUS_RECENT, vouch};
use crate::engine::params::EngineParams;
use crate::types::{Epoch, Timestamp, Topic};

/// Missing message ids tracked at once.
const MISSING: usize = 512;
/// Message ids one repair request names at most.
pub(super) const REQUEST_MESSAGES: usize = 64;

impl RepairState {
    /// The logged application message envelopes with their epochs.
    pub(crate) fn logged(&self) -> impl Iterator<Item = (Epoch, &[u8])> {
        self.log.values().map(|(e, bytes)| (*e, bytes.as_slice()))
    }

    /// The causal history to put in the next chat message.
    pub(crate) fn history(&self) -> Vec<Vec<u8>> {
        self.recent.iter().rev().take(HISTORY).cloned().collect()
    }

    /// Records an application message of `epoch` this member sent or received, with its
    /// envelope.
    pub(crate) fn note_message(&mut self, id: &[u8], epoch: Epoch, envelope: &[u8], cap: usize) {
        self.missing.remove(id);
        if !self.known.insert(id.to_vec(), KNOWN) {
            return;
        }
        self.recent.push_back(id.to_vec());
        while self.recent.len() > STATUS_RECENT {
            self.recent.pop_front();
        }
        self.log.insert(id.to_vec(), (epoch, envelope.to_vec()));
        self.log_order.push_back(id.to_vec());
        while self.log_order.len() > cap.max(1) {
            if let Some(old) = self.log_order.pop_front() {
                self.log.remove(&old);
            }
        }
    }

    /// Makes `ids` (messages this member holds) its latest ones, in order, so that its next
    /// chat message's causal history and its status beacons name them.
    pub(crate) fn note_recent(&mut self, ids: &[Vec<u8>]) {
        for id in ids.iter().skip(ids.len().saturating_sub(STATUS_RECENT)) {
            self.recent.retain(|r| r != id);
            self.recent.push_back(id.clone());
        }
        while self.recent.len() > STATUS_RECENT {
            self.recent.pop_front();
        }
    }

    /// A copy of message `id`, delivered here before, arrived in `epoch`: it is not missing.
    /// A re-send (`resent`) of a later epoch than the logged envelope replaces it, so that an
    /// answer to a repair request from a member that could not read the original (a rejoiner)
    /// is one it can read, whoever answers.
    pub(crate) fn note_copy(&mut self, id: &[u8], epoch: Epoch, envelope: &[u8], resent: bool) {
        self.missing.remove(id);
        self.known.insert(id.to_vec(), KNOWN);
        if let Some(entry) = self.log.get_mut(id)
            && resent
            && entry.0 < epoch
        {
            *entry = (epoch, envelope.to_vec());
        }
    }

    /// Replaces the logged envelope of message `id` by a re-send of it in `epoch` (the copy
    /// members that could not read the original can read), or logs it if it had aged out.
    pub(crate) fn replace_logged(&mut self, id: &[u8], epoch: Epoch, envelope: &[u8], cap: usize) {
        match self.log.get_mut(id) {
            Some(entry) => *entry = (epoch, envelope.to_vec()),
            None => {
                self.known.set.remove(id);
                self.note_message(id, epoch, envelope, cap);
            }
        }
    }

    /// Whether the application message `id` is missing here: referenced by a message or
    /// beacon this member received, and not delivered yet.
    pub(crate) fn is_missing(&self, id: &[u8]) -> bool {
        self.missing.contains_key(id)
    }

    /// Whether the application message `id` was delivered or sent here (within memory).
    pub(crate) fn knows_message(&self, id: &[u8]) -> bool {
        self.known.contains(&id.to_vec())
    }

    /// Notes ids someone else has seen; the unknown ones are missing here.
    /// Returns the held messages of gone members this vouches for, to be processed again (a
    /// reference in a chat message's history or a status beacon is a current member's vouch).
    pub(crate) fn note_references(
        &mut self,
        ids: &[Vec<u8>],
        now: Timestamp,
    ) -> Vec<(Topic, Vec<u8>)> {
        let mut released = Vec::new();
        for id in ids {
            if id.len() != 16 {
                continue;
            }
            // Someone vouched: a vouch this member has scheduled for it is not needed (hashed
            // only while answers are pending, which is rare).
            if self.has_answers() {
                let key = vouch::vouch_key(id);
                if self.is_scheduled(&key) {
                    self.note_answered(key, now);
                }
            }
            if self.known.contains(id) {
                continue;
            }
            let held = self.unvouched.remove(id);
            // A released message must find itself missing when it is processed again.
            if held.is_some() || self.missing.len() < MISSING {
                self.missing.entry(id.clone()).or_insert(Missing {
                    noticed: now,
                    requested: None,
                    attempts: 0,
                });
            }
            if let Some(held) = held {
                released.push((held.topic, held.raw));
            }
        }
        released
    }

    /// Puts the missing messages that are due into `request` (each asked for a bounded number
    /// of times).
    pub(super) fn request_missing(
        &mut self,
        request: &mut Repair,
        now: Timestamp,
        params: &EngineParams,
    ) {
        for (id, m) in self.missing.iter_mut() {
            if m.due(params) <= now && request.messages.len() < REQUEST_MESSAGES {
                m.requested = Some(now);
                m.attempts += 1;
                request.messages.push(id.clone());
            }
        }
        self.missing.retain(|_, m| m.attempts <= ATTEMPTS);
    }
}
