//! A group formed by votes over a clean simulated network chats and converges.

mod common;

use common::{config, formed, gid, received};
use demls::GroupEvent;
use demls_sim::{Difference, Link, MessageKind};

#[test]
fn a_group_forms_by_votes_chats_and_converges_over_a_lossless_network() {
    let g = gid("chat");
    let (mut sim, nodes) = formed(config(1, Link::uniform(10, 40)), 6, &g);
    let state = sim.check_converged(&g, &nodes).expect("converged");
    assert!(state.epoch >= 1, "at least one commit added the joiners");
    assert_eq!(state.members.len(), 6);
    for &n in &nodes[1..] {
        assert!(
            sim.events(n)
                .iter()
                .any(|(_, e)| matches!(e, GroupEvent::Joined { .. })),
            "{n} joined from a Welcome"
        );
    }

    let mut ids = Vec::new();
    for &n in &nodes {
        ids.push((
            n,
            sim.send(n, &g, format!("hello from {n}").as_bytes())
                .expect("send"),
        ));
    }
    sim.run_for(2_000);
    for &(sender, ref id) in &ids {
        for &n in nodes.iter().filter(|&&n| n != sender) {
            assert!(
                received(&sim, n, &g).contains(id),
                "{n} got the message of {sender}"
            );
        }
    }
    assert_eq!(sim.undelivered(&g, &nodes), vec![], "{}", sim.replay_hint());
    assert_eq!(
        sim.check_converged(&g, &nodes).expect("still converged"),
        state
    );

    let stats = sim.stats();
    assert_eq!(stats.total.in_flight(), 0);
    assert_eq!(
        stats.total.dropped(),
        0,
        "nothing is dropped on a clean network"
    );
    assert_eq!(stats.total.delivered, stats.total.copies);
    for kind in [
        MessageKind::Mls,
        MessageKind::Commit,
        MessageKind::KeyPackage,
        MessageKind::Welcome,
    ] {
        assert!(
            stats.kind(kind).publications > 0,
            "{kind} traffic was counted"
        );
    }
    assert_eq!(stats.kind(MessageKind::Undecodable).publications, 0);
    assert!(sim.errors().is_empty());
}

#[test]
fn a_divergence_names_the_nodes_that_differ() {
    let g = gid("div");
    let (mut sim, nodes) = formed(config(2, Link::fixed(10)), 3, &g);
    let outsider = sim.add_node().expect("node");
    sim.crash(nodes[2]).expect("crash");
    let err = sim
        .check_converged(&g, &[nodes[0], nodes[1], nodes[2], outsider])
        .expect_err("a down node and an outsider");
    assert_eq!(err.reference, Some(nodes[0]));
    assert_eq!(
        err.differences,
        vec![Difference::Down(nodes[2]), Difference::NotInGroup(outsider)]
    );
    let text = err.to_string();
    assert!(text.contains(&format!("seed={}", sim.seed())), "{text}");
    assert!(text.contains(&format!("start={}", sim.start().0)), "{text}");
    assert!(sim.check_converged(&g, &nodes[..2]).is_ok());
    assert!(
        !sim.converged_exactly(&g, &nodes[..2]),
        "the roster has three members"
    );
}
