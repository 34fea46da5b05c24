//! The hub: which endpoints exist on one in-process network and which of them subscribe to
//! each topic, and the process-global registry of named networks.
//!
//! This module owns subscription bookkeeping and fan-out. Queueing belongs to
//! [`Inbox`](crate::inbox::Inbox) and the `Transport` surface to
//! [`MemoryTransport`](crate::MemoryTransport).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{
    Arc, Mutex, OnceLock, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard, Weak,
};

use demls::{Topic, Transport, TransportError};

use crate::config::Limits;
use crate::endpoint::MemoryTransport;
use crate::inbox::Inbox;
use crate::message::Message;

/// An in-process network: endpoints created from it (or from a handle to the same named
/// network) reach each other, and nothing else.
///
/// The handle is cheap to clone. A network lives as long as a handle or one of its endpoints.
#[derive(Clone)]
pub struct MemoryNetwork {
    hub: Arc<Hub>,
}

/// Identifies an endpoint inside its hub.
pub(crate) type EndpointId = u64;

pub(crate) struct Hub {
    name: Option<String>,
    next_id: AtomicU64,
    state: RwLock<HubState>,
}

#[derive(Default)]
struct HubState {
    /// Subscribers of each topic, by endpoint id (ordered, so fan-out order is deterministic).
    topics: HashMap<String, BTreeMap<EndpointId, Arc<Inbox>>>,
    /// Every open endpoint.
    endpoints: HashMap<EndpointId, Attached>,
}

struct Attached {
    inbox: Arc<Inbox>,
    topics: HashSet<String>,
}

/// Named networks alive in this process. Entries are weak, so a network no handle or endpoint
/// uses any more is freed; dead entries are pruned whenever a new network is named.
fn named_networks() -> &'static Mutex<HashMap<String, Weak<Hub>>> {
    static NAMED: OnceLock<Mutex<HashMap<String, Weak<Hub>>>> = OnceLock::new();
    NAMED.get_or_init(Mutex::default)
}

impl MemoryNetwork {
    /// A new network that shares nothing with any other.
    pub fn new() -> MemoryNetwork {
        MemoryNetwork::with_name(None)
    }

    /// The process-global network called `name`, created on first use. Every call with the
    /// same name returns the same network while any handle or endpoint of it is alive, so
    /// several nodes configured with `network = "name"` in one process reach each other.
    pub fn named(name: &str) -> MemoryNetwork {
        let mut registry = named_networks()
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(hub) = registry.get(name).and_then(Weak::upgrade) {
            return MemoryNetwork { hub };
        }
        registry.retain(|_, hub| hub.strong_count() > 0);
        let network = MemoryNetwork::with_name(Some(name.to_owned()));
        registry.insert(name.to_owned(), Arc::downgrade(&network.hub));
        network
    }

    fn with_name(name: Option<String>) -> MemoryNetwork {
        MemoryNetwork {
            hub: Arc::new(Hub {
                name,
                next_id: AtomicU64::new(0),
                state: RwLock::default(),
            }),
        }
    }

    /// The network's name, `None` for networks made with [`new`](Self::new).
    pub fn name(&self) -> Option<&str> {
        self.hub.name.as_deref()
    }

    /// A new endpoint with the default [`Limits`]; `label` names it in logs.
    pub fn endpoint(&self, label: impl Into<String>) -> Arc<MemoryTransport> {
        self.endpoint_with(label, Limits::default())
    }

    /// A new endpoint with the given limits; `label` names it in logs.
    pub fn endpoint_with(&self, label: impl Into<String>, limits: Limits) -> Arc<MemoryTransport> {
        let label = label.into();
        let inbox = Arc::new(Inbox::new(label.clone(), limits.queue_capacity));
        let id = self.hub.attach(inbox.clone());
        Arc::new(MemoryTransport::new(
            id,
            label,
            self.hub.clone(),
            inbox,
            limits.max_payload,
        ))
    }

    /// Endpoints currently open on this network.
    pub fn endpoint_count(&self) -> usize {
        self.hub.read().endpoints.len()
    }

    /// Endpoints currently subscribed to `topic`.
    pub fn subscriber_count(&self, topic: &Topic) -> usize {
        self.hub
            .read()
            .topics
            .get(topic.as_str())
            .map_or(0, BTreeMap::len)
    }

    /// True when both handles are the same network.
    pub fn same_as(&self, other: &MemoryNetwork) -> bool {
        Arc::ptr_eq(&self.hub, &other.hub)
    }

    pub(crate) fn from_hub(hub: Arc<Hub>) -> MemoryNetwork {
        MemoryNetwork { hub }
    }
}

impl Default for MemoryNetwork {
    fn default() -> Self {
        MemoryNetwork::new()
    }
}

impl fmt::Debug for MemoryNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryNetwork")
            .field("name", &self.hub.name)
            .field("endpoints", &self.endpoint_count())
            .finish()
    }
}

impl Hub {
    fn read(&self) -> RwLockReadGuard<'_, HubState> {
        // Every write section below leaves the state consistent before it can panic.
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, HubState> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    fn attach(&self, inbox: Arc<Inbox>) -> EndpointId {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.write().endpoints.insert(
            id,
            Attached {
                inbox,
                topics: HashSet::new(),
            },
        );
        id
    }

