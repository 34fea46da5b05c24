//! The check of dogfood artefact (a), `docs/dogfood/chat-waku/`: three `demls chat` members
//! over the Waku (`logos`) transport, recorded in tmux by
//! `python3 scripts/dogfood/chat_waku.py record`.
//!
//! The test reruns the same scenario (the one `SCENARIO` of `scripts/dogfood/chat_waku.py`)
//! with the members on pipes instead of tmux panes, and compares the fresh transcript with
//! the recorded one as `scripts/dogfood/transcript.py` defines: per member, typed lines and
//! command replies equal in order, asynchronous events equal as multisets, after normalising
//! timestamps, keys, ids, peer ids, ports, addresses and topics. A second test checks that
//! the comparison itself accepts reordered events and refuses a missing event or a reply of
//! another shape.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The whole scenario takes about ten seconds; this bounds a hung run.
const LIMIT: Duration = Duration::from_secs(150);

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

/// Runs `python3 <args>` from the workspace root, failing the test (with its output) on a
/// non-zero exit or after `LIMIT`. When the driver is killed its members see their stdin
/// close and exit.
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
fn the_recorded_chat_over_waku_matches_a_fresh_run_of_the_same_scenario() {
    let out = python(&[
        "scripts/dogfood/chat_waku.py",
        "check",
        "--demls",
        env!("CARGO_BIN_EXE_demls"),
    ]);
    assert!(out.contains("matches"), "{out}");
}

#[test]
fn the_transcript_comparison_tolerates_event_order_but_not_missing_or_changed_lines() {
    let out = python(&[
        "scripts/dogfood/transcript.py",
        "selftest",
        "docs/dogfood/chat-waku/transcript.txt",
    ]);
    assert!(out.contains("refuses changes"), "{out}");
}
