//! The loader refuses what Logos Core's plain host refuses, and drives a good image through
//! the whole lifecycle (caller push/pop, dispatch, unload handshake). The images are tiny C
//! libraries built here with gcc (`tests/c/test_module.c`).

use crate::common;

use std::path::Path;

use demls_module_host::harness::{HarnessError, Host, HostSpec};
use serde_json::{Value, json};

fn spec(dir: &Path, image: &Path) -> HostSpec {
    HostSpec {
        host_bin: common::host_bin(),
        module: image.to_path_buf(),
        member: "alice".into(),
        persistence: dir.join("alice"),
        relay: dir.join("no-relay.sock"),
        stderr: None,
    }
}

fn refusal(defines: &[&str]) -> Option<String> {
    if !common::on_path("gcc") {
        eprintln!("skipped: gcc is not installed");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let image = common::build_test_image(dir.path(), "libbad.so", defines);
    match Host::spawn(&spec(dir.path(), &image), None) {
        Err(HarnessError::LoadFailed { error, .. }) => Some(error),
        Err(e) => panic!("unexpected failure: {e}"),
        Ok(_) => panic!("the host accepted an image it must refuse ({defines:?})"),
    }
}

#[test]
fn an_image_missing_a_required_symbol_is_refused_naming_it() {
    if let Some(error) = refusal(&["OMIT_ABOUT_TO_UNLOAD"]) {
        assert_eq!(
            error,
            "missing required symbol: logos_module_about_to_unload"
        );
    }
}

#[test]
fn an_image_of_another_protocol_major_is_refused() {
    if let Some(error) = refusal(&[r#"PROTOCOL_VERSION="1.0.0""#]) {
        assert_eq!(error, "incompatible logos-protocol version 1.0.0");
    }
}

#[test]
fn an_image_answering_another_name_is_refused() {
    if let Some(error) = refusal(&[r#"MODULE_NAME="other_module""#]) {
        assert_eq!(
            error,
            "module name mismatch: expected 'demls_module', got 'other_module'"
        );
    }
}

#[test]
fn a_file_that_is_no_image_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("libnot.so");
    std::fs::write(&bogus, b"not an ELF file").unwrap();
    match Host::spawn(&spec(dir.path(), &bogus), None) {
        Err(HarnessError::LoadFailed { error, .. }) => {
            assert!(
                error.starts_with("failed to load native module:"),
                "{error}"
            );
        }
        other => panic!("expected a refusal, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn a_good_image_is_called_as_the_host_and_unloads_cleanly() {
    if !common::on_path("gcc") {
        eprintln!("skipped: gcc is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let image = common::build_test_image(dir.path(), "libgood.so", &[]);
    let mut host = Host::spawn(&spec(dir.path(), &image), None).expect("the image loads");
    assert_eq!(
        host.call("caller", vec![]).unwrap(),
        json!({"kind": "host"})
    );
    let answer = host
        .type_line(r#"{"call":"caller","caller":{"kind":"module","name":"chat_module"}}"#)
        .unwrap();
    assert_eq!(
        answer["result"],
        json!({"kind": "module", "name": "chat_module"})
    );
    assert_eq!(
        host.call("echo", vec![json!("a"), json!({"_bytes": "AAE"})])
            .unwrap(),
        json!(["a", {"_bytes": "AAE"}])
    );
    let unknown = host.call("nope", vec![]).unwrap();
    assert_eq!(unknown["code"], json!("unknown_method"));
    // The human form reaches the same dispatch.
    assert_eq!(
        host.type_line("echo 1 two").unwrap()["result"],
        json!([1, "two"])
    );
    let bad = host.type_line("{not json").unwrap();
    assert_eq!(bad["host"], json!("error"));
    let stopped = host.stop().unwrap();
    assert_eq!(
        stopped,
        json!({"host": "stopped", "drained": true, "unloaded": true})
    );
    let _: Value = stopped;
}

#[test]
fn a_stop_signal_unloads_the_module_through_the_handshake() {
    if !common::on_path("gcc") {
        eprintln!("skipped: gcc is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let image = common::build_test_image(dir.path(), "libgood.so", &[]);
    let mut host = Host::spawn(&spec(dir.path(), &image), None).expect("the image loads");
    let pid = libc::pid_t::try_from(host.pid()).unwrap();
    // SAFETY: signalling our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let stopped = host.read_line(std::time::Duration::from_secs(10)).unwrap();
    assert_eq!(
        stopped,
        json!({"host": "stopped", "drained": true, "unloaded": true})
    );
}
