//! The API of `specs/api.md` end to end, as a host without an async runtime drives it: three
//! [`BlockingNode`]s built from TOML text, every operation made through the JSON dispatcher
//! (`call`), events taken as JSON, and every error answered with its numbered code.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use demls::api::{BlockingNode, ErrorCode, METHODS, encode_bytes};
use serde_json::{Value, json};

fn link() {
    demls_transport_memory::link();
    demls_storage_memory::link();
    demls_consensus_hashgraph::link();
}

fn node(name: &str, network: &str, extra: &str) -> BlockingNode {
    link();
    let toml = format!(
        "[node]\nname = \"{name}\"\n[transport]\nbackend = \"memory\"\nnetwork = \"{network}\"\n\
         [storage]\nbackend = \"memory\"\n[consensus]\nbackend = \"hashgraph\"\n\
         [steward]\nbackend = \"single\"\ncommit_delay_ms = 50\n{extra}"
    );
    BlockingNode::from_config_str(&toml).expect("the node starts")
}

fn call(node: &BlockingNode, method: &str, args: Value) -> Value {
    let text = node
        .call(method, &args.to_string())
        .unwrap_or_else(|e| panic!("{method} {args}: {e}"));
    serde_json::from_str(&text).expect("a JSON result")
}

fn refused(node: &BlockingNode, method: &str, args: &str) -> ErrorCode {
    node.call(method, args)
        .expect_err(&format!("{method} {args} should fail"))
        .code
}

/// Takes events (as JSON, through the dispatcher) until one satisfies `pred`.
fn wait_for(node: &BlockingNode, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let event = call(node, "next_event", json!({ "timeout_ms": 200 }));
        if !event.is_null() && pred(&event) {
            return event;
        }
    }
    panic!("timed out waiting for {what}");
}

fn group() -> Value {
    json!({ "group": encode_bytes(b"room") })
}