    /// Removes an endpoint and all its subscriptions. Idempotent.
    pub(crate) fn detach(&self, id: EndpointId) {
        let mut state = self.write();
        let Some(attached) = state.endpoints.remove(&id) else {
            return;
        };
        for topic in attached.topics {
            unsubscribe_from(&mut state.topics, &topic, id);
        }
    }

    pub(crate) fn subscribe(&self, id: EndpointId, topic: &Topic) -> Result<(), TransportError> {
        let mut state = self.write();
        let state = &mut *state;
        let attached = state.endpoints.get_mut(&id).ok_or(TransportError::Closed)?;
        if attached.topics.insert(topic.as_str().to_owned()) {
            state
                .topics
                .entry(topic.as_str().to_owned())
                .or_default()
                .insert(id, attached.inbox.clone());
        }
        Ok(())
    }

    pub(crate) fn unsubscribe(&self, id: EndpointId, topic: &Topic) -> Result<(), TransportError> {
        let mut state = self.write();
        let attached = state.endpoints.get_mut(&id).ok_or(TransportError::Closed)?;
        if attached.topics.remove(topic.as_str()) {
            unsubscribe_from(&mut state.topics, topic.as_str(), id);
        }
        Ok(())
    }

    /// Queues `message` in the inbox of every subscriber of its topic except `from`. Never
    /// waits: full inboxes drop it. Returns how many inboxes queued it.
    pub(crate) fn publish(
        &self,
        from: EndpointId,
        message: &Arc<Message>,
    ) -> Result<usize, TransportError> {
        // Holding the read lock across the fan-out is what makes delivery go to exactly the
        // subscribers at publish time, and keeps one publisher's messages in order everywhere.
        let state = self.read();
        if !state.endpoints.contains_key(&from) {
            return Err(TransportError::Closed);
        }
        let Some(subscribers) = state.topics.get(message.topic().as_str()) else {
            return Ok(0);
        };
        let mut queued = 0;
        for (id, inbox) in subscribers {
            if *id != from && inbox.push(message) {
                queued += 1;
            }
        }
        Ok(queued)
    }
}

fn unsubscribe_from(
    topics: &mut HashMap<String, BTreeMap<EndpointId, Arc<Inbox>>>,
    topic: &str,
    id: EndpointId,
) {
    if let Some(subscribers) = topics.get_mut(topic) {
        subscribers.remove(&id);
        if subscribers.is_empty() {
            topics.remove(topic);
        }
    }
}

