//! Helpers shared by the integration tests: deterministic keys, engines and hand-made votes.
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::Arc;

use consensus_hashgraph::{
    Config, Consensus, ConsensusMessage, Ed25519Signer, Event, MemoryStore, Proposal,
    ProposalDigest, ProposalParams, Signer, Vote, VoterSet, vote_hash,
};

/// A fixed "now" (ms since the Unix epoch) the tests start from.
pub const T0: u64 = 1_750_000_000_000;
/// Default proposal lifetime in the tests.
pub const LIFE: u64 = 60_000;

pub fn signers(n: usize) -> Vec<Ed25519Signer> {
    (0..n)
        .map(|i| {
            let mut seed = [0x5au8; 32];
            seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
            Ed25519Signer::from_seed(seed).unwrap()
        })
        .collect()
}

pub fn voter_set(signers: &[Ed25519Signer]) -> Arc<VoterSet> {
    Arc::new(VoterSet::new(signers.iter().map(|s| s.public_key())).unwrap())
}

pub fn engine(config: Config) -> Consensus {
    Consensus::new(config, MemoryStore::new())
}

pub fn params(voters: &Arc<VoterSet>, liveness_yes: bool) -> ProposalParams {
    ProposalParams {
        name: "test".into(),
        payload: b"payload".to_vec(),
        voters: Arc::clone(voters),
        expiration_timestamp: T0 + LIFE,
        liveness_criteria_yes: liveness_yes,
    }
}

/// A group of `n` voters: signers, voter set, and a proposal opened by signer 0 (with `owner_vote`).
pub struct Group {
    pub signers: Vec<Ed25519Signer>,
    pub voters: Arc<VoterSet>,
    pub digest: ProposalDigest,
    pub proposal: Proposal,
}

pub fn group(n: usize, owner_vote: Option<bool>, liveness_yes: bool) -> Group {
    let signers = signers(n);
    let voters = voter_set(&signers);
    let mut owner = engine(Config::default());
    let (digest, proposal) = owner
        .open(params(&voters, liveness_yes), owner_vote, &signers[0], T0)
        .unwrap();
    Group {
        signers,
        voters,
        digest,
        proposal,
    }
}

/// Builds and signs a vote by hand (as any other implementation could).
pub fn make_vote(
    signer: &dyn Signer,
    digest: &ProposalDigest,
    yes: bool,
    timestamp: u64,
    parent_hash: Vec<u8>,
    received_hash: Vec<u8>,
) -> Vote {
    let mut v = Vote {
        vote_id: 1,
        vote_owner: signer.public_key().to_vec(),
        proposal_id: digest.proposal_id(),
        timestamp,
        vote: yes,
        parent_hash,
        received_hash,
        vote_hash: Vec::new(),
        signature: Vec::new(),
        proposal_hash: digest.as_bytes().to_vec(),
    };
    resign(&mut v, signer);
    v
}

/// Recomputes `vote_hash` and the signature after a field was changed.
pub fn resign(v: &mut Vote, signer: &dyn Signer) {
    let h = vote_hash(v);
    v.vote_hash = h.to_vec();
    v.signature = signer.sign(&h).unwrap();
}

pub fn vote(g: &Group, i: usize, yes: bool) -> Vote {
    make_vote(
        &g.signers[i],
        &g.digest,
        yes,
        T0 + 100 + i as u64,
        Vec::new(),
        Vec::new(),
    )
}

pub fn bytes(v: &Vote) -> Vec<u8> {
    ConsensusMessage::Vote(v.clone()).encode()
}

pub fn decided(events: &[Event]) -> Vec<&Event> {
    events
        .iter()
        .filter(|e| matches!(e, Event::Decided { .. }))
        .collect()
}
