//! The lab on real processes: five `demls chat` processes in network namespaces, behind the
//! lab's emulated network (50 ± 10 ms, 2 % loss), run a scenario where a partition forks the
//! group (each side commits a leave of its own), the partition heals and the fork is resolved,
//! then a member is SIGKILLed and restarted on its storage. Skips where the lab cannot run
//! (not root, no namespaces or TUN).

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::Instant;

use demls::api::{Event, encode_bytes};
use demls_lab::observe::Ending;
use demls_lab::progress::Silent;
use demls_lab::real::{self, LabOptions};
use demls_lab::scenario::Scenario;

/// The scenario: also runnable with `demls simulate` / `demls lab`.
const SCENARIO: &str = include_str!("../../examples/scenarios/lab-five.toml");

/// Parses and validates the scenario as `demls lab` does (the stack's backends registered).
fn parse(text: &str) -> Scenario {
    demls_consensus_hashgraph::link();
    demls_lab::scenario::parse(text)
        .unwrap_or_else(|e| panic!("{e}"))
        .scenario
}

#[test]
fn a_forked_group_heals_and_a_killed_member_comes_back_without_losing_a_message() {
    if let Err(e) = real::available() {
        eprintln!("lab_real: skipped: {e}");
        return;
    }
    let scenario = parse(SCENARIO);
    let work = tempfile::tempdir().expect("a temp dir");
    let options = LabOptions {
        demls_bin: PathBuf::from(env!("CARGO_BIN_EXE_demls")),
        work_dir: work.path().to_owned(),
        keep_work_dir: std::env::var_os("LAB_KEEP").is_some(),
    };
    if options.keep_work_dir {
        eprintln!("lab_real: work dir {}", work.path().display());
        std::mem::forget(work);
    }
    let started = Instant::now();
    let run = real::run_detailed(&scenario, 1, &options, &mut Silent).expect("the lab run");
    let wall = started.elapsed();
    let obs = &run.observations;
    for p in &obs.problems {
        eprintln!("lab_real: problem: {p}");
    }

    assert!(obs.formed_at_ms.is_some(), "the group never formed");
    assert!(
        obs.events
            .iter()
            .any(|o| matches!(o.event, Event::ForkResolved { .. })),
        "no fork_resolved: the partition did not fork the group"
    );

    let state = |i: usize| match &obs.endings[i] {
        Ending::InGroup(s) => s.clone(),
        other => panic!("member {i} ended {other:?}, not in the group"),
    };
    // The lab's metrics agree with the checks below.
    let m = demls_lab::metrics::compute(obs);
    assert!(m.convergence.converged, "{:?}", m.convergence);
    assert_eq!(m.delivery.lost, 0, "{:?}", m.delivery);
    assert!(m.forks_resolved >= 1);
    assert!(m.decision_latency_ms.count > 0);

    let first = state(0);
    for i in [2, 3] {
        assert_eq!(state(i), first, "member {i} disagrees with member 0");
    }
    assert_eq!(first.roster, vec![0, 2, 3], "the final roster");
    assert_eq!(first.strangers, 0);
    for i in [1, 4] {
        assert_eq!(obs.endings[i], Ending::NotInGroup, "member {i} left");
    }

    let mut received: HashMap<String, BTreeSet<usize>> = HashMap::new();
    for o in &obs.events {
        if let Event::MessageReceived { message_id, .. } = &o.event {
            received
                .entry(encode_bytes(message_id))
                .or_default()
                .insert(o.member);
        }
    }
    assert!(
        obs.sent.len() >= 20,
        "only {} messages sent",
        obs.sent.len()
    );
    for s in &obs.sent {
        for &r in &s.expected {
            if r != s.member && first.roster.contains(&r) {
                assert!(
                    received.get(&s.message_id).is_some_and(|g| g.contains(&r)),
                    "member {r} never received {} sent by {} at {} ms",
                    s.message_id,
                    s.member,
                    s.at_ms
                );
            }
        }
    }

    assert!(
        run.switch.lost > 0,
        "the switch lost no packet: {:?}",
        run.switch
    );
    assert!(
        run.switch.partitioned > 0,
        "the switch partitioned nothing: {:?}",
        run.switch
    );
    let last = obs.traffic.last().expect("traffic samples");
    assert!(
        last.messages_out.iter().all(|&p| p > 0),
        "a member sent no packet"
    );

    let leftovers: Vec<String> = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with(&format!("dl{}-", std::process::id())))
        .map(str::to_owned)
        .collect();
    assert!(
        leftovers.is_empty(),
        "namespaces left behind: {leftovers:?}"
    );

    eprintln!(
        "lab_real: {} messages sent, final epoch {}, {} forks resolved, formed at {} ms, ended at {} ms, {:.1} s wall, switch {:?}",
        obs.sent.len(),
        first.epoch,
        obs.events
            .iter()
            .filter(|o| matches!(o.event, Event::ForkResolved { .. }))
            .count(),
        obs.formed_at_ms.unwrap_or(0),
        obs.end_ms,
        wall.as_secs_f64(),
        run.switch
    );
}
