//! Three module instances in three separate host processes over one relay: a group is
//! created, members are invited by address and accept, the roster converges, everyone chats,
//! one member is removed, one host is restarted from its persistence path and keeps chatting,
//! one member leaves. The script and its checks are `demls_module_host::scenario`.

use crate::common;

use std::time::Duration;

use demls_module_host::scenario::{Setup, play};

#[test]
fn three_members_in_three_processes_form_chat_shrink_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let outcome = play(Setup {
        host_bin: common::host_bin(),
        module: common::module_image(),
        workdir: dir.path().to_path_buf(),
        pause: Duration::ZERO,
    });
    if let Err(e) = &outcome {
        for member in ["alice", "bob", "carol"] {
            let log = dir.path().join(format!("{member}.log"));
            if let Ok(text) = std::fs::read_to_string(&log) {
                let tail: Vec<&str> = text.lines().rev().take(30).collect();
                eprintln!(
                    "--- {member}.log (last lines, newest first) ---\n{}",
                    tail.join("\n")
                );
            }
        }
        panic!("scenario failed: {e}");
    }
    let outcome = outcome.unwrap();
    assert_eq!(outcome.convo.len(), 32, "a 128-bit conversation id in hex");
}
