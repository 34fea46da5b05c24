//! The decision rules as seen through the engine: majority within quorum, ties, tiny sets,
//! expiration with and without quorum, finality.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use consensus_hashgraph::{Config, Consensus, Event, FailReason, Outcome, TiePolicy};

/// A member (not the owner) that received the proposal and then `votes` (voter index, value).
fn member_with(g: &Group, config: Config, votes: &[(usize, bool)]) -> Consensus {
    let mut e = engine(config);
    e.ingest_proposal(g.proposal.clone(), &g.voters, T0 + 10)
        .unwrap();
    for &(i, yes) in votes {
        e.ingest_vote(vote(g, i, yes), T0 + 20).unwrap();
    }
    e.flush(T0 + 30).unwrap();
    e
}

fn outcomes(events: &[Event]) -> Vec<Outcome> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Decided { outcome, .. } => Some(*outcome),
            _ => None,
        })
        .collect()
}

#[test]
fn majority_within_quorum_decides_yes_before_expiry() {
    // n = 7, q = 5: four YES are a majority but only with a fifth vote is there a quorum.
    let g = group(7, Some(true), true);
    let mut e = member_with(&g, Config::default(), &[(1, true), (2, true), (3, true)]);
    assert_eq!(e.outcome(&g.digest), None);
    e.ingest_vote(vote(&g, 4, false), T0 + 40).unwrap();
    e.flush(T0 + 40).unwrap();
    assert_eq!(e.outcome(&g.digest), Some(Outcome::Yes));
    let d = e.decision(&g.digest).unwrap();
    assert_eq!((d.yes, d.no, d.silent), (4, 1, 2));
}

#[test]
fn majority_of_no_within_quorum_decides_no() {
    let g = group(5, Some(true), true);
    let e = member_with(&g, Config::default(), &[(1, false), (2, false), (3, false)]);
    assert_eq!(e.outcome(&g.digest), Some(Outcome::No));
}

#[test]
fn even_split_of_all_voters_is_a_tie_that_rejects_under_the_reject_policy() {
    let g = group(4, Some(true), true);
    let config = Config {
        tie_policy: TiePolicy::Reject,
        ..Config::default()
    };
    let mut e = member_with(&g, config, &[(1, true), (2, false), (3, false)]);
    assert_eq!(outcomes(&e.drain_events()), vec![Outcome::No]);
}

#[test]
fn even_split_of_all_voters_asks_for_a_retry_under_the_retry_policy() {
    let g = group(4, Some(true), true);
    let config = Config {
        tie_policy: TiePolicy::Retry,
        ..Config::default()
    };
    let mut e = member_with(&g, config, &[(1, true), (2, false), (3, false)]);
    assert_eq!(outcomes(&e.drain_events()), vec![Outcome::TieRetry]);
}

#[test]
fn tie_at_expiry_follows_the_policy() {
    // n = 8, q = 6: 2 YES + 4 NO, 2 silent counted YES -> 4 against 4.
    let g = group(8, Some(true), true);
    for (policy, expected) in [
        (TiePolicy::Reject, Outcome::No),
        (TiePolicy::Retry, Outcome::TieRetry),
    ] {
        let config = Config {
            tie_policy: policy,
            ..Config::default()
        };
        let mut e = member_with(
            &g,
            config,
            &[(1, true), (2, false), (3, false), (4, false), (5, false)],
        );
        assert_eq!(e.outcome(&g.digest), None);
        e.tick(T0 + LIFE).unwrap();
        assert_eq!(e.outcome(&g.digest), Some(expected));
    }
}

#[test]
fn a_single_voter_decides_alone() {
    for (value, expected) in [(true, Outcome::Yes), (false, Outcome::No)] {
        let g = group(1, Some(value), true);
        let mut e = engine(Config::default());
        e.ingest_proposal(g.proposal.clone(), &g.voters, T0 + 10)
            .unwrap();
        assert_eq!(e.outcome(&g.digest), Some(expected));
    }
}

#[test]
fn two_voters_need_unanimity_for_yes_and_one_no_rejects() {
    let g = group(2, Some(true), true);
    let yes = member_with(&g, Config::default(), &[(1, true)]);
    assert_eq!(yes.outcome(&g.digest), Some(Outcome::Yes));
    let no = member_with(&g, Config::default(), &[(1, false)]);
    assert_eq!(no.outcome(&g.digest), Some(Outcome::No));
    // One vote of two is not a quorum: the proposal fails at expiry even if silence counts YES.
    let mut alone = member_with(&g, Config::default(), &[]);
    assert_eq!(alone.outcome(&g.digest), None);
    alone.tick(T0 + LIFE).unwrap();
    assert_eq!(
        alone.outcome(&g.digest),
        Some(Outcome::Failed(FailReason::NoQuorum))
    );
}

#[test]
fn expiry_with_quorum_counts_silent_voters_as_yes_when_liveness_is_yes() {
    // n = 9, q = 6: 3 YES, 3 NO, 3 silent.
    let g = group(9, Some(true), true);
    let mut e = member_with(
        &g,
        Config::default(),
        &[(1, true), (2, true), (3, false), (4, false), (5, false)],
    );
    e.tick(T0 + LIFE - 1).unwrap();
    assert_eq!(e.outcome(&g.digest), None, "nothing happens before expiry");
    assert_eq!(e.next_deadline(), Some(T0 + LIFE));
    e.tick(T0 + LIFE).unwrap();
    let d = e.decision(&g.digest).unwrap();
    assert_eq!((d.outcome, d.yes, d.no, d.silent), (Outcome::Yes, 3, 3, 3));
}

