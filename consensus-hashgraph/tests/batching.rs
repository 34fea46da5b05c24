//! Lazy batch verification and early-vote buffering: results never depend on how votes were grouped.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use consensus_hashgraph::{
    BufferScope, Config, Consensus, Decision, Error, Event, Rejection, Signer,
};

fn member(g: &Group, config: Config) -> Consensus {
    let mut e = engine(config);
    e.ingest_proposal(g.proposal.clone(), &g.voters, T0 + 10)
        .unwrap();
    e.drain_events();
    e
}

#[test]
fn one_bad_signature_in_the_middle_of_a_batch_rejects_only_that_vote() {
    let g = group(30, Some(true), true);
    let mut e = member(
        &g,
        Config {
            batch_size: 1_000,
            ..Config::default()
        },
    );
    let mut accepted = 0;
    for i in 1..=12 {
        let mut v = vote(&g, i, i % 3 != 0);
        if i == 7 {
            v.signature = g.signers[8].sign(&v.vote_hash).unwrap();
        }
        accepted += e.ingest_vote(v, T0 + 20).unwrap().accepted;
    }
    assert_eq!(
        e.pending_votes(),
        12,
        "nothing could decide yet, so nothing was verified"
    );
    let report = e.flush(T0 + 30).unwrap();
    accepted += report.accepted;
    assert_eq!((accepted, report.rejected), (11, 1));
    let rejected: Vec<_> = e
        .drain_events()
        .into_iter()
        .filter_map(|ev| match ev {
            Event::VoteRejected {
                vote_owner, reason, ..
            } => Some((vote_owner, reason)),
            _ => None,
        })
        .collect();
    assert_eq!(
        rejected,
        vec![(g.signers[7].public_key().to_vec(), Rejection::BadSignature)]
    );
    let t = e.tally(&g.digest).unwrap();
    assert_eq!(
        (t.yes, t.no),
        (1 + 7, 4),
        "owner + the 7 valid YES, 4 NO (voters 3, 6, 9, 12)"
    );
    assert!(!e.has_voted(&g.digest, g.signers[7].public_key()));
}

#[test]
fn a_full_queue_is_verified_without_waiting() {
    let g = group(30, Some(true), true);
    let mut e = member(
        &g,
        Config {
            batch_size: 4,
            ..Config::default()
        },
    );
    let mut reports = Vec::new();
    for i in 1..=8 {
        reports.push(e.ingest_vote(vote(&g, i, i % 2 == 0), T0 + 20).unwrap());
    }
    assert_eq!(reports[3].accepted, 4);
    assert_eq!(reports[7].accepted, 4);
    assert_eq!(e.pending_votes(), 0);
}

#[test]
fn queued_votes_are_due_for_verification_after_the_configured_delay() {
    let g = group(30, Some(true), true);
    let config = Config {
        batch_size: 1_000,
        max_verify_delay_ms: 250,
        ..Config::default()
    };
    let mut e = member(&g, config);
    e.ingest_vote(vote(&g, 1, true), T0 + 20).unwrap();
    assert_eq!(e.next_deadline(), Some(T0 + 20 + 250));
    e.tick(T0 + 270).unwrap();
    assert_eq!(e.pending_votes(), 0);
    assert_eq!(e.tally(&g.digest).unwrap().yes, 2);
}

#[test]
fn decisions_and_their_counts_do_not_depend_on_the_batch_size() {
    let g = group(25, Some(true), true);
    let values: Vec<bool> = (1..25).map(|i| (i * 7) % 5 != 0).collect();
    let mut results: Vec<(usize, Decision, usize)> = Vec::new();
    for batch in [1, 2, 3, 7, 16, 1_000] {
        let mut e = member(
            &g,
            Config {
                batch_size: batch,
                ..Config::default()
            },
        );
        let mut decided_after = None;
        for (k, &yes) in values.iter().enumerate() {
            let mut v = vote(&g, k + 1, yes);
            if k == 5 {
                v.signature[40] ^= 2; // one bad vote, wherever the batches fall
            }
            e.ingest_vote(v, T0 + 20).unwrap();
            if decided_after.is_none() && e.outcome(&g.digest).is_some() {
                decided_after = Some(k);
            }
        }
        e.flush(T0 + 30).unwrap();
        let decision = e.decision(&g.digest).unwrap();
        results.push((
            batch,
            Decision { at: 0, ..decision },
            decided_after.unwrap_or(usize::MAX),
        ));
    }
    let (_, first, at) = results[0];
    for (batch, decision, decided_after) in &results {
        assert_eq!(
            (decision, decided_after),
            (&first, &at),
            "batch size {batch}"
        );
    }
}

