//! What every transport case leans on: fresh endpoints, subscribing, forming routes with
//! probe messages, receiving with deadlines, and the sentinel check for "nothing arrives".
//!
//! Probes and sentinels are recognised by a magic prefix no case payload starts with.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::{Instant, sleep, timeout_at};

use super::TransportHarness;
use crate::transport::{Inbound, Transport};
use crate::types::Topic;

/// Payloads starting with this are route probes, skipped by every receive in the suite.
pub(super) const PROBE: &[u8] = b"\xffdemls-testkit-probe\xff";
/// Payloads starting with this end a "nothing else arrives" check.
pub(super) const SENTINEL: &[u8] = b"\xfedemls-testkit-sentinel\xfe";
/// How long to wait for a probe before publishing the next one.
pub(super) const PROBE_INTERVAL: Duration = Duration::from_millis(100);

pub(super) static COUNTER: AtomicU64 = AtomicU64::new(0);

pub(super) fn unique() -> u64 {
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

pub(super) fn unique_topic(name: &str) -> Topic {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    Topic::new(format!(
        "/demls-testkit/1/{name}-{}-{nanos}-{}/proto",
        std::process::id(),
        unique()
    ))
}

pub(super) fn marked(mark: &[u8]) -> Vec<u8> {
    let mut payload = mark.to_vec();
    payload.extend_from_slice(&unique().to_be_bytes());
    payload
}

pub(super) fn describe(m: &Inbound) -> String {
    let head = &m.payload[..m.payload.len().min(24)];
    format!(
        "{} bytes on {} starting {}",
        m.payload.len(),
        m.topic,
        hex::encode(head)
    )
}

pub(super) async fn fresh(h: &dyn TransportHarness, n: usize) -> Vec<Arc<dyn Transport>> {
    let endpoints = h.endpoints(n).await;
    assert_eq!(
        endpoints.len(),
        n,
        "the harness must return exactly the endpoints asked for"
    );
    endpoints
}

pub(super) async fn close_all(endpoints: &[Arc<dyn Transport>]) {
    for endpoint in endpoints {
        endpoint.close().await;
    }
}

pub(super) async fn subscribe(h: &dyn TransportHarness, endpoint: &dyn Transport, topic: &Topic) {
    if let Err(e) = endpoint.subscribe(topic).await {
        panic!("subscribe to {topic} failed: {e}");
    }
    sleep(h.settle()).await;
}

pub(super) async fn publish(endpoint: &dyn Transport, topic: &Topic, payload: Vec<u8>) {
    let size = payload.len();
    if let Err(e) = endpoint.publish(topic, payload).await {
        panic!("publishing {size} bytes on {topic} failed: {e}");
    }
}

/// The next non-probe message, or `None` when `deadline` passes first.
pub(super) async fn next_until(endpoint: &dyn Transport, deadline: Instant) -> Option<Inbound> {
    loop {
        match timeout_at(deadline, endpoint.recv()).await {
            Err(_) => return None,
            Ok(Ok(m)) if m.payload.starts_with(PROBE) => continue,
            Ok(Ok(m)) => return Some(m),
            Ok(Err(e)) => panic!("recv failed: {e}"),
        }
    }
}

/// The next non-probe message; fails the case with `what` when none arrives in time.
pub(super) async fn expect_next(
    h: &dyn TransportHarness,
    endpoint: &dyn Transport,
    what: &str,
) -> Inbound {
    match next_until(endpoint, Instant::now() + h.timeout()).await {
        Some(m) => m,
        None => panic!("{what}: nothing arrived within {:?}", h.timeout()),
    }
}

/// Publishes probes from `from` on `topic` until every endpoint of `to` has received one, so
/// that the case can rely on the route. Fails when the route never forms.
pub(super) async fn await_route(
    h: &dyn TransportHarness,
    from: &dyn Transport,
    to: &[&Arc<dyn Transport>],
    topic: &Topic,
) {
    let deadline = Instant::now() + h.timeout();
    let mut waiting: Vec<&Arc<dyn Transport>> = to.to_vec();
    while !waiting.is_empty() {
        assert!(
            Instant::now() < deadline,
            "{} subscriber(s) of {topic} never received a probe within {:?}",
            waiting.len(),
            h.timeout()
        );
        publish(from, topic, marked(PROBE)).await;
        let retry = Instant::now() + PROBE_INTERVAL.max(h.settle());
        let mut still = Vec::new();
        for endpoint in waiting {
            if !probe_arrived(endpoint.as_ref(), topic, retry).await {
                still.push(endpoint);
            }
        }
        waiting = still;
    }
}

pub(super) async fn probe_arrived(endpoint: &dyn Transport, topic: &Topic, until: Instant) -> bool {
    loop {
        match timeout_at(until, endpoint.recv()).await {
            Err(_) => return false,
            Ok(Ok(m)) if m.payload.starts_with(PROBE) => {
                if m.topic == *topic {
                    return true;
                }
            }
            Ok(Ok(m)) => panic!("unexpected message while forming routes: {}", describe(&m)),
            Ok(Err(e)) => panic!("recv failed while forming routes: {e}"),
        }
    }
}

/// Checks that each of `receivers` gets nothing but a sentinel that `publisher` sends on
/// `topic` now, and nothing during [`TransportHarness::quiet`] after it. `why` names the rule.
pub(super) async fn expect_only_sentinel(
    h: &dyn TransportHarness,
    receivers: &[&Arc<dyn Transport>],
    publisher: &dyn Transport,
    topic: &Topic,
    why: &str,
) {
    let sentinel = marked(SENTINEL);
    publish(publisher, topic, sentinel.clone()).await;
    for receiver in receivers {
        let m = expect_next(h, receiver.as_ref(), "the sentinel never arrived").await;
        if m.payload != sentinel {
            panic!("{why}, but received {}", describe(&m));
        }
    }
    let quiet_until = Instant::now() + h.quiet();
    for receiver in receivers {
        if let Some(m) = next_until(receiver.as_ref(), quiet_until).await {
            panic!("{why}, but received {} after the sentinel", describe(&m));
        }
    }
}

/// Collects `count` non-probe messages from `endpoint`, failing when they do not all arrive.
pub(super) async fn collect(
    h: &dyn TransportHarness,
    endpoint: &dyn Transport,
    count: usize,
    what: &str,
) -> Vec<Inbound> {
    let mut got = Vec::with_capacity(count);
    while got.len() < count {
        let m = expect_next(h, endpoint, &format!("{what}: {} of {count}", got.len())).await;
        got.push(m);
    }
    got
}
