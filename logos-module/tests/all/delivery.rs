//! The delivery_module transport against a fake delivery module behind fake `lp_*`
//! functions: the connect sequence, relaying small and segmented payloads, dropping its own
//! echoes, local unsubscribe, connection states, and close (no callback afterwards).

use crate::common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use demls::{Topic, Transport, TransportError};
use demls_module::delivery::DeliveryTransport;

#[test]
fn two_transports_talk_through_the_fake_delivery_module() {
    if !in_own_process!(two_transports_talk_through_the_fake_delivery_module) {
        return;
    }
    let api = common::install_fake();
    assert_eq!(
        demls_module::delivery::lp::resolve(None).unwrap().origin,
        "installed"
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let a = Arc::new(DeliveryTransport::new(api, "{\"preset\":\"test\"}".into()));
    let b = Arc::new(DeliveryTransport::new(api, "{}".into()));
    let states = Arc::new(Mutex::new(Vec::new()));
    let seen = states.clone();
    b.on_state_change(Box::new(move |s, _| {
        seen.lock().unwrap().push(s.to_owned())
    }));
    let topic = Topic::new("/demls/1/test/proto");
    rt.block_on(async {
        a.subscribe(&topic).await.unwrap();
        b.subscribe(&topic).await.unwrap();
    });
    let log = common::log();
    let first: Vec<&str> = log.iter().take(6).map(String::as_str).collect();
    assert_eq!(
        first,
        [
            "client_create delivery_module demls_module",
            "subscribe messageReceived",
            "subscribe connectionStateChanged",
            "invoke createNode [\"{\\\"preset\\\":\\\"test\\\"}\"]",
            "invoke start []",
            "invoke subscribe [\"/demls/1/test/proto\"]",
        ]
    );

    // A small payload, then one of 400 KiB (three segments).
    let big: Vec<u8> = (0..400 * 1024).map(|i| (i % 251) as u8).collect();
    rt.block_on(async {
        a.publish(&topic, b"hi".to_vec()).await.unwrap();
        let got = tokio::time::timeout(Duration::from_secs(5), b.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (got.topic.clone(), got.payload),
            (topic.clone(), b"hi".to_vec())
        );
        assert_eq!(got.message_id.len(), 32);
        a.publish(&topic, big.clone()).await.unwrap();
        let got = tokio::time::timeout(Duration::from_secs(5), b.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got.payload, big);
        // The sender's own publications came back from the relay and were dropped.
        assert!(
            tokio::time::timeout(Duration::from_millis(300), a.recv())
                .await
                .is_err()
        );
    });
    let sends = common::log()
        .iter()
        .filter(|l| l.starts_with("invoke_async send"))
        .count();
    assert_eq!(sends, 4);

    // Connection states reach the listener.
    common::fire_state("connected");
    assert_eq!(b.state().0, "connected");
    assert!(states.lock().unwrap().contains(&"connected".to_owned()));

    // Unsubscribing filters locally.
    rt.block_on(async {
        b.unsubscribe(&topic).await.unwrap();
        a.publish(&topic, b"unheard".to_vec()).await.unwrap();
        assert!(
            tokio::time::timeout(Duration::from_millis(300), b.recv())
                .await
                .is_err()
        );
    });

    // Close: unsubscribes, destroys the client, and later calls fail.
    let subs_before = common::subscription_count();
    rt.block_on(b.close());
    assert_eq!(common::subscription_count(), subs_before - 2);
    assert!(common::log().iter().any(|l| l == "client_destroy"));
    rt.block_on(async {
        assert!(matches!(b.recv().await, Err(TransportError::Closed)));
        assert!(matches!(
            b.publish(&topic, b"x".to_vec()).await,
            Err(TransportError::Closed)
        ));
        a.close().await;
    });
    assert_eq!(common::subscription_count(), 0);
}
