//! Replay protection for forgotten proposals: a bounded record of recently finished digests.
//!
//! This module owns the record (digest → time until which it is refused) and its eviction order.
//! It does not decide when a proposal is forgotten (the engine does) and does not persist anything
//! (the engine mirrors changes into the store).

use std::collections::{BTreeSet, HashMap};

use crate::canonical::ProposalDigest;

/// Bounded set of digests refused as replays until a given time.
#[derive(Debug, Default)]
pub(crate) struct ReplayGuard {
    until: HashMap<ProposalDigest, u64>,
    /// `(until, digest)`, to evict the entry whose protection ends first.
    order: BTreeSet<(u64, ProposalDigest)>,
    capacity: usize,
}

impl ReplayGuard {
    pub(crate) fn new(capacity: usize) -> Self {
        ReplayGuard {
            capacity: capacity.max(1),
            ..Default::default()
        }
    }

    /// True if `digest` must be refused at time `now`.
    pub(crate) fn is_replay(&self, digest: &ProposalDigest, now: u64) -> bool {
        self.until.get(digest).is_some_and(|&until| now <= until)
    }

    /// Records `digest` until `until`. Returns the digests evicted to stay within capacity.
    pub(crate) fn insert(&mut self, digest: ProposalDigest, until: u64) -> Vec<ProposalDigest> {
        if let Some(old) = self.until.insert(digest, until) {
            self.order.remove(&(old, digest));
        }
        self.order.insert((until, digest));
        let mut evicted = Vec::new();
        while self.until.len() > self.capacity {
            let Some(first) = self.order.pop_first() else {
                break;
            };
            self.until.remove(&first.1);
            evicted.push(first.1);
        }
        evicted
    }

    /// Drops entries whose protection ended before `now`; returns them.
    pub(crate) fn prune(&mut self, now: u64) -> Vec<ProposalDigest> {
        let mut dropped = Vec::new();
        while let Some(&(until, digest)) = self.order.first() {
            if until >= now {
                break;
            }
            self.order.pop_first();
            self.until.remove(&digest);
            dropped.push(digest);
        }
        dropped
    }

    pub(crate) fn len(&self) -> usize {
        self.until.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(i: u8) -> ProposalDigest {
        ProposalDigest([i; 32])
    }

    #[test]
    fn entries_are_refused_until_their_time_then_pruned() {
        let mut g = ReplayGuard::new(10);
        g.insert(d(1), 100);
        assert!(g.is_replay(&d(1), 100));
        assert!(!g.is_replay(&d(1), 101));
        assert!(!g.is_replay(&d(2), 50));
        assert_eq!(g.prune(101), vec![d(1)]);
        assert_eq!(g.len(), 0);
    }

    #[test]
    fn capacity_evicts_the_entry_that_ends_first() {
        let mut g = ReplayGuard::new(2);
        g.insert(d(1), 300);
        g.insert(d(2), 100);
        assert_eq!(g.insert(d(3), 200), vec![d(2)]);
        assert!(g.is_replay(&d(1), 0) && g.is_replay(&d(3), 0));
    }
}
