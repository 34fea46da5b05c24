//! A fast guard against performance regressions, run by CI: a small group grows by voted adds
//! and removes a member on the deterministic simulator, and its traffic and CPU are compared
//! with a stored baseline **by ratio**, never by absolute time.
//!
//! - Traffic (publications, deliveries, bytes) is a pure function of the seed, so it is compared
//!   with the baseline directly: more than twice the baseline fails.
//! - CPU time depends on the machine, so it is compared as a ratio to a calibration workload
//!   measured in the same process (a fixed number of Ed25519 signature checks): more than twice
//!   the baseline's ratio fails.
//!
//! After an intended change, regenerate the baseline with
//! `DEMLS_GUARD_UPDATE=1 cargo test -p demls-sim --test regression_guard` and commit
//! `tests/data/guard_baseline.json` (the test prints what it measured).

mod common;

use std::time::Duration;

use common::{config, gid};
use demls::GroupId;
use demls_sim::{Link, NodeId, Sim};

const MEMBERS: usize = 12;
const BASELINE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/guard_baseline.json"
);

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Measured {
    members: usize,
    publications: u64,
    delivered: u64,
    bytes_delivered: u64,
    /// CPU of the workload divided by CPU of the calibration, best of the runs.
    cpu_ratio: f64,
}

/// Thread CPU time.
fn cpu() -> Duration {
    let mut ts = Timespec { sec: 0, nsec: 0 };
    // SAFETY: `clock_gettime` writes one `timespec` through the valid pointer it is given.
    unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.sec as u64, ts.nsec as u32)
}

#[repr(C)]
struct Timespec {
    sec: i64,
    nsec: i64,
}

const CLOCK_THREAD_CPUTIME_ID: i32 = 3;

unsafe extern "C" {
    fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
}

fn settle(sim: &mut Sim, g: &GroupId, nodes: &[NodeId]) {
    for _ in 0..1_000 {
        sim.run_for(50);
        if sim.converged_exactly(g, nodes) {
            return;
        }
    }
    panic!(
        "no convergence: {:?}; {}",
        sim.check_converged(g, nodes).err(),
        sim.replay_hint()
    );
}

/// Grows a group one voted add at a time, then removes one member.
fn workload() -> (Duration, demls_sim::Counters) {
    let g = gid("guard");
    let mut sim = Sim::new(config(77, Link::fixed(1))).expect("configuration");
    let nodes = sim.add_nodes(MEMBERS).expect("nodes");
    let start = cpu();
    sim.create_group(nodes[0], &g).expect("create");
    for i in 1..MEMBERS {
        sim.join_group(nodes[i], &g).expect("join");
        settle(&mut sim, &g, &nodes[..=i]);
    }
    let victim = sim.member_id(nodes[MEMBERS - 1]);
    sim.propose_remove(nodes[1], &g, victim).expect("remove");
    settle(&mut sim, &g, &nodes[..MEMBERS - 1]);
    (cpu() - start, sim.stats().total)
}

/// A fixed amount of signature checking: the yardstick the workload's CPU is divided by.
fn calibration() -> Duration {
    use ed25519_dalek::{Signer, SigningKey, Verifier};
    let key = SigningKey::from_bytes(&[7; 32]);
    let message = [1u8; 200];
    let signature = key.sign(&message);
    let verifying = key.verifying_key();
    let start = cpu();
    for _ in 0..2_000 {
        assert!(verifying.verify(&message, &signature).is_ok());
    }
    cpu() - start
}

#[test]
fn a_small_group_costs_at_most_twice_its_baseline_in_traffic_and_in_relative_cpu() {
    // Best of three runs for the CPU ratio (the machine may be busy); traffic is identical.
    let mut ratio = f64::MAX;
    let mut traffic = None;
    for _ in 0..3 {
        let calib = calibration().as_secs_f64();
        let (spent, counters) = workload();
        ratio = ratio.min(spent.as_secs_f64() / calib);
        traffic = Some(counters);
    }
    let traffic = traffic.expect("ran");
    let measured = Measured {
        members: MEMBERS,
        publications: traffic.publications,
        delivered: traffic.delivered,
        bytes_delivered: traffic.bytes_delivered,
        cpu_ratio: ratio,
    };
    println!(
        "measured: {}",
        serde_json::to_string(&measured).expect("json")
    );
    if std::env::var_os("DEMLS_GUARD_UPDATE").is_some() {
        let json = serde_json::to_string_pretty(&measured).expect("json");
        std::fs::write(BASELINE, json + "\n").expect("baseline written");
        return;
    }
    let baseline: Measured =
        serde_json::from_str(&std::fs::read_to_string(BASELINE).expect("a committed baseline"))
            .expect("a valid baseline");
    assert_eq!(baseline.members, MEMBERS);
    let within = |what: &str, now: f64, then: f64| {
        assert!(
            now <= 2.0 * then,
            "{what}: {now} is more than twice the baseline {then} (after an intended change, \
             regenerate with DEMLS_GUARD_UPDATE=1)"
        );
    };
    within(
        "publications",
        measured.publications as f64,
        baseline.publications as f64,
    );
    within(
        "deliveries",
        measured.delivered as f64,
        baseline.delivered as f64,
    );
    within(
        "bytes delivered",
        measured.bytes_delivered as f64,
        baseline.bytes_delivered as f64,
    );
    within("CPU / calibration", measured.cpu_ratio, baseline.cpu_ratio);
}
