//! Shared setup for the simulator's scenario tests: a fixed start time and a helper that forms
//! a group by votes on a lossless network.
#![allow(dead_code)]

use demls::{EngineParams, GroupEvent, GroupId, Timestamp};
use demls_sim::{Link, NodeId, Sim, SimConfig};

/// One start time for both runs of a test, so a run crossing a window boundary cannot differ.
pub fn start() -> Timestamp {
    demls_sim::stable_start_utc()
}

pub fn gid(name: &str) -> GroupId {
    GroupId::new(name.as_bytes().to_vec()).expect("a valid group id")
}

/// A simulator with `n` nodes whose first node created `group` and every other node joined it
/// by vote, over a lossless `link`. Panics (with the replay hint) if the group does not form.
pub fn formed(config: SimConfig, n: usize, group: &GroupId) -> (Sim, Vec<NodeId>) {
    let mut sim = Sim::new(config).expect("a valid configuration");
    let nodes = sim.add_nodes(n).expect("nodes open");
    sim.create_group(nodes[0], group).expect("group created");
    for &node in &nodes[1..] {
        sim.join_group(node, group).expect("join requested");
    }
    let ok = sim.run_until(60_000, |s| s.converged_exactly(group, &nodes));
    assert!(
        ok,
        "the group did not form: {:?}; {}",
        sim.check_converged(group, &nodes).err(),
        sim.replay_hint()
    );
    // Let the last commit's stragglers (consensus tails) settle.
    sim.run_for(1_000);
    (sim, nodes)
}

/// The default configuration for `seed` with a lossless link of `link`.
pub fn config(seed: u64, link: Link) -> SimConfig {
    SimConfig::new(seed).with_start(start()).with_link(link)
}

/// Engine parameters with the loss-repair machinery idle (no status beacons, no repair
/// requests, no vote re-sends), so that only the traffic a test sends is on the wire and
/// delivery statistics can be asserted exactly.
pub fn without_repair() -> EngineParams {
    const DAY_MS: u64 = 86_400_000;
    EngineParams {
        status_fanout: 0,
        status_interval_ms: DAY_MS,
        repair_delay_ms: DAY_MS,
        resend_interval_ms: DAY_MS,
        ..EngineParams::default()
    }
}

/// [`config`] with [`without_repair`] engines.
pub fn quiet_config(seed: u64, link: Link) -> SimConfig {
    SimConfig {
        params: without_repair(),
        ..config(seed, link)
    }
}

/// Message ids `node` received in `group`, in the order it received them.
pub fn received(sim: &Sim, node: NodeId, group: &GroupId) -> Vec<Vec<u8>> {
    sim.events(node)
        .iter()
        .filter_map(|(_, e)| match e {
            GroupEvent::MessageReceived {
                group_id,
                message_id,
                ..
            } if group_id == group => Some(message_id.clone()),
            _ => None,
        })
        .collect()
}

/// Passes if a ready-made scenario passed (printing what it observed), else panics with its
/// replay hint.
pub fn check(result: demls_sim::scenarios::ScenarioResult) {
    match result {
        Ok(outcome) => eprintln!("{outcome:?}"),
        Err(e) => panic!("{e}"),
    }
}