#[test]
fn expiry_with_quorum_counts_silent_voters_as_no_when_liveness_is_no() {
    let g = group(9, Some(true), false);
    let mut e = member_with(
        &g,
        Config::default(),
        &[(1, true), (2, true), (3, false), (4, false), (5, false)],
    );
    e.tick(T0 + LIFE).unwrap();
    assert_eq!(e.outcome(&g.digest), Some(Outcome::No));
}

#[test]
fn partition_minority_without_quorum_fails_at_expiry_instead_of_deciding() {
    // n = 9, q = 6: five unanimous YES votes are a majority of the group but not a quorum of
    // participants, as in a partition that holds only five members.
    let g = group(9, Some(true), true);
    let mut e = member_with(
        &g,
        Config::default(),
        &[(1, true), (2, true), (3, true), (4, true)],
    );
    assert_eq!(e.outcome(&g.digest), None);
    e.tick(T0 + LIFE).unwrap();
    assert_eq!(
        e.outcome(&g.digest),
        Some(Outcome::Failed(FailReason::NoQuorum))
    );
}

#[test]
fn a_decision_is_final_and_announced_once() {
    // n = 6, q = 4: four YES decide; two later NO votes change nothing.
    let g = group(6, Some(true), true);
    let mut e = member_with(&g, Config::default(), &[(1, true), (2, true), (3, true)]);
    assert_eq!(e.outcome(&g.digest), Some(Outcome::Yes));
    for i in 4..6 {
        e.ingest_vote(vote(&g, i, false), T0 + 40).unwrap();
    }
    e.flush(T0 + 50).unwrap();
    e.tick(T0 + LIFE + 1).unwrap();
    assert_eq!(e.outcome(&g.digest), Some(Outcome::Yes));
    assert_eq!(
        e.tally(&g.digest).unwrap().no,
        2,
        "later votes are still recorded"
    );
    assert_eq!(outcomes(&e.drain_events()), vec![Outcome::Yes]);
}

#[test]
fn every_member_decides_at_expiry_not_only_the_owner() {
    let g = group(6, Some(true), true);
    let mut a = member_with(&g, Config::default(), &[(1, true), (2, true), (3, false)]);
    let mut b = member_with(&g, Config::default(), &[(2, true), (3, false), (1, true)]);
    for e in [&mut a, &mut b] {
        e.tick(T0 + LIFE).unwrap();
        assert_eq!(e.outcome(&g.digest), Some(Outcome::Yes));
    }
}

#[test]
fn finished_proposals_are_forgotten_after_retention() {
    let g = group(3, Some(true), true);
    let config = Config {
        retention_ms: Some(1_000),
        ..Config::default()
    };
    let mut e = member_with(&g, config, &[(1, true)]);
    let decided_at = e.decision(&g.digest).unwrap().at;
    assert_eq!(e.next_deadline(), Some(decided_at + 1_000));
    e.tick(decided_at + 999).unwrap();
    assert!(e.proposal(&g.digest).is_some());
    e.tick(decided_at + 1_000).unwrap();
    assert!(e.proposal(&g.digest).is_none());
}

#[test]
fn with_counting_after_the_decision_off_later_votes_are_neither_verified_nor_counted() {
    // n = 6, q = 4: four YES decide; the two later votes (one with a broken signature) cost no
    // verification, change no tally, and raise nothing.
    let g = group(6, Some(true), true);
    let config = Config {
        count_after_decision: false,
        ..Config::default()
    };
    let mut e = member_with(&g, config, &[(1, true), (2, true), (3, true)]);
    assert_eq!(e.outcome(&g.digest), Some(Outcome::Yes));
    let before = e.tally(&g.digest).unwrap();
    e.drain_events();
    let late = e.ingest_vote(vote(&g, 4, false), T0 + 40).unwrap();
    assert_eq!((late.late, late.queued), (1, 0));
    let mut forged = vote(&g, 5, false);
    forged.signature[3] ^= 0x40;
    let late = e.ingest_vote(forged, T0 + 41).unwrap();
    assert_eq!((late.late, late.queued), (1, 0));
    e.flush(T0 + 50).unwrap();
    e.tick(T0 + LIFE + 1).unwrap();
    assert_eq!(e.outcome(&g.digest), Some(Outcome::Yes));
    assert_eq!(
        e.tally(&g.digest).unwrap(),
        before,
        "nothing counted after the decision"
    );
    assert!(
        e.drain_events().is_empty(),
        "nothing verified, so nothing rejected"
    );
    // A vote from outside the voter set is still refused: the binding is checked.
    let outsider = signers(7).pop().unwrap();
    let stranger = make_vote(&outsider, &g.digest, false, T0 + 60, Vec::new(), Vec::new());
    assert!(e.ingest_vote(stranger, T0 + 60).is_err());
}
