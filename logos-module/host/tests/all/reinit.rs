//! `init` → `shutdown` → `init` in one host process: the delivery node created by the first
//! `init` belongs to the (fake) delivery_module, which refuses a second `createNode` and a
//! second `start`, as the real one does; the second `init` reuses it, and the conversation
//! created before the `shutdown` is still there and still works.

use crate::common;

use std::time::Duration;

use demls_module_host::harness::{Host, HostSpec, Relay, eventually, result_value};
use serde_json::{Value, json};

#[test]
fn a_second_init_after_shutdown_reuses_the_delivery_node() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::spawn(&common::host_bin(), &dir.path().join("relay.sock")).unwrap();
    std::fs::create_dir_all(dir.path().join("alice")).unwrap();
    let spec = HostSpec {
        host_bin: common::host_bin(),
        module: common::module_image(),
        member: "alice".into(),
        persistence: dir.path().join("alice"),
        relay: relay.socket().to_path_buf(),
        stderr: None,
    };
    let mut host = Host::spawn(&spec, None).expect("the module loads");
    let config = json!({"transport": "delivery_module", "delivery_config": "{}"});

    result_value(&host.call("init", vec![config.clone()]).unwrap()).expect("first init");
    let convo = result_value(
        &host
            .call("create_group_conversation", vec![json!("team"), json!("")])
            .unwrap(),
    )
    .expect("created");
    result_value(&host.call("shutdown", vec![]).unwrap()).expect("shutdown");
    assert_eq!(
        host.call("status", vec![]).unwrap()["initialized"],
        json!(false)
    );

    result_value(&host.call("init", vec![config]).unwrap())
        .expect("a second init reuses the delivery node");
    let listed = eventually("the conversation is back", Duration::from_secs(10), || {
        let list = host.call_quiet("list_conversations", vec![])?;
        Ok(list
            .as_array()
            .filter(|l| l.iter().any(|c| c["convo_id"] == convo))
            .cloned())
    })
    .unwrap();
    assert_eq!(listed.len(), 1);
    result_value(
        &host
            .call("send_message", vec![convo.clone(), json!("still here")])
            .unwrap(),
    )
    .expect("a message after the second init");
    let messages = host.call("get_messages", vec![convo]).unwrap();
    assert!(
        messages
            .as_array()
            .is_some_and(|m| m.iter().any(|m| m["content"] == json!("still here"))),
        "{messages}"
    );
    let _: Value = host.stop().unwrap();
}
