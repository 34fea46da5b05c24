//! Deterministic simulated networks: many peers exchanging real encoded messages decide identically.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::VecDeque;

use common::*;
use consensus_hashgraph::{
    Config, Consensus, ConsensusMessage, Event, Mode, Outcome, ProposalDigest,
};
use rand::{Rng, SeedableRng, seq::SliceRandom};
use rand_chacha::ChaCha8Rng;

/// A message in flight: destination, payload, delivery time.
struct Packet {
    to: usize,
    bytes: Vec<u8>,
    at: u64,
}

/// How a member votes on the proposal: a fixed, deterministic function of its index.
fn opinion(i: usize, yes_every: usize) -> bool {
    i % yes_every != 0
}

/// Runs one proposal over a gossip network with random delays, duplicates and reordering, until
/// every peer has decided (ticking at expiry if needed). Returns each peer's decision events.
fn gossip_run(
    n: usize,
    seed: u64,
    yes_every: usize,
    batch: usize,
) -> (ProposalDigest, Vec<Vec<Event>>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let signers = signers(n);
    let voters = voter_set(&signers);
    let config = Config {
        batch_size: batch,
        ..Config::default()
    };
    let mut peers: Vec<Consensus> = (0..n).map(|_| engine(config.clone())).collect();
    let mut events: Vec<Vec<Event>> = vec![Vec::new(); n];
    let mut in_flight: VecDeque<Packet> = VecDeque::new();
    let broadcast =
        |from: usize, bytes: Vec<u8>, now: u64, rng: &mut ChaCha8Rng, q: &mut VecDeque<Packet>| {
            for to in (0..n).filter(|&to| to != from) {
                let copies = if rng.gen_bool(0.1) { 2 } else { 1 };
                for _ in 0..copies {
                    q.push_back(Packet {
                        to,
                        bytes: bytes.clone(),
                        at: now + rng.gen_range(1..500),
                    });
                }
            }
        };

    let (digest, proposal) = peers[0]
        .open(
            params(&voters, true),
            Some(opinion(0, yes_every)),
            &signers[0],
            T0,
        )
        .unwrap();
    broadcast(
        0,
        ConsensusMessage::Proposal(proposal).encode(),
        T0,
        &mut rng,
        &mut in_flight,
    );

    let mut voted = vec![false; n];
    voted[0] = true;
    while !in_flight.is_empty() {
        // Deliver a random packet among those in flight (arbitrary reordering).
        let mut order: Vec<usize> = (0..in_flight.len()).collect();
        order.shuffle(&mut rng);
        let Packet { to, bytes, at } = in_flight.remove(order[0]).unwrap();
        let report = peers[to].ingest_bytes(&bytes, &voters, at).unwrap();
        if report.new_proposal.is_some() && !voted[to] {
            voted[to] = true;
            let cast = peers[to]
                .vote(&digest, opinion(to, yes_every), &signers[to], at + 1)
                .unwrap();
            broadcast(to, cast.message.encode(), at + 1, &mut rng, &mut in_flight);
        }
        events[to].extend(peers[to].drain_events());
    }
    for (i, p) in peers.iter_mut().enumerate() {
        p.tick(T0 + 1_000).unwrap();
        if p.outcome(&digest).is_none() {
            p.tick(T0 + LIFE).unwrap();
        }
        events[i].extend(p.drain_events());
    }
    (digest, events)
}

fn decided(events: &[Event]) -> Vec<Outcome> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Decided { outcome, .. } => Some(*outcome),
            _ => None,
        })
        .collect()
}

#[test]
fn many_peers_on_a_reordering_duplicating_gossip_network_all_decide_identically() {
    for (n, seed, yes_every, batch) in [
        (31, 1, 3, 8),
        (40, 2, 2, 64),
        (25, 3, 5, 1),
        (24, 4, 2, 4096),
    ] {
        let (_, events) = gossip_run(n, seed, yes_every, batch);
        let first = decided(&events[0]);
        assert_eq!(first.len(), 1, "n={n}: one decision per peer");
        for (i, e) in events.iter().enumerate() {
            assert_eq!(decided(e), first, "n={n} seed={seed}: peer {i} disagrees");
            assert!(
                !e.iter().any(|ev| matches!(
                    ev,
                    Event::Equivocation { .. } | Event::VoteRejected { .. }
                ))
            );
        }
        let yes = (0..n).filter(|&i| opinion(i, yes_every)).count();
        // A NO majority and an even split (a tie, rejected by the default policy) both give NO.
        let expected = if 2 * yes > n {
            Outcome::Yes
        } else {
            Outcome::No
        };
        assert_eq!(first[0], expected, "n={n}");
    }
}

#[test]
fn many_peers_forwarding_vote_lists_peer_to_peer_all_decide_identically() {
    let n = 20;
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    let signers = signers(n);
    let voters = voter_set(&signers);
    let config = Config {
        mode: Mode::P2p,
        batch_size: 16,
        ..Config::default()
    };
    let mut peers: Vec<Consensus> = (0..n).map(|_| engine(config.clone())).collect();
    let (digest, proposal) = peers[0]
        .open(params(&voters, true), Some(true), &signers[0], T0)
        .unwrap();
    // Each hop: a random peer receives the latest list, votes, and forwards its list to 3 random peers.
    let mut queue: VecDeque<(usize, Vec<u8>)> = VecDeque::new();
    for _ in 0..3 {
        queue.push_back((
            rng.gen_range(1..n),
            ConsensusMessage::Proposal(proposal.clone()).encode(),
        ));
    }
    let mut now = T0;
    let mut hops = 0;
    while let Some((to, bytes)) = queue.pop_front() {
        now += 3;
        hops += 1;
        peers[to].ingest_bytes(&bytes, &voters, now).unwrap();
        let message = if peers[to].has_voted(
            &digest,
            consensus_hashgraph::Signer::public_key(&signers[to]),
        ) {
            ConsensusMessage::Proposal(peers[to].proposal_message(&digest).unwrap())
        } else {
            peers[to]
                .vote(&digest, to % 4 != 0, &signers[to], now)
                .unwrap()
                .message
        };
        if hops < 400 {
            for _ in 0..3 {
                queue.push_back((rng.gen_range(0..n), message.encode()));
            }
        }
    }
    // Finally every peer hears every peer's forwarded list once, then time runs out.
    let lists: Vec<Vec<u8>> = peers
        .iter()
        .filter_map(|p| p.proposal_message(&digest))
        .map(|p| ConsensusMessage::Proposal(p).encode())
        .collect();
    for p in peers.iter_mut() {
        for l in &lists {
            p.ingest_bytes(l, &voters, now + 1).unwrap();
        }
        p.tick(T0 + LIFE).unwrap();
    }
    let outcomes: Vec<Option<Outcome>> = peers.iter().map(|p| p.outcome(&digest)).collect();
    assert!(
        outcomes.iter().all(|o| *o == Some(Outcome::Yes)),
        "{outcomes:?}"
    );
    let tallies: Vec<_> = peers.iter().map(|p| p.tally(&digest).unwrap()).collect();
    assert!(
        tallies
            .iter()
            .all(|t| t.yes + t.no >= consensus_hashgraph::quorum(n as u32)),
        "{tallies:?}"
    );
}
