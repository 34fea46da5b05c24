//! Transport cases about who receives a message: subscribers do, the publisher and
//! non-subscribers do not, and subscription changes take effect.

use std::collections::BTreeSet;
use std::sync::Arc;

use tokio::time::sleep;

use super::TransportHarness;
use super::routes::{
    await_route, close_all, collect, describe, expect_next, expect_only_sentinel, fresh, publish,
    subscribe,
};
use crate::transport::Transport;
use crate::types::Topic;

/// A subscriber receives the payload exactly as published, with the topic it was published to
/// and a non-empty message id.
pub async fn delivers_to_subscribers_with_payload_topic_and_id_intact(h: &dyn TransportHarness) {
    let eps = fresh(h, 2).await;
    let (a, b) = (&eps[0], &eps[1]);
    let topic = h.topic("deliver");
    subscribe(h, b.as_ref(), &topic).await;
    await_route(h, a.as_ref(), &[b], &topic).await;
    publish(a.as_ref(), &topic, b"hello, conformance".to_vec()).await;
    let m = expect_next(h, b.as_ref(), "the subscriber got nothing").await;
    assert_eq!(m.topic, topic, "the topic changed in transit");
    assert_eq!(
        m.payload,
        b"hello, conformance".to_vec(),
        "the payload changed in transit"
    );
    assert!(!m.message_id.is_empty(), "the message id is empty");
    close_all(&eps).await;
}

/// A publisher subscribed to its own topic never receives its own publication.
pub async fn does_not_deliver_back_to_the_publisher(h: &dyn TransportHarness) {
    let eps = fresh(h, 2).await;
    let (a, b) = (&eps[0], &eps[1]);
    let topic = h.topic("no-echo");
    subscribe(h, a.as_ref(), &topic).await;
    subscribe(h, b.as_ref(), &topic).await;
    await_route(h, a.as_ref(), &[b], &topic).await;
    await_route(h, b.as_ref(), &[a], &topic).await;
    publish(a.as_ref(), &topic, b"from a".to_vec()).await;
    let m = expect_next(h, b.as_ref(), "the other subscriber got nothing").await;
    assert_eq!(m.payload, b"from a".to_vec());
    expect_only_sentinel(
        h,
        &[a],
        b.as_ref(),
        &topic,
        "a publisher must not receive its own message",
    )
    .await;
    close_all(&eps).await;
}

/// Messages on a topic the receiver never subscribed to do not reach it.
pub async fn does_not_deliver_on_unsubscribed_topics(h: &dyn TransportHarness) {
    let eps = fresh(h, 3).await;
    let (a, b, c) = (&eps[0], &eps[1], &eps[2]);
    let (control, other) = (h.topic("control"), h.topic("other"));
    subscribe(h, b.as_ref(), &control).await;
    // Someone is subscribed to `other`, so the network does carry it.
    subscribe(h, c.as_ref(), &other).await;
    await_route(h, a.as_ref(), &[b], &control).await;
    await_route(h, a.as_ref(), &[c], &other).await;
    publish(a.as_ref(), &other, b"not for b".to_vec()).await;
    let m = expect_next(
        h,
        c.as_ref(),
        "the subscriber of the other topic got nothing",
    )
    .await;
    assert_eq!(m.payload, b"not for b".to_vec());
    expect_only_sentinel(
        h,
        &[b],
        a.as_ref(),
        &control,
        "an endpoint must not receive topics it did not subscribe to",
    )
    .await;
    close_all(&eps).await;
}

/// After `unsubscribe` returns, messages published to that topic no longer arrive.
pub async fn unsubscribe_stops_delivery(h: &dyn TransportHarness) {
    let eps = fresh(h, 2).await;
    let (a, b) = (&eps[0], &eps[1]);
    let (topic, control) = (h.topic("unsub"), h.topic("control"));
    subscribe(h, b.as_ref(), &topic).await;
    subscribe(h, b.as_ref(), &control).await;
    await_route(h, a.as_ref(), &[b], &topic).await;
    await_route(h, a.as_ref(), &[b], &control).await;
    publish(a.as_ref(), &topic, b"before".to_vec()).await;
    let m = expect_next(h, b.as_ref(), "the message before unsubscribing got lost").await;
    assert_eq!(m.payload, b"before".to_vec());
    b.unsubscribe(&topic).await.expect("unsubscribe succeeds");
    sleep(h.settle()).await;
    publish(a.as_ref(), &topic, b"after".to_vec()).await;
    expect_only_sentinel(
        h,
        &[b],
        a.as_ref(),
        &control,
        "an unsubscribed endpoint must not receive the topic",
    )
    .await;
    close_all(&eps).await;
}

