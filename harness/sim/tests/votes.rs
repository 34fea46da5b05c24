//! Votes that outlast slow delivery: a member's own add or removal that ends without a
//! decision for want of votes is opened again with twice the lifetime, up to
//! `max_vote_attempts` attempts, each reported; then the application is told it was abandoned.

mod common;

use common::{config, formed, gid};
use demls::engine::{GroupEvent, ProposalAction};
use demls::{GroupId, Verdict};
use demls_sim::{Link, NodeId, Sim};

fn retried(sim: &Sim, node: NodeId) -> Vec<(u32, u64)> {
    sim.events(node)
        .iter()
        .filter_map(|(_, e)| match e {
            GroupEvent::ProposalRetried {
                attempt,
                vote_timeout_ms,
                ..
            } => Some((*attempt, *vote_timeout_ms)),
            _ => None,
        })
        .collect()
}

fn failed(sim: &Sim, node: NodeId, g: &GroupId) -> usize {
    sim.events(node)
        .iter()
        .filter(|(_, e)| {
            matches!(e, GroupEvent::ProposalDecided { group_id, outcome: Verdict::Failed, action: ProposalAction::Remove { .. }, .. } if group_id == g)
        })
        .count()
}

/// Nine members, split 4 / 5: neither side holds the two-thirds quorum (6), so the proposer's
/// removal fails. It is opened again with a longer lifetime; the split heals during the retry,
/// and the removal completes.
#[test]
fn a_removal_that_fails_for_want_of_votes_is_retried_and_completes_after_the_heal() {
    let g = gid("retry");
    let (mut sim, nodes) = formed(config(41, Link::uniform(5, 30)), 9, &g);
    let (proposer, target) = (nodes[1], nodes[2]);
    let small: Vec<NodeId> = nodes[..4].to_vec();
    let large: Vec<NodeId> = nodes[4..].to_vec();
    sim.partition(&[small.clone(), large.clone()]).unwrap();
    let target_id = sim.member_id(target);
    sim.propose_remove(proposer, &g, target_id).unwrap();
    let lifetime = sim
        .engine(proposer)
        .unwrap()
        .params()
        .vote_timeout_for(9, 0);
    sim.run_for(lifetime + 1_000);
    assert_eq!(failed(&sim, proposer, &g), 1, "no quorum on either side");
    let retries = retried(&sim, proposer);
    assert_eq!(
        retries,
        vec![(1, 2 * lifetime)],
        "opened again with twice the lifetime"
    );
    sim.heal();
    let rest: Vec<NodeId> = nodes.iter().copied().filter(|&n| n != target).collect();
    let removed = sim.run_until(3 * lifetime, |s| {
        rest.iter().all(|&n| {
            s.group(n, &g)
                .is_some_and(|x| !x.members.contains(&target_id))
        })
    });
    assert!(
        removed,
        "the retried removal completed: {}",
        sim.replay_hint()
    );
    sim.run_for(5_000);
    sim.check_converged(&g, &rest).expect("one group again");
    assert!(
        !sim.events(proposer)
            .iter()
            .any(|(_, e)| matches!(e, GroupEvent::ProposalAbandoned { .. }))
    );
}

/// The same removal, but the split never heals: after `max_vote_attempts` attempts the
/// proposer's application is told, and nothing more is tried.
#[test]
fn a_removal_that_never_reaches_a_quorum_is_abandoned_and_the_application_is_told() {
    let g = gid("abandon");
    let (mut sim, nodes) = formed(config(42, Link::uniform(5, 30)), 9, &g);
    let (proposer, target) = (nodes[1], nodes[2]);
    sim.partition(&[nodes[..4].to_vec(), nodes[4..].to_vec()])
        .unwrap();
    let target_id = sim.member_id(target);
    sim.propose_remove(proposer, &g, target_id).unwrap();
    let params = sim.engine(proposer).unwrap().params().clone();
    let total: u64 = (0..params.max_vote_attempts)
        .map(|a| params.vote_timeout_for(9, a))
        .sum();
    sim.run_for(total + 5_000);
    let attempts = params.max_vote_attempts;
    assert_eq!(failed(&sim, proposer, &g), attempts as usize);
    assert_eq!(retried(&sim, proposer).len(), (attempts - 1) as usize);
    let abandoned: Vec<u32> = sim
        .events(proposer)
        .iter()
        .filter_map(|(_, e)| match e {
            GroupEvent::ProposalAbandoned {
                attempts,
                action: ProposalAction::Remove { member },
                ..
            } if *member == target_id => Some(*attempts),
            _ => None,
        })
        .collect();
    assert_eq!(abandoned, vec![attempts]);
    // Nothing more: a long while later, still the same number of attempts.
    sim.run_for(total);
    assert_eq!(failed(&sim, proposer, &g), attempts as usize);
    assert!(
        sim.group(nodes[0], &g)
            .is_some_and(|s| s.members.contains(&target_id))
    );
}

/// Seed 30 of the 20 %-loss scenario: the proposer's removal failed for want of votes while a
/// steward election was open, and the retry was given up ("a higher-priority proposal is being
/// voted on") instead of waiting for the election, so the group never removed the member. A
/// retry held back by the partial freeze now waits with the deferred requests and opens when
/// the election is decided.
#[test]
fn a_retry_held_back_by_an_election_opens_when_the_election_is_decided() {
    let result = demls_sim::scenarios::lossy_network(30, 0.2);
    assert!(result.is_ok(), "{result:?}");
}
