//! Bad `dispatch` calls through the host answer the module's documented error objects
//! (`{"code","message","origin":"demls_module"}`): `unknown_method`, `invalid_args`, and
//! `dispatch_failed` before `init`; the identity methods answer before `init`.

use crate::common;

use demls_module_host::harness::{Host, HostSpec};
use serde_json::{Value, json};

fn assert_error(answer: &Value, code: &str) {
    assert_eq!(answer["code"], json!(code), "{answer}");
    assert_eq!(answer["origin"], json!("demls_module"), "{answer}");
    assert!(
        answer["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{answer}"
    );
}

#[test]
fn bad_dispatch_arguments_answer_the_documented_error_objects() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("alice")).unwrap();
    let spec = HostSpec {
        host_bin: common::host_bin(),
        module: common::module_image(),
        member: "alice".into(),
        persistence: dir.path().join("alice"),
        relay: dir.path().join("no-relay.sock"),
        stderr: None,
    };
    let mut host = Host::spawn(&spec, None).expect("the module loads");

    // Identity and liveness answer before init.
    assert_eq!(host.call("name", vec![]).unwrap(), json!("demls_module"));
    assert_eq!(host.call("version", vec![]).unwrap(), json!("0.1.0"));
    assert!(
        host.call("lidl", vec![])
            .unwrap()
            .as_str()
            .is_some_and(|t| t.contains("module demls_module"))
    );
    assert_eq!(host.call("health", vec![]).unwrap(), json!(true));

    assert_error(
        &host.call("no_such_method", vec![]).unwrap(),
        "unknown_method",
    );
    assert_error(
        &host.call("list_conversations", vec![]).unwrap(),
        "dispatch_failed",
    );

    // Wrong argument counts and types.
    assert_error(
        &host.call("health", vec![json!(1)]).unwrap(),
        "invalid_args",
    );
    assert_error(
        &host
            .call("create_group_conversation", vec![json!("only a name")])
            .unwrap(),
        "invalid_args",
    );
    assert_error(
        &host.call("send_message", vec![json!(1), json!(2)]).unwrap(),
        "invalid_args",
    );
    assert_error(&host.call("init", vec![json!(5)]).unwrap(), "invalid_args");

    host.stop().unwrap();
}
