//! Gossipsub and P2P dissemination: message shapes, hash chains over forwarded lists, round limits.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use consensus_hashgraph::{
    Config, Consensus, ConsensusMessage, Error, Mode, Outcome, Proposal, Rejection,
};

fn p2p() -> Config {
    Config {
        mode: Mode::P2p,
        ..Config::default()
    }
}

fn proposal_of(m: &ConsensusMessage) -> Proposal {
    match m {
        ConsensusMessage::Proposal(p) => p.clone(),
        other => panic!("expected a proposal message, got {other:?}"),
    }
}

#[test]
fn p2p_forwarding_accumulates_a_hash_chained_vote_list_up_to_the_round_limit() {
    // n = 6: q = 4, so a forwarded list holds at most 4 votes.
    let signers = signers(6);
    let voters = voter_set(&signers);
    let mut members: Vec<Consensus> = (0..6).map(|_| engine(p2p())).collect();
    let (digest, first) = members[0]
        .open(params(&voters, true), Some(true), &signers[0], T0)
        .unwrap();
    assert_eq!((first.round, first.votes.len()), (1, 1));

    let mut message = first;
    for i in 1..4 {
        let report = members[i]
            .ingest_proposal(message.clone(), &voters, T0 + 10 * i as u64)
            .unwrap();
        assert_eq!(
            report.accepted, i,
            "member {i} verified every vote of the list once"
        );
        let cast = members[i]
            .vote(&digest, true, &signers[i], T0 + 10 * i as u64 + 1)
            .unwrap();
        message = proposal_of(&cast.message);
        assert_eq!(message.round as usize, i + 1);
        for w in message.votes.windows(2) {
            assert_eq!(
                w[1].received_hash, w[0].vote_hash,
                "each vote links to the previous one"
            );
        }
        assert!(message.votes[0].received_hash.is_empty());
    }
    assert_eq!(members[3].outcome(&digest), Some(Outcome::Yes));

    // Member 4 gets the full list: decides, and its own vote cannot extend it past the limit.
    let report = members[4]
        .ingest_proposal(message.clone(), &voters, T0 + 50)
        .unwrap();
    assert!(report.decided);
    let cast = members[4]
        .vote(&digest, false, &signers[4], T0 + 51)
        .unwrap();
    let alone = proposal_of(&cast.message);
    assert_eq!(
        (alone.round, alone.votes[0].received_hash.is_empty()),
        (1, true)
    );

    // Member 5 receives both lists; votes already known are not verified again.
    members[5]
        .ingest_proposal(message.clone(), &voters, T0 + 60)
        .unwrap();
    let again = members[5]
        .ingest_proposal(message, &voters, T0 + 61)
        .unwrap();
    assert_eq!((again.accepted, again.duplicates), (0, 4));
    members[5].ingest_proposal(alone, &voters, T0 + 62).unwrap();
    let t = members[5].tally(&digest).unwrap();
    assert_eq!((t.yes, t.no), (4, 1));
    // What member 5 would forward is the longest valid list it has seen.
    assert_eq!(members[5].proposal_message(&digest).unwrap().votes.len(), 4);
}

#[test]
fn p2p_lists_longer_than_the_round_limit_are_refused() {
    let g = group(6, Some(true), true);
    let mut message = g.proposal.clone();
    for i in 1..5 {
        let prev = message.votes.last().unwrap().vote_hash.clone();
        message.votes.push(make_vote(
            &g.signers[i],
            &g.digest,
            true,
            T0 + i as u64,
            vec![],
            prev,
        ));
    }
    message.round = 5;
    let mut e = engine(p2p());
    let r = e.ingest_proposal(message, &g.voters, T0 + 10);
    assert!(matches!(
        r,
        Err(Error::Rejected(Rejection::RoundLimitExceeded {
            round: 5,
            limit: 4
        }))
    ));
    assert!(e.proposal(&g.digest).is_none());
}

#[test]
fn gossipsub_votes_travel_alone_and_proposals_carry_at_most_two_votes() {
    let g = group(6, Some(true), true);
    let mut e = engine(Config::default());
    e.ingest_proposal(g.proposal.clone(), &g.voters, T0 + 10)
        .unwrap();
    let cast = e.vote(&g.digest, true, &g.signers[1], T0 + 20).unwrap();
    assert_eq!(cast.message, ConsensusMessage::Vote(cast.vote.clone()));
    assert!(cast.vote.received_hash.is_empty() && cast.vote.parent_hash.is_empty());

    // Proposal + owner's vote + one more is fine (round 2)...
    let mut two = g.proposal.clone();
    two.votes.push(make_vote(
        &g.signers[2],
        &g.digest,
        true,
        T0 + 5,
        vec![],
        two.votes[0].vote_hash.clone(),
    ));
    two.round = 2;
    let mut fresh = engine(Config::default());
    assert_eq!(
        fresh
            .ingest_proposal(two.clone(), &g.voters, T0 + 10)
            .unwrap()
            .accepted,
        2
    );
    // ...a third vote is beyond the gossipsub limit.
    let mut three = two;
    let prev = three.votes[1].vote_hash.clone();
    three.votes.push(make_vote(
        &g.signers[3],
        &g.digest,
        true,
        T0 + 6,
        vec![],
        prev,
    ));
    three.round = 3;
    let r = fresh.ingest_proposal(three, &g.voters, T0 + 11);
    assert!(matches!(
        r,
        Err(Error::Rejected(Rejection::RoundLimitExceeded {
            round: 3,
            limit: 2
        }))
    ));
    assert_eq!(fresh.tally(&g.digest).unwrap().yes, 2);

    // The re-broadcast form of a proposal in gossipsub mode carries the owner's vote only.
    let rebroadcast = fresh.proposal_message(&g.digest).unwrap();
    assert_eq!(rebroadcast, g.proposal);
}
