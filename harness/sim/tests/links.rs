//! Link behaviour: loss rate, latency bounds, FIFO order and muting, measured on chat traffic
//! of a group formed over a clean network.

mod common;

use common::{config, formed, gid, quiet_config, received};
use demls_sim::{Fate, Link, MessageKind, NodeId, Sim};

#[test]
fn loss_drops_about_the_configured_fraction_of_copies() {
    let g = gid("lossy");
    let (mut sim, nodes) = formed(quiet_config(4, Link::fixed(20)), 4, &g);
    let before = sim.stats().kind(MessageKind::Mls);
    sim.set_loss(0.2).expect("valid loss");
    for i in 0..150 {
        sim.send(nodes[i % 4], &g, b"maybe").expect("send");
        sim.run_for(10);
    }
    sim.run_for(1_000);
    let after = sim.stats().kind(MessageKind::Mls);
    let copies = after.copies - before.copies;
    let lost = after.lost - before.lost;
    assert_eq!(copies, 450, "150 messages, three receivers each");
    let fraction = lost as f64 / copies as f64;
    // Binomial(450, 0.2) has a standard deviation of about 0.019.
    assert!(
        (0.14..=0.26).contains(&fraction),
        "lost {lost} of {copies}; {}",
        sim.replay_hint()
    );
    assert_eq!(after.delivered - before.delivered, copies - lost);
    // Each lost copy is one receiver that never decrypted the message.
    let missing: usize = sim
        .undelivered(&g, &nodes)
        .iter()
        .map(|u| u.missing.len())
        .sum();
    assert_eq!(missing as u64, lost);
}

/// Forms a 3-node group, switches the default link to `link`, sends `n` messages from node 0
/// every `gap_ms`, and returns the simulator.
fn chat_over(seed: u64, link: Link, n: usize, gap_ms: u64) -> (Sim, Vec<NodeId>, Vec<Vec<u8>>) {
    let g = gid("links");
    let (mut sim, nodes) = formed(config(seed, Link::fixed(10)), 3, &g);
    sim.fault(demls_sim::Fault::DefaultLink(link))
        .expect("valid link");
    let mut ids = Vec::new();
    for _ in 0..n {
        ids.push(sim.send(nodes[0], &g, b"tick").expect("send"));
        sim.run_for(gap_ms);
    }
    sim.run_for(1_000);
    (sim, nodes, ids)
}

#[test]
fn latency_is_drawn_within_the_link_bounds() {
    let g = gid("links");
    let (sim, nodes, ids) = chat_over(5, Link::uniform(20, 80), 60, 7);
    let mut seen = Vec::new();
    for id in &ids {
        let sent = sim
            .sent_messages(&g)
            .iter()
            .find(|m| &m.message_id == id)
            .map(|m| m.sent_at);
        let sent = sent.expect("recorded");
        for &n in &nodes[1..] {
            let at = sim.received_at(n, &g, id).expect("lossless link delivers");
            seen.push(at.since(sent));
        }
    }
    let (lo, hi) = (
        *seen.iter().min().expect("some"),
        *seen.iter().max().expect("some"),
    );
    assert!(
        lo >= 20 && hi <= 80,
        "latency {lo}..{hi} ms; {}",
        sim.replay_hint()
    );
    assert!(hi - lo >= 40, "draws spread over the range ({lo}..{hi} ms)");
}

/// The order in which `to` decrypted node 0's messages, as indices into `ids`.
fn receive_order(sim: &Sim, to: NodeId, ids: &[Vec<u8>]) -> Vec<usize> {
    received(sim, to, &gid("links"))
        .iter()
        .filter_map(|id| ids.iter().position(|x| x == id))
        .collect()
}

#[test]
fn a_fifo_link_keeps_per_link_order_and_a_gossip_link_reorders() {
    let sorted: Vec<usize> = (0..40).collect();
    let (fifo, nodes, ids) = chat_over(6, Link::uniform(0, 100).with_fifo(true), 40, 3);
    for &n in &nodes[1..] {
        assert_eq!(
            receive_order(&fifo, n, &ids),
            sorted,
            "{n} got them in order"
        );
    }
    let (gossip, nodes, ids) = chat_over(6, Link::uniform(0, 100), 40, 3);
    let orders: Vec<Vec<usize>> = nodes[1..]
        .iter()
        .map(|&n| receive_order(&gossip, n, &ids))
        .collect();
    assert!(
        orders.iter().any(|o| o != &sorted),
        "without FIFO, messages overtake each other"
    );
    for mut o in orders {
        o.sort();
        assert_eq!(o, sorted, "reordered, but all decrypted");
    }
}

