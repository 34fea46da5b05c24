//! The consensus crate's [`Store`] as key-value records that the demls engine persists in the
//! same transaction as the step that produced them.
//!
//! The store keeps the current records in the crate's own [`MemoryStore`] (the crate reads
//! them back only when restoring) and a log of changes that [`RecordStore::take_changes`] hands to the engine.
//! Record layout (keys are relative to the group's consensus prefix):
//!
//! | key | value |
//! | --- | --- |
//! | `p` ‖ digest | voter-set fingerprint (32) ‖ proposal header (protobuf) |
//! | `v` ‖ digest ‖ seq (u32 BE) | vote (protobuf) |
//! | `d` ‖ digest | outcome (u8) ‖ yes ‖ no ‖ silent (u32 BE) ‖ at (u64 BE) |
//! | `r` ‖ digest | replay protection until (u64 BE) |
//! | `s` ‖ fingerprint | the voter set's keys, 32 bytes each, in order |
//! | `q` ‖ digest ‖ vote hash | a vote received but not yet verified (protobuf) |
//!
//! The crate stores only verified votes; votes waiting in its batch-verification queue would be
//! lost in a crash, and a member that restarted in the middle of a vote could then never decide
//! it. So every received vote is journaled (`q`) until the crate stores it or rejects it, and
//! journaled votes are ingested again on restore.

use std::collections::{BTreeMap, BTreeSet};

use consensus_hashgraph::{
    Decision, FailReason, MemoryStore, Outcome, Proposal, ProposalDigest, Store, StoreError,
    StoredProposal, Vote,
};
use demls::consensus::StateChange;
use prost::Message;

/// Records that were corrupt on restore.
#[derive(Debug, thiserror::Error)]
#[error("corrupt consensus record: {0}")]
pub(crate) struct CorruptRecord(pub String);

/// The crate's [`MemoryStore`] plus a log of every change as a persistence record.
#[derive(Default)]
pub(crate) struct RecordStore {
    inner: MemoryStore,
    /// Votes stored per proposal, for the next vote record's sequence number.
    vote_counts: BTreeMap<ProposalDigest, u32>,
    /// Voter sets (fingerprint → keys) already written, so each is written once.
    voter_sets: BTreeMap<[u8; 32], Vec<Vec<u8>>>,
    /// Journaled, not yet verified votes per proposal.
    unverified: BTreeMap<ProposalDigest, BTreeSet<[u8; 32]>>,
    changes: Vec<StateChange>,
}

fn key(tag: u8, digest: &ProposalDigest) -> Vec<u8> {
    let mut k = Vec::with_capacity(33);
    k.push(tag);
    k.extend_from_slice(digest.as_bytes());
    k
}

fn journal_key(digest: &ProposalDigest, hash: &[u8; 32]) -> Vec<u8> {
    let mut k = key(b'q', digest);
    k.extend_from_slice(hash);
    k
}

