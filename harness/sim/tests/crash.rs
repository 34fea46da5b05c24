//! Crash and restart: a crashed node misses traffic, and after restarting from its storage it
//! is still a member with the state it had, and can send.

mod common;

use common::{config, formed, gid, quiet_config, received};
use demls_sim::{Fate, Link, SimError};

#[test]
fn a_crashed_node_misses_traffic_and_after_restart_is_still_a_member_and_can_send() {
    let g = gid("crash");
    let (mut sim, nodes) = formed(quiet_config(8, Link::uniform(10, 30)), 4, &g);
    let victim = nodes[3];
    let state = sim.check_converged(&g, &nodes).expect("converged");
    let events_before = sim.events(victim).len();

    // A message in flight to the victim when it crashes is dropped.
    let racing = sim.send(nodes[0], &g, b"in flight").expect("send");
    sim.run_for(5);
    sim.crash(victim).expect("crash");
    assert!(!sim.is_up(victim));
    assert!(
        sim.group(victim, &g).is_none(),
        "a crashed node shows no group"
    );
    assert!(matches!(
        sim.send(victim, &g, b"from the grave"),
        Err(SimError::NodeDown(n)) if n == victim
    ));
    let down_before = sim.stats().total.of(Fate::Down);
    let missed = sim.send(nodes[1], &g, b"while it is down").expect("send");
    sim.run_for(2_000);
    assert_eq!(
        sim.events(victim).len(),
        events_before,
        "a crashed node reports nothing"
    );
    assert_eq!(
        sim.stats().total.of(Fate::Down) - down_before,
        2,
        "the copy in flight (dropped on arrival) and the one sent while down"
    );
    for id in [&racing, &missed] {
        assert!(sim.received_at(victim, &g, id).is_none());
        assert!(sim.received_at(nodes[2], &g, id).is_some());
    }

    sim.restart(victim).expect("restart");
    assert!(sim.is_up(victim));
    assert_eq!(sim.incarnation(victim), 1);
    let summary = sim.group(victim, &g).expect("still a member after restart");
    assert_eq!(summary.epoch, state.epoch);
    assert_eq!(summary.members, state.members);
    assert_eq!(summary.authenticator, state.authenticator);
    assert!(
        !sim.subscriptions(victim).is_empty(),
        "re-subscribed to the group's topics"
    );
    assert_eq!(sim.check_converged(&g, &nodes).expect("converged"), state);

    let hello = sim
        .send(victim, &g, b"back")
        .expect("a restarted node can send");
    sim.run_for(1_000);
    for &n in &nodes[..3] {
        assert!(received(&sim, n, &g).contains(&hello), "{n} got it");
    }
    let missing = sim.undelivered(&g, &nodes);
    let lost: Vec<_> = missing
        .iter()
        .map(|u| (&u.message_id, u.missing.clone()))
        .collect();
    assert_eq!(lost, vec![(&racing, vec![victim]), (&missed, vec![victim])]);
    assert!(sim.errors().is_empty());
}

#[test]
fn a_restarted_node_keeps_its_identity_and_takes_part_in_the_next_commit() {
    let g = gid("crash-commit");
    let (mut sim, nodes) = formed(config(9, Link::fixed(10)), 3, &g);
    let member = sim.member_id(nodes[2]);
    sim.crash(nodes[2]).expect("crash");
    sim.crash(nodes[2]).expect("crashing twice does nothing");
    sim.restart(nodes[2]).expect("restart");
    assert_eq!(sim.member_id(nodes[2]), member);
    assert_eq!(sim.engine(nodes[2]).map(|e| e.member_id()), Some(member));
    let joiner = sim.add_node().expect("node");
    sim.join_group(joiner, &g).expect("join");
    let all = [nodes[0], nodes[1], nodes[2], joiner];
    assert!(
        sim.run_until(30_000, |s| s.converged_exactly(&g, &all)),
        "{:?}; {}",
        sim.check_converged(&g, &all).err(),
        sim.replay_hint()
    );
}
