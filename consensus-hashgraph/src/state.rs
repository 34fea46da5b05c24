//! Per-proposal state: the bound voter set, one slot per voter, the accepted votes, the tally and
//! the upper bound that includes queued (unverified) votes.
//!
//! This module owns counting: what a verified vote does to the tally (first vote, re-send,
//! equivocation) and when the tally yields a decision. It never verifies signatures, never reads
//! the clock and never touches the store; the engine does those before calling in here.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::canonical::{HASH_LEN, ProposalDigest};
use crate::event::{Decision, EquivocationEvidence};
use crate::rules::{Outcome, Tally, TiePolicy, could_decide_live, decide_at_expiry, decide_live};
use crate::scheme::SignatureScheme;
use crate::voters::{VoterIndex, VoterSet};
use crate::wire::{Proposal, Vote};

const YES: u8 = 1;
const NO: u8 = 2;
const PENDING_YES: u8 = 4;
const PENDING_NO: u8 = 8;
const EQUIVOCATOR: u8 = 16;
const NONE: u32 = u32::MAX;

/// What the engine knows about one voter on one proposal.
#[derive(Clone, Copy, Debug)]
struct Slot {
    flags: u8,
    /// Number of this voter's votes stored (bounded by the per-voter cap).
    stored: u8,
    /// Index (in `votes`) of the first counted vote, `NONE` if none.
    first: u32,
}

impl Default for Slot {
    fn default() -> Self {
        Slot {
            flags: 0,
            stored: 0,
            first: NONE,
        }
    }
}

/// What applying one verified vote did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Applied {
    /// First vote of this voter: counted.
    Counted,
    /// Same value as this voter's earlier vote: stored, counted once.
    Resent,
    /// Opposite value: the voter is now an equivocator and no longer counts.
    Equivocation(Box<EquivocationEvidence>),
    /// The voter is already an equivocator, or has reached the per-voter cap: not stored.
    Ignored,
    /// A vote with this `vote_hash` was already applied.
    Duplicate,
}

/// State of one proposal.
pub(crate) struct ProposalState<V: SignatureScheme> {
    pub(crate) digest: ProposalDigest,
    /// The proposal with `votes` empty and `round` 0.
    pub(crate) header: Proposal,
    pub(crate) voters: Arc<VoterSet<V>>,
    slots: Vec<Slot>,
    /// Accepted (verified or own) votes, in acceptance order.
    votes: Vec<Vote>,
    /// Voter index of each entry of `votes`.
    vote_voter: Vec<VoterIndex>,
    by_hash: HashMap<[u8; HASH_LEN], u32>,
    /// Hashes of this proposal's votes waiting in the verification queue.
    pending: HashSet<[u8; HASH_LEN]>,
    /// Voters with a pending flag set, to clear them after verification.
    pending_voters: Vec<VoterIndex>,
    tally: Tally,
    /// `tally` plus queued votes, as if they were all valid (an upper bound on both counts).
    upper: Tally,
    /// Voters with a counted or queued vote (upper bound on `yes + no`).
    voted_upper: u32,
    /// P2P mode: the vote list this engine forwards (indices into `votes`).
    chain: Vec<u32>,
    /// Most votes stored per voter (re-sends of the same value beyond it are ignored).
    cap: u8,
    pub(crate) decision: Option<Decision>,
}

impl<V: SignatureScheme> ProposalState<V> {
    pub(crate) fn new(
        digest: ProposalDigest,
        mut header: Proposal,
        voters: Arc<VoterSet<V>>,
        cap: usize,
    ) -> Self {
        header.votes.clear();
        header.round = 0;
        let n = voters.count();
        let tally = Tally {
            voters: n,
            ..Tally::default()
        };
        ProposalState {
            digest,
            header,
            slots: vec![Slot::default(); voters.len()],
            voters,
            votes: Vec::new(),
            vote_voter: Vec::new(),
            by_hash: HashMap::new(),
            pending: HashSet::new(),
            pending_voters: Vec::new(),
            tally,
            upper: tally,
            voted_upper: 0,
            chain: Vec::new(),
            cap: u8::try_from(cap.clamp(2, 255)).unwrap_or(u8::MAX),
            decision: None,
        }
    }

