//! Three members decide one proposal over a simulated gossip channel.
use std::sync::Arc;

use consensus_hashgraph::{
    Config, Consensus, ConsensusMessage, Ed25519Signer, Event, MemoryStore, Outcome,
    ProposalParams, Signer, VoterSet,
};

/// Runs three members through one proposal.
pub fn main() -> Result<(), Box<dyn std::error::Error>> {
    let now = 1_750_000_000_000; // every timestamp is in milliseconds since the Unix epoch
    let signers = (1..=3u8)
        .map(|i| Ed25519Signer::from_seed([i; 32]))
        .collect::<Result<Vec<_>, _>>()?;
    // Built once per roster: keys are decoded here, not per vote.
    let voters = Arc::new(VoterSet::new(signers.iter().map(|s| s.public_key()))?);
    let mut members: Vec<Consensus> = (0..3)
        .map(|_| Consensus::new(Config::default(), MemoryStore::new()))
        .collect();

    // Member 0 proposes and votes YES. Messages travel as opaque bytes.
    let params = ProposalParams {
        name: "add-member".into(),
        payload: b"dave".to_vec(),
        voters: Arc::clone(&voters),
        expiration_timestamp: now + 60_000,
        liveness_criteria_yes: true,
    };
    let (digest, proposal) = members[0].open(params, Some(true), &signers[0], now)?;
    let proposal_bytes = ConsensusMessage::from(proposal).encode();

    // Members 1 and 2 receive the proposal, then cast their votes (gossipsub: the vote alone).
    let mut outbox = Vec::new();
    for i in 1..3 {
        let report = members[i].ingest_bytes(&proposal_bytes, &voters, now + 5)?;
        let info = report.new_proposal.ok_or("proposal should be new")?;
        let yes = info.payload == b"dave"; // the application's own judgement
        let cast = members[i].vote(&digest, yes, &signers[i], now + 10)?;
        outbox.push((i, cast.message.encode()));
    }

    // Everyone hears every vote; `tick` (or `flush`) verifies queued signatures.
    for (from, bytes) in &outbox {
        for (i, member) in members.iter_mut().enumerate() {
            if i != *from {
                member.ingest_bytes(bytes, &voters, now + 20)?;
            }
        }
    }
    for (i, member) in members.iter_mut().enumerate() {
        member.tick(now + 1_000)?;
        for event in member.drain_events() {
            if let Event::Decided {
                outcome, yes, no, ..
            } = event
            {
                println!("member {i}: {outcome:?} ({yes} yes, {no} no)");
            }
        }
        assert_eq!(member.outcome(&digest), Some(Outcome::Yes));
    }
    Ok(())
}
