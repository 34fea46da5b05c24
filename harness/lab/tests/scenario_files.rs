//! Scenario files: every example parses and validates, bad files are refused with the line and
//! key of the problem, and a small scenario runs on the simulator with the metrics it promises.

use std::path::PathBuf;

use demls_lab::metrics;
use demls_lab::progress::Silent;
use demls_lab::scenario::{self, ScenarioError};
use demls_lab::simulate;

fn link() {
    demls_consensus_hashgraph::link();
}

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/scenarios")
}

fn refused(src: &str) -> ScenarioError {
    link();
    scenario::parse(src).expect_err("the scenario must be refused")
}

const GOOD: &str = r#"
name = "t"
duration_s = 30

[members]
count = 4

[[schedule]]
at_s = 5
action = "partition"
sets = [[0, 1]]

[[schedule]]
at_s = 10
action = "heal"
"#;

#[test]
fn every_example_scenario_parses_and_validates() {
    link();
    let mut seen = 0;
    for entry in std::fs::read_dir(examples()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let loaded = scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
            assert!(!loaded.scenario.name.is_empty());
            seen += 1;
        }
    }
    assert!(seen >= 8, "only {seen} example scenarios");
}

#[test]
fn a_good_scenario_parses_with_defaults() {
    link();
    let loaded = scenario::parse(GOOD).unwrap();
    assert_eq!(loaded.scenario.members.initial(), 4);
    assert_eq!(loaded.stack.steward_config.backend, "single");
    assert_eq!(loaded.stack.consensus_config.backend, "hashgraph");
    assert_eq!(loaded.scenario.seeds.list(), vec![1]);
}

#[test]
fn an_unknown_key_is_refused_with_its_line_and_key() {
    let e = refused(&GOOD.replace("count = 4", "count = 4\ncrash_prone_typo = [1]"));
    assert_eq!(e.line, Some(7), "{e}");
    assert!(e.message.contains("crash_prone_typo"), "{e}");
    assert_eq!(e.key.as_deref(), Some("members.crash_prone_typo"), "{e}");
    let e = refused(&GOOD.replace("action = \"heal\"", "action = \"heal\"\nmember = 2"));
    assert!(e.message.contains("member"), "{e}");
    assert_eq!(e.line, Some(16), "{e}");
    assert_eq!(e.key.as_deref(), Some("schedule[1].member"), "{e}");
}

#[test]
fn a_wrong_type_is_refused_with_its_line() {
    let e = refused(&GOOD.replace("duration_s = 30", "duration_s = \"long\""));
    assert_eq!(e.line, Some(3), "{e}");
    assert_eq!(e.key.as_deref(), Some("duration_s"), "{e}");
}

#[test]
fn a_member_that_does_not_exist_is_refused_where_it_is_named() {
    let e = refused(&GOOD.replace("sets = [[0, 1]]", "sets = [[0, 7]]"));
    assert_eq!(e.key.as_deref(), Some("schedule[0].sets[0][1]"), "{e}");
    assert_eq!(e.line, Some(11), "{e}");
    assert!(e.message.contains("member 7 does not exist"), "{e}");
    assert!(e.to_string().starts_with("scenario:11:"), "{e}");
}

#[test]
fn a_schedule_that_makes_no_sense_in_order_is_refused() {
    let restart = GOOD.replace("action = \"heal\"", "action = \"restart\"\nmember = 2");
    let e = refused(&restart);
    assert!(e.message.contains("not down"), "{e}");
    assert_eq!(e.key.as_deref(), Some("schedule[1].member"), "{e}");
    let join = GOOD.replace("action = \"heal\"", "action = \"join\"\nmember = 2");
    assert!(refused(&join).message.contains("already in the group"));
    let late = GOOD.replace("at_s = 10", "at_s = 30");
    assert!(refused(&late).message.contains("not before the end"));
}

#[test]
fn a_broken_schedule_entry_is_refused_at_its_own_line() {
    let e = refused(&GOOD.replace("action = \"heal\"", "member = 2"));
    assert_eq!(e.key.as_deref(), Some("schedule[1]"), "{e}");
    assert_eq!(e.line, Some(13), "the entry's [[schedule]] line: {e}");
    assert!(e.message.contains("action"), "{e}");
}

#[test]
fn impossible_network_values_are_refused() {
    let e = refused(&format!(
        "{GOOD}\n[network]\nlatency_ms = 10\njitter_ms = 20\n"
    ));
    assert_eq!(e.key.as_deref(), Some("network.jitter_ms"), "{e}");
    let e = refused(&format!("{GOOD}\n[network]\nloss = 1.5\n"));
    assert!(e.message.contains("probability"), "{e}");
}

#[test]
fn an_unknown_backend_is_refused_with_the_ones_available() {
    let e = refused(&format!(
        "{GOOD}\n[stack]\nsteward = {{ backend = \"nope\" }}\n"
    ));
    assert_eq!(e.key.as_deref(), Some("stack.steward.backend"), "{e}");
    assert!(
        e.message.contains("single") && e.message.contains("multi"),
        "{e}"
    );
    let e = refused(&format!(
        "{GOOD}\n[stack]\nsteward = {{ backend = \"single\", commit_delay = 5 }}\n"
    ));
    assert!(e.message.contains("commit_delay"), "{e}");
    let e = refused(&format!(
        "{GOOD}\n[stack]\ngroup = {{ no_such_param = 1 }}\n"
    ));
    assert_eq!(e.key.as_deref(), Some("stack.group.no_such_param"), "{e}");
}

#[test]
fn the_quickstart_converges_with_nothing_lost_and_replays_identically() {
    link();
    let loaded = scenario::load(&examples().join("quickstart.toml")).unwrap();
    let a = simulate::run(&loaded, 7, None, &mut Silent).unwrap();
    let m = metrics::compute(&a.observations);
    assert!(m.convergence.converged, "{:?}", m.convergence);
    assert_eq!(
        m.convergence.in_group, 4,
        "4 members remain: one removed, one left, one joined"
    );
    assert_eq!(m.delivery.lost, 0);
    assert!(m.delivery.sent > 20, "{:?}", m.delivery);
    assert_eq!(m.decisions.approved_by_kind.get("remove"), Some(&1));
    assert_eq!(m.decisions.approved_by_kind.get("leave"), Some(&1));
    assert!(m.decision_latency_ms.p50.is_some());
    assert!(m.traffic.bytes_per_member > 0.0);
    // Same seed and start: the same run, bit for bit.
    let b = simulate::run(&loaded, 7, Some(a.start_ms), &mut Silent).unwrap();
    assert_eq!(a.trace_digest, b.trace_digest);
    assert_eq!(a.observations, b.observations);
    let c = simulate::run(&loaded, 8, Some(a.start_ms), &mut Silent).unwrap();
    assert_ne!(a.trace_digest, c.trace_digest, "another seed, another run");
}
