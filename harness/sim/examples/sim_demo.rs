//! A ten-node experiment on the deterministic simulator: the group forms by votes over a clean
//! network, then chats over a lossy, jittery one (50 ms ± 30 ms, 5 % loss) through a partition
//! and its healing. Prints a short summary; run it with
//! `cargo run -p demls-sim --example sim_demo [seed]`.
//!
//! The group is formed before loss is switched on, so that formation never depends on the
//! engine's loss repair; during the chat phase, the summary shows how much of the loss and the
//! partition that repair recovered (the undelivered pairs are what it did not).

use demls::{GroupId, Timestamp};
use demls_sim::{Fault, Link, MessageKind, Sim, SimConfig, SimError};

/// What the run ended with, for the test that exercises this example.
#[derive(Debug)]
pub struct Summary {
    /// The replay hint (seed and start time).
    pub replay: String,
    /// Whether the group formed with all ten nodes.
    pub formed: bool,
    /// Virtual milliseconds the group took to form.
    pub formed_after_ms: u64,
    /// Application messages sent.
    pub sent: usize,
    /// (message, receiver) pairs expected but never decrypted.
    pub undelivered_pairs: usize,
    /// Message copies by fate.
    pub total: demls_sim::Counters,
    /// Copies of application traffic during the lossy chat phase.
    pub chat: demls_sim::Counters,
    /// Whether every node still agrees on epoch, roster and authenticator at the end.
    pub converged: bool,
    /// The trace digest.
    pub digest: [u8; 32],
}

/// Runs the experiment with `seed`, starting at `start` (default: [`demls_sim::stable_start_utc`]).
pub fn run(seed: u64, start: Option<Timestamp>) -> Result<Summary, SimError> {
    let group = GroupId::new(b"demo".to_vec()).expect("a valid group id");
    let mut config = SimConfig::new(seed).with_link(Link::fixed(20));
    config.start = start;
    let mut sim = Sim::new(config)?;
    let nodes = sim.add_nodes(10)?;

    sim.create_group(nodes[0], &group)?;
    for &n in &nodes[1..] {
        sim.join_group(n, &group)?;
    }
    let formed = sim.run_until(120_000, |s| s.converged_exactly(&group, &nodes));
    let formed_after_ms = sim.elapsed_ms();
    sim.run_for(1_000);

    // Chat over a worse network: 50 ms ± 30 ms, 5 % loss, and a partition 2 s in for 3 s.
    let before = sim.stats().kind(MessageKind::Mls);
    sim.fault(Fault::DefaultLink(Link::uniform(20, 80).with_loss(0.05)))?;
    sim.after(2_000, Fault::Partition(vec![nodes[..4].to_vec()]));
    sim.after(5_000, Fault::Heal);
    let mut sent = 0;
    for round in 0..8 {
        for &n in &nodes {
            sim.send(n, &group, format!("round {round} from {n}").as_bytes())?;
            sent += 1;
        }
        sim.run_for(1_000);
    }
    sim.run_for(2_000);

    let undelivered_pairs = sim
        .undelivered(&group, &nodes)
        .iter()
        .map(|u| u.missing.len())
        .sum();
    Ok(Summary {
        replay: sim.replay_hint(),
        formed,
        formed_after_ms,
        sent,
        undelivered_pairs,
        total: sim.stats().total,
        chat: sim.stats().kind(MessageKind::Mls).since(&before),
        converged: sim.check_converged(&group, &nodes).is_ok(),
        digest: sim.trace_digest(),
    })
}

#[allow(dead_code)]
fn main() {
    let seed = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    match run(seed, None) {
        Ok(s) => {
            println!("sim_demo: {}", s.replay);
            println!(
                "group of 10 formed: {} after {} ms of virtual time",
                s.formed, s.formed_after_ms
            );
            println!(
                "{} messages sent; {} (message, receiver) pairs undelivered",
                s.sent, s.undelivered_pairs
            );
            let t = s.total;
            println!(
                "copies: {} delivered, {} lost, {} partitioned, {} muted, {} down, {} in flight",
                t.delivered,
                t.lost,
                t.partitioned,
                t.muted,
                t.down,
                t.in_flight()
            );
            println!("converged at the end: {}", s.converged);
            let digest: String = s.digest.iter().map(|b| format!("{b:02x}")).collect();
            println!("trace digest: {digest}");
        }
        Err(e) => {
            eprintln!("sim_demo failed: {e}");
            std::process::exit(1);
        }
    }
}
