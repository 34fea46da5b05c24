//! Certificates through the framework's `Consensus` trait: a member that missed a vote is
//! shown its outcome after the proposal expired, a member whose proposal failed for lack of
//! votes learns the real outcome, and bad parts change nothing.

use std::sync::Arc;

use consensus_hashgraph::Config;
use demls::consensus::{
    Consensus, ConsensusError, ConsensusEvent, Described, Electorate, OpenRequest, Verdict,
};
use demls::{Identity, ProposalId, Timestamp};
use demls_consensus_hashgraph::HashgraphConsensus;

const START: u64 = 1_800_000_000_000;
const LIFETIME: u64 = 10_000;

struct Group {
    voters: Electorate,
    members: Vec<HashgraphConsensus>,
}

fn group(n: u8) -> Group {
    let identities: Vec<Arc<Identity>> = (1..=n)
        .map(|i| Arc::new(Identity::from_seed([i; 32]).unwrap()))
        .collect();
    let voters = Electorate::new(identities.iter().map(|i| i.public_key().to_vec()).collect());
    let members = identities
        .into_iter()
        .map(|i| HashgraphConsensus::new(Config::default(), i))
        .collect();
    Group { voters, members }
}

fn at(ms: u64) -> Timestamp {
    Timestamp(START + ms)
}

fn events(c: &mut HashgraphConsensus) -> Vec<ConsensusEvent> {
    std::iter::from_fn(|| c.poll_event()).collect()
}

/// Member 0 opens; members `1..voting` receive it and vote YES; everything is delivered to
/// members `0..voting` only (the others hear nothing).
fn decided_among(g: &mut Group, voting: usize) -> ProposalId {
    let voters = g.voters.clone();
    let lookup = move |_: &[u8]| Ok(voters.clone());
    let opened = g.members[0]
        .open(
            OpenRequest {
                payload: b"remove someone",
                voters: &g.voters,
                expires_at: at(LIFETIME),
                liveness_yes: true,
                own_vote: Some(true),
            },
            at(0),
        )
        .unwrap();
    let mut messages = opened.messages.clone();
    for i in 1..voting {
        g.members[i]
            .ingest(&opened.messages[0], &lookup, at(1))
            .unwrap();
        messages.extend(g.members[i].vote(&opened.id, true, at(2)).unwrap());
    }
    for i in 0..voting {
        for m in &messages {
            let _ = g.members[i].ingest(m, &lookup, at(3));
        }
        g.members[i].tick(at(4));
        events(&mut g.members[i]);
    }
    opened.id
}

#[test]
fn a_member_that_missed_the_vote_learns_the_outcome_after_expiry() {
    let mut g = group(7);
    let id = decided_among(&mut g, 6);
    assert_eq!(g.members[0].outcome(&id), Some(Verdict::Yes));
    let parts = g.members[0].certificate(&id, 2);
    assert_eq!(
        parts.len(),
        3,
        "five YES votes (the quorum of 7) in parts of two"
    );

    let late = &mut g.members[6];
    let voters = g.voters.clone();
    let lookup = move |_: &[u8]| Ok(voters.clone());
    let after_expiry = at(LIFETIME + 60_000);
    late.ingest_certificate(&parts[0], &lookup, after_expiry)
        .unwrap();
    late.ingest_certificate(&parts[1], &lookup, after_expiry)
        .unwrap();
    let seen = events(late);
    assert_eq!(
        seen.len(),
        1,
        "four votes of seven prove nothing yet: {seen:?}"
    );
    assert!(
        matches!(&seen[0], ConsensusEvent::ProposalReceived { id: p, payload, .. } if *p == id && payload == b"remove someone"),
        "but the owner's signed vote introduces the proposal"
    );
    assert_eq!(late.outcome(&id), None);
    late.ingest_certificate(&parts[2], &lookup, after_expiry)
        .unwrap();
    let seen = events(late);
    assert!(
        matches!(&seen[0], ConsensusEvent::Decided { id: p, outcome: Verdict::Yes, tally } if *p == id && tally.yes == 5)
    );
    assert_eq!(seen.len(), 1, "introduced once, decided once");
    assert_eq!(late.outcome(&id), Some(Verdict::Yes));
    assert!(matches!(
        late.ingest_certificate(&parts[2], &lookup, after_expiry),
        Err(ConsensusError::Duplicate)
    ));
    assert!(events(late).is_empty(), "reported once");
}

