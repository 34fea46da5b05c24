//! The early-vote buffer: votes that arrived before their proposal, bounded per digest and in total.
//!
//! This module owns only holding and releasing such votes. Votes enter it after their cheap
//! self-contained checks (field lengths, `vote_hash`); everything that needs the proposal (window,
//! eligibility, signature) happens when the proposal arrives and the engine takes them back.

use std::collections::{HashMap, HashSet};

use crate::canonical::{HASH_LEN, ProposalDigest};
use crate::error::{BufferScope, Rejection};
use crate::wire::Vote;

#[derive(Debug, Default)]
struct Held {
    votes: Vec<Vote>,
    hashes: HashSet<[u8; HASH_LEN]>,
    /// Latest time at which any held vote could still belong to a live proposal.
    keep_until: u64,
}

/// Outcome of offering a vote to the buffer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Buffered {
    /// Held.
    New,
    /// An identical vote is already held.
    Duplicate,
}

#[derive(Debug)]
pub(crate) struct EarlyVotes {
    held: HashMap<ProposalDigest, Held>,
    total: usize,
    per_proposal: usize,
    max_total: usize,
}

impl EarlyVotes {
    pub(crate) fn new(per_proposal: usize, max_total: usize) -> Self {
        EarlyVotes {
            held: HashMap::new(),
            total: 0,
            per_proposal,
            max_total,
        }
    }

    /// Holds `vote` (whose `vote_hash` is `hash`) for `digest` until `keep_until` at the latest.
    pub(crate) fn push(
        &mut self,
        digest: ProposalDigest,
        hash: [u8; HASH_LEN],
        vote: Vote,
        keep_until: u64,
    ) -> Result<Buffered, Rejection> {
        if self
            .held
            .get(&digest)
            .is_some_and(|h| h.hashes.contains(&hash))
        {
            return Ok(Buffered::Duplicate);
        }
        if self.total >= self.max_total {
            return Err(Rejection::BufferFull(BufferScope::Total));
        }
        let held = self.held.entry(digest).or_default();
        if held.votes.len() >= self.per_proposal {
            return Err(Rejection::BufferFull(BufferScope::Proposal));
        }
        held.hashes.insert(hash);
        held.votes.push(vote);
        held.keep_until = held.keep_until.max(keep_until);
        self.total += 1;
        Ok(Buffered::New)
    }

    /// Releases every vote held for `digest`, in arrival order.
    pub(crate) fn take(&mut self, digest: &ProposalDigest) -> Vec<Vote> {
        match self.held.remove(digest) {
            Some(h) => {
                self.total -= h.votes.len();
                h.votes
            }
            None => Vec::new(),
        }
    }

    /// Drops the votes of digests whose proposals can no longer be live at `now`.
    pub(crate) fn prune(&mut self, now: u64) -> usize {
        let before = self.total;
        let total = &mut self.total;
        self.held.retain(|_, h| {
            let keep = h.keep_until >= now;
            if !keep {
                *total -= h.votes.len();
            }
            keep
        });
        before - self.total
    }

    pub(crate) fn len(&self) -> usize {
        self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vote(i: u8) -> ([u8; 32], Vote) {
        (
            [i; 32],
            Vote {
                vote_hash: vec![i; 32],
                ..Default::default()
            },
        )
    }

    #[test]
    fn bounds_per_digest_and_in_total_are_enforced() {
        let mut b = EarlyVotes::new(2, 3);
        let (d1, d2) = (ProposalDigest([1; 32]), ProposalDigest([2; 32]));
        for i in 0..2 {
            let (h, v) = vote(i);
            assert_eq!(b.push(d1, h, v, 10), Ok(Buffered::New));
        }
        let (h, v) = vote(0);
        assert_eq!(b.push(d1, h, v, 10), Ok(Buffered::Duplicate));
        let (h, v) = vote(9);
        assert_eq!(
            b.push(d1, h, v, 10),
            Err(Rejection::BufferFull(BufferScope::Proposal))
        );
        let (h, v) = vote(3);
        assert_eq!(b.push(d2, h, v, 10), Ok(Buffered::New));
        let (h, v) = vote(4);
        assert_eq!(
            b.push(d2, h, v, 10),
            Err(Rejection::BufferFull(BufferScope::Total))
        );
        assert_eq!(b.take(&d1).len(), 2);
        assert_eq!(b.len(), 1);
        assert_eq!(b.prune(11), 1);
        assert_eq!(b.len(), 0);
    }
}
