//! Repair and catch-up stay quiet when nothing is missing, at any group size and delivery
//! delay, and stay bounded when something is: no catch-up request without real evidence,
//! one request serving every member behind, a few answers per request, no answer to status
//! beacons that merely crossed a commit, no vote re-sends while votes are still arriving.

mod common;

use std::sync::Arc;

use common::{config, gid};
use demls::GroupId;
use demls::internals::wire::{Frame, Status, frame};
use demls::policy::single::SinglePolicyFactory;
use demls::policy::{ConsensusModel, SinglePolicyConfig};
use demls_sim::{Counters, Link, MessageKind, NodeId, Sim, Stats};

/// `n` members formed in one epoch on a fast link (every joiner announces at once and the
/// creator adds them all in one commit), then settled. Every member votes on every proposal
/// (the big consensus model, also above 100 members): the most traffic a decision can draw.
fn bulk_formed(seed: u64, n: usize, group: &GroupId) -> (Sim, Vec<NodeId>) {
    bulk_formed_with(seed, n, group, ConsensusModel::Big)
}

/// [`bulk_formed`] with the single-steward policy's consensus model `model`.
fn bulk_formed_with(
    seed: u64,
    n: usize,
    group: &GroupId,
    model: ConsensusModel,
) -> (Sim, Vec<NodeId>) {
    let mut cfg = config(seed, Link::fixed(2));
    cfg.policy = Arc::new(SinglePolicyFactory::new(SinglePolicyConfig {
        consensus_model: model,
        ..SinglePolicyConfig::default()
    }));
    let mut sim = Sim::new(cfg).expect("a valid configuration");
    let nodes = sim.add_nodes(n).expect("nodes open");
    sim.create_group(nodes[0], group).expect("group created");
    for &node in &nodes[1..] {
        sim.join_group(node, group).expect("join requested");
    }
    let ok = sim.run_until(600_000, |s| s.converged_exactly(group, &nodes));
    assert!(ok, "the group did not form; {}", sim.replay_hint());
    sim.run_for(5_000);
    (sim, nodes)
}

fn since(sim: &Sim, before: &Stats, kind: MessageKind) -> Counters {
    sim.stats().kind(kind).since(&before.kind(kind))
}

/// Proposes removing `victim` (by `proposer`) and runs until the members of `nodes` other
/// than the victim agree on a state without it.
fn remove(sim: &mut Sim, g: &GroupId, nodes: &[NodeId], proposer: NodeId, victim: NodeId) {
    let victim_id = sim.member_id(victim);
    sim.propose_remove(proposer, g, victim_id)
        .expect("removal proposed");
    let rest: Vec<NodeId> = nodes.iter().copied().filter(|&n| n != victim).collect();
    let mut waited = 0;
    let done = |sim: &Sim| {
        sim.check_converged(g, &rest)
            .is_ok_and(|s| !s.members.contains(&victim_id))
    };
    while !done(sim) {
        assert!(
            waited < 120_000,
            "the removal did not complete: {:?}; {}",
            sim.check_converged(g, &rest).err(),
            sim.replay_hint()
        );
        sim.run_for(500);
        waited += 500;
    }
}

