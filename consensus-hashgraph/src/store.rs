//! Durable state: the [`Store`] trait the engine writes through, and [`MemoryStore`].
//!
//! This module owns what must survive a restart and the semantics a store must keep. It does not
//! validate anything: the engine writes only proposals it accepted, votes whose signatures it
//! verified (or that it cast itself) and final decisions, and trusts them when restoring.

use std::collections::BTreeMap;

use crate::canonical::ProposalDigest;
use crate::event::Decision;
use crate::wire::{Proposal, Vote};

/// A store operation failed (I/O, corruption, full disk...).
#[derive(Debug, thiserror::Error)]
#[error("store operation `{operation}` failed: {source}")]
pub struct StoreError {
    /// The [`Store`] method that failed.
    pub operation: &'static str,
    /// The underlying error.
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

impl StoreError {
    /// Wraps an implementation's error.
    pub fn new(
        operation: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        StoreError {
            operation,
            source: source.into(),
        }
    }
}

/// A proposal as persisted: its header and the voter set it is bound to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredProposal {
    /// The proposal digest (recomputable from `header`, stored as the key).
    pub digest: ProposalDigest,
    /// The proposal with `votes` empty and `round` 0.
    pub header: Proposal,
    /// [`crate::VoterSet::fingerprint`] of the bound voter set.
    pub voter_set: [u8; 32],
}

/// Persistence for the consensus engine.
///
/// # Note for implementers
///
/// * **What must be durable** before a write call returns `Ok`: proposals, votes and decisions.
///   The engine stores its *own* vote before handing it to the caller; losing it could make a
///   restarted member vote again with the other value, i.e. equivocate. Replay marks should be
///   durable too (losing them only weakens replay protection after a restart).
/// * `save_votes` **appends** in the given order; `load_votes` returns all votes of a proposal in
///   the order they were appended. The engine may append a vote that is already stored after a
///   crash; keep both or deduplicate by `vote_hash`, either is fine.
/// * `load_*` returning `Ok(None)` (or an empty list) means **absent**; `Err` means the store
///   could not answer (I/O failure) and must never be used to signal absence.
/// * `remove_proposal` deletes the proposal, its votes and its decision; removing something
///   absent is `Ok`.
/// * The engine calls a store from one thread at a time and never holds references across calls.
pub trait Store {
    /// Persists a newly accepted proposal.
    fn save_proposal(&mut self, proposal: &StoredProposal) -> Result<(), StoreError>;
    /// Appends verified votes of a stored proposal.
    fn save_votes(&mut self, digest: &ProposalDigest, votes: &[Vote]) -> Result<(), StoreError>;
    /// Persists the final decision of a stored proposal (written once).
    fn save_decision(
        &mut self,
        digest: &ProposalDigest,
        decision: &Decision,
    ) -> Result<(), StoreError>;
    /// Deletes a proposal with its votes and decision.
    fn remove_proposal(&mut self, digest: &ProposalDigest) -> Result<(), StoreError>;
    /// Records that `digest` must be refused as a replay until `until` (ms since the Unix epoch).
    fn save_replay_mark(&mut self, digest: &ProposalDigest, until: u64) -> Result<(), StoreError>;
    /// Deletes a replay mark (absent is `Ok`).
    fn remove_replay_mark(&mut self, digest: &ProposalDigest) -> Result<(), StoreError>;

    /// Digests of every stored proposal.
    fn list_proposals(&self) -> Result<Vec<ProposalDigest>, StoreError>;
    /// One stored proposal; `Ok(None)` if absent.
    fn load_proposal(&self, digest: &ProposalDigest) -> Result<Option<StoredProposal>, StoreError>;
    /// All votes stored for a proposal, in append order (empty if none).
    fn load_votes(&self, digest: &ProposalDigest) -> Result<Vec<Vote>, StoreError>;
    /// The decision of a proposal; `Ok(None)` if undecided or absent.
    fn load_decision(&self, digest: &ProposalDigest) -> Result<Option<Decision>, StoreError>;
    /// Every replay mark as `(digest, until)`.
    fn load_replay_marks(&self) -> Result<Vec<(ProposalDigest, u64)>, StoreError>;
}

