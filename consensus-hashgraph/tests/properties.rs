//! Property: peers that receive the same votes reach the same decision, whatever the arrival order
//! and the verification batch size, and that decision is the one the rules give for the final counts.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Arc, OnceLock};

use common::*;
use consensus_hashgraph::{
    Config, Consensus, ConsensusMessage, Ed25519Signer, FailReason, Outcome, Proposal,
    ProposalDigest, ProposalParams, TiePolicy, VoterSet,
};
use proptest::prelude::*;

const MAX_VOTERS: usize = 40;

fn all_signers() -> &'static [Ed25519Signer] {
    static SIGNERS: OnceLock<Vec<Ed25519Signer>> = OnceLock::new();
    SIGNERS.get_or_init(|| signers(MAX_VOTERS))
}

/// The rules, written out independently of the crate from the specification, applied to the
/// final counts (valid because the live rule is monotone and all votes are delivered).
fn expected(n: u32, yes: u32, no: u32, liveness_yes: bool, tie: TiePolicy) -> Outcome {
    let q = (2 * n).div_ceil(3);
    let tie_outcome = if tie == TiePolicy::Retry {
        Outcome::TieRetry
    } else {
        Outcome::No
    };
    if n <= 2 {
        if no >= 1 {
            return Outcome::No;
        }
        if yes == n {
            return Outcome::Yes;
        }
    } else {
        if yes + no >= q && 2 * yes > n {
            return Outcome::Yes;
        }
        if yes + no >= q && 2 * no > n {
            return Outcome::No;
        }
        if yes + no == n && yes == no {
            return tie_outcome;
        }
    }
    // Expiry.
    if yes + no < q {
        return Outcome::Failed(FailReason::NoQuorum);
    }
    let silent = n - yes - no;
    let (y, x) = if liveness_yes {
        (yes + silent, no)
    } else {
        (yes, no + silent)
    };
    if n <= 2 {
        return if y == n { Outcome::Yes } else { Outcome::No };
    }
    if 2 * y > n {
        Outcome::Yes
    } else if 2 * x > n {
        Outcome::No
    } else {
        tie_outcome
    }
}

#[derive(Debug, Clone)]
struct Case {
    n: usize,
    /// Per voter: None = silent, Some(value). Index 0 is the owner.
    votes: Vec<Option<bool>>,
    liveness_yes: bool,
    tie: TiePolicy,
    /// Per peer: arrival order (a permutation of the non-owner voters) and batch size.
    peers: Vec<(Vec<usize>, usize)>,
}

fn case() -> impl Strategy<Value = Case> {
    (1..=MAX_VOTERS).prop_flat_map(|n| {
        let votes = prop::collection::vec(prop::option::weighted(0.8, any::<bool>()), n);
        let order = Just((1..n).collect::<Vec<usize>>()).prop_shuffle();
        let peer = (order, 1usize..=48);
        let peers = prop::collection::vec(peer, 2..=4);
        let tie = prop_oneof![Just(TiePolicy::Reject), Just(TiePolicy::Retry)];
        (Just(n), votes, any::<bool>(), tie, peers).prop_map(
            |(n, votes, liveness_yes, tie, peers)| Case {
                n,
                votes,
                liveness_yes,
                tie,
                peers,
            },
        )
    })
}

fn open(case: &Case, voters: &Arc<VoterSet>) -> (ProposalDigest, Proposal) {
    let mut owner = engine(Config::default());
    let params = ProposalParams {
        name: "prop".into(),
        payload: vec![case.n as u8],
        voters: Arc::clone(voters),
        expiration_timestamp: T0 + LIFE,
        liveness_criteria_yes: case.liveness_yes,
    };
    owner
        .open(params, case.votes[0], &all_signers()[0], T0)
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn peers_receiving_the_same_votes_in_any_order_and_batching_decide_the_same(case in case()) {
        let signers = &all_signers()[..case.n];
        let voters = voter_set(signers);
        let (digest, proposal) = open(&case, &voters);
        let proposal_bytes = ConsensusMessage::Proposal(proposal).encode();
        let vote_bytes: Vec<Option<Vec<u8>>> = (0..case.n)
            .map(|i| {
                let value = case.votes[i]?;
                (i > 0).then(|| bytes(&make_vote(&signers[i], &digest, value, T0 + 1 + i as u64, vec![], vec![])))
            })
            .collect();

        let mut outcomes = Vec::new();
        for (order, batch) in &case.peers {
            let config = Config { batch_size: *batch, tie_policy: case.tie, ..Config::default() };
            let mut peer: Consensus = engine(config);
            // Some peers hear a few votes before the proposal itself.
            let (early, late) = order.split_at(order.len().min(*batch % 3));
            for &i in early {
                if let Some(b) = &vote_bytes[i] {
                    peer.ingest_bytes(b, &voters, T0 + 50).unwrap();
                }
            }
            peer.ingest_bytes(&proposal_bytes, &voters, T0 + 60).unwrap();
            for &i in late {
                if let Some(b) = &vote_bytes[i] {
                    peer.ingest_bytes(b, &voters, T0 + 70).unwrap();
                }
            }
            peer.tick(T0 + 80).unwrap();
            if peer.outcome(&digest).is_none() {
                peer.tick(T0 + LIFE).unwrap();
            }
            outcomes.push(peer.outcome(&digest).unwrap());
        }

        let yes = case.votes.iter().filter(|v| **v == Some(true)).count() as u32;
        let no = case.votes.iter().filter(|v| **v == Some(false)).count() as u32;
        let oracle = expected(case.n as u32, yes, no, case.liveness_yes, case.tie);
        for outcome in &outcomes {
            prop_assert_eq!(*outcome, oracle);
        }
    }
}
