//! A certificate part (a proposal message carrying votes, as `ingest_certificate` reads it):
//! never panics; the part round-trips; a certificate started from its header collects its
//! votes against the recorded session's voters (recorded parts carry valid signatures) and
//! never counts more votes than voters. The votes are also added a second time (nothing new)
//! and in reverse order (the same tally).
#![no_main]

use consensus_hashgraph::{Certificate, Config, ConsensusMessage, Ed25519, decide_live};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(message) = ConsensusMessage::decode(data) else {
        return;
    };
    let bytes = message.encode();
    assert_eq!(
        ConsensusMessage::decode(&bytes).ok().as_ref(),
        Some(&message)
    );
    let ConsensusMessage::Proposal(part) = message else {
        return;
    };
    let config = Config::default();
    let Ok(mut cert) = Certificate::new(&part, demls_fuzz::session_voters(), &config, &Ed25519)
    else {
        return;
    };
    let Ok(fresh) = cert.add(&part.votes, &Ed25519) else {
        return;
    };
    let tally = cert.tally();
    assert!(fresh <= part.votes.len());
    assert!(tally.yes + tally.no + tally.equivocators <= tally.voters);
    assert_eq!(cert.outcome(), decide_live(&tally, config.tie_policy));
    assert_eq!(cert.add(&part.votes, &Ed25519).ok(), Some(0), "nothing new");
    assert_eq!(cert.tally(), tally);

    let mut reversed =
        Certificate::new(&part, demls_fuzz::session_voters(), &config, &Ed25519).expect("as above");
    let votes: Vec<_> = part.votes.iter().rev().cloned().collect();
    reversed.add(&votes, &Ed25519).expect("the same votes");
    assert_eq!(
        reversed.tally(),
        tally,
        "the order of votes does not matter"
    );
});
