//! Voters who sign both YES and NO: evidence, removal from the counts, finality, own double votes.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use consensus_hashgraph::{
    Config, Consensus, ConsensusMessage, EquivocationEvidence, Error, Event, EvidenceError,
    Outcome, Rejection, Signer, Vote,
};

fn member(g: &Group) -> Consensus {
    let mut e = engine(Config::default());
    e.ingest_proposal(g.proposal.clone(), &g.voters, T0 + 10)
        .unwrap();
    e.drain_events();
    e
}

fn evidence_of(events: &[Event]) -> Vec<EquivocationEvidence> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Equivocation { evidence } => Some((**evidence).clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn equivocating_voter_is_reported_with_evidence_that_anyone_can_verify() {
    let g = group(7, Some(true), true);
    let mut e = member(&g);
    let yes = vote(&g, 1, true);
    let no = make_vote(&g.signers[1], &g.digest, false, T0 + 200, vec![], vec![]);
    e.ingest_vote(yes.clone(), T0 + 20).unwrap();
    e.flush(T0 + 20).unwrap();
    assert_eq!(e.tally(&g.digest).unwrap().yes, 2);
    e.ingest_vote(no.clone(), T0 + 30).unwrap();
    e.flush(T0 + 30).unwrap();

    let evidence = evidence_of(&e.drain_events());
    assert_eq!(evidence.len(), 1);
    let ev = &evidence[0];
    assert_eq!((ev.first.clone(), ev.second.clone()), (yes, no));
    assert_eq!(ev.voter(), g.signers[1].public_key());
    assert_eq!(ev.verify(), Ok(()));
    // A third party that only has the two votes' bytes can check it: it is self-contained.
    let decoded: Vec<Vote> = [&ev.first, &ev.second]
        .iter()
        .map(|v| match ConsensusMessage::decode(&bytes(v)).unwrap() {
            ConsensusMessage::Vote(v) => v,
            other => panic!("expected a vote, got {other:?}"),
        })
        .collect();
    let rebuilt = EquivocationEvidence {
        digest: g.digest,
        first: decoded[0].clone(),
        second: decoded[1].clone(),
    };
    assert_eq!(rebuilt.verify(), Ok(()));

    let t = e.tally(&g.digest).unwrap();
    assert_eq!(
        (t.yes, t.no, t.equivocators),
        (1, 0, 1),
        "the equivocator no longer counts"
    );
    // Further votes from the equivocator are refused: they could not change anything.
    let third = make_vote(&g.signers[1], &g.digest, true, T0 + 300, vec![], vec![]);
    assert!(matches!(
        e.ingest_vote(third, T0 + 40),
        Err(Error::Rejected(Rejection::VoteLimit))
    ));
    e.flush(T0 + 40).unwrap();
    assert_eq!(e.tally(&g.digest).unwrap().yes, 1);
    assert_eq!(
        e.votes(&g.digest).unwrap().len(),
        3,
        "owner's vote + the two conflicting votes"
    );
    assert!(
        evidence_of(&e.drain_events()).is_empty(),
        "evidence is reported once"
    );
}

#[test]
fn re_sends_of_the_same_value_are_capped_but_never_hide_an_equivocation() {
    let g = group(5, Some(true), true);
    let config = Config {
        max_votes_per_voter: 2,
        ..Config::default()
    };
    let mut e = engine(config);
    e.ingest_proposal(g.proposal.clone(), &g.voters, T0 + 10)
        .unwrap();
    for k in 0..2 {
        let resend = make_vote(&g.signers[1], &g.digest, true, T0 + 100 + k, vec![], vec![]);
        e.ingest_vote(resend, T0 + 20).unwrap();
        e.flush(T0 + 20).unwrap();
    }
    let third = make_vote(&g.signers[1], &g.digest, true, T0 + 102, vec![], vec![]);
    assert!(matches!(
        e.ingest_vote(third, T0 + 20),
        Err(Error::Rejected(Rejection::VoteLimit))
    ));
    assert_eq!(e.tally(&g.digest).unwrap().yes, 2, "re-sends count once");
    let no = make_vote(&g.signers[1], &g.digest, false, T0 + 103, vec![], vec![]);
    e.ingest_vote(no, T0 + 20).unwrap();
    e.flush(T0 + 20).unwrap();
    assert_eq!(evidence_of(&e.drain_events()).len(), 1);
    assert_eq!(e.tally(&g.digest).unwrap().equivocators, 1);
}

#[test]
fn evidence_that_was_tampered_with_does_not_verify() {
    let g = group(4, Some(true), true);
    let yes = vote(&g, 1, true);
    let no = make_vote(&g.signers[1], &g.digest, false, T0 + 200, vec![], vec![]);
    let good = EquivocationEvidence {
        digest: g.digest,
        first: yes.clone(),
        second: no.clone(),
    };
    assert_eq!(good.verify(), Ok(()));

    let mut flipped = good.clone();
    flipped.second.vote = true;
    assert_eq!(flipped.verify(), Err(EvidenceError::SameValue));

    let mut forged = good.clone();
    forged.second.signature[0] ^= 1;
    assert!(matches!(
        forged.verify(),
        Err(EvidenceError::InvalidVote { which: 1, .. })
    ));

    let other_owner = EquivocationEvidence {
        second: vote(&g, 2, false),
        ..good.clone()
    };
    assert_eq!(other_owner.verify(), Err(EvidenceError::DifferentOwners));

    let wrong_digest = EquivocationEvidence {
        digest: consensus_hashgraph::ProposalDigest([9; 32]),
        ..good
    };
    assert!(matches!(
        wrong_digest.verify(),
        Err(EvidenceError::InvalidVote { which: 0, .. })
    ));
}

#[test]
fn equivocation_after_a_decision_leaves_the_decision_standing() {
    // n = 4, q = 3: three YES decide.
    let g = group(4, Some(true), true);
    let mut e = member(&g);
    for i in 1..3 {
        e.ingest_vote(vote(&g, i, true), T0 + 20).unwrap();
    }
    e.flush(T0 + 20).unwrap();
    assert_eq!(e.outcome(&g.digest), Some(Outcome::Yes));
    for i in 1..3 {
        e.ingest_vote(
            make_vote(&g.signers[i], &g.digest, false, T0 + 300, vec![], vec![]),
            T0 + 30,
        )
        .unwrap();
    }
    e.flush(T0 + 30).unwrap();
    let events = e.drain_events();
    assert_eq!(evidence_of(&events).len(), 2);
    assert_eq!(e.outcome(&g.digest), Some(Outcome::Yes));
    assert_eq!(e.tally(&g.digest).unwrap().yes, 1);
}

#[test]
fn voting_twice_locally_is_refused() {
    let g = group(4, None, true);
    let mut e = member(&g);
    e.vote(&g.digest, true, &g.signers[1], T0 + 20).unwrap();
    assert!(matches!(
        e.vote(&g.digest, false, &g.signers[1], T0 + 30),
        Err(Error::AlreadyVoted(_))
    ));
    assert_eq!(e.tally(&g.digest).unwrap().yes, 1);
    assert_eq!(e.tally(&g.digest).unwrap().no, 0);
}

#[test]
fn a_forged_vote_claiming_our_key_does_not_stop_us_from_voting() {
    let g = group(4, None, true);
    let mut e = member(&g);
    let mut forged = vote(&g, 1, false);
    forged.signature = g.signers[2].sign(&forged.vote_hash).unwrap();
    assert_eq!(e.ingest_vote(forged, T0 + 20).unwrap().queued, 1);
    let cast = e.vote(&g.digest, true, &g.signers[1], T0 + 30).unwrap();
    assert!(cast.vote.vote);
    let t = e.tally(&g.digest).unwrap();
    assert_eq!((t.yes, t.no, t.equivocators), (1, 0, 0));
}
