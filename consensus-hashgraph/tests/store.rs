//! Persistence: round trip through the store, restore after a restart, failing stores.
#![allow(clippy::unwrap_used)]

mod common;

use std::cell::Cell;
use std::rc::Rc;

use common::*;
use consensus_hashgraph::{
    Config, Consensus, Decision, Error, Event, MemoryStore, Outcome, ProposalDigest, Rejection,
    Store, StoreError, StoredProposal, Vote,
};

/// A store that can be told to fail its next writes of a given kind.
#[derive(Clone, Default)]
struct FlakyStore {
    inner: MemoryStore,
    fail_votes: Rc<Cell<bool>>,
    fail_decisions: Rc<Cell<bool>>,
}

#[derive(Debug, thiserror::Error)]
#[error("disk on fire")]
struct DiskOnFire;

impl Store for FlakyStore {
    fn save_proposal(&mut self, p: &StoredProposal) -> Result<(), StoreError> {
        self.inner.save_proposal(p)
    }
    fn save_votes(&mut self, d: &ProposalDigest, votes: &[Vote]) -> Result<(), StoreError> {
        if self.fail_votes.get() {
            return Err(StoreError::new("save_votes", DiskOnFire));
        }
        self.inner.save_votes(d, votes)
    }
    fn save_decision(&mut self, d: &ProposalDigest, decision: &Decision) -> Result<(), StoreError> {
        if self.fail_decisions.get() {
            return Err(StoreError::new("save_decision", DiskOnFire));
        }
        self.inner.save_decision(d, decision)
    }
    fn remove_proposal(&mut self, d: &ProposalDigest) -> Result<(), StoreError> {
        self.inner.remove_proposal(d)
    }
    fn save_replay_mark(&mut self, d: &ProposalDigest, until: u64) -> Result<(), StoreError> {
        self.inner.save_replay_mark(d, until)
    }
    fn remove_replay_mark(&mut self, d: &ProposalDigest) -> Result<(), StoreError> {
        self.inner.remove_replay_mark(d)
    }
    fn list_proposals(&self) -> Result<Vec<ProposalDigest>, StoreError> {
        self.inner.list_proposals()
    }
    fn load_proposal(&self, d: &ProposalDigest) -> Result<Option<StoredProposal>, StoreError> {
        self.inner.load_proposal(d)
    }
    fn load_votes(&self, d: &ProposalDigest) -> Result<Vec<Vote>, StoreError> {
        self.inner.load_votes(d)
    }
    fn load_decision(&self, d: &ProposalDigest) -> Result<Option<Decision>, StoreError> {
        self.inner.load_decision(d)
    }
    fn load_replay_marks(&self) -> Result<Vec<(ProposalDigest, u64)>, StoreError> {
        self.inner.load_replay_marks()
    }
}

#[test]
fn an_engine_restored_from_its_store_has_the_same_proposals_votes_and_decisions() {
    let g = group(7, Some(true), true);
    let undecided = group(7, None, false);
    let mut e = engine(Config::default());
    e.ingest_proposal(g.proposal.clone(), &g.voters, T0 + 10)
        .unwrap();
    e.ingest_proposal(undecided.proposal.clone(), &undecided.voters, T0 + 10)
        .unwrap();
    for i in 1..6 {
        e.ingest_vote(vote(&g, i, i != 3), T0 + 20).unwrap();
    }
    e.ingest_vote(vote(&undecided, 2, false), T0 + 20).unwrap();
    e.vote(&undecided.digest, true, &undecided.signers[4], T0 + 25)
        .unwrap();
    e.flush(T0 + 30).unwrap();
    assert_eq!(e.outcome(&g.digest), Some(Outcome::Yes));

    let store = e.store().clone();
    let mut r: Consensus = Consensus::restore(
        Config::default(),
        store,
        std::slice::from_ref(&g.voters),
        T0 + 40,
    )
    .unwrap();
    for d in [g.digest, undecided.digest] {
        assert_eq!(r.proposal(&d), e.proposal(&d));
        assert_eq!(r.tally(&d), e.tally(&d));
        assert_eq!(r.votes(&d), e.votes(&d));
        assert_eq!(r.decision(&d), e.decision(&d));
    }
    assert!(r.drain_events().is_empty(), "restoring replays no events");
    // The restored engine keeps working: the undecided proposal expires and fails (2 of q = 5).
    r.tick(T0 + LIFE).unwrap();
    assert_eq!(
        r.outcome(&undecided.digest),
        Some(Outcome::Failed(consensus_hashgraph::FailReason::NoQuorum))
    );
}

