//! Running one test in a process of its own: this test binary re-run, filtered to that test,
//! with [`CHILD`] naming it. Owns nothing else; the tests decide which of them need it.

use std::process::Command;

/// Set in a child process to the one test it runs.
const CHILD: &str = "DEMLS_MODULE_TEST_PROCESS";

/// True in the child process running `test` (of module `module`, as `module_path!()` says it):
/// the caller then runs its body. Anywhere else, runs this test binary again filtered exactly to
/// that test with [`CHILD`] set, fails if the child fails or ran anything but that one test, and
/// returns false (the caller returns).
pub fn own(module: &str, test: &str) -> bool {
    // The test's name as the harness lists it: the module path without the crate's name.
    let name = match module.split_once("::") {
        Some((_, path)) => format!("{path}::{test}"),
        None => test.to_owned(),
    };
    if std::env::var(CHILD).is_ok_and(|v| v == name) {
        return true;
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let out = Command::new(exe)
        .args([name.as_str(), "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, &name)
        .output()
        .expect("the child process ran");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("test result: ok. 1 passed"),
        "{name} in its own process:\n{stdout}\n{stderr}"
    );
    false
}