    pub(crate) fn tally(&self) -> Tally {
        self.tally
    }

    pub(crate) fn votes(&self) -> &[Vote] {
        &self.votes
    }

    /// True if a vote with this hash was accepted or is queued.
    pub(crate) fn knows_vote(&self, hash: &[u8; HASH_LEN]) -> bool {
        self.by_hash.contains_key(hash) || self.pending.contains(hash)
    }

    /// True if a vote with this hash was accepted.
    pub(crate) fn has_accepted(&self, hash: &[u8; HASH_LEN]) -> bool {
        self.by_hash.contains_key(hash)
    }

    /// The voter who cast the accepted vote with this hash.
    pub(crate) fn owner_of(&self, hash: &[u8]) -> Option<VoterIndex> {
        let h = <[u8; HASH_LEN]>::try_from(hash).ok()?;
        self.by_hash.get(&h).map(|&i| self.vote_voter[i as usize])
    }

    /// True if the voter has a counted vote, a queued vote or was caught equivocating.
    pub(crate) fn has_voted(&self, voter: VoterIndex) -> bool {
        self.slots.get(voter as usize).is_some_and(|s| s.flags != 0)
    }

    /// True if the voter has a queued (unverified) vote.
    pub(crate) fn has_pending(&self, voter: VoterIndex) -> bool {
        self.slots
            .get(voter as usize)
            .is_some_and(|s| s.flags & (PENDING_YES | PENDING_NO) != 0)
    }

    /// True if a vote of `value` by `voter` would still be stored: the voter has not equivocated
    /// and, for a re-send of its value, has fewer than the cap of stored votes. A vote with the
    /// other value is always accepted (it is the evidence of equivocation).
    pub(crate) fn accepts(&self, voter: VoterIndex, value: bool) -> bool {
        let Some(slot) = self.slots.get(voter as usize) else {
            return false;
        };
        let same = if value { YES } else { NO };
        slot.flags & EQUIVOCATOR == 0 && !(slot.flags & same != 0 && slot.stored >= self.cap)
    }

    /// Records a queued vote in the upper bound.
    pub(crate) fn mark_pending(&mut self, voter: VoterIndex, value: bool, hash: [u8; HASH_LEN]) {
        self.pending.insert(hash);
        let Some(slot) = self.slots.get_mut(voter as usize) else {
            return;
        };
        if slot.flags & EQUIVOCATOR != 0 {
            return;
        }
        let (have, pend) = if value {
            (YES | PENDING_YES, PENDING_YES)
        } else {
            (NO | PENDING_NO, PENDING_NO)
        };
        if slot.flags == 0 {
            self.voted_upper += 1;
        }
        if slot.flags & have == 0 {
            if value {
                self.upper.yes += 1;
            } else {
                self.upper.no += 1;
            }
        }
        if slot.flags & (PENDING_YES | PENDING_NO) == 0 {
            self.pending_voters.push(voter);
        }
        slot.flags |= pend;
    }

    /// Forgets every queued vote (after verification resolved them); the upper bound becomes exact.
    pub(crate) fn clear_pending(&mut self) {
        for &v in &self.pending_voters {
            if let Some(slot) = self.slots.get_mut(v as usize) {
                slot.flags &= !(PENDING_YES | PENDING_NO);
            }
        }
        self.pending_voters.clear();
        self.pending.clear();
        self.upper = self.tally;
        self.voted_upper = self.tally.yes + self.tally.no;
    }

    /// True if the queued votes, if all valid, could produce a live decision.
    pub(crate) fn pending_could_decide(&self) -> bool {
        self.decision.is_none()
            && !self.pending.is_empty()
            && could_decide_live(&self.upper, self.voted_upper)
    }

