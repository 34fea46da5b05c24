//! The transport conformance suite must fail on transports that break the contract: each test
//! wraps memory endpoints in one deliberate bug and expects the matching case to fail.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use demls::testkit::transport::{self, TransportHarness};
use demls::{Inbound, Topic, Transport, TransportError};
use demls_transport_memory::{MemoryNetwork, MemoryTransport};

#[derive(Clone, Copy, PartialEq)]
enum Bug {
    /// Publications also come back to the publisher.
    Echo,
    /// Each pair of consecutive publications is sent in reverse order.
    SwapPairs,
    /// `unsubscribe` does nothing.
    IgnoreUnsubscribe,
    /// Claims a 1000-byte limit but sends anything.
    NoSizeCheck,
    /// `close` does nothing.
    CloseIgnored,
    /// `recv` takes a message off the queue, then waits before returning it.
    SlowRecv,
}

struct Buggy {
    bug: Bug,
    inner: Arc<MemoryTransport>,
    /// A second endpoint that publishes in `inner`'s place, so `inner` receives its own messages.
    shadow: Arc<MemoryTransport>,
    held: Mutex<HashMap<Topic, Vec<u8>>>,
}

#[async_trait]
impl Transport for Buggy {
    fn name(&self) -> &str {
        "buggy"
    }
    fn max_payload(&self) -> usize {
        if self.bug == Bug::NoSizeCheck {
            1000
        } else {
            self.inner.max_payload()
        }
    }
    async fn publish(&self, topic: &Topic, payload: Vec<u8>) -> Result<(), TransportError> {
        match self.bug {
            Bug::Echo => self.shadow.publish(topic, payload).await,
            Bug::SwapPairs => {
                let earlier = self.held.lock().unwrap().remove(topic);
                match earlier {
                    None => {
                        self.held.lock().unwrap().insert(topic.clone(), payload);
                        Ok(())
                    }
                    Some(earlier) => {
                        self.inner.publish(topic, payload).await?;
                        self.inner.publish(topic, earlier).await
                    }
                }
            }
            _ => self.inner.publish(topic, payload).await,
        }
    }
    async fn subscribe(&self, topic: &Topic) -> Result<(), TransportError> {
        self.inner.subscribe(topic).await
    }
    async fn unsubscribe(&self, topic: &Topic) -> Result<(), TransportError> {
        if self.bug == Bug::IgnoreUnsubscribe {
            return Ok(());
        }
        self.inner.unsubscribe(topic).await
    }
    async fn recv(&self) -> Result<Inbound, TransportError> {
        let message = self.inner.recv().await?;
        if self.bug == Bug::SlowRecv {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Ok(message)
    }
    async fn close(&self) {
        if self.bug != Bug::CloseIgnored {
            self.inner.close().await;
        }
    }
}

struct Harness(Bug);

#[async_trait]
impl TransportHarness for Harness {
    async fn endpoints(&self, n: usize) -> Vec<Arc<dyn Transport>> {
        let network = MemoryNetwork::new();
        (0..n)
            .map(|i| {
                Arc::new(Buggy {
                    bug: self.0,
                    inner: network.endpoint(format!("node-{i}")),
                    shadow: network.endpoint(format!("shadow-{i}")),
                    held: Mutex::default(),
                }) as Arc<dyn Transport>
            })
            .collect()
    }
    fn timeout(&self) -> Duration {
        Duration::from_millis(500)
    }
}

#[test]
#[should_panic(expected = "a publisher must not receive its own message")]
fn the_suite_catches_a_transport_that_echoes() {
    demls::testkit::run(transport::does_not_deliver_back_to_the_publisher(&Harness(
        Bug::Echo,
    )));
}

#[test]
#[should_panic(expected = "reordered")]
fn the_suite_catches_reordering() {
    demls::testkit::run(transport::preserves_per_publisher_order(&Harness(
        Bug::SwapPairs,
    )));
}

#[test]
#[should_panic(expected = "an unsubscribed endpoint must not receive the topic")]
fn the_suite_catches_an_ignored_unsubscribe() {
    demls::testkit::run(transport::unsubscribe_stops_delivery(&Harness(
        Bug::IgnoreUnsubscribe,
    )));
}

#[test]
#[should_panic(expected = "max_payload + 1 bytes must be rejected")]
fn the_suite_catches_a_missing_size_check() {
    demls::testkit::run(
        transport::max_payload_is_delivered_and_one_more_byte_is_rejected(&Harness(
            Bug::NoSizeCheck,
        )),
    );
}

#[test]
#[should_panic(expected = "a pending recv was not woken by close")]
fn the_suite_catches_a_close_that_does_not_wake_recv() {
    demls::testkit::run(transport::close_makes_pending_and_later_recv_return_closed(
        &Harness(Bug::CloseIgnored),
    ));
}

#[test]
#[should_panic(expected = "messages were lost while")]
fn the_suite_catches_a_recv_that_is_not_cancel_safe() {
    demls::testkit::run(transport::recv_is_cancel_safe(&Harness(Bug::SlowRecv)));
}

#[test]
fn the_suite_passes_the_wrapper_without_a_bug() {
    // Guards the tests above: these cases pass on the wrapper when its bug (here one they do
    // not exercise) is not theirs, so their failures come from the bugs alone.
    let harness = Harness(Bug::CloseIgnored);
    demls::testkit::run(transport::preserves_per_publisher_order(&harness));
    demls::testkit::run(transport::unsubscribe_stops_delivery(&harness));
    demls::testkit::run(transport::does_not_deliver_back_to_the_publisher(&harness));
    demls::testkit::run(transport::recv_is_cancel_safe(&harness));
}