/// 512 members, every link 0.3–3 s, one removal: every vote is sent once, nobody asks to
/// catch up, nobody answers, nothing is re-sent. (Before, on slow delivery, members took
/// status beacons that crossed the commit, and later-epoch traffic arriving ahead of it, for
/// being behind, and every member answered.)
#[test]
fn a_removal_among_512_members_on_links_of_seconds_draws_no_repair_traffic() {
    let n = 512;
    let g = gid("quiet-512");
    let (mut sim, nodes) = bulk_formed(51, n, &g);
    sim.set_latency(300, 3_000).expect("latency");
    sim.run_for(20_000);
    let (before, t0) = (sim.stats().clone(), sim.now());
    remove(&mut sim, &g, &nodes, nodes[1], nodes[n - 1]);
    sim.run_for(30_000);
    for kind in [
        MessageKind::CatchUp,
        MessageKind::Bundle,
        MessageKind::Certificate,
    ] {
        assert_eq!(
            since(&sim, &before, kind).publications,
            0,
            "{kind} traffic with nothing missing"
        );
    }
    assert_eq!(
        since(&sim, &before, MessageKind::Consensus).publications,
        n as u64,
        "the proposal and one vote per other member, none re-sent"
    );
    let params = sim.engine(nodes[0]).expect("up").params().clone();
    let commits = since(&sim, &before, MessageKind::Commit).publications;
    assert!(
        (1..=1 + 2 * u64::from(params.commit_echo_fanout)).contains(&commits),
        "{commits} commit publications (one, plus about {} echoes)",
        params.commit_echo_fanout
    );
    // Status beacons (about `status_fanout` per interval) are the only other traffic.
    let elapsed = sim.now().since(t0);
    let beacons = since(&sim, &before, MessageKind::Control).publications;
    assert_eq!(
        since(&sim, &before, MessageKind::Mls).publications,
        0,
        "no chat in this test"
    );
    let expected = u64::from(params.status_fanout) * elapsed / params.status_interval_ms;
    assert!(
        beacons <= 2 * expected + 10,
        "{beacons} beacons in {elapsed} ms (about {expected} expected)"
    );
}

/// The same with the default model (`auto`: above 100 members a committee of the first 7
/// members in leaf order votes): a removal draws the proposal and at most 6 votes (fewer when
/// the decision reaches a committee member before the proposal does). With so few votes,
/// the commit often outruns them on links this slow, and members holding it ask for the
/// decision at once (the commit is given up after `commit_grace_ms`): the proposal's owner, the
/// committer and about `catch_up_fanout` drawn members per round answer with certificates,
/// however many ask. The first decision may also draw a few catch-up requests (members have not
/// yet seen how spread out delivery is, and take later-epoch beacons outrunning the commit for
/// being behind); the next one draws none.
#[test]
fn removals_among_512_members_in_the_small_model_draw_committee_votes_and_bounded_repair() {
    let n = 512;
    let g = gid("quiet-512-small");
    let (mut sim, nodes) = bulk_formed_with(55, n, &g, ConsensusModel::Auto);
    sim.set_latency(300, 3_000).expect("latency");
    sim.run_for(20_000);
    let committee: Vec<NodeId> = sim
        .group(nodes[0], &g)
        .expect("member")
        .members
        .iter()
        .take(7)
        .filter_map(|m| sim.node_of(*m))
        .collect();
    let params = sim.engine(nodes[0]).expect("up").params().clone();
    let fanout = u64::from(params.catch_up_fanout);
    let mut members = nodes.clone();
    for (round, victim) in [nodes[n - 1], nodes[n - 2]].into_iter().enumerate() {
        assert!(!committee.contains(&victim));
        let before = sim.stats().clone();
        remove(&mut sim, &g, &members, committee[1], victim);
        members.retain(|&m| m != victim);
        sim.run_for(30_000);
        // A committee member whose copy of the proposal is outrun by the decision (a
        // certificate, or the commit of the next epoch) has nothing left to vote on.
        let consensus = since(&sim, &before, MessageKind::Consensus).publications;
        assert!(
            (5..=7).contains(&consensus),
            "{consensus} consensus messages: the proposal, then votes of the other committee \
             members (at least enough for a quorum of 5, at most one each)"
        );
        let requests = since(&sim, &before, MessageKind::CatchUp).publications;
        let bundles = since(&sim, &before, MessageKind::Bundle).publications;
        let certificates = since(&sim, &before, MessageKind::Certificate).publications;
        assert!(
            certificates <= 2 + 4 * fanout,
            "{certificates} certificates for {n} members"
        );
        if round == 0 {
            assert!(requests <= 4, "{requests} catch-up requests");
            assert!(
                bundles <= requests * (1 + 2 * fanout),
                "{bundles} answers to {requests} requests"
            );
        } else {
            assert_eq!(
                (requests, bundles),
                (0, 0),
                "catch-up traffic once the delivery spread is known"
            );
        }
    }
}

