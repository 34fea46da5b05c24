//! Test vectors from the specification (`specs/consensus-hashgraph.md`, "Test vectors"). The
//! expected values were computed independently (Python `hashlib` + `cryptography`) from the byte
//! layouts in the specification, not by this crate.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use consensus_hashgraph::{
    Config, Consensus, Ed25519Signer, MemoryStore, Proposal, Signer, Vote, VoterSet,
    proposal_digest, vote_hash,
};

const TS: u64 = 1_700_000_000_000;
const OWNER_PK: &str = "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c";
const VOTER_PK: &str = "8139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b394";
const DIGEST: &str = "527200663e951662242b4f3c13fb330242a2913898f77ef9ae7f7e71c4bc922a";
const PROPOSAL_ID: u32 = 0x5272_0066;
const VOTE_HASH: &str = "2701a09a996fe73cc5ddcb637ca0a582952818499db918203566c5a580e2c94c";
const SIGNATURE: &str = "ad16aadb485b7d2faf8ad144ffa146309798e9fe6cca9be944c5753e7bbd040b\
                         1d26e5bdd657020a63d89364d03d273dfd4126a123ebb60b498fa3ff1772cd00";
const FINGERPRINT: &str = "a2b47a38d566cc1214b1395641fc0410331d4773571852934553ba4a5f71b047";

fn header(owner: &[u8]) -> Proposal {
    Proposal {
        name: "add-member".into(),
        payload: b"dave".to_vec(),
        proposal_id: PROPOSAL_ID,
        proposal_owner: owner.to_vec(),
        votes: vec![],
        expected_voters_count: 2,
        round: 0,
        timestamp: TS,
        expiration_timestamp: TS + 60_000,
        liveness_criteria_yes: true,
    }
}

#[test]
fn fixed_keys_give_the_documented_digest_vote_hash_signature_and_fingerprint() {
    let owner = Ed25519Signer::from_seed([1; 32]).unwrap();
    let voter = Ed25519Signer::from_seed([2; 32]).unwrap();
    assert_eq!(hex::encode(owner.public_key()), OWNER_PK);
    assert_eq!(hex::encode(voter.public_key()), VOTER_PK);

    let p = header(owner.public_key());
    let digest = proposal_digest(&p);
    assert_eq!(digest.to_string(), DIGEST);
    assert_eq!(digest.proposal_id(), PROPOSAL_ID);

    let mut v = Vote {
        vote_id: 7,
        vote_owner: voter.public_key().to_vec(),
        proposal_id: PROPOSAL_ID,
        timestamp: TS + 1_000,
        vote: true,
        parent_hash: vec![],
        received_hash: vec![],
        vote_hash: vec![],
        signature: vec![],
        proposal_hash: digest.as_bytes().to_vec(),
    };
    let h = vote_hash(&v);
    assert_eq!(hex::encode(h), VOTE_HASH);
    let sig = voter.sign(&h).unwrap();
    assert_eq!(hex::encode(&sig), SIGNATURE);

    let voters = Arc::new(VoterSet::new([owner.public_key(), voter.public_key()]).unwrap());
    assert_eq!(hex::encode(voters.fingerprint()), FINGERPRINT);

    // The vector vote is accepted by the engine, which then decides YES (n = 2, both YES).
    v.vote_hash = h.to_vec();
    v.signature = sig;
    let mut owner_vote = v.clone();
    owner_vote.vote_owner = owner.public_key().to_vec();
    owner_vote.vote_hash = vote_hash(&owner_vote).to_vec();
    owner_vote.signature = owner.sign(&owner_vote.vote_hash).unwrap();
    let mut message = p;
    message.votes = vec![owner_vote];
    message.round = 1;
    let mut e: Consensus = Consensus::new(Config::default(), MemoryStore::new());
    e.ingest_proposal(message, &voters, TS + 2_000).unwrap();
    e.ingest_vote(v, TS + 2_000).unwrap();
    assert_eq!(e.outcome(&digest), Some(consensus_hashgraph::Outcome::Yes));
}
