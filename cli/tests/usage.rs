//! The `demls` command refuses bad invocations and bad configuration with a clear message.

use std::process::Command;

fn run(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_demls"))
        .args(args)
        .output()
        .expect("demls runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn no_arguments_print_the_usage_and_fail() {
    let (ok, stderr) = run(&[]);
    assert!(!ok);
    assert!(stderr.contains("usage: demls"), "{stderr}");
}

#[test]
fn a_missing_config_file_is_named() {
    let (ok, stderr) = run(&["chat", "/nonexistent/demls.toml"]);
    assert!(!ok);
    assert!(stderr.contains("/nonexistent/demls.toml"), "{stderr}");
}

#[test]
fn an_unknown_logos_option_is_named() {
    let dir = std::env::temp_dir().join(format!("demls-cli-usage-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let path = dir.join("bad.toml");
    std::fs::write(&path, "[transport]\nbackend = \"logos\"\nshrad = 1\n").expect("a config");
    let (ok, stderr) = run(&["chat", &path.to_string_lossy()]);
    assert!(!ok);
    assert!(stderr.contains("unknown key `shrad`"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