#[test]
fn a_muted_nodes_messages_reach_nobody_until_unmuted() {
    let g = gid("mute");
    let (mut sim, nodes) = formed(quiet_config(7, Link::fixed(15)), 3, &g);
    let before = sim.stats().total;
    sim.mute(nodes[1], true).expect("mute");
    assert!(sim.is_muted(nodes[1]));
    let silenced: Vec<Vec<u8>> = (0..5)
        .map(|_| sim.send(nodes[1], &g, b"unheard").expect("send"))
        .collect();
    let heard = sim
        .send(nodes[0], &g, b"a muted node still hears")
        .expect("send");
    sim.run_for(1_000);
    let after = sim.stats().total;
    assert_eq!(after.of(Fate::Muted) - before.of(Fate::Muted), 10);
    assert_eq!(after.delivered - before.delivered, 2);
    for id in &silenced {
        for &n in &[nodes[0], nodes[2]] {
            assert!(sim.received_at(n, &g, id).is_none());
        }
    }
    assert!(sim.received_at(nodes[1], &g, &heard).is_some());
    let missing = sim.undelivered(&g, &nodes);
    assert_eq!(missing.len(), 5);
    assert!(
        missing
            .iter()
            .all(|u| u.sender == nodes[1] && u.missing == [nodes[0], nodes[2]])
    );

    sim.mute(nodes[1], false).expect("unmute");
    let id = sim.send(nodes[1], &g, b"heard again").expect("send");
    sim.run_for(1_000);
    assert!(sim.received_at(nodes[0], &g, &id).is_some());
    assert!(sim.received_at(nodes[2], &g, &id).is_some());
}

#[test]
fn a_link_override_applies_in_one_direction_until_cleared() {
    let g = gid("override");
    let (mut sim, nodes) = formed(config(13, Link::fixed(10)), 3, &g);
    let (a, b, c) = (nodes[0], nodes[1], nodes[2]);
    sim.set_link(a, b, Link::fixed(200)).expect("valid link");
    let latency = |sim: &mut Sim, from: NodeId, to: NodeId| {
        let sent = sim.now();
        let id = sim.send(from, &g, b"how slow?").expect("send");
        sim.run_for(500);
        sim.received_at(to, &g, &id).map(|t| t.since(sent))
    };
    assert_eq!(latency(&mut sim, a, b), Some(200));
    assert_eq!(latency(&mut sim, a, c), Some(10));
    assert_eq!(
        latency(&mut sim, b, a),
        Some(10),
        "the reverse direction keeps the default"
    );
    sim.clear_link(a, b).expect("known nodes");
    assert_eq!(latency(&mut sim, a, b), Some(10));
}

#[test]
fn a_deaf_node_hears_nothing_but_is_still_heard() {
    let g = gid("deaf");
    let (mut sim, nodes) = formed(quiet_config(14, Link::fixed(10)), 3, &g);
    sim.deafen(nodes[2], true).expect("deafen");
    assert!(sim.is_deaf(nodes[2]));
    let to_deaf = sim.send(nodes[0], &g, b"can you hear me?").expect("send");
    let from_deaf = sim.send(nodes[2], &g, b"I can still talk").expect("send");
    sim.run_for(500);
    assert!(sim.received_at(nodes[2], &g, &to_deaf).is_none());
    assert!(sim.received_at(nodes[1], &g, &to_deaf).is_some());
    assert!(sim.received_at(nodes[0], &g, &from_deaf).is_some());
    assert!(sim.received_at(nodes[1], &g, &from_deaf).is_some());
    sim.deafen(nodes[2], false).expect("undeafen");
    let again = sim.send(nodes[0], &g, b"and now?").expect("send");
    sim.run_for(500);
    assert!(sim.received_at(nodes[2], &g, &again).is_some());
}
