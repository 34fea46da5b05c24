//! The fake delivery_module behind the host's exported `lp_*` functions, relayed between two
//! host processes through the hub: refusals before start, connection events, subscriptions,
//! the payload limit, and a hub that survives a malformed frame. Driven through a tiny C image
//! that forwards `delivery.<method>` calls to `lp_invoke` (`tests/c/test_module.c`).

use crate::common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use demls_module_host::harness::{Host, HostSpec, Relay, result_value};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(20);

fn is_message(d: &Value, topic: &str, text: &str) -> bool {
    d[0] == json!("messageReceived")
        && d[1][1] == json!(topic)
        && d[1][2]["_bytes"] == json!(URL_SAFE_NO_PAD.encode(text))
}

fn send(host: &mut Host, topic: &str, text: &str) -> Value {
    host.call(
        "delivery.send",
        vec![
            json!(topic),
            json!({"_bytes": URL_SAFE_NO_PAD.encode(text)}),
        ],
    )
    .unwrap()
}

#[test]
fn two_hosts_exchange_messages_through_the_relay_and_the_hub_survives_garbage() {
    if !common::on_path("gcc") {
        eprintln!("skipped: gcc is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let image = common::build_test_image(dir.path(), "libprobe.so", &[]);
    let relay = Relay::spawn(&common::host_bin(), &dir.path().join("relay.sock")).unwrap();
    let spec = |member: &str| HostSpec {
        host_bin: common::host_bin(),
        module: image.clone(),
        member: member.into(),
        persistence: dir.path().join(member),
        relay: relay.socket().to_path_buf(),
        stderr: None,
    };
    let mut alice = Host::spawn(&spec("alice"), None).unwrap();
    let mut bob = Host::spawn(&spec("bob"), None).unwrap();

    // Before createNode/start the node refuses, as the real one does.
    let early = send(&mut alice, "/t/1", "too early");
    assert!(result_value(&early).is_err(), "{early}");
    let early = alice.call("delivery.start", vec![]).unwrap();
    assert!(result_value(&early).is_err(), "{early}");
    let early = alice
        .call("delivery.subscribe", vec![json!("/t/1")])
        .unwrap();
    assert!(result_value(&early).is_err(), "{early}");

    for host in [&mut alice, &mut bob] {
        let r = host.call("delivery.createNode", vec![json!("{}")]).unwrap();
        assert_eq!(result_value(&r), Ok(Value::Null));
        let r = host.call("delivery.start", vec![]).unwrap();
        assert_eq!(result_value(&r), Ok(Value::Null));
        host.wait_event(
            "delivery_event",
            |d| d[0] == json!("connectionStateChanged") && d[1][0] == json!("connected"),
            WAIT,
        )
        .unwrap();
        let r = host
            .call("delivery.subscribe", vec![json!("/t/1")])
            .unwrap();
        assert_eq!(result_value(&r), Ok(Value::Null));
    }

    let sent = send(&mut alice, "/t/1", "hello bob");
    let hash = result_value(&sent).unwrap();
    assert!(
        hash.as_str()
            .is_some_and(|h| h.starts_with("0x") && h.len() == 66)
    );
    let got = bob
        .wait_event(
            "delivery_event",
            |d| is_message(d, "/t/1", "hello bob"),
            WAIT,
        )
        .unwrap();
    assert_eq!(got[1][0], hash, "the same message hash on both sides");
    assert!(got[1][3].as_i64().is_some_and(|t| t > 0));
    // The publisher's own subscription sees it too, as on a Waku relay.
    alice
        .wait_event(
            "delivery_event",
            |d| is_message(d, "/t/1", "hello bob"),
            WAIT,
        )
        .unwrap();

    // A malformed frame drops that connection, never the hub.
    let mut rogue = UnixStream::connect(relay.socket()).unwrap();
    rogue.set_read_timeout(Some(WAIT)).unwrap();
    rogue.write_all(&[0xff, 0xff, 0xff, 0xff, 1, 2, 3]).unwrap();
    let mut buf = [0u8; 16];
    match rogue.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("the hub did not close the rogue connection: {other:?}"),
    }

    // Unsubscribed or never-subscribed topics are not delivered; the hub still relays.
    let r = bob
        .call("delivery.unsubscribe", vec![json!("/t/1")])
        .unwrap();
    assert_eq!(result_value(&r), Ok(Value::Null));
    bob.call("delivery.subscribe", vec![json!("/t/2")]).unwrap();
    send(&mut alice, "/t/1", "not for bob");
    send(&mut alice, "/t/2", "for bob");
    let next = bob
        .wait_event("delivery_event", |d| d[0] == json!("messageReceived"), WAIT)
        .unwrap();
    assert!(is_message(&next, "/t/2", "for bob"), "{next}");

    // The Waku payload limit.
    let big = "x".repeat(150 * 1024 + 1);
    let refused = send(&mut alice, "/t/2", &big);
    assert!(
        result_value(&refused).is_err(),
        "a payload above 150 KiB is refused"
    );

    // Bad arguments are refused as the provider would.
    let bad = alice.call("delivery.send", vec![json!("/t/2")]).unwrap();
    assert_eq!(bad["code"], json!("invalid_args"));

    alice.stop().unwrap();
    bob.stop().unwrap();
}