#[test]
fn three_blocking_nodes_form_a_group_chat_remove_and_leave_through_the_json_dispatcher() {
    let alice = node("alice", "api-main", "");
    let bob = node("bob", "api-main", "");
    let carol = node("carol", "api-main", "");

    assert_eq!(call(&alice, "create_group", group()), Value::Null);
    wait_for(&alice, "group_created", |e| e["type"] == "group_created");
    let info = call(&alice, "group", group());
    assert_eq!(
        (info["epoch"].as_u64(), info["role"].as_str()),
        (Some(0), Some("steward"))
    );

    // Bob joins by the group's id; carol by alice's invitation.
    call(&bob, "join_group", group());
    wait_for(&bob, "bob joined", |e| e["type"] == "joined");
    let invitation = call(&alice, "invitation", group())["invitation"].clone();
    call(
        &carol,
        "join_by_invitation",
        json!({ "invitation": invitation }),
    );
    wait_for(&carol, "carol joined", |e| e["type"] == "joined");
    let members = |n: &BlockingNode| {
        call(n, "group", group())["members"]
            .as_array()
            .map(Vec::len)
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while [&alice, &bob, &carol].iter().any(|n| members(n) != Some(3)) {
        assert!(Instant::now() < deadline, "three members everywhere");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(call(&bob, "group", group())["role"], "member");

    // Chat: bob's message reaches carol, and both histories hold it.
    let sent = call(
        &bob,
        "send",
        json!({ "group": encode_bytes(b"room"), "payload": encode_bytes(b"hi all") }),
    );
    let got = wait_for(&carol, "bob's message", |e| e["type"] == "message_received");
    assert_eq!(got["payload"], encode_bytes(b"hi all"));
    assert_eq!(got["message_id"], sent["message_id"]);
    assert_eq!(got["sender"], encode_bytes(bob.member_id().as_bytes()));
    for n in [&bob, &carol] {
        let history = call(
            n,
            "history",
            json!({ "group": encode_bytes(b"room"), "limit": 10 }),
        );
        assert_eq!(history[0]["payload"], encode_bytes(b"hi all"), "{history}");
    }

    // Alice asks to remove bob: a decision is opened, made, committed; bob is removed.
    let request = call(
        &alice,
        "propose_remove",
        json!({ "group": encode_bytes(b"room"), "member": encode_bytes(bob.member_id().as_bytes()) }),
    );
    assert_eq!(request["status"], "opened", "{request}");
    let decided = wait_for(&alice, "the removal decided", |e| {
        e["type"] == "decision_made" && e["decision"] == request["decision"]
    });
    assert_eq!(
        (
            decided["outcome"].as_str(),
            decided["change"]["kind"].as_str()
        ),
        (Some("approved"), Some("remove"))
    );
    wait_for(&bob, "bob removed", |e| e["type"] == "removed");
    assert_eq!(call(&bob, "group", group()), Value::Null);

    // Carol leaves: final without a vote, committed by alice.
    let left = call(&carol, "leave", group());
    assert_eq!(left["status"], "opened", "{left}");
    wait_for(&carol, "carol's leave committed", |e| {
        e["type"] == "removed"
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    while members(&alice) != Some(1) {
        assert!(Instant::now() < deadline, "alice alone at the end");
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = call(&alice, "status", Value::Null);
    assert_eq!(
        (
            status["name"].as_str(),
            status["groups"].as_u64(),
            status["running"].as_bool()
        ),
        (Some("alice"), Some(1), Some(true))
    );
    assert_eq!(call(&carol, "groups", Value::Null), json!([]));

    for n in [&alice, &bob, &carol] {
        n.shutdown().unwrap();
        assert_eq!(refused(n, "groups", ""), ErrorCode::Stopped);
        assert_eq!(call(n, "status", Value::Null)["running"], false);
    }
}

#[test]
fn every_bad_call_is_answered_with_its_numbered_error() {
    let dora = node(
        "dora",
        "api-errors",
        "[group]\nmax_app_message_bytes = 1024\n",
    );
    assert_eq!(refused(&dora, "frobnicate", "{}"), ErrorCode::UnknownMethod);
    assert_eq!(
        refused(&dora, "create_group", "{not json"),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        refused(&dora, "create_group", r#"{"group": 5}"#),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        refused(
            &dora,
            "create_group",
            r#"{"group": "ZGVtbw==", "extra": 1}"#
        ),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        refused(&dora, "create_group", r#"{"group": ""}"#),
        ErrorCode::InvalidArgument
    );
    let nowhere = json!({"group": encode_bytes(b"nowhere"), "payload": ""}).to_string();
    assert_eq!(refused(&dora, "send", &nowhere), ErrorCode::UnknownGroup);
    assert_eq!(refused(&dora, "group", "{}"), ErrorCode::InvalidArgument);
    assert_eq!(
        refused(&dora, "join_by_invitation", r#"{"invitation": "hello"}"#),
        ErrorCode::InvalidInvitation
    );
    assert_eq!(
        refused(&dora, "next_event", r#"{"timeout_ms": 99999999}"#),
        ErrorCode::InvalidArgument
    );

    call(&dora, "create_group", group());
    assert_eq!(
        refused(&dora, "create_group", &group().to_string()),
        ErrorCode::GroupExists
    );
    let big = json!({"group": encode_bytes(b"room"), "payload": encode_bytes(&[0u8; 2048])});
    assert_eq!(
        refused(&dora, "send", &big.to_string()),
        ErrorCode::PayloadTooLarge
    );
    let stranger = json!({"group": encode_bytes(b"room"), "member": encode_bytes(&[9; 20])});
    assert_eq!(
        refused(&dora, "propose_remove", &stranger.to_string()),
        ErrorCode::InvalidRequest
    );
    let vote = json!({"group": encode_bytes(b"room"), "decision": encode_bytes(&[1; 32]), "approve": true});
    assert_eq!(
        refused(&dora, "vote", &vote.to_string()),
        ErrorCode::InvalidRequest
    );

    // The typed errors of a bad configuration.
    let e = BlockingNode::from_config_str("[transport]\nbackend = \"carrier-pigeon\"\n")
        .err()
        .unwrap();
    assert_eq!(e.code, ErrorCode::InvalidConfig);
    assert!(e.message.contains("carrier-pigeon"), "{e}");
    let e = BlockingNode::from_config_str("not = [toml").err().unwrap();
    assert_eq!(e.code, ErrorCode::InvalidConfig);
    let e = BlockingNode::from_config_file("/no/such/file.toml")
        .err()
        .unwrap();
    assert_eq!(e.code, ErrorCode::InvalidConfig);

    // Every listed method is known to the dispatcher (none answers unknown_method).
    for method in METHODS {
        let code = dora.call(method, "{}").err().map(|e| e.code);
        assert_ne!(code, Some(ErrorCode::UnknownMethod), "{method}");
    }
    dora.shutdown().unwrap();
    dora.shutdown().unwrap();
    assert_eq!(refused(&dora, "groups", ""), ErrorCode::Stopped);
}

/// An event's JSON as the callback got it, and how a blocking call from the callback ended.
type Seen = (String, Option<ErrorCode>);

#[test]
fn a_callback_gets_every_event_as_json_and_a_blocking_call_from_it_is_refused() {
    let erin = Arc::new(node("erin", "api-callback", ""));
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let (sink, inner) = (seen.clone(), Arc::downgrade(&erin));
    erin.set_event_callback(Some(Box::new(move |event| {
        // A blocking call from the callback's thread would wait for itself: refused.
        let refused = inner
            .upgrade()
            .and_then(|n| n.call("status", "").err())
            .map(|e| e.code);
        sink.lock().unwrap().push((event.to_json(), refused));
    })));
    erin.create_group(b"room").unwrap();
    erin.send(b"room", b"to myself").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while seen.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "the callback ran");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (json, refusal) = seen.lock().unwrap()[0].clone();
    let event: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(event["type"], "group_created");
    assert_eq!(refusal, Some(ErrorCode::WrongThread));
    // Nothing went to the queue meanwhile.
    assert!(erin.next_event(Duration::ZERO).unwrap().is_none());
    // The sender's own message is in its history.
    assert_eq!(erin.history(b"room", 5).unwrap()[0].payload, b"to myself");
    erin.set_event_callback(None);
    erin.shutdown().unwrap();
}