#[test]
fn votes_that_arrive_before_their_proposal_are_buffered_then_counted() {
    let g = group(4, Some(true), true);
    let mut e = engine(Config::default());
    for i in 1..3 {
        let report = e
            .ingest_bytes(&bytes(&vote(&g, i, true)), &g.voters, T0 + 5)
            .unwrap();
        assert_eq!(report.buffered, 1);
    }
    assert_eq!(
        e.ingest_vote(vote(&g, 1, true), T0 + 6).unwrap().duplicates,
        1
    );
    assert_eq!(e.buffered_votes(), 2);
    assert!(e.tally(&g.digest).is_none());
    let report = e
        .ingest_proposal(g.proposal.clone(), &g.voters, T0 + 10)
        .unwrap();
    assert!(report.new_proposal.is_some());
    assert_eq!(e.buffered_votes(), 0);
    // Owner + two released votes: three YES of four voters with q = 3 decide at once.
    assert!(report.decided);
    assert_eq!(e.tally(&g.digest).unwrap().yes, 3);
}

#[test]
fn a_buffered_vote_that_proves_invalid_is_reported_when_its_proposal_arrives() {
    let g = group(4, Some(true), true);
    let outsider = &signers(5)[4];
    let mut e = engine(Config::default());
    e.ingest_vote(
        make_vote(outsider, &g.digest, true, T0 + 5, vec![], vec![]),
        T0 + 5,
    )
    .unwrap();
    let report = e
        .ingest_proposal(g.proposal.clone(), &g.voters, T0 + 10)
        .unwrap();
    assert_eq!(report.rejected, 1);
    let events = e.drain_events();
    assert!(events.iter().any(|ev| matches!(
        ev,
        Event::VoteRejected {
            reason: Rejection::NotEligible,
            ..
        }
    )));
    assert_eq!(e.tally(&g.digest).unwrap().yes, 1);
}

#[test]
fn the_early_vote_buffer_is_bounded_per_proposal_and_in_total() {
    let g = group(6, Some(true), true);
    let other = group(6, Some(false), false);
    let config = Config {
        buffer_per_proposal: 2,
        buffer_total: 3,
        ..Config::default()
    };
    let mut e = engine(config);
    e.ingest_vote(vote(&g, 1, true), T0).unwrap();
    e.ingest_vote(vote(&g, 2, true), T0).unwrap();
    let full = e.ingest_vote(vote(&g, 3, true), T0);
    assert!(matches!(
        full,
        Err(Error::Rejected(Rejection::BufferFull(
            BufferScope::Proposal
        )))
    ));
    e.ingest_vote(vote(&other, 1, true), T0).unwrap();
    let full = e.ingest_vote(vote(&other, 2, true), T0);
    assert!(matches!(
        full,
        Err(Error::Rejected(Rejection::BufferFull(BufferScope::Total)))
    ));
    assert_eq!(e.buffered_votes(), 3);
}

#[test]
fn stale_early_votes_are_refused_and_old_ones_are_dropped_by_tick() {
    let g = group(4, Some(true), true);
    let config = Config {
        max_lifetime_ms: 10_000,
        allowed_clock_skew_ms: 1_000,
        ..Config::default()
    };
    let mut e = engine(config);
    // Too old to belong to any proposal still live.
    let stale = e.ingest_vote(vote(&g, 1, true), T0 + 20_000);
    assert!(matches!(
        stale,
        Err(Error::Rejected(Rejection::VoteOutsideWindow { .. }))
    ));
    e.ingest_vote(vote(&g, 2, true), T0 + 200).unwrap();
    e.tick(T0 + 5_000).unwrap();
    assert_eq!(e.buffered_votes(), 1);
    e.tick(T0 + 12_000).unwrap();
    assert_eq!(e.buffered_votes(), 0);
}
