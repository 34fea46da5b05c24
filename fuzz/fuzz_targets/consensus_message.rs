//! `consensus_hashgraph::ConsensusMessage::decode` (a proposal or a vote): never panics; a
//! decoded message round-trips and `encoded_len` is exact. The message is then ingested by a
//! fresh consensus engine whose voters are the recorded session's members (so recorded
//! proposals and votes pass the signature checks), and time runs past its expiry.
#![no_main]

use consensus_hashgraph::{Config, Consensus, ConsensusMessage, MemoryStore};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(message) = ConsensusMessage::decode(data) else {
        return;
    };
    let bytes = message.encode();
    assert_eq!(bytes.len(), message.encoded_len(), "encoded_len is exact");
    let back = ConsensusMessage::decode(&bytes).expect("an encoded message decodes");
    assert_eq!(back, message, "decode(encode(x)) == x");
    assert_eq!(back.encode(), bytes, "encoding is stable");

    let now = match &message {
        ConsensusMessage::Proposal(p) => p.timestamp,
        ConsensusMessage::Vote(v) => v.timestamp,
    };
    let voters = demls_fuzz::session_voters();
    let mut engine = Consensus::new(Config::default(), MemoryStore::default());
    let _ = engine.ingest(message, &voters, now);
    let _ = engine.flush(now);
    let later = now.saturating_add(Config::default().max_lifetime_ms);
    for at in [now.saturating_add(1_000), later, later.saturating_add(1)] {
        let _ = engine.tick(at);
        let _ = engine.flush(at);
    }
    for digest in engine.proposals().copied().collect::<Vec<_>>() {
        if let (Some(tally), Some(_)) = (engine.tally(&digest), engine.outcome(&digest)) {
            assert!(
                tally.yes + tally.no <= tally.voters,
                "more votes than voters"
            );
        }
        let _ = engine.certificate(&digest);
    }
    engine.drain_events();
});
