//! What a member sent during a partition reaches the other side after the fork is resolved,
//! even when copies of its re-sends are lost on the way: the re-sent copies name each other,
//! so a member that lost some learns their ids from any copy it gets, asks for them, and the
//! answers (copies too) name the next ones.
//!
//! Each side of a split commits a leave (the group forks), a member of each side sends more
//! messages than a status beacon names, the network heals and the losing branch rejoins the
//! surviving one. While the survivors send their messages again, everything one survivor sends
//! to one rejoiner is lost; the other rejoiners get the copies. Then the network is clean and
//! nobody chats any more: only the repair the copies allow can bring them. Status beacons name
//! only each member's latest messages, so the earliest copies are found only through the copies
//! that name them.

use demls::GroupId;
use demls::engine::{EngineParams, GroupEvent};
use demls_sim::scenarios::{
    finish, form, group_id, grow_until_line, multi_sim_with, quick_multi, quick_params, stewards,
};
use demls_sim::{Link, NodeId, Sim};

/// Messages each chatting member sends during the split: more than a status beacon names.
const SENT_DURING_SPLIT: usize = 24;

/// How the first fork resolution a member reported went, if it reported one.
fn resolution(sim: &Sim, node: NodeId) -> Option<bool> {
    sim.events(node).iter().find_map(|(_, e)| match e {
        GroupEvent::ForkResolved { survived, .. } => Some(*survived),
        _ => None,
    })
}

fn run(seed: u64) -> Result<(), String> {
    let g: GroupId = group_id();
    let params = EngineParams {
        max_vote_attempts: 1,
        ..quick_params()
    };
    let (mut sim, mut nodes) = multi_sim_with(seed, 10, quick_multi(), None, params)?;
    form(&mut sim, &nodes, &g)?;
    grow_until_line(&mut sim, &g, &mut nodes, 2)?;
    sim.run_for(2_000);
    let line = stewards(&sim, &g, nodes[0]);
    let ordinary: Vec<NodeId> = nodes
        .iter()
        .copied()
        .filter(|n| !line.contains(n))
        .collect();
    if ordinary.len() < 6 {
        return Err(format!("too few ordinary members: {ordinary:?}"));
    }
    // Side a: the first steward and three ordinary members; side b: everyone else (with the
    // other stewards). Each side has a steward, so each commits its leave: the group forks.
    let mut a = vec![line[0]];
    a.extend_from_slice(&ordinary[..3]);
    let b: Vec<NodeId> = nodes.iter().copied().filter(|n| !a.contains(n)).collect();
    let (leaver_a, chatter_a) = (ordinary[0], ordinary[1]);
    let (leaver_b, chatter_b) = (ordinary[3], ordinary[4]);
    sim.partition(&[a.clone(), b.clone()])
        .map_err(|e| e.to_string())?;
    sim.leave(leaver_a, &g).map_err(|e| e.to_string())?;
    sim.leave(leaver_b, &g).map_err(|e| e.to_string())?;
    for i in 0..SENT_DURING_SPLIT {
        for n in [chatter_a, chatter_b] {
            sim.send(n, &g, format!("{i} from {n} during the split").as_bytes())
                .map_err(|e| e.to_string())?;
        }
        sim.run_for(250);
    }
    sim.run_for(5_000);
    sim.heal();
    // Stop at the first fork resolution anywhere: the survivors have not re-sent yet.
    if !sim.run_until(30_000, |s| {
        nodes.iter().any(|&n| resolution(s, n).is_some())
    }) {
        return Err(format!(
            "the fork was never resolved; {}",
            sim.replay_hint()
        ));
    }
    let first = nodes
        .iter()
        .copied()
        .find_map(|n| resolution(&sim, n).map(|survived| (n, survived)))
        .ok_or("no resolution")?;
    let first_in_a = a.contains(&first.0);
    let a_survives = first_in_a == first.1;
    let (sender, receiver) = if a_survives {
        (chatter_a, chatter_b)
    } else {
        (chatter_b, chatter_a)
    };
    // Everything the surviving chatter sends to the rejoining one is lost while the survivors
    // send their messages again.
    sim.set_link(sender, receiver, Link::uniform(5, 25).with_loss(1.0))
        .map_err(|e| e.to_string())?;
    let honest: Vec<NodeId> = nodes
        .iter()
        .copied()
        .filter(|n| *n != leaver_a && *n != leaver_b)
        .collect();
    sim.run_until(30_000, |s| s.converged_exactly(&g, &honest));
    sim.run_for(2_000);
    sim.clear_link(sender, receiver)
        .map_err(|e| e.to_string())?;
    finish(&mut sim, &g, &honest, 60_000).map(|_| ())
}

#[test]
fn messages_sent_during_a_split_reach_a_rejoiner_that_lost_every_resent_copy_from_their_sender() {
    for seed in 1..=3 {
        if let Err(e) = run(seed) {
            panic!("seed {seed}: {e}");
        }
    }
}