/// One member misses a removal's commit (deafened) and then hears the group again: it asks to
/// catch up, and the request draws the committer's answer plus about `catch_up_fanout` others,
/// not one per member.
#[test]
fn a_member_that_missed_a_commit_draws_a_bounded_number_of_answers() {
    let n = 64;
    let g = gid("missed-commit");
    let (mut sim, nodes) = bulk_formed(52, n, &g);
    sim.set_latency(5, 40).expect("latency");
    let late = nodes[10];
    sim.deafen(late, true).expect("deafen");
    let before = sim.stats().clone();
    remove(
        &mut sim,
        &g,
        &without(&nodes, &[late]),
        nodes[1],
        nodes[n - 1],
    );
    sim.deafen(late, false).expect("undeafen");
    let rest = without(&nodes, &[nodes[n - 1]]);
    assert!(
        sim.run_until(60_000, |s| s.converged_exactly(&g, &rest)),
        "the late member caught up; {}",
        sim.replay_hint()
    );
    sim.run_for(10_000);
    let requests = since(&sim, &before, MessageKind::CatchUp).publications;
    let answers = since(&sim, &before, MessageKind::Bundle).publications;
    let fanout = u64::from(sim.engine(nodes[0]).expect("up").params().catch_up_fanout);
    assert!((1..=3).contains(&requests), "{requests} catch-up requests");
    assert!(
        (1..=requests * (1 + 2 * fanout)).contains(&answers),
        "{answers} answers to {requests} requests"
    );
}

/// Twenty members miss a commit at once: the first request serves them all, so only a few of
/// them ask.
#[test]
fn members_behind_together_ask_about_once() {
    let n = 64;
    let g = gid("behind-together");
    let (mut sim, nodes) = bulk_formed(53, n, &g);
    sim.set_latency(5, 40).expect("latency");
    let late: Vec<NodeId> = nodes[20..40].to_vec();
    for &m in &late {
        sim.deafen(m, true).expect("deafen");
    }
    let before = sim.stats().clone();
    remove(
        &mut sim,
        &g,
        &without(&nodes, &late),
        nodes[1],
        nodes[n - 1],
    );
    for &m in &late {
        sim.deafen(m, false).expect("undeafen");
    }
    let rest = without(&nodes, &[nodes[n - 1]]);
    assert!(
        sim.run_until(60_000, |s| s.converged_exactly(&g, &rest)),
        "the late members caught up; {}",
        sim.replay_hint()
    );
    sim.run_for(10_000);
    let requests = since(&sim, &before, MessageKind::CatchUp).publications;
    assert!(
        (1..=6).contains(&requests),
        "{requests} catch-up requests from {} members behind",
        late.len()
    );
}

/// A status beacon sent in the epoch before the last commit (it crossed the commit) draws no
/// catch-up answer.
#[test]
fn a_status_beacon_from_an_earlier_epoch_draws_no_catch_up_answer() {
    let n = 16;
    let g = gid("old-beacon");
    let (mut sim, nodes) = bulk_formed(54, n, &g);
    let sender = nodes[3];
    let old_copy = sim.adversary(sender, &g);
    remove(&mut sim, &g, &nodes, nodes[1], nodes[n - 1]);
    sim.run_for(5_000);
    let before = sim.stats().clone();
    let beacon = old_copy.encrypt_frame(&Frame {
        body: Some(frame::Body::Status(Status {
            epoch: old_copy.epoch(),
            recent: Vec::new(),
        })),
    });
    sim.publish_as(sender, demls::engine::GroupTopics::of(&g).group, beacon);
    sim.run_for(10_000);
    assert_eq!(since(&sim, &before, MessageKind::Bundle).publications, 0);
    assert_eq!(since(&sim, &before, MessageKind::CatchUp).publications, 0);
}

fn without(nodes: &[NodeId], gone: &[NodeId]) -> Vec<NodeId> {
    nodes
        .iter()
        .copied()
        .filter(|n| !gone.contains(n))
        .collect()
}
