//! Same seed and start time → the same run, bit for bit; another seed → another run.

mod common;

use common::{config, gid};
use demls_sim::{Fault, Link, Sim};

/// A run with reordering latency, a removal by vote, then chat under loss, a partition and a
/// crash: its trace digest and every node's event log, rendered.
fn run(seed: u64, start: demls::Timestamp) -> ([u8; 32], Vec<String>) {
    let g = gid("det");
    let mut sim = Sim::new(config(seed, Link::uniform(5, 60)).with_start(start)).expect("config");
    let nodes = sim.add_nodes(4).expect("nodes");
    sim.create_group(nodes[0], &g).expect("create");
    for &n in &nodes[1..] {
        sim.join_group(n, &g).expect("join");
    }
    assert!(
        sim.run_until(60_000, |s| s.converged_exactly(&g, &nodes)),
        "{}",
        sim.replay_hint()
    );
    sim.propose_remove(nodes[1], &g, nodes[2]).expect("remove");
    let rest = [nodes[0], nodes[1], nodes[3]];
    assert!(
        sim.run_until(30_000, |s| s.converged_exactly(&g, &rest)),
        "{}",
        sim.replay_hint()
    );
    // Loss from here on exercises the engine's repair paths (beacons, repair requests).
    sim.set_loss(0.1).expect("valid loss");
    sim.after(100, Fault::Partition(vec![vec![nodes[0]]]));
    sim.after(600, Fault::Heal);
    sim.after(700, Fault::Crash(nodes[3]));
    sim.after(900, Fault::Restart(nodes[3]));
    for &n in &rest {
        sim.send(n, &g, b"same every time").expect("send");
        sim.run_for(250);
    }
    sim.run_for(2_000);
    assert!(sim.stats().total.lost > 0, "the run included losses");
    let logs = sim
        .nodes()
        .into_iter()
        .flat_map(|n| {
            sim.events(n)
                .iter()
                .map(move |(t, e)| format!("{n} {} {e:?}", t.0))
                .collect::<Vec<_>>()
        })
        .collect();
    (sim.trace_digest(), logs)
}

#[test]
fn the_same_seed_repeats_the_run_bit_for_bit_and_another_seed_differs() {
    let start = common::start();
    let (digest_a, logs_a) = run(11, start);
    let (digest_b, logs_b) = run(11, start);
    assert!(logs_a.iter().any(|l| l.contains("authenticator")));
    assert!(logs_a.iter().any(|l| l.contains("MessageReceived")));
    assert_eq!(logs_a, logs_b, "same seed, same events, same bytes");
    assert_eq!(digest_a, digest_b, "same seed, same trace");
    let (digest_c, logs_c) = run(12, start);
    assert_ne!(digest_a, digest_c, "another seed, another trace");
    assert_ne!(logs_a, logs_c, "another seed, other ids and authenticators");
}

#[test]
fn a_run_starting_at_the_oldest_default_start_still_forms_a_group() {
    // The default start may lie up to 8 weeks in the past; KeyPackages signed then must still
    // pass OpenMLS's lifetime check against the real clock.
    const DAY_MS: u64 = 86_400_000;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .expect("a clock after 1970");
    let oldest = demls::Timestamp(now - 56 * DAY_MS);
    let (_, logs) = run(13, oldest);
    assert!(logs.iter().any(|l| l.contains("Joined")));
}

/// A 16-member group: OpenMLS encrypts a commit's path secrets on several threads, so this
/// catches any randomness whose draw order depends on thread scheduling.
fn sixteen(seed: u64) -> [u8; 32] {
    let g = gid("det16");
    let mut sim = Sim::new(config(seed, Link::uniform(5, 30))).expect("config");
    let nodes = sim.add_nodes(16).expect("nodes");
    sim.create_group(nodes[0], &g).expect("create");
    for &n in &nodes[1..] {
        sim.join_group(n, &g).expect("join");
    }
    assert!(
        sim.run_until(120_000, |s| s.converged_exactly(&g, &nodes)),
        "{}",
        sim.replay_hint()
    );
    sim.propose_remove(nodes[3], &g, nodes[9]).expect("remove");
    let rest: Vec<_> = nodes.iter().copied().filter(|&n| n != nodes[9]).collect();
    assert!(
        sim.run_until(60_000, |s| s.converged_exactly(&g, &rest)),
        "{}",
        sim.replay_hint()
    );
    sim.trace_digest()
}

#[test]
fn a_sixteen_member_run_repeats_bit_for_bit() {
    assert_eq!(sixteen(21), sixteen(21));
}
