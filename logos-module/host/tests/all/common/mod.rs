//! Shared by the host's integration tests: where things are, building tiny C images,
//! spawning hosts.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The `demls-module-host` executable cargo built for these tests.
pub fn host_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_demls-module-host"))
}

/// `logos-module/host`.
pub fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The workspace root.
pub fn workspace_dir() -> PathBuf {
    crate_dir().join("../..")
}

/// The module image cargo built for these tests: `libdemls_module.so` beside the test
/// binary (`target/<profile>/deps`), or in `target/<profile>`; the newer of the two.
pub fn module_image() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let deps = exe.parent().expect("target/<profile>/deps").to_path_buf();
    let candidates = [
        deps.join("libdemls_module.so"),
        deps.join("../libdemls_module.so"),
    ];
    candidates
        .iter()
        .filter_map(|p| Some((std::fs::metadata(p).ok()?.modified().ok()?, p.clone())))
        .max()
        .map(|(_, p)| p)
        .expect("libdemls_module.so was not built (it is a dev-dependency of this package)")
}

/// True when `program` runs.
pub fn on_path(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Builds `tests/c/test_module.c` into `<dir>/<file>` with the given `-D` definitions.
pub fn build_test_image(dir: &Path, file: &str, defines: &[&str]) -> PathBuf {
    let out = dir.join(file);
    let mut cmd = Command::new("gcc");
    cmd.args([
        "-shared", "-fPIC", "-O1", "-Wall", "-Wextra", "-Werror", "-pthread", "-o",
    ])
    .arg(&out)
    .arg(crate_dir().join("tests/c/test_module.c"));
    for d in defines {
        cmd.arg(format!("-D{d}"));
    }
    cmd.arg("-ldl");
    let status = cmd.status().expect("gcc runs");
    assert!(status.success(), "gcc failed for {file}");
    out
}