/// Subscribing twice delivers each message once; unsubscribing twice (or from a topic never
/// subscribed) is not an error.
pub async fn subscribe_and_unsubscribe_are_idempotent(h: &dyn TransportHarness) {
    let eps = fresh(h, 2).await;
    let (a, b) = (&eps[0], &eps[1]);
    let (topic, control, never) = (h.topic("twice"), h.topic("control"), h.topic("never"));
    subscribe(h, b.as_ref(), &topic).await;
    subscribe(h, b.as_ref(), &topic).await;
    subscribe(h, b.as_ref(), &control).await;
    b.unsubscribe(&never)
        .await
        .expect("unsubscribing from a topic never subscribed is fine");
    await_route(h, a.as_ref(), &[b], &topic).await;
    await_route(h, a.as_ref(), &[b], &control).await;
    publish(a.as_ref(), &topic, b"once".to_vec()).await;
    let m = expect_next(h, b.as_ref(), "the message got lost").await;
    assert_eq!(m.payload, b"once".to_vec());
    expect_only_sentinel(
        h,
        &[b],
        a.as_ref(),
        &topic,
        "a double subscription must deliver once",
    )
    .await;
    b.unsubscribe(&topic).await.expect("first unsubscribe");
    b.unsubscribe(&topic).await.expect("second unsubscribe");
    sleep(h.settle()).await;
    publish(a.as_ref(), &topic, b"after".to_vec()).await;
    expect_only_sentinel(
        h,
        &[b],
        a.as_ref(),
        &control,
        "a double unsubscribe must still unsubscribe",
    )
    .await;
    close_all(&eps).await;
}

/// With many topics and overlapping subscriptions, each endpoint receives exactly the messages
/// of its own topics, each with the right topic.
pub async fn topics_are_isolated(h: &dyn TransportHarness) {
    const TOPICS: usize = 12;
    let eps = fresh(h, 3).await;
    let (a, b, c) = (&eps[0], &eps[1], &eps[2]);
    let topics: Vec<Topic> = (0..TOPICS).map(|i| h.topic(&format!("iso{i}"))).collect();
    let wants_b: fn(usize) -> bool = |i| i % 2 == 0;
    let wants_c: fn(usize) -> bool = |i| i % 3 == 0;
    for (i, topic) in topics.iter().enumerate() {
        let mut to = Vec::new();
        if wants_b(i) {
            subscribe(h, b.as_ref(), topic).await;
            to.push(b);
        }
        if wants_c(i) {
            subscribe(h, c.as_ref(), topic).await;
            to.push(c);
        }
        if !to.is_empty() {
            await_route(h, a.as_ref(), &to, topic).await;
        }
    }
    for (i, topic) in topics.iter().enumerate() {
        publish(a.as_ref(), topic, format!("t{i}").into_bytes()).await;
    }
    for (endpoint, wants, who) in [(b, wants_b, "b"), (c, wants_c, "c")] {
        let expected: BTreeSet<usize> = (0..TOPICS).filter(|i| wants(*i)).collect();
        let got = collect(h, endpoint.as_ref(), expected.len(), who).await;
        let mut seen = BTreeSet::new();
        for m in got {
            let Some(i) = topics.iter().position(|t| *t == m.topic) else {
                panic!(
                    "{who} received a message on a topic of no case: {}",
                    describe(&m)
                );
            };
            assert!(wants(i), "{who} received topic {i} it never subscribed to");
            assert_eq!(
                m.payload,
                format!("t{i}").into_bytes(),
                "payload/topic mix-up"
            );
            assert!(seen.insert(i), "{who} received topic {i} twice");
        }
    }
    // Topic 0 is subscribed by both.
    expect_only_sentinel(
        h,
        &[b, c],
        a.as_ref(),
        &topics[0],
        "each endpoint must receive only its topics",
    )
    .await;
    close_all(&eps).await;
}

/// Every one of several subscribers receives a message.
pub async fn every_subscriber_receives(h: &dyn TransportHarness) {
    let eps = fresh(h, 6).await;
    let topic = h.topic("fan-out");
    let subscribers: Vec<&Arc<dyn Transport>> = eps[1..].iter().collect();
    for s in &subscribers {
        subscribe(h, s.as_ref(), &topic).await;
    }
    await_route(h, eps[0].as_ref(), &subscribers, &topic).await;
    publish(eps[0].as_ref(), &topic, b"to all".to_vec()).await;
    for (i, s) in subscribers.iter().enumerate() {
        let m = expect_next(h, s.as_ref(), &format!("subscriber {i} got nothing")).await;
        assert_eq!(m.payload, b"to all".to_vec());
    }
    close_all(&eps).await;
}
