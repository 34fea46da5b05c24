//! Light members (one pool voting for many real members that run no engine), CPU metering and
//! the size-dependent latency model.

mod common;

use common::{config, gid};
use demls::engine::{GroupEvent, ProposalAction};
use demls::{GroupId, MemberId, Verdict};
use demls_sim::{CpuMode, Link, NodeId, Sim, SizeLatency};

const FULL: usize = 8;
const LIGHT: usize = 42;

/// Eight full members and 42 light members: the creator adds all 49 joiners, then a full
/// member proposes removing a light member under the Waku-like latency model.
fn run(seed: u64) -> (Sim, Vec<NodeId>, GroupId, MemberId) {
    let g = gid("light");
    let mut sim = Sim::new(config(seed, Link::uniform(5, 30))).expect("valid configuration");
    let full = sim.add_nodes(FULL).expect("nodes open");
    sim.create_group(full[0], &g).expect("group created");
    let lights = sim.add_light_members(&g, LIGHT).expect("light members");
    for &node in &full[1..] {
        sim.join_group(node, &g).expect("join requested");
    }
    assert_eq!(sim.announce_light(&lights).expect("announced"), LIGHT);
    let formed = sim.run_until(60_000, |s| {
        s.check_converged(&g, &full)
            .is_ok_and(|c| c.members.len() == FULL + LIGHT)
    });
    assert!(formed, "the group did not form: {}", sim.replay_hint());
    sim.run_for(2_000);

    sim.set_size_latency(Some(SizeLatency::waku()))
        .expect("valid model");
    let target = lights[7];
    sim.propose_remove(full[1], &g, target)
        .expect("removal opened");
    let removed = sim.run_until(60_000, |s| {
        full.iter()
            .all(|&n| s.group(n, &g).is_some_and(|x| !x.members.contains(&target)))
    });
    assert!(
        removed,
        "the removal was not applied: {}",
        sim.replay_hint()
    );
    sim.run_for(2_000);
    (sim, full, g, target)
}

#[test]
fn full_members_count_the_votes_of_light_members_and_converge() {
    let (sim, full, g, target) = run(5);
    let state = sim.check_converged(&g, &full).expect("one group");
    assert_eq!(state.members.len(), FULL + LIGHT - 1);
    assert!(!state.members.contains(&target));
    // More YES votes than there are full members: light votes were counted.
    let decided = sim.events(full[2]).iter().find_map(|(_, e)| match e {
        GroupEvent::ProposalDecided {
            action: ProposalAction::Remove { member },
            outcome,
            yes,
            eligible,
            ..
        } if *member == target => Some((*outcome, *yes, *eligible)),
        _ => None,
    });
    let (outcome, yes, eligible) = decided.expect("the removal was decided");
    assert_eq!(outcome, Verdict::Yes);
    assert_eq!(eligible as usize, FULL + LIGHT);
    assert!(yes as usize > FULL, "only {yes} YES votes");
    let stats = sim.light().expect("a pool").stats();
    assert_eq!(stats.key_packages, LIGHT as u64);
    assert_eq!(stats.proposals, 1, "one proposal answered");
    assert_eq!(stats.votes, LIGHT as u64, "every light member voted once");
    assert_eq!(stats.unreadable, 0);
    // No full member refused a light vote.
    for &n in &full {
        assert!(
            !sim.events(n)
                .iter()
                .any(|(_, e)| matches!(e, GroupEvent::Rejected { .. })),
            "{n} refused something"
        );
    }
    assert!(sim.errors().is_empty(), "{:?}", sim.errors());
}

#[test]
fn runs_with_light_members_replay_bit_for_bit() {
    let (a, ..) = run(9);
    let (b, ..) = run(9);
    assert_eq!(a.trace_digest(), b.trace_digest());
}

fn form_small(mode: CpuMode) -> (Sim, Vec<NodeId>) {
    let g = gid("cpu");
    let mut cfg = config(3, Link::uniform(5, 20));
    cfg.cpu = mode;
    let mut sim = Sim::new(cfg).expect("valid configuration");
    let nodes = sim.add_nodes(4).expect("nodes open");
    sim.create_group(nodes[0], &g).expect("group created");
    for &n in &nodes[1..] {
        sim.join_group(n, &g).expect("join requested");
    }
    assert!(sim.run_until(60_000, |s| s.converged_exactly(&g, &nodes)));
    sim.run_for(1_000);
    (sim, nodes)
}

#[test]
fn measuring_cpu_does_not_change_the_run() {
    let (off, _) = form_small(CpuMode::Off);
    let (measured, nodes) = form_small(CpuMode::Measure);
    assert_eq!(off.trace_digest(), measured.trace_digest());
    assert_eq!(off.cpu_us(nodes[0]), 0);
    assert!(measured.cpu_us(nodes[0]) > 0);
    // The call that created the group is found from its event.
    let created = measured
        .events(nodes[0])
        .iter()
        .position(|(_, e)| matches!(e, GroupEvent::GroupCreated { .. }))
        .expect("group created");
    assert!(measured.cpu_of_event(nodes[0], created).is_some());
}

#[test]
fn a_charged_node_does_one_thing_at_a_time() {
    let (sim, nodes) = form_small(CpuMode::Charge);
    for &n in &nodes {
        let calls = sim.cpu_calls(n);
        assert!(!calls.is_empty());
        for pair in calls.windows(2) {
            // Each call starts once the previous one ended (times are whole milliseconds).
            let end_us = pair[0].at.0 * 1_000 + pair[0].cpu_us;
            assert!(
                pair[1].at.0 * 1_000 + 999 >= end_us,
                "{n}: a call started before the previous one ended"
            );
        }
    }
}
