//! Soak: every fault scenario over many seeds. Prints one JSON line per scenario with how many
//! seeds converged (same epoch, roster and epoch authenticator at every honest member, no
//! application message lost among connected members), the failing seeds with their replay
//! hint, and virtual/wall times.
//!
//! ```text
//! cargo run --release -p demls-sim --example soak -- [--seeds N] [--first SEED] [--only a,b] [--jobs J]
//! cargo run --release -p demls-sim --example soak -- --partition [--seeds N] [--first SEED] [--jobs J]
//! ```
//!
//! Seeds run on `--jobs` threads (default: the machine's cores). Each seed is its own simulated
//! world, so the results — everything but the wall time — do not depend on the number of jobs.
//!
//! `--partition` runs the partition soak instead: per seed a random split of 10–30 members
//! (random smaller side, stewards on one or both sides, 0–5 % loss, sometimes a crash), heal,
//! and the same checks; it prints one line
//! `{"soak":"partition","seeds":S,"converged":N,"messages_sent":M,"messages_lost":L,...}`.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use demls_sim::scenarios::{self, ScenarioResult};

type Scenario = (&'static str, fn(u64) -> ScenarioResult);

fn split(members: usize, minority: usize, stewards_on_both_sides: bool) -> scenarios::Split {
    scenarios::Split::new(members, minority, stewards_on_both_sides)
}

fn lossy(seed: u64) -> ScenarioResult {
    scenarios::lossy_network(seed, 0.2)
}

const SCENARIOS: &[Scenario] = &[
    ("silent_epoch_steward", scenarios::silent_epoch_steward),
    ("malicious_steward", scenarios::malicious_steward),
    ("concurrent_stewards", scenarios::concurrent_stewards),
    ("silent_steward_list", scenarios::silent_steward_list),
    ("deadlock_recovery", scenarios::deadlock_recovery),
    (
        "emergency_holds_back_commit_proposal",
        scenarios::emergency_holds_back_commit_proposal,
    ),
    ("lossy_network_20pct", lossy),
    ("small_consensus", scenarios::small_consensus),
    ("single_committee", scenarios::single_committee),
    ("missed_vote_catch_up", scenarios::missed_vote_catch_up),
    ("offline_1_epoch", |seed| {
        scenarios::offline_catch_up(seed, 1)
    }),
    ("offline_5_epochs", |seed| {
        scenarios::offline_catch_up(seed, 5)
    }),
    ("offline_50_epochs", |seed| {
        scenarios::offline_catch_up(seed, 50)
    }),
    ("beyond_history_rejoin", scenarios::beyond_history_rejoin),
    ("crash_during_commit", scenarios::crash_during_commit),
    ("split_10_20_fork", |seed| {
        scenarios::split_and_heal(seed, split(30, 10, true))
    }),
    ("split_15_15_fork", |seed| {
        scenarios::split_and_heal(seed, split(30, 15, true))
    }),
    ("split_8_22_fork_with_joiner", |seed| {
        scenarios::split_and_heal(seed, split(30, 8, true).with_joiner())
    }),
    ("split_10_20_stewards_on_one_side", |seed| {
        scenarios::split_and_heal(seed, split(30, 10, false))
    }),
    ("removed_across_a_fork", scenarios::removed_across_a_fork),
    ("ordinary_member_leaves", scenarios::ordinary_member_leaves),
    ("epoch_steward_leaves", scenarios::epoch_steward_leaves),
    ("last_steward_leaves", scenarios::last_steward_leaves),
    (
        "two_members_leave_together",
        scenarios::two_members_leave_together,
    ),
    (
        "leave_while_partitioned",
        scenarios::leave_while_partitioned,
    ),
    ("forged_leave", scenarios::forged_leave),
];

struct Args {
    seeds: u64,
    first: u64,
    only: Option<Vec<String>>,
    partition: bool,
    jobs: usize,
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        seeds: 100,
        first: 1,
        only: None,
        partition: false,
        jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--seeds" => args.seeds = value()?.parse().map_err(|e| format!("--seeds: {e}"))?,
            "--first" => args.first = value()?.parse().map_err(|e| format!("--first: {e}"))?,
            "--only" => args.only = Some(value()?.split(',').map(str::to_owned).collect()),
            "--partition" => args.partition = true,
            "--jobs" => {
                args.jobs = value()?.parse().map_err(|e| format!("--jobs: {e}"))?;
                if args.jobs == 0 {
                    return Err("--jobs must be at least 1".into());
                }
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}

/// Runs `run` for every seed of `args` on `args.jobs` threads; results in seed order.
fn run_seeds<T: Send>(args: &Args, run: impl Fn(u64) -> T + Sync) -> Vec<T> {
    let next = AtomicU64::new(args.first);
    let end = args.first + args.seeds;
    let results: Mutex<Vec<(u64, T)>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..args.jobs.min(args.seeds.max(1) as usize) {
            scope.spawn(|| {
                loop {
                    let seed = next.fetch_add(1, Ordering::Relaxed);
                    if seed >= end {
                        break;
                    }
                    let result = run(seed);
                    results
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .push((seed, result));
                }
            });
        }
    });
    let mut results = results
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    results.sort_by_key(|(seed, _)| *seed);
    results.into_iter().map(|(_, r)| r).collect()
}

fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn main() {
    // Silent unless RUST_LOG asks (DEMLS_SIM_DEBUG=1 dumps a failed scenario's events at WARN).
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "off".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    if args.partition {
        partition_soak(&args);
        return;
    }
    let mut all_passed = true;
    for (name, run) in SCENARIOS {
        if args
            .only
            .as_ref()
            .is_some_and(|only| !only.iter().any(|o| o == name))
        {
            continue;
        }
        let started = Instant::now();
        let mut converged = 0u64;
        let mut failures: Vec<String> = Vec::new();
        let mut virtual_ms: Vec<u64> = Vec::new();
        for result in run_seeds(&args, run) {
            match result {
                Ok(outcome) => {
                    converged += 1;
                    virtual_ms.push(outcome.elapsed_ms);
                }
                Err(e) => failures.push(e),
            }
        }
        virtual_ms.sort_unstable();
        let median = virtual_ms.get(virtual_ms.len() / 2).copied().unwrap_or(0);
        all_passed &= failures.is_empty();
        let failed: Vec<String> = failures.iter().take(5).map(|f| json_str(f)).collect();
        println!(
            "{{\"scenario\":{},\"seeds\":{},\"converged\":{},\"median_virtual_ms\":{},\"wall_ms\":{},\"failures\":[{}]}}",
            json_str(name),
            args.seeds,
            converged,
            median,
            started.elapsed().as_millis(),
            failed.join(",")
        );
    }
    if !all_passed {
        std::process::exit(1);
    }
}

/// The partition soak: random splits, one JSON line for all seeds.
fn partition_soak(args: &Args) {
    let started = Instant::now();
    let (mut converged, mut sent, mut lost) = (0u64, 0usize, 0usize);
    let mut forks = 0u64;
    let mut failures: Vec<String> = Vec::new();
    for run in run_seeds(args, scenarios::partition_soak_run) {
        sent += run.messages_sent;
        lost += run.messages_lost;
        forks += u64::from(run.split.stewards_on_both_sides);
        match run.failure {
            None => converged += 1,
            Some(e) => failures.push(format!("{:?}: {e}", run.split)),
        }
    }
    let failed: Vec<String> = failures.iter().take(5).map(|f| json_str(f)).collect();
    println!(
        "{{\"soak\":\"partition\",\"seeds\":{},\"converged\":{},\"messages_sent\":{},\"messages_lost\":{},\"with_stewards_on_both_sides\":{},\"wall_ms\":{},\"failures\":[{}]}}",
        args.seeds,
        converged,
        sent,
        lost,
        forks,
        started.elapsed().as_millis(),
        failed.join(",")
    );
    if converged != args.seeds {
        std::process::exit(1);
    }
}