fn vote_key(digest: &ProposalDigest, seq: u32) -> Vec<u8> {
    let mut k = key(b'v', digest);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

fn encode_decision(d: &Decision) -> Vec<u8> {
    let tag = match d.outcome {
        Outcome::Yes => 1u8,
        Outcome::No => 2,
        Outcome::Failed(FailReason::NoQuorum) => 3,
        Outcome::TieRetry => 4,
    };
    let mut out = vec![tag];
    out.extend_from_slice(&d.yes.to_be_bytes());
    out.extend_from_slice(&d.no.to_be_bytes());
    out.extend_from_slice(&d.silent.to_be_bytes());
    out.extend_from_slice(&d.at.to_be_bytes());
    out
}

fn decode_decision(bytes: &[u8]) -> Result<Decision, CorruptRecord> {
    let bad = || CorruptRecord("decision".into());
    if bytes.len() != 21 {
        return Err(bad());
    }
    let u32_at =
        |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    let outcome = match bytes[0] {
        1 => Outcome::Yes,
        2 => Outcome::No,
        3 => Outcome::Failed(FailReason::NoQuorum),
        4 => Outcome::TieRetry,
        _ => return Err(bad()),
    };
    let mut at = [0u8; 8];
    at.copy_from_slice(&bytes[13..21]);
    Ok(Decision {
        outcome,
        yes: u32_at(1),
        no: u32_at(5),
        silent: u32_at(9),
        at: u64::from_be_bytes(at),
    })
}

impl RecordStore {
    /// Rebuilds the store from records previously taken with [`take_changes`](Self::take_changes).
    /// Returns the store and the journaled votes to ingest again.
    pub(crate) fn restore(
        records: Vec<(Vec<u8>, Vec<u8>)>,
    ) -> Result<(RecordStore, Vec<Vote>), CorruptRecord> {
        let mut store = RecordStore::default();
        let mut journaled = Vec::new();
        let io = |e: StoreError| CorruptRecord(e.to_string());
        for (k, v) in records {
            let (&tag, rest) = k
                .split_first()
                .ok_or_else(|| CorruptRecord("empty key".into()))?;
            let digest_of = |bytes: &[u8]| {
                ProposalDigest::from_slice(bytes.get(..32).unwrap_or_default())
                    .ok_or_else(|| CorruptRecord("digest".into()))
            };
            match tag {
                b'p' => {
                    let digest = digest_of(rest)?;
                    if v.len() < 32 {
                        return Err(CorruptRecord("proposal".into()));
                    }
                    let mut voter_set = [0u8; 32];
                    voter_set.copy_from_slice(&v[..32]);
                    let header =
                        Proposal::decode(&v[32..]).map_err(|e| CorruptRecord(e.to_string()))?;
                    let stored = StoredProposal {
                        digest,
                        header,
                        voter_set,
                    };
                    store.inner.save_proposal(&stored).map_err(io)?;
                }
                b'v' => {
                    let digest = digest_of(rest)?;
                    let vote =
                        Vote::decode(v.as_slice()).map_err(|e| CorruptRecord(e.to_string()))?;
                    // Keys sort by sequence number, so appending keeps the original order.
                    store.inner.save_votes(&digest, &[vote]).map_err(io)?;
                    *store.vote_counts.entry(digest).or_default() += 1;
                }
                b'd' => {
                    let digest = digest_of(rest)?;
                    store
                        .inner
                        .save_decision(&digest, &decode_decision(&v)?)
                        .map_err(io)?;
                }
                b'r' => {
                    let digest = digest_of(rest)?;
                    let until: [u8; 8] = v
                        .as_slice()
                        .try_into()
                        .map_err(|_| CorruptRecord("replay mark".into()))?;
                    store
                        .inner
                        .save_replay_mark(&digest, u64::from_be_bytes(until))
                        .map_err(io)?;
                }
                b's' => {
                    let fingerprint: [u8; 32] = rest
                        .try_into()
                        .map_err(|_| CorruptRecord("voter set fingerprint".into()))?;
                    if v.len() % 32 != 0 {
                        return Err(CorruptRecord("voter set".into()));
                    }
                    store
                        .voter_sets
                        .insert(fingerprint, v.chunks(32).map(<[u8]>::to_vec).collect());
                }
                b'q' => {
                    let digest = digest_of(rest)?;
                    let hash: [u8; 32] = rest
                        .get(32..)
                        .and_then(|h| h.try_into().ok())
                        .ok_or_else(|| CorruptRecord("journal key".into()))?;
                    let vote =
                        Vote::decode(v.as_slice()).map_err(|e| CorruptRecord(e.to_string()))?;
                    store.unverified.entry(digest).or_default().insert(hash);
                    journaled.push(vote);
                }
                _ => return Err(CorruptRecord(format!("unknown record tag {tag}"))),
            }
        }
        Ok((store, journaled))
    }

    /// Journals a received vote until it is stored or rejected.
    pub(crate) fn journal(&mut self, vote: &Vote) {
        let (Some(digest), Ok(hash)) = (
            ProposalDigest::from_slice(&vote.proposal_hash),
            <[u8; 32]>::try_from(vote.vote_hash.as_slice()),
        ) else {
            return;
        };
        if self.unverified.entry(digest).or_default().insert(hash) {
            self.changes.push(StateChange::Put(
                journal_key(&digest, &hash),
                vote.encode_to_vec(),
            ));
        }
    }

    /// Ends the journaling of a vote (stored, rejected or forgotten).
    pub(crate) fn settle(&mut self, digest: &ProposalDigest, vote_hash: &[u8]) {
        let Ok(hash) = <[u8; 32]>::try_from(vote_hash) else {
            return;
        };
        if let Some(set) = self.unverified.get_mut(digest) {
            if set.remove(&hash) {
                self.changes
                    .push(StateChange::Delete(journal_key(digest, &hash)));
            }
            if set.is_empty() {
                self.unverified.remove(digest);
            }
        }
    }

    /// The voter sets referenced by stored proposals (fingerprint → keys).
    pub(crate) fn voter_sets(&self) -> &BTreeMap<[u8; 32], Vec<Vec<u8>>> {
        &self.voter_sets
    }

    /// Makes sure the keys of a voter set are persisted (once).
    pub(crate) fn remember_voter_set(&mut self, fingerprint: [u8; 32], keys: &[Vec<u8>]) {
        if self.voter_sets.contains_key(&fingerprint) {
            return;
        }
        let mut k = vec![b's'];
        k.extend_from_slice(&fingerprint);
        self.changes.push(StateChange::Put(k, keys.concat()));
        self.voter_sets.insert(fingerprint, keys.to_vec());
    }

    /// The records changed since the last call.
    pub(crate) fn take_changes(&mut self) -> Vec<StateChange> {
        std::mem::take(&mut self.changes)
    }
}

impl Store for RecordStore {
    fn save_proposal(&mut self, proposal: &StoredProposal) -> Result<(), StoreError> {
        let mut value = proposal.voter_set.to_vec();
        value.extend_from_slice(&proposal.header.encode_to_vec());
        self.changes
            .push(StateChange::Put(key(b'p', &proposal.digest), value));
        self.inner.save_proposal(proposal)
    }

    fn save_votes(&mut self, digest: &ProposalDigest, votes: &[Vote]) -> Result<(), StoreError> {
        let count = self.vote_counts.entry(*digest).or_default();
        for vote in votes {
            self.changes.push(StateChange::Put(
                vote_key(digest, *count),
                vote.encode_to_vec(),
            ));
            *count += 1;
        }
        self.inner.save_votes(digest, votes)
    }

    fn save_decision(
        &mut self,
        digest: &ProposalDigest,
        decision: &Decision,
    ) -> Result<(), StoreError> {
        self.changes.push(StateChange::Put(
            key(b'd', digest),
            encode_decision(decision),
        ));
        self.inner.save_decision(digest, decision)
    }

    fn remove_proposal(&mut self, digest: &ProposalDigest) -> Result<(), StoreError> {
        self.changes.push(StateChange::Delete(key(b'p', digest)));
        self.changes.push(StateChange::Delete(key(b'd', digest)));
        for seq in 0..self.vote_counts.remove(digest).unwrap_or(0) {
            self.changes
                .push(StateChange::Delete(vote_key(digest, seq)));
        }
        self.inner.remove_proposal(digest)
    }

    fn save_replay_mark(&mut self, digest: &ProposalDigest, until: u64) -> Result<(), StoreError> {
        self.changes.push(StateChange::Put(
            key(b'r', digest),
            until.to_be_bytes().to_vec(),
        ));
        self.inner.save_replay_mark(digest, until)
    }

    fn remove_replay_mark(&mut self, digest: &ProposalDigest) -> Result<(), StoreError> {
        self.changes.push(StateChange::Delete(key(b'r', digest)));
        self.inner.remove_replay_mark(digest)
    }

    fn list_proposals(&self) -> Result<Vec<ProposalDigest>, StoreError> {
        self.inner.list_proposals()
    }

    fn load_proposal(&self, digest: &ProposalDigest) -> Result<Option<StoredProposal>, StoreError> {
        self.inner.load_proposal(digest)
    }

    fn load_votes(&self, digest: &ProposalDigest) -> Result<Vec<Vote>, StoreError> {
        self.inner.load_votes(digest)
    }

    fn load_decision(&self, digest: &ProposalDigest) -> Result<Option<Decision>, StoreError> {
        self.inner.load_decision(digest)
    }

    fn load_replay_marks(&self) -> Result<Vec<(ProposalDigest, u64)>, StoreError> {
        self.inner.load_replay_marks()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_round_trip_and_garbage_is_corrupt() {
        let d = Decision {
            outcome: Outcome::Failed(FailReason::NoQuorum),
            yes: 1,
            no: 2,
            silent: 3,
            at: 99,
        };
        assert_eq!(decode_decision(&encode_decision(&d)).unwrap(), d);
        assert!(decode_decision(&[9; 21]).is_err());
        assert!(decode_decision(&[1; 3]).is_err());
        assert!(RecordStore::restore(vec![(vec![b'x'], vec![])]).is_err());
        assert!(RecordStore::restore(vec![(vec![b'q', 1], vec![])]).is_err());
        assert!(RecordStore::restore(vec![(vec![b'p', 1, 2], vec![])]).is_err());
    }
}
