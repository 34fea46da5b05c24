//! The dogfood recording `docs/dogfood/logos-core-module/transcript.txt` still matches what
//! the command produces today: the session is played again and compared per member, modulo
//! timestamps, ids, keys and addresses (`demls_module_host::transcript::differences`).

use crate::common;

use std::time::Duration;

use demls_module_host::scenario::{HEADER, Setup, play};
use demls_module_host::transcript::differences;

#[test]
fn the_recorded_transcript_matches_a_fresh_session() {
    let recorded_path =
        common::workspace_dir().join("docs/dogfood/logos-core-module/transcript.txt");
    let recorded = std::fs::read_to_string(&recorded_path)
        .unwrap_or_else(|e| panic!("{}: {e}", recorded_path.display()));
    let dir = tempfile::tempdir().unwrap();
    let outcome = play(Setup {
        host_bin: common::host_bin(),
        module: common::module_image(),
        workdir: dir.path().to_path_buf(),
        pause: Duration::ZERO,
    })
    .unwrap_or_else(|e| panic!("the session failed: {e}"));
    let fresh = outcome.transcript.render(&HEADER);
    let diffs = differences(&recorded, &fresh);
    assert!(
        diffs.is_empty(),
        "the recorded transcript no longer matches (rerun logos-module/host/dogfood.sh):\n{}\n--- fresh ---\n{fresh}",
        diffs.join("\n")
    );
}
