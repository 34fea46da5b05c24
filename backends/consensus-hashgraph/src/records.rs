//! The consensus crate's [`Store`] as key-value records that the demls engine persists in the
//! same transaction as the step that produced them.
//!
//! The store keeps the current records in memory (the crate reads them back only when
//! restoring) and a log of changes that [`RecordStore::take_changes`] hands to the engine.
//! Record layout (keys are relative to the group's consensus prefix):
//!
//! | key | value |
//! | --- | --- |
//! | `p` ‖ digest | voter-set fingerprint (32) ‖ proposal header (protobuf) |
//! | `v` ‖ digest ‖ seq (u32 BE) | vote (protobuf) |
//! | `d` ‖ digest | outcome (u8) ‖ yes ‖ no ‖ silent (u32 BE) ‖ at (u64 BE) |
//! | `r` ‖ digest | replay protection until (u64 BE) |
//! | `s` ‖ fingerprint | the voter set's keys, 32 bytes each, in order |

use std::collections::BTreeMap;

use consensus_hashgraph::{
    Decision, FailReason, Outcome, Proposal, ProposalDigest, Store, StoreError, StoredProposal,
    Vote,
};
use demls::consensus::StateChange;
use prost::Message;

/// Records that were corrupt on restore.
#[derive(Debug, thiserror::Error)]
#[error("corrupt consensus record: {0}")]
pub(crate) struct CorruptRecord(pub String);

#[derive(Default)]
struct Entry {
    proposal: Option<StoredProposal>,
    votes: Vec<Vote>,
    decision: Option<Decision>,
}

/// An in-memory [`Store`] that logs every change as a persistence record.
#[derive(Default)]
pub(crate) struct RecordStore {
    entries: BTreeMap<ProposalDigest, Entry>,
    replay: BTreeMap<ProposalDigest, u64>,
    /// Voter sets (fingerprint → keys) already written, so each is written once.
    voter_sets: BTreeMap<[u8; 32], Vec<Vec<u8>>>,
    changes: Vec<StateChange>,
}

fn key(tag: u8, digest: &ProposalDigest) -> Vec<u8> {
    let mut k = Vec::with_capacity(33);
    k.push(tag);
    k.extend_from_slice(digest.as_bytes());
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
    /// Returns the store and the voter sets it references.
    pub(crate) fn restore(records: Vec<(Vec<u8>, Vec<u8>)>) -> Result<RecordStore, CorruptRecord> {
        let mut store = RecordStore::default();
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
                    store.entries.entry(digest).or_default().proposal = Some(StoredProposal {
                        digest,
                        header,
                        voter_set,
                    });
                }
                b'v' => {
                    let digest = digest_of(rest)?;
                    let vote =
                        Vote::decode(v.as_slice()).map_err(|e| CorruptRecord(e.to_string()))?;
                    // Keys sort by sequence number, so pushing keeps append order.
                    store.entries.entry(digest).or_default().votes.push(vote);
                }
                b'd' => {
                    let digest = digest_of(rest)?;
                    store.entries.entry(digest).or_default().decision = Some(decode_decision(&v)?);
                }
                b'r' => {
                    let digest = digest_of(rest)?;
                    let until: [u8; 8] = v
                        .as_slice()
                        .try_into()
                        .map_err(|_| CorruptRecord("replay mark".into()))?;
                    store.replay.insert(digest, u64::from_be_bytes(until));
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
                _ => return Err(CorruptRecord(format!("unknown record tag {tag}"))),
            }
        }
        Ok(store)
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
        self.entries.entry(proposal.digest).or_default().proposal = Some(proposal.clone());
        Ok(())
    }

    fn save_votes(&mut self, digest: &ProposalDigest, votes: &[Vote]) -> Result<(), StoreError> {
        let entry = self.entries.entry(*digest).or_default();
        for vote in votes {
            let seq = entry.votes.len() as u32;
            self.changes.push(StateChange::Put(
                vote_key(digest, seq),
                vote.encode_to_vec(),
            ));
            entry.votes.push(vote.clone());
        }
        Ok(())
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
        self.entries.entry(*digest).or_default().decision = Some(*decision);
        Ok(())
    }

    fn remove_proposal(&mut self, digest: &ProposalDigest) -> Result<(), StoreError> {
        if let Some(entry) = self.entries.remove(digest) {
            self.changes.push(StateChange::Delete(key(b'p', digest)));
            self.changes.push(StateChange::Delete(key(b'd', digest)));
            for seq in 0..entry.votes.len() as u32 {
                self.changes
                    .push(StateChange::Delete(vote_key(digest, seq)));
            }
        }
        Ok(())
    }

    fn save_replay_mark(&mut self, digest: &ProposalDigest, until: u64) -> Result<(), StoreError> {
        self.changes.push(StateChange::Put(
            key(b'r', digest),
            until.to_be_bytes().to_vec(),
        ));
        self.replay.insert(*digest, until);
        Ok(())
    }

    fn remove_replay_mark(&mut self, digest: &ProposalDigest) -> Result<(), StoreError> {
        if self.replay.remove(digest).is_some() {
            self.changes.push(StateChange::Delete(key(b'r', digest)));
        }
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
        Ok(self.replay.iter().map(|(d, u)| (*d, *u)).collect())
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
        assert!(RecordStore::restore(vec![(vec![b'p', 1, 2], vec![])]).is_err());
    }
}