    /// Applies a vote whose signature is verified (or that this engine signed).
    pub(crate) fn apply(&mut self, voter: VoterIndex, hash: [u8; HASH_LEN], vote: Vote) -> Applied {
        if self.by_hash.contains_key(&hash) {
            return Applied::Duplicate;
        }
        let Some(slot) = self.slots.get(voter as usize).copied() else {
            return Applied::Ignored;
        };
        let value = vote.vote;
        if !self.accepts(voter, value) {
            return Applied::Ignored;
        }
        // At most `cap` votes per voter are stored, so this stays far below u32::MAX.
        let index = self.votes.len() as u32;
        self.votes.push(vote);
        self.vote_voter.push(voter);
        self.by_hash.insert(hash, index);
        let (same, other) = if value { (YES, NO) } else { (NO, YES) };
        let slot_mut = &mut self.slots[voter as usize];
        slot_mut.stored = slot_mut.stored.saturating_add(1);
        if slot.flags & same != 0 {
            return Applied::Resent;
        }
        if slot.flags & other != 0 {
            slot_mut.flags = (slot_mut.flags | EQUIVOCATOR) & !(YES | NO);
            if value {
                self.tally.no -= 1;
            } else {
                self.tally.yes -= 1;
            }
            self.tally.equivocators += 1;
            let evidence = EquivocationEvidence {
                digest: self.digest,
                first: self.votes[slot.first as usize].clone(),
                second: self.votes[index as usize].clone(),
            };
            self.refresh_upper_after_change();
            return Applied::Equivocation(Box::new(evidence));
        }
        slot_mut.flags |= same;
        slot_mut.first = index;
        if value {
            self.tally.yes += 1;
        } else {
            self.tally.no += 1;
        }
        if self.pending.is_empty() {
            self.upper = self.tally;
            self.voted_upper = self.tally.yes + self.tally.no;
        } else {
            // Keep the bound above the tally when the vote was not already queued.
            let pending_same = if value { PENDING_YES } else { PENDING_NO };
            if slot.flags & pending_same == 0 {
                if value {
                    self.upper.yes += 1;
                } else {
                    self.upper.no += 1;
                }
            }
            if slot.flags == 0 {
                self.voted_upper += 1;
            }
        }
        Applied::Counted
    }

    /// Keeps the upper bound an upper bound when a count went down (equivocation) while votes are
    /// queued: the bound may stay loose, which only makes verification happen earlier.
    fn refresh_upper_after_change(&mut self) {
        if self.pending.is_empty() {
            self.upper = self.tally;
            self.voted_upper = self.tally.yes + self.tally.no;
        } else {
            self.upper.equivocators = self.tally.equivocators;
        }
    }

    /// Decides now if the live rule allows; returns the new decision.
    pub(crate) fn try_decide_live(&mut self, policy: TiePolicy, now: u64) -> Option<Decision> {
        if self.decision.is_some() {
            return None;
        }
        let outcome = decide_live(&self.tally, policy)?;
        Some(self.decision_with(outcome, now))
    }

    /// The decision at expiration (callers check the time).
    pub(crate) fn expiry_decision(&self, policy: TiePolicy, now: u64) -> Decision {
        let outcome = decide_at_expiry(&self.tally, self.header.liveness_criteria_yes, policy);
        self.decision_with(outcome, now)
    }

    fn decision_with(&self, outcome: Outcome, at: u64) -> Decision {
        Decision {
            outcome,
            yes: self.tally.yes,
            no: self.tally.no,
            silent: self.tally.silent(),
            at,
        }
    }

    /// Makes `list` (indices into accepted votes, by hash) the forwarded chain if it is longer.
    pub(crate) fn offer_chain(&mut self, hashes: &[[u8; HASH_LEN]]) {
        if hashes.len() <= self.chain.len() {
            return;
        }
        let indices: Option<Vec<u32>> = hashes
            .iter()
            .map(|h| self.by_hash.get(h).copied())
            .collect();
        if let Some(indices) = indices {
            self.chain = indices;
        }
    }

