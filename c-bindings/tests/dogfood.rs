//! The check of dogfood artefact (c), `docs/dogfood/c-example/`: the C example built and run
//! as a user would, recorded by `python3 scripts/dogfood/c_example.py record`.
//!
//! The test reruns the README's build line against the library cargo built for this test
//! (`scripts/dogfood/c_example.py check`, which skips the `cargo build` step: see its doc) and
//! compares the fresh transcript with the recorded one as `scripts/dogfood/transcript.py`
//! defines (the same normaliser and comparison as the other dogfood artefacts).

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Compiling and running `hello` takes a few seconds; this bounds a hung run.
const LIMIT: Duration = Duration::from_secs(120);

fn root() -> PathBuf {
    common::crate_dir()
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

/// Runs `python3 <args>` from the workspace root, failing the test (with its output) on a
/// non-zero exit or after `LIMIT`.
fn python(args: &[&str]) -> String {
    let mut child = Command::new("python3")
        .args(args)
        .current_dir(root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs (the dogfood drivers need Python 3, standard library only)");
    let deadline = Instant::now() + LIMIT;
    while child.try_wait().expect("waiting for python3").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("python3's output");
            panic!(
                "python3 {args:?} ran longer than {LIMIT:?}:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().expect("python3's output");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "python3 {args:?} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    stdout
}

#[test]
fn the_recorded_c_example_session_matches_a_fresh_build_and_run() {
    let lib_dir = common::lib_dir();
    let out = python(&[
        "scripts/dogfood/c_example.py",
        "check",
        "--lib-dir",
        &lib_dir.to_string_lossy(),
    ]);
    assert!(out.contains("matches"), "{out}");
}

#[test]
fn the_c_transcript_comparison_tolerates_nothing_but_normalised_values() {
    let out = python(&[
        "scripts/dogfood/transcript.py",
        "selftest",
        "docs/dogfood/c-example/transcript.txt",
    ]);
    assert!(out.contains("refuses changes"), "{out}");
}