#[test]
fn a_restarted_member_cannot_vote_a_second_time() {
    let g = group(5, Some(true), true);
    let mut e = engine(Config::default());
    e.ingest_proposal(g.proposal.clone(), &g.voters, T0 + 10)
        .unwrap();
    e.vote(&g.digest, false, &g.signers[2], T0 + 20).unwrap();
    let mut r: Consensus = Consensus::restore(
        Config::default(),
        e.into_store(),
        std::slice::from_ref(&g.voters),
        T0 + 30,
    )
    .unwrap();
    assert!(matches!(
        r.vote(&g.digest, true, &g.signers[2], T0 + 40),
        Err(Error::AlreadyVoted(_))
    ));
}

#[test]
fn restore_requires_the_voter_set_each_proposal_was_bound_to() {
    let g = group(3, Some(true), true);
    let mut e = engine(Config::default());
    e.ingest_proposal(g.proposal.clone(), &g.voters, T0 + 10)
        .unwrap();
    let unrelated = voter_set(&signers(4));
    let r =
        Consensus::<MemoryStore>::restore(Config::default(), e.into_store(), &[unrelated], T0 + 20);
    assert!(matches!(r, Err(Error::MissingVoterSet { digest, .. }) if digest == g.digest));
}

#[test]
fn replay_protection_survives_a_restart() {
    let g = group(3, Some(true), true);
    let mut e = engine(Config::default());
    e.ingest_proposal(g.proposal.clone(), &g.voters, T0 + 10)
        .unwrap();
    e.forget(&g.digest, T0 + 20).unwrap();
    let mut r: Consensus = Consensus::restore(
        Config::default(),
        e.into_store(),
        std::slice::from_ref(&g.voters),
        T0 + 30,
    )
    .unwrap();
    let again = r.ingest_proposal(g.proposal.clone(), &g.voters, T0 + 40);
    assert!(matches!(again, Err(Error::Rejected(Rejection::Replay(d))) if d == g.digest));
}

#[test]
fn a_failing_vote_write_changes_nothing_in_memory_and_the_votes_are_retried() {
    let g = group(9, Some(true), true);
    let store = FlakyStore::default();
    let fail = store.fail_votes.clone();
    let mut e = Consensus::<FlakyStore>::new(
        Config {
            batch_size: 100,
            ..Config::default()
        },
        store,
    );
    e.ingest_proposal(g.proposal.clone(), &g.voters, T0 + 10)
        .unwrap();
    e.ingest_vote(vote(&g, 1, true), T0 + 20).unwrap();
    e.ingest_vote(vote(&g, 2, false), T0 + 20).unwrap();
    fail.set(true);
    assert!(matches!(e.flush(T0 + 30), Err(Error::Store(_))));
    assert_eq!(e.pending_votes(), 2, "verified votes go back to the queue");
    assert_eq!(e.tally(&g.digest).unwrap().yes, 1);
    fail.set(false);
    assert_eq!(e.flush(T0 + 40).unwrap().accepted, 2);
    let t = e.tally(&g.digest).unwrap();
    assert_eq!((t.yes, t.no), (2, 1));
    assert_eq!(e.store().load_votes(&g.digest).unwrap().len(), 3);
}

#[test]
fn a_decision_lost_in_a_crash_is_recomputed_on_restore() {
    let g = group(3, Some(true), true);
    let store = FlakyStore::default();
    store.fail_decisions.set(true);
    let mut e = Consensus::<FlakyStore>::new(Config::default(), store);
    e.ingest_proposal(g.proposal.clone(), &g.voters, T0 + 10)
        .unwrap();
    // The second YES decides (n = 3, q = 2): its vote is stored, the decision write fails. The
    // engine reports the failure and stays undecided.
    assert!(matches!(
        e.ingest_vote(vote(&g, 1, true), T0 + 20),
        Err(Error::Store(_))
    ));
    assert_eq!(e.outcome(&g.digest), None);
    let crashed = e.store().clone();

    // Without a crash, the next tick retries the decision.
    e.store().fail_decisions.set(false);
    e.tick(T0 + 30).unwrap();
    assert_eq!(e.outcome(&g.digest), Some(Outcome::Yes));

    // After a crash, restoring recomputes it from the stored votes.
    let mut r = Consensus::<FlakyStore>::restore(
        Config::default(),
        crashed,
        std::slice::from_ref(&g.voters),
        T0 + 40,
    )
    .unwrap();
    assert_eq!(r.outcome(&g.digest), Some(Outcome::Yes));
    assert!(matches!(
        r.drain_events().as_slice(),
        [Event::Decided {
            outcome: Outcome::Yes,
            ..
        }]
    ));
    assert!(r.store().load_decision(&g.digest).unwrap().is_some());
}