#[test]
fn a_failed_outcome_is_replaced_by_a_proven_one_and_reported_once() {
    let mut fresh = group(4);
    let id2 = decided_among(&mut fresh, 3);
    let voters2 = fresh.voters.clone();
    let lookup2 = move |_: &[u8]| Ok(voters2.clone());
    // The late member saw only the proposal (with the owner's vote), then the proposal expired.
    let header_only = fresh.members[0].certificate(&id2, 1)[0].clone();
    let late = &mut fresh.members[3];
    let _ = late.ingest(&header_only, &lookup2, at(5));
    late.tick(at(LIFETIME + 1));
    let failed = events(late);
    assert!(failed.iter().any(|e| matches!(
        e,
        ConsensusEvent::Decided {
            outcome: Verdict::Failed,
            ..
        }
    )));
    assert_eq!(late.outcome(&id2), Some(Verdict::Failed));
    for part in fresh.members[0].certificate(&id2, 8) {
        fresh.members[3]
            .ingest_certificate(&part, &lookup2, at(LIFETIME + 5))
            .unwrap();
    }
    let proven = events(&mut fresh.members[3]);
    assert_eq!(proven.len(), 1, "no second ProposalReceived: {proven:?}");
    assert!(matches!(
        proven[0],
        ConsensusEvent::Decided {
            outcome: Verdict::Yes,
            ..
        }
    ));
    assert_eq!(fresh.members[3].outcome(&id2), Some(Verdict::Yes));
}

#[test]
fn bad_parts_are_refused_and_change_nothing() {
    let mut g = group(6);
    let id = decided_among(&mut g, 5);
    let parts = g.members[0].certificate(&id, 8);
    assert_eq!(parts.len(), 1);
    let good = parts[0].clone();
    let outsiders = group(7).voters;
    let late = &mut g.members[5];
    let wrong_set = move |_: &[u8]| Ok(outsiders.clone());
    assert!(
        late.ingest_certificate(&good, &wrong_set, at(5)).is_err(),
        "voter set mismatch"
    );
    let refuse = |_: &[u8]| Err("no roster for that epoch".to_string());
    assert!(matches!(
        late.ingest_certificate(&good, &refuse, at(5)),
        Err(ConsensusError::NoVoterSet(_))
    ));
    let voters = g.voters.clone();
    let lookup = move |_: &[u8]| Ok(voters.clone());
    assert!(matches!(
        late.ingest_certificate(b"\x01garbage", &lookup, at(5)),
        Err(ConsensusError::Malformed(_))
    ));
    let mut tampered = good.clone();
    let n = tampered.len();
    tampered[n - 3] ^= 0x40; // inside the last vote's signature
    assert!(late.ingest_certificate(&tampered, &lookup, at(5)).is_err());
    assert!(events(late).is_empty());
    assert_eq!(late.outcome(&id), None, "nothing was counted");
    late.ingest_certificate(&good, &lookup, at(5)).unwrap();
    assert_eq!(late.outcome(&id), Some(Verdict::Yes));
}

#[test]
fn an_undecided_proposal_is_introduced_by_its_owners_vote_and_messages_can_be_described() {
    let mut g = group(5);
    let voters = g.voters.clone();
    let lookup = move |_: &[u8]| Ok(voters.clone());
    // Only the owner voted: no outcome to prove, but the proposal can be introduced.
    let id = decided_among(&mut g, 1);
    assert_eq!(g.members[0].outcome(&id), None);
    let parts = g.members[0].certificate(&id, 8);
    assert_eq!(parts.len(), 1, "one part: the header with the owner's vote");
    match g.members[0].describe(&parts[0]) {
        Some(Described::Proposal { id: p, payload, .. }) => {
            assert_eq!(p, id);
            assert_eq!(payload, b"remove someone");
        }
        other => panic!("not described as a proposal: {other:?}"),
    }
    let late = &mut g.members[4];
    late.ingest_certificate(&parts[0], &lookup, at(LIFETIME + 1))
        .unwrap();
    let seen = events(late);
    assert_eq!(seen.len(), 1);
    assert!(matches!(&seen[0], ConsensusEvent::ProposalReceived { id: p, .. } if *p == id));
    assert_eq!(late.outcome(&id), None, "introduced, not decided");

    let voters = g.voters.clone();
    let lookup = move |_: &[u8]| Ok(voters.clone());
    g.members[1].ingest(&parts[0], &lookup, at(1)).unwrap();
    let vote = g.members[1].vote(&id, true, at(2)).unwrap();
    assert!(matches!(
        g.members[0].describe(&vote[0]),
        Some(Described::Vote { id: p, .. }) if p == id
    ));
    assert_eq!(g.members[0].describe(b"\x01garbage"), None);
}
