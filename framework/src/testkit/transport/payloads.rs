//! Transport cases about what arrives: payloads intact whatever their bytes, the size limit
//! enforced exactly, invalid topics refused, and each publisher's order kept, also under
//! concurrency.

use std::collections::BTreeMap;

use tokio::time::Instant;

use super::TransportHarness;
use super::routes::{
    await_route, close_all, collect, describe, expect_next, expect_only_sentinel, fresh,
    next_until, publish, subscribe,
};
use crate::transport::TransportError;
use crate::types::Topic;

/// 200 messages from one publisher on one topic arrive complete and in order.
pub async fn preserves_per_publisher_order(h: &dyn TransportHarness) {
    const COUNT: u32 = 200;
    let eps = fresh(h, 2).await;
    let (a, b) = (&eps[0], &eps[1]);
    let topic = h.topic("order");
    subscribe(h, b.as_ref(), &topic).await;
    await_route(h, a.as_ref(), &[b], &topic).await;
    let receiver = {
        let (b, wait) = (b.clone(), h.timeout());
        tokio::spawn(async move {
            let mut got = Vec::new();
            while got.len() < COUNT as usize {
                match next_until(b.as_ref(), Instant::now() + wait).await {
                    Some(m) => got.push(m.payload),
                    None => break,
                }
            }
            got
        })
    };
    for i in 0..COUNT {
        publish(a.as_ref(), &topic, i.to_be_bytes().to_vec()).await;
    }
    let got = receiver.await.expect("the receiving task panicked");
    let expected: Vec<Vec<u8>> = (0..COUNT).map(|i| i.to_be_bytes().to_vec()).collect();
    assert_eq!(got.len(), expected.len(), "messages were lost");
    assert_eq!(got, expected, "messages from one publisher were reordered");
    close_all(&eps).await;
}

/// Payloads holding every byte value, and an empty payload, arrive unchanged.
pub async fn binary_and_empty_payloads_survive(h: &dyn TransportHarness) {
    let eps = fresh(h, 2).await;
    let (a, b) = (&eps[0], &eps[1]);
    let topic = h.topic("binary");
    subscribe(h, b.as_ref(), &topic).await;
    await_route(h, a.as_ref(), &[b], &topic).await;
    let every_byte: Vec<u8> = (0..=255u8).collect();
    let payloads = vec![
        every_byte.clone(),
        Vec::new(),
        every_byte.iter().rev().copied().collect(),
        vec![0u8; 1000],
        b"\0".to_vec(),
    ];
    for payload in &payloads {
        publish(a.as_ref(), &topic, payload.clone()).await;
    }
    let got = collect(h, b.as_ref(), payloads.len(), "binary payloads").await;
    for (m, sent) in got.iter().zip(&payloads) {
        assert_eq!(&m.payload, sent, "a binary payload changed in transit");
    }
    close_all(&eps).await;
}

/// A payload of exactly [`Transport::max_payload`](crate::Transport::max_payload) bytes is delivered; one byte more is rejected
/// with [`TransportError::PayloadTooLarge`] and nothing of it is sent.
pub async fn max_payload_is_delivered_and_one_more_byte_is_rejected(h: &dyn TransportHarness) {
    let eps = fresh(h, 2).await;
    let (a, b) = (&eps[0], &eps[1]);
    let topic = h.topic("max-payload");
    subscribe(h, b.as_ref(), &topic).await;
    await_route(h, a.as_ref(), &[b], &topic).await;
    let max = a.max_payload();
    let largest: Vec<u8> = (0..max).map(|i| (i % 251) as u8).collect();
    publish(a.as_ref(), &topic, largest.clone()).await;
    let m = expect_next(h, b.as_ref(), "the largest allowed payload got lost").await;
    assert!(
        m.payload == largest,
        "the largest allowed payload changed in transit"
    );
    match a.publish(&topic, vec![7u8; max + 1]).await {
        Err(TransportError::PayloadTooLarge { size, limit }) => {
            assert_eq!((size, limit), (max + 1, max), "wrong sizes in the error");
        }
        other => panic!("a payload of max_payload + 1 bytes must be rejected, got {other:?}"),
    }
    expect_only_sentinel(
        h,
        &[b],
        a.as_ref(),
        &topic,
        "a rejected payload must not be sent",
    )
    .await;
    close_all(&eps).await;
}

/// An empty topic is rejected with [`TransportError::InvalidTopic`] by `publish` and `subscribe`.
pub async fn empty_topic_is_rejected(h: &dyn TransportHarness) {
    let eps = fresh(h, 1).await;
    let empty = Topic::new("");
    match eps[0].publish(&empty, b"x".to_vec()).await {
        Err(TransportError::InvalidTopic { .. }) => {}
        other => panic!("publish to an empty topic must be InvalidTopic, got {other:?}"),
    }
    match eps[0].subscribe(&empty).await {
        Err(TransportError::InvalidTopic { .. }) => {}
        other => panic!("subscribe to an empty topic must be InvalidTopic, got {other:?}"),
    }
    close_all(&eps).await;
}

/// Four tasks publishing 50 messages each at the same time: all 200 arrive, each publisher's
/// in its order.
pub async fn concurrent_publishers_are_all_delivered(h: &dyn TransportHarness) {
    const PUBLISHERS: usize = 4;
    const EACH: u32 = 50;
    let eps = fresh(h, PUBLISHERS + 1).await;
    let receiver = eps[0].clone();
    let topic = h.topic("concurrent");
    subscribe(h, receiver.as_ref(), &topic).await;
    for p in &eps[1..] {
        await_route(h, p.as_ref(), &[&receiver], &topic).await;
    }
    let tasks: Vec<_> = eps[1..]
        .iter()
        .enumerate()
        .map(|(p, endpoint)| {
            let (endpoint, topic) = (endpoint.clone(), topic.clone());
            tokio::spawn(async move {
                for seq in 0..EACH {
                    let mut payload = vec![p as u8];
                    payload.extend_from_slice(&seq.to_be_bytes());
                    publish(endpoint.as_ref(), &topic, payload).await;
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    let total = PUBLISHERS * EACH as usize;
    let got = collect(h, receiver.as_ref(), total, "concurrent messages").await;
    for task in tasks {
        task.await.expect("a publishing task panicked");
    }
    let mut per_publisher: BTreeMap<u8, Vec<u32>> = BTreeMap::new();
    for m in got {
        let (&p, seq) = m
            .payload
            .split_first()
            .unwrap_or_else(|| panic!("unexpected payload {}", describe(&m)));
        let seq = u32::from_be_bytes(seq.try_into().expect("a 4-byte sequence number"));
        per_publisher.entry(p).or_default().push(seq);
    }
    assert_eq!(
        per_publisher.len(),
        PUBLISHERS,
        "a publisher's messages are missing"
    );
    for (p, seqs) in per_publisher {
        assert_eq!(
            seqs,
            (0..EACH).collect::<Vec<_>>(),
            "publisher {p}'s messages were lost, duplicated or reordered"
        );
    }
    close_all(&eps).await;
}
