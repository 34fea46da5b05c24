//! The lab dogfood recording (`docs/dogfood/lab/`) still matches: its simulator part is rerun
//! by the recording driver (`scripts/dogfood/lab.py check`, same scenario, seed and virtual
//! start) and must write the same metrics and plots, byte for byte.

use std::path::PathBuf;
use std::process::Command;

#[test]
fn the_recorded_simulator_session_replays_byte_for_byte() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new("python3")
        .arg(root.join("scripts/dogfood/lab.py"))
        .arg("check")
        .arg(tmp.path())
        .arg(env!("CARGO_BIN_EXE_demls"))
        .current_dir(&root)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recorded = root.join("docs/dogfood/lab/simulate");
    for file in [
        "metrics.json",
        "scenario.toml",
        "decision_latency_cdf.svg",
        "bytes_per_member.svg",
        "epoch_timeline-seed-1.svg",
    ] {
        let now = std::fs::read(tmp.path().join(file)).unwrap();
        let then = std::fs::read(recorded.join(file)).unwrap();
        assert!(now == then, "{file} differs from the recording");
    }
    // The recorded lab run (real processes) converged with nothing lost.
    let lab: serde_json::Value = serde_json::from_slice(
        &std::fs::read(root.join("docs/dogfood/lab/lab/metrics.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(lab["backend"], "lab");
    assert_eq!(lab["summary"]["converged"], 1);
    assert_eq!(lab["summary"]["lost"], 0);
}