#[derive(Clone, Debug, Default)]
struct Entry {
    proposal: Option<StoredProposal>,
    votes: Vec<Vote>,
    decision: Option<Decision>,
}

/// An in-memory [`Store`] (nothing survives the process; useful for tests and for callers that
/// persist elsewhere). Cloning copies the whole content, which tests use to simulate a restart.
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    entries: BTreeMap<ProposalDigest, Entry>,
    replay_marks: BTreeMap<ProposalDigest, u64>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Store for MemoryStore {
    fn save_proposal(&mut self, proposal: &StoredProposal) -> Result<(), StoreError> {
        self.entries.entry(proposal.digest).or_default().proposal = Some(proposal.clone());
        Ok(())
    }

    fn save_votes(&mut self, digest: &ProposalDigest, votes: &[Vote]) -> Result<(), StoreError> {
        self.entries
            .entry(*digest)
            .or_default()
            .votes
            .extend_from_slice(votes);
        Ok(())
    }

    fn save_decision(
        &mut self,
        digest: &ProposalDigest,
        decision: &Decision,
    ) -> Result<(), StoreError> {
        self.entries.entry(*digest).or_default().decision = Some(*decision);
        Ok(())
    }

    fn remove_proposal(&mut self, digest: &ProposalDigest) -> Result<(), StoreError> {
        self.entries.remove(digest);
        Ok(())
    }

    fn save_replay_mark(&mut self, digest: &ProposalDigest, until: u64) -> Result<(), StoreError> {
        self.replay_marks.insert(*digest, until);
        Ok(())
    }

    fn remove_replay_mark(&mut self, digest: &ProposalDigest) -> Result<(), StoreError> {
        self.replay_marks.remove(digest);
        Ok(())
    }

    fn list_proposals(&self) -> Result<Vec<ProposalDigest>, StoreError> {
        Ok(self
            .entries
            .iter()
            .filter(|(_, e)| e.proposal.is_some())
            .map(|(d, _)| *d)
            .collect())
    }

    fn load_proposal(&self, digest: &ProposalDigest) -> Result<Option<StoredProposal>, StoreError> {
        Ok(self.entries.get(digest).and_then(|e| e.proposal.clone()))
    }

    fn load_votes(&self, digest: &ProposalDigest) -> Result<Vec<Vote>, StoreError> {
        Ok(self
            .entries
            .get(digest)
            .map(|e| e.votes.clone())
            .unwrap_or_default())
    }

    fn load_decision(&self, digest: &ProposalDigest) -> Result<Option<Decision>, StoreError> {
        Ok(self.entries.get(digest).and_then(|e| e.decision))
    }

    fn load_replay_marks(&self) -> Result<Vec<(ProposalDigest, u64)>, StoreError> {
        Ok(self.replay_marks.iter().map(|(d, u)| (*d, *u)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Outcome;

    #[test]
    fn absent_things_load_as_none_or_empty() {
        let s = MemoryStore::new();
        let d = ProposalDigest([1; 32]);
        assert!(s.load_proposal(&d).ok().flatten().is_none());
        assert!(s.load_decision(&d).ok().flatten().is_none());
        assert!(s.load_votes(&d).map(|v| v.is_empty()).unwrap_or(false));
        assert!(s.list_proposals().map(|l| l.is_empty()).unwrap_or(false));
    }

    #[test]
    fn remove_deletes_votes_and_decision_too() -> Result<(), StoreError> {
        let mut s = MemoryStore::new();
        let d = ProposalDigest([2; 32]);
        s.save_proposal(&StoredProposal {
            digest: d,
            header: Proposal::default(),
            voter_set: [0; 32],
        })?;
        s.save_votes(&d, &[Vote::default()])?;
        let decision = Decision {
            outcome: Outcome::Yes,
            yes: 1,
            no: 0,
            silent: 0,
            at: 5,
        };
        s.save_decision(&d, &decision)?;
        assert_eq!(s.load_decision(&d)?, Some(decision));
        s.remove_proposal(&d)?;
        assert!(s.load_proposal(&d)?.is_none());
        assert!(s.load_votes(&d)?.is_empty());
        assert!(s.load_decision(&d)?.is_none());
        Ok(())
    }
}
