//! The transport conformance suite: one public async function per rule of the
//! [`Transport`] contract, and [`transport_conformance!`](crate::transport_conformance) to stamp
//! them all into a backend's test file.
//!
//! A backend supplies a [`TransportHarness`], which hands out connected endpoints. Cases never
//! assume delivery is instantaneous: before a case relies on a route it publishes probe
//! messages until every subscriber has received one (probes are skipped everywhere else), and
//! "nothing arrives" is checked by publishing a sentinel after the forbidden message, waiting
//! for the sentinel, and then for a further [`TransportHarness::quiet`] period.
//!
//! The cases live in three files by what they check: [`delivery`] (who receives what),
//! [`payloads`] (integrity, limits and order of what is received) and [`lifecycle`]
//! (`close` and cancelled `recv`); route forming and receive helpers are in `routes`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::transport::Transport;
use crate::types::Topic;

pub mod delivery;
pub mod lifecycle;
pub mod payloads;
mod routes;

pub use delivery::{
    delivers_to_subscribers_with_payload_topic_and_id_intact,
    does_not_deliver_back_to_the_publisher, does_not_deliver_on_unsubscribed_topics,
    every_subscriber_receives, subscribe_and_unsubscribe_are_idempotent, topics_are_isolated,
    unsubscribe_stops_delivery,
};
pub use lifecycle::{
    close_makes_pending_and_later_recv_return_closed,
    closing_one_endpoint_leaves_the_others_working, recv_is_cancel_safe,
};
pub use payloads::{
    binary_and_empty_payloads_survive, concurrent_publishers_are_all_delivered,
    empty_topic_is_rejected, max_payload_is_delivered_and_one_more_byte_is_rejected,
    preserves_per_publisher_order,
};

/// Hands out connected endpoints of the transport under test.
///
/// A closure `Fn(usize) -> Vec<Arc<dyn Transport>>` is a harness with the default timings
/// (annotate the argument, `|n: usize| ...`, when writing the closure inline).
///
/// # Note for implementers
/// - [`endpoints`](Self::endpoints) returns `n` fresh endpoints that can all reach each other and
///   share no subscriptions or queued messages with endpoints of earlier calls (a new network,
///   or unique topics via [`topic`](Self::topic)). Panic if they cannot be created.
/// - Network transports should raise [`timeout`](Self::timeout) and
///   [`settle`](Self::settle) to what their network needs; the defaults suit in-process
///   transports.
#[async_trait]
pub trait TransportHarness: Send + Sync {
    /// Returns `n` connected endpoints.
    async fn endpoints(&self, n: usize) -> Vec<Arc<dyn Transport>>;

    /// Slept after every subscribe and unsubscribe, before the case relies on it. Default: zero.
    fn settle(&self) -> Duration {
        Duration::ZERO
    }

    /// The longest wait for a message that must arrive. Default: 5 s.
    fn timeout(&self) -> Duration {
        Duration::from_secs(5)
    }

    /// How long a receiver must stay silent, after the sentinel, for "nothing arrives" to hold.
    /// Default: 50 ms.
    fn quiet(&self) -> Duration {
        Duration::from_millis(50)
    }

    /// A topic unique to this run for the case-local `name`. The default is shaped like a Logos
    /// messaging content topic: `/demls-testkit/1/<name>-<unique>/proto`.
    fn topic(&self, name: &str) -> Topic {
        routes::unique_topic(name)
    }
}

#[async_trait]
impl<F> TransportHarness for F
where
    F: Fn(usize) -> Vec<Arc<dyn Transport>> + Send + Sync,
{
    async fn endpoints(&self, n: usize) -> Vec<Arc<dyn Transport>> {
        self(n)
    }
}

/// Stamps one `#[test]` per transport conformance case into the calling module.
///
/// The argument is an expression evaluating to a [`TransportHarness`]; it is evaluated inside
/// each test's runtime.
///
/// ```ignore
/// demls::transport_conformance!(demls_transport_memory::conformance_factory());
/// ```
#[macro_export]
macro_rules! transport_conformance {
    ($harness:expr $(,)?) => {
        $crate::__transport_conformance_cases! {
            $harness;
            delivers_to_subscribers_with_payload_topic_and_id_intact,
            does_not_deliver_back_to_the_publisher,
            does_not_deliver_on_unsubscribed_topics,
            unsubscribe_stops_delivery,
            subscribe_and_unsubscribe_are_idempotent,
            preserves_per_publisher_order,
            binary_and_empty_payloads_survive,
            max_payload_is_delivered_and_one_more_byte_is_rejected,
            empty_topic_is_rejected,
            topics_are_isolated,
            every_subscriber_receives,
            close_makes_pending_and_later_recv_return_closed,
            closing_one_endpoint_leaves_the_others_working,
            concurrent_publishers_are_all_delivered,
            recv_is_cancel_safe,
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __transport_conformance_cases {
    ($harness:expr; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                $crate::testkit::run(async {
                    let harness = $harness;
                    $crate::testkit::transport::$case(&harness).await;
                });
            }
        )*
    };
}
