//! One module instance on the `delivery_module` transport, the `lp_*` functions being a fake
//! delivery module: the init sequence, token forwarding, connection states reaching the host
//! as `delivery_state_changed`, a message published through `send`, and unload tearing the
//! client down.

use crate::common;

use std::ffi::CString;
use std::sync::atomic::Ordering;

use demls_module::abi::*;
use serde_json::json;

use crate::instance::*;

#[test]
fn an_instance_on_delivery_module_starts_publishes_and_tears_down() {
    if !in_own_process!(an_instance_on_delivery_module_starts_publishes_and_tears_down) {
        return;
    }
    common::install_fake();
    let dir = tempfile::tempdir().unwrap();
    let path = CString::new(dir.path().to_str().unwrap()).unwrap();
    let (core, tok) = (
        CString::new("delivery_module").unwrap(),
        CString::new("t").unwrap(),
    );
    // SAFETY: valid C strings and callbacks for any thread.
    unsafe {
        assert_eq!(logos_module_accept_token(core.as_ptr(), tok.as_ptr()), 0);
        logos_module_set_context(std::ptr::null(), std::ptr::null(), path.as_ptr());
        logos_module_set_emit_callback(Some(on_event), std::ptr::null_mut());
    }
    let config = json!({"delivery_config": "{\"preset\":\"t\"}"}).to_string();
    let address = ok("init", json!([config]));
    let me = demls_module::ids::member_of(address.as_str().unwrap()).unwrap();
    let inbox = demls_module::ids::inbox_topic(&me);
    let log = common::log();
    let expected = [
        "token_save delivery_module".to_owned(),
        "client_create delivery_module demls_module".to_owned(),
        "subscribe messageReceived".to_owned(),
        "subscribe connectionStateChanged".to_owned(),
        "invoke createNode [\"{\\\"preset\\\":\\\"t\\\"}\"]".to_owned(),
        "invoke start []".to_owned(),
        format!("invoke subscribe [\"{}\"]", inbox.as_str()),
    ];
    assert_eq!(&log[..expected.len()], &expected[..], "{log:#?}");

    common::fire_state("connected");
    wait_for("delivery_state_changed", || {
        EVENTS
            .lock()
            .unwrap()
            .iter()
            .any(|(n, d)| n == "delivery_state_changed" && d[0] == "connected")
    });
    assert_eq!(call("status", json!([]))["delivery_state"], "connected");

    let convo = ok("create_group_conversation", json!(["n", "d"]));
    ok("send_message", json!([convo, "over delivery"]));
    // The node hands the message to delivery_module from its own task: `send_message` returns
    // before the `send` call reaches the host, so wait for it rather than look once.
    wait_for("invoke_async send", || {
        common::log()
            .iter()
            .any(|l| l.starts_with("invoke_async send"))
    });
    assert_eq!(
        call("get_messages", json!([convo]))[0]["content"],
        "over delivery"
    );

    // SAFETY: a callback for any thread.
    unsafe { logos_module_set_unload_done_callback(Some(on_unloaded), std::ptr::null_mut()) };
    assert_eq!(logos_module_about_to_unload(), 1);
    wait_for("unload-done", || UNLOADED.load(Ordering::SeqCst) == 1);
    assert_eq!(common::subscription_count(), 0);
    assert!(common::log().iter().any(|l| l == "client_destroy"));
    assert_eq!(UNLOADED.load(Ordering::SeqCst), 1);
}
