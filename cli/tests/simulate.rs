//! `demls simulate`, end to end through the binary: a results directory with metrics and plots,
//! the same seed giving byte-identical metrics in two processes, clear errors for bad scenario
//! files, and `--compare`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn demls(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_demls"))
        .args(args)
        .output()
        .expect("demls runs")
}

fn scenario(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/scenarios")
        .join(name)
        .display()
        .to_string()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn a_scenario_runs_into_a_results_directory_and_replays_identically_in_another_process() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let quick = scenario("quickstart.toml");
    for dir in [&a, &b] {
        let o = demls(&[
            "simulate",
            &quick,
            "--seeds",
            "4,5",
            "--out",
            dir.to_str().unwrap(),
        ]);
        let (out, err) = text(&o);
        assert!(o.status.success(), "{out}\n{err}");
        // One JSON line on stdout, the progress on stderr.
        let line: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(line["runs"], 2);
        assert_eq!(line["converged"], 2, "{line}");
        assert_eq!(line["messages_lost"], 0, "{line}");
        assert!(
            err.contains("seed 4") && err.contains("%"),
            "no progress: {err}"
        );
    }
    for file in [
        "metrics.json",
        "scenario.toml",
        "decision_latency_cdf.svg",
        "bytes_per_member.svg",
        "epoch_timeline-seed-4.svg",
        "epoch_timeline-seed-5.svg",
    ] {
        let bytes = std::fs::read(a.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(!bytes.is_empty(), "{file} is empty");
        // Same seeds, same results, bit for bit (the SVGs too).
        assert_eq!(
            bytes,
            std::fs::read(b.join(file)).unwrap(),
            "{file} differs"
        );
    }
    let m = read_json(&a.join("metrics.json"));
    assert_eq!(m["backend"], "simulator");
    assert_eq!(m["runs"].as_array().unwrap().len(), 2);
    let run = &m["runs"][0];
    for key in [
        "decision_latency_ms",
        "commit_latency_ms",
        "commits",
        "elections",
        "traffic",
        "delivery",
        "convergence",
    ] {
        assert!(!run[key].is_null(), "metrics lack {key}");
    }
    assert!(run["decision_latency_ms"]["p50"].is_number());
    assert!(run["traffic"]["bytes_per_member_per_decision"].is_number());
    assert_eq!(m["replay"][0]["seed"], 4);
    assert!(m["replay"][0]["trace_digest"].as_str().unwrap().len() == 64);
    let svg = std::fs::read_to_string(a.join("epoch_timeline-seed-4.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("quickstart"));
}

#[test]
fn a_bad_scenario_file_is_refused_with_file_line_and_key() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("bad.toml");
    std::fs::write(
        &path,
        "name = \"bad\"\nduration_s = 30\n\n[members]\ncount = 3\n\n[[schedule]]\nat_s = 5\naction = \"crash\"\nmember = 3\n",
    )
    .unwrap();
    let o = demls(&["simulate", path.to_str().unwrap()]);
    let (out, err) = text(&o);
    assert!(!o.status.success());
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains("bad.toml:10:") && err.contains("`schedule[0].member`"),
        "{err}"
    );
    assert!(err.contains("member 3 does not exist"), "{err}");
    let o = demls(&["simulate", "/nonexistent/scenario.toml"]);
    assert!(text(&o).1.contains("cannot read"));
    let o = demls(&["simulate"]);
    assert!(text(&o).1.contains("usage"));
}

#[test]
fn two_scenarios_are_compared_side_by_side() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("cmp");
    let o = demls(&[
        "simulate",
        "--compare",
        &scenario("quickstart.toml"),
        &scenario("lossy.toml"),
        "--seeds",
        "1",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    let (table, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(table.starts_with("| | quickstart | lossy |"), "{table}");
    assert!(table.contains("decision latency p50"));
    for f in [
        "decision_latency_cdf.svg",
        "bytes_per_member.svg",
        "comparison.md",
        "quickstart/metrics.json",
        "lossy/metrics.json",
    ] {
        assert!(out.join(f).exists(), "{f} missing");
    }
    let cdf = std::fs::read_to_string(out.join("decision_latency_cdf.svg")).unwrap();
    assert!(
        cdf.contains("quickstart") && cdf.contains("lossy"),
        "both series overlaid"
    );
}

#[test]
fn a_run_that_cannot_complete_is_counted_and_the_other_seeds_still_run() {
    let tmp = tempfile::tempdir().unwrap();
    // 60 members cannot form a group within 50 virtual ms: every run fails the same way.
    let path = tmp.path().join("unformable.toml");
    std::fs::write(
        &path,
        "name = \"unformable\"\nduration_s = 30\n\n[members]\ncount = 60\n\n[workload]\nform_timeout_s = 0.05\n",
    )
    .unwrap();
    let out = tmp.path().join("out");
    let o = demls(&[
        "campaign",
        path.to_str().unwrap(),
        "--runs",
        "2",
        "--sim",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{stdout}\n{stderr}");
    let line: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(line["runs"], 2, "{line}");
    assert_eq!(line["failed_runs"], 2, "{line}");
    assert_eq!(line["converged"], 0, "{line}");
    assert!(
        line["failures"][0]
            .as_str()
            .unwrap()
            .contains("did not form"),
        "{line}"
    );
    assert!(
        stderr.contains("seed 1") && stderr.contains("seed 2"),
        "{stderr}"
    );
    let m = read_json(&out.join("metrics.json"));
    assert_eq!(m["errors"].as_array().unwrap().len(), 2);
    assert_eq!(m["errors"][1]["seed"], 2);
}