    /// The forwarded chain's votes.
    pub(crate) fn chain_votes(&self) -> impl Iterator<Item = &Vote> {
        self.chain.iter().map(|&i| &self.votes[i as usize])
    }

    pub(crate) fn chain_len(&self) -> usize {
        self.chain.len()
    }

    /// The proposal owner's first accepted vote, if any.
    pub(crate) fn owner_vote(&self) -> Option<&Vote> {
        let owner = self.voters.index_of(&self.header.proposal_owner)?;
        let first = self.slots.get(owner as usize)?.first;
        if first != NONE {
            return self.votes.get(first as usize);
        }
        // The owner equivocated or never voted: fall back to any accepted vote of the owner.
        self.vote_voter
            .iter()
            .position(|&v| v == owner)
            .and_then(|i| self.votes.get(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ed25519::Ed25519;
    use crate::{Ed25519Signer, Signer};

    fn state(n: u8) -> ProposalState<Ed25519> {
        let keys: Vec<Vec<u8>> = (1..=n)
            .map(|i| {
                Ed25519Signer::from_seed([i; 32])
                    .expect("seed")
                    .public_key()
                    .to_vec()
            })
            .collect();
        let voters = Arc::new(VoterSet::new(keys).expect("voters"));
        ProposalState::new(ProposalDigest([0; 32]), Proposal::default(), voters, 3)
    }

    fn v(value: bool, tag: u8) -> ([u8; 32], Vote) {
        (
            [tag; 32],
            Vote {
                vote: value,
                vote_hash: vec![tag; 32],
                ..Default::default()
            },
        )
    }

    #[test]
    fn first_vote_counts_and_a_resend_counts_once() {
        let mut s = state(4);
        let (h, vote) = v(true, 1);
        assert_eq!(s.apply(0, h, vote.clone()), Applied::Counted);
        assert_eq!(s.apply(0, h, vote), Applied::Duplicate);
        let (h2, again) = v(true, 2);
        assert_eq!(s.apply(0, h2, again), Applied::Resent);
        assert_eq!((s.tally().yes, s.tally().no), (1, 0));
    }

    #[test]
    fn opposite_votes_remove_the_voter_from_the_counts() {
        let mut s = state(4);
        let (h, yes) = v(true, 1);
        s.apply(2, h, yes);
        let (h2, no) = v(false, 2);
        assert!(matches!(s.apply(2, h2, no), Applied::Equivocation(_)));
        let t = s.tally();
        assert_eq!((t.yes, t.no, t.equivocators, t.silent()), (0, 0, 1, 4));
        let (h3, yes_again) = v(true, 3);
        assert!(!s.accepts(2, true));
        assert_eq!(s.apply(2, h3, yes_again), Applied::Ignored);
        assert_eq!(s.tally().yes, 0);
        assert_eq!(
            s.votes().len(),
            2,
            "only the two conflicting votes are kept"
        );
    }

    #[test]
    fn re_sends_beyond_the_cap_are_not_stored_but_a_conflicting_vote_still_is() {
        let mut s = state(4);
        for tag in 1..=3 {
            let (h, vote) = v(true, tag);
            assert_ne!(s.apply(1, h, vote), Applied::Ignored);
        }
        assert!(!s.accepts(1, true));
        assert!(s.accepts(1, false));
        let (h, extra) = v(true, 9);
        assert_eq!(s.apply(1, h, extra), Applied::Ignored);
        let (h, no) = v(false, 10);
        assert!(matches!(s.apply(1, h, no), Applied::Equivocation(_)));
        assert_eq!(s.votes().len(), 4);
    }

    #[test]
    fn pending_votes_raise_the_upper_bound_until_cleared() {
        let mut s = state(3);
        s.mark_pending(0, true, [1; 32]);
        assert!(!s.pending_could_decide());
        s.mark_pending(1, true, [2; 32]);
        assert!(s.pending_could_decide());
        s.clear_pending();
        assert!(!s.pending_could_decide());
        assert_eq!(s.tally().yes, 0);
    }
}
