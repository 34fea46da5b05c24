//! The verification queue: votes that passed every cheap check and wait for their signature to be
//! verified in a batch.
//!
//! This module owns the queue and the batch verification of its content (across proposals). It
//! does not apply verdicts; the engine does, in queue order, so that the result is the same as if
//! each vote had been verified on arrival.

use std::collections::HashMap;

use crate::canonical::{HASH_LEN, ProposalDigest};
use crate::scheme::{BatchItem, SignatureScheme};
use crate::state::ProposalState;
use crate::voters::VoterIndex;
use crate::wire::Vote;

/// A vote waiting for signature verification.
pub(crate) struct PendingVote {
    pub(crate) digest: ProposalDigest,
    pub(crate) voter: VoterIndex,
    pub(crate) hash: [u8; HASH_LEN],
    pub(crate) vote: Vote,
}

/// FIFO of votes awaiting verification.
#[derive(Default)]
pub(crate) struct PendingQueue {
    items: Vec<PendingVote>,
    /// Arrival time of the oldest queued vote.
    oldest: Option<u64>,
}

impl PendingQueue {
    pub(crate) fn push(&mut self, item: PendingVote, now: u64) {
        if self.items.is_empty() {
            self.oldest = Some(now);
        }
        self.items.push(item);
    }

    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub(crate) fn oldest(&self) -> Option<u64> {
        self.oldest
    }

    /// Takes every queued vote (the queue becomes empty).
    pub(crate) fn take(&mut self) -> Vec<PendingVote> {
        self.oldest = None;
        std::mem::take(&mut self.items)
    }

    /// Puts back votes taken by [`PendingQueue::take`] (ahead of anything queued since).
    pub(crate) fn put_back(&mut self, mut items: Vec<PendingVote>, oldest: u64) {
        items.append(&mut self.items);
        self.items = items;
        self.oldest = Some(self.oldest.map_or(oldest, |o| o.min(oldest)));
    }

    /// Drops the queued votes of one proposal.
    pub(crate) fn remove_digest(&mut self, digest: &ProposalDigest) {
        self.items.retain(|p| &p.digest != digest);
        if self.items.is_empty() {
            self.oldest = None;
        }
    }
}

/// Verifies the signatures of `items` in one batch; returns one verdict per item. Items whose
/// proposal is no longer known are reported invalid (the engine drops them silently).
pub(crate) fn verify_all<V: SignatureScheme>(
    scheme: &V,
    proposals: &HashMap<ProposalDigest, ProposalState<V>>,
    items: &[PendingVote],
) -> Vec<bool> {
    let mut verdicts = vec![false; items.len()];
    let mut batch = Vec::with_capacity(items.len());
    let mut positions = Vec::with_capacity(items.len());
    for (i, p) in items.iter().enumerate() {
        let Some(key) = proposals.get(&p.digest).and_then(|s| s.voters.key(p.voter)) else {
            continue;
        };
        batch.push(BatchItem {
            key,
            message: &p.hash[..],
            signature: &p.vote.signature,
        });
        positions.push(i);
    }
    for &i in &positions {
        verdicts[i] = true;
    }
    for bad in scheme.verify_batch(&batch) {
        if let Some(&i) = positions.get(bad) {
            verdicts[i] = false;
        }
    }
    verdicts
}
