//! One module instance, driven only through its exported C functions, on the in-process
//! `memory` transport: init, create, send, read back, list, an invitation arriving in the
//! inbox, accepting it, clearing the emit callback, a restart on the same persistence path
//! (everything survives), and the unload handshake. (One instance per process: the ABI is
//! process-global. Several instances in separate processes are the test host's tests.)

use std::ffi::CString;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use demls::{GroupId, Identity, Invitation, Transport};
use demls_module::abi::*;
use serde_json::{Value, json};

use crate::instance::*;

#[test]
fn one_instance_chats_lists_invites_restarts_and_unloads() {
    if !in_own_process!(one_instance_chats_lists_invites_restarts_and_unloads) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = CString::new(dir.path().to_str().unwrap()).unwrap();
    let id = CString::new("instance-1").unwrap();
    // SAFETY: valid C strings and a callback for any thread.
    unsafe {
        logos_module_set_context(
            c"/modules/demls_module".as_ptr(),
            id.as_ptr(),
            path.as_ptr(),
        );
        logos_module_set_emit_callback(Some(on_event), std::ptr::null_mut());
    }
    let config = json!({"transport": "memory", "transport_options": {"network": "e2e"}});
    let address = ok("init", json!([config]));
    let address = address.as_str().unwrap().to_owned();
    assert_eq!(address.len(), 40);
    assert_eq!(call("get_address", json!([])), json!(address));
    assert_eq!(
        call("init", json!([config]))["error"]
            .as_str()
            .unwrap()
            .split(':')
            .next(),
        Some("already_initialized")
    );
    wait_for_event("delivery_state_changed", |d| d[0] == "connected");
    let seed = std::fs::metadata(dir.path().join("identity.seed")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(seed.permissions().mode() & 0o777, 0o600);
    }

    // Create and chat.
    let convo = ok(
        "create_group_conversation",
        json!(["book club", "tuesdays"]),
    );
    let convo = convo.as_str().unwrap().to_owned();
    assert_eq!(convo.len(), 32);
    let created = wait_for_event("conversation_created", |d| d[0] == convo);
    assert_eq!(
        created,
        json!([convo, true, "", "group", "book club", "tuesdays"])
    );
    let message_id = ok("send_message", json!([convo, "hello"]));
    assert_eq!(message_id.as_str().unwrap().len(), 32);
    let sent = wait_for_event("message_sent", |d| d[0] == convo);
    assert_eq!(sent[1], "hello");
    let messages = call("get_messages", json!([convo]));
    assert_eq!(messages.as_array().unwrap().len(), 1);
    assert_eq!(messages[0]["from_self"], true);
    assert_eq!(messages[0]["content"], "hello");
    assert!(messages[0]["timestamp_ms"].as_u64().unwrap() > 0);
    assert_eq!(call("get_messages", json!(["00ff"])), json!([]));
    assert_eq!(call("get_messages", json!(["../etc"])), json!([]));

    // Lists.
    let convos = call("list_conversations", json!([]));
    assert_eq!(convos.as_array().unwrap().len(), 1, "{convos}");
    let c = &convos[0];
    assert_eq!(c["convo_id"], convo);
    assert_eq!(c["name"], "book club");
    assert_eq!(c["description"], "tuesdays");
    assert_eq!(c["message_count"], 1);
    assert_eq!(c["preview"], "hello");
    assert_eq!(c["state"], "active");
    assert_eq!(c["member_count"], 1);
    assert_eq!(
        call("list_group_members", json!([convo])),
        json!([{"address": address, "pending": false}])
    );
    assert_eq!(call("list_group_members", json!(["beef"])), json!([]));
    let invitation = call("get_invitation", json!([convo]));
    assert!(invitation.as_str().unwrap().starts_with("demls-invite:1:"));
    let status = call("status", json!([]));
    assert_eq!(status["convo_count"], 1);
    assert_eq!(status["initialized"], true);
    assert_eq!(status["delivery_state"], "connected");

    // Inviting a peer sends to its inbox and lists it as pending.
    let peer = Identity::from_seed([9u8; 32]).unwrap();
    let peer_address = demls_module::ids::address(&peer.member_id());
    assert_eq!(
        ok("add_group_member", json!([convo, peer_address])),
        Value::Null
    );
    let members = call("list_group_members", json!([convo]));
    assert_eq!(
        members[1],
        json!({"address": peer_address, "pending": true})
    );
    let bad = call("add_group_member", json!([convo, "not-an-address"]));
    assert!(
        bad["error"]
            .as_str()
            .unwrap()
            .starts_with("invalid_address:")
    );
    let unknown = call("send_message", json!(["abcd", "x"]));
    assert!(
        unknown["error"]
            .as_str()
            .unwrap()
            .starts_with("unknown_conversation:")
    );

    // An invitation arriving in this instance's inbox.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let outsider = demls_transport_memory::MemoryNetwork::named("e2e").endpoint("outsider");
    let me = demls_module::ids::member_of(&address).unwrap();
    let foreign = Invitation {
        group_id: GroupId::new(vec![0xaa; 16]).unwrap(),
        genesis_digest: [1u8; 32],
    };
    let frame = demls_module::invite::seal(&peer, &foreign, "other", "desc", &me);
    runtime
        .block_on(outsider.publish(&demls_module::ids::inbox_topic(&me), frame))
        .unwrap();
    let foreign_convo = "aa".repeat(16);
    let received = wait_for_event("invitation_received", |d| d[0] == foreign_convo);
    assert_eq!(
        received,
        json!([foreign_convo, peer_address, "other", "desc"])
    );
    let accepted = call("accept_invitation", json!(["ffff"]));
    assert!(
        accepted["error"]
            .as_str()
            .unwrap()
            .starts_with("no_invitation:")
    );
    assert_eq!(
        ok("accept_invitation", json!([foreign_convo])),
        json!(foreign_convo)
    );
    let convos = call("list_conversations", json!([]));
    let joining = convos
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["convo_id"] == foreign_convo)
        .unwrap();
    assert_eq!(joining["state"], "joining");
    assert_eq!(joining["name"], "other");

    // Clearing the emit callback is honoured at once.
    // SAFETY: clearing.
    unsafe { logos_module_set_emit_callback(None, std::ptr::null_mut()) };
    let before = event_count();
    ok("send_message", json!([convo, "unheard"]));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(event_count(), before);

    // Restart on the same path: everything is back.
    assert_eq!(ok("shutdown", json!([])), Value::Null);
    assert_eq!(call("get_address", json!([]))["code"], "dispatch_failed");
    assert_eq!(ok("init", json!([config])), json!(address));
    let messages = call("get_messages", json!([convo]));
    assert_eq!(
        messages
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["content"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["hello", "unheard"]
    );
    let convos = call("list_conversations", json!([]));
    let c = convos
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["convo_id"] == convo)
        .unwrap();
    assert_eq!(
        (c["name"].clone(), c["member_count"].clone()),
        (json!("book club"), json!(1))
    );
    ok("send_message", json!([convo, "after restart"]));

    // Unload: 1 while shutting down, the callback exactly once, then quiescent.
    // SAFETY: a callback for any thread.
    unsafe { logos_module_set_unload_done_callback(Some(on_unloaded), std::ptr::null_mut()) };
    assert_eq!(logos_module_about_to_unload(), 1);
    let deadline = Instant::now() + Duration::from_secs(20);
    while UNLOADED.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "no unload-done callback");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(UNLOADED.load(Ordering::SeqCst), 1);
    assert_eq!(logos_module_about_to_unload(), 0);
    assert_eq!(call("health", json!([])), json!(true));
    // SAFETY: clearing.
    unsafe { logos_module_set_unload_done_callback(None, std::ptr::null_mut()) };
}