/// A factory for the transport conformance suite and for tests: each call builds a fresh
/// isolated network and returns `n` endpoints on it (labelled `node-0`, `node-1`, ...) with the
/// default limits.
///
/// ```
/// let endpoints = demls_transport_memory::conformance_factory()(3);
/// assert_eq!(endpoints.len(), 3);
/// ```
///
/// In a backend's `tests/conformance.rs`:
/// `demls::transport_conformance!(demls_transport_memory::conformance_factory());`
pub fn conformance_factory() -> impl Fn(usize) -> Vec<Arc<dyn Transport>> + Send + Sync + 'static {
    |n| {
        let network = MemoryNetwork::new();
        (0..n)
            .map(|i| network.endpoint(format!("node-{i}")) as Arc<dyn Transport>)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::message_id;

    fn topic() -> Topic {
        Topic::new("/test/1/hub/proto")
    }

    #[tokio::test]
    async fn named_networks_with_the_same_name_are_shared() {
        let first = MemoryNetwork::named("hub-test-shared");
        let second = MemoryNetwork::named("hub-test-shared");
        assert!(first.same_as(&second));
        assert_eq!(first.name(), Some("hub-test-shared"));
        let (alice, bob) = (first.endpoint("alice"), second.endpoint("bob"));
        bob.subscribe(&topic()).await.unwrap();
        alice
            .publish(&topic(), b"across handles".to_vec())
            .await
            .unwrap();
        assert_eq!(
            bob.recv().await.unwrap().payload,
            b"across handles".to_vec()
        );
        assert!(!first.same_as(&MemoryNetwork::named("hub-test-other")));
    }

    #[tokio::test]
    async fn isolated_networks_do_not_reach_each_other() {
        let (one, two) = (MemoryNetwork::new(), MemoryNetwork::new());
        assert!(!one.same_as(&two));
        let (a, b) = (one.endpoint("a"), two.endpoint("b"));
        b.subscribe(&topic()).await.unwrap();
        a.publish(&topic(), b"lost".to_vec()).await.unwrap();
        assert_eq!(b.queued(), 0);
        assert_eq!(
            (one.endpoint_count(), one.subscriber_count(&topic())),
            (1, 0)
        );
    }

    #[test]
    fn a_named_network_lives_while_used_and_is_freed_after() {
        let endpoint = MemoryNetwork::named("hub-test-freed").endpoint("only");
        // No handle is left, but the endpoint keeps the network alive.
        assert_eq!(MemoryNetwork::named("hub-test-freed").endpoint_count(), 1);
        let weak = Arc::downgrade(&endpoint.network().hub);
        drop(endpoint);
        assert!(
            weak.upgrade().is_none(),
            "the network outlived its last user"
        );
        assert_eq!(MemoryNetwork::named("hub-test-freed").endpoint_count(), 0);
    }

    #[tokio::test]
    async fn a_full_queue_drops_and_counts_without_blocking_the_publisher() {
        let network = MemoryNetwork::new();
        let publisher = network.endpoint("publisher");
        let slow = network.endpoint_with(
            "slow",
            Limits {
                queue_capacity: 3,
                ..Limits::default()
            },
        );
        let roomy = network.endpoint("roomy");
        slow.subscribe(&topic()).await.unwrap();
        roomy.subscribe(&topic()).await.unwrap();
        for i in 0..10u8 {
            publisher.publish(&topic(), vec![i]).await.unwrap();
        }
        assert_eq!((slow.queued(), slow.dropped()), (3, 7));
        assert_eq!((roomy.queued(), roomy.dropped()), (10, 0));
        for i in 0..3u8 {
            assert_eq!(
                slow.recv().await.unwrap().payload,
                vec![i],
                "the oldest are kept"
            );
        }
        publisher.publish(&topic(), vec![99]).await.unwrap();
        assert_eq!(
            slow.recv().await.unwrap().payload,
            vec![99],
            "room again after draining"
        );
        assert_eq!(slow.dropped(), 7);
    }

    #[tokio::test]
    async fn close_removes_the_endpoint_from_the_network() {
        let network = MemoryNetwork::new();
        let (a, b) = (network.endpoint("a"), network.endpoint("b"));
        a.subscribe(&topic()).await.unwrap();
        b.subscribe(&topic()).await.unwrap();
        b.publish(&topic(), b"queued".to_vec()).await.unwrap();
        assert_eq!(
            (network.endpoint_count(), network.subscriber_count(&topic())),
            (2, 2)
        );
        a.close().await;
        a.close().await;
        assert_eq!(
            (network.endpoint_count(), network.subscriber_count(&topic())),
            (1, 1)
        );
        assert!(
            matches!(a.recv().await, Err(TransportError::Closed)),
            "queued messages are discarded"
        );
        assert!(matches!(
            a.publish(&topic(), vec![]).await,
            Err(TransportError::Closed)
        ));
        assert!(matches!(
            a.subscribe(&topic()).await,
            Err(TransportError::Closed)
        ));
        assert!(matches!(
            a.unsubscribe(&topic()).await,
            Err(TransportError::Closed)
        ));
    }

    #[test]
    fn dropping_an_endpoint_detaches_it_and_empty_topics_are_forgotten() {
        let network = MemoryNetwork::new();
        let a = network.endpoint("a");
        block_on(a.subscribe(&topic())).unwrap();
        assert_eq!(network.subscriber_count(&topic()), 1);
        drop(a);
        assert_eq!(
            (network.endpoint_count(), network.subscriber_count(&topic())),
            (0, 0)
        );
        assert!(
            network.hub.read().topics.is_empty(),
            "the topic index kept an empty entry"
        );
    }

    #[tokio::test]
    async fn thousands_of_subscribers_each_receive_one_copy() {
        const N: usize = 3000;
        let network = MemoryNetwork::new();
        let publisher = network.endpoint("publisher");
        publisher.subscribe(&topic()).await.unwrap();
        let subscribers: Vec<_> = (0..N).map(|i| network.endpoint(format!("s{i}"))).collect();
        for s in &subscribers {
            s.subscribe(&topic()).await.unwrap();
        }
        let payload = vec![0xabu8; 1024];
        publisher.publish(&topic(), payload.clone()).await.unwrap();
        assert_eq!(publisher.queued(), 0, "the publisher got its own message");
        assert!(subscribers.iter().all(|s| s.queued() == 1));
        let expected_id = message_id(&topic(), &payload).to_vec();
        for s in subscribers.iter().step_by(500) {
            let m = s.recv().await.unwrap();
            assert_eq!(
                (m.payload, m.message_id),
                (payload.clone(), expected_id.clone())
            );
        }
    }

    #[tokio::test]
    async fn oversized_payloads_and_empty_topics_are_rejected_before_anything_is_sent() {
        let network = MemoryNetwork::new();
        let limits = Limits {
            max_payload: 4,
            ..Limits::default()
        };
        let (a, b) = (network.endpoint_with("a", limits), network.endpoint("b"));
        b.subscribe(&topic()).await.unwrap();
        assert!(matches!(
            a.publish(&topic(), vec![0; 5]).await,
            Err(TransportError::PayloadTooLarge { size: 5, limit: 4 })
        ));
        assert!(matches!(
            a.subscribe(&Topic::new("")).await,
            Err(TransportError::InvalidTopic { .. })
        ));
        a.publish(&topic(), vec![0; 4]).await.unwrap();
        assert_eq!(b.queued(), 1);
    }

    /// Polls a future that completes without waiting (the memory transport's subscribe).
    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }
}
