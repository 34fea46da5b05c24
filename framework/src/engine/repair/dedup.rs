//! Duplicate suppression: the digests of envelopes already processed here, and when a copy of
//! one (or an answer under some key) last arrived, which tells a member that someone else
//! already answered a request it was about to answer.

use super::{RepairState, digest};
use crate::types::Timestamp;

/// Digests of processed envelopes remembered for duplicate suppression.
pub(super) const SEEN: usize = 8_192;

impl RepairState {
    /// True (and remembered) if this exact envelope was processed before.
    pub(crate) fn is_duplicate(&mut self, payload: &[u8], now: Timestamp) -> bool {
        let d = digest(payload);
        if self.seen.contains(&d) {
            self.duplicate_at.insert(d, now);
            if self.duplicate_at.len() > SEEN {
                self.duplicate_at.clear();
            }
            return true;
        }
        false
    }

    /// Notes that someone answered under `key` (a certificate was sent).
    pub(crate) fn note_answered(&mut self, key: [u8; 32], now: Timestamp) {
        self.duplicate_at.insert(key, now);
        if self.duplicate_at.len() > SEEN {
            self.duplicate_at.clear();
            self.duplicate_at.insert(key, now);
        }
    }

    /// Whether something under `key` was published (by anyone) within `window` ms before now.
    pub(crate) fn answered_within(&self, key: &[u8; 32], now: Timestamp, window: u64) -> bool {
        self.duplicate_at
            .get(key)
            .is_some_and(|&t| t.plus_ms(window) > now)
    }

    /// Remembers an envelope as processed.
    pub(crate) fn mark_seen(&mut self, payload: &[u8]) {
        self.seen.insert(digest(payload), SEEN);
    }

    /// Forgets that an envelope was processed (it is held to be processed again).
    pub(crate) fn unmark_seen(&mut self, payload: &[u8]) {
        self.seen.set.remove(&digest(payload));
    }
}
