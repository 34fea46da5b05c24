//! A node's engine steps never run on the async runtime: a step stuck in storage (a slow
//! fsync, simulated by a `Storage` whose `apply` sleeps) must not delay anything else on the
//! runtime — another task's timer, other nodes' traffic. Every test runs on a current-thread
//! runtime, where one blocking call would visibly stall all of it. Also: shutdown waits for the
//! step in storage (no lost write) and releases the store; a panicking step stops the node with
//! a typed error.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use demls::Event;
use demls::policy::{SinglePolicyConfig, single::SinglePolicyFactory};
use demls::{Entries, Node, NodeError, Space, Storage, StorageError, WriteBatch};
use demls_consensus_hashgraph::HashgraphFactory;
use demls_storage_memory::MemoryStorage;
use demls_transport_memory::MemoryNetwork;

/// How long one slow `apply` takes (a slow disk's fsync).
const FSYNC: Duration = Duration::from_millis(400);
/// The largest gap allowed in anything that should keep flowing: half an `FSYNC`. Measured gaps
/// are about 20 ms on an idle 2-core machine and stayed under 130 ms with both cores saturated by
/// other processes; a step blocking the runtime shows up as a gap of at least one `FSYNC`.
const STALL: Duration = Duration::from_millis(200);

/// A memory store whose `apply` blocks the calling thread for [`FSYNC`] while `slow` is set, as
/// a synchronous durable backend does during its fsync; it panics instead while `panic` is set.
#[derive(Default)]
struct SlowStorage {
    inner: MemoryStorage,
    slow: AtomicBool,
    panic: AtomicBool,
    /// `apply` calls entered so far.
    entered: AtomicUsize,
    /// `apply` calls that returned `Ok`.
    applied: AtomicUsize,
}

impl SlowStorage {
    fn slow() -> Arc<SlowStorage> {
        let storage = SlowStorage::default();
        storage.slow.store(true, Ordering::SeqCst);
        Arc::new(storage)
    }
}

impl Storage for SlowStorage {
    fn name(&self) -> &str {
        "slow"
    }
    fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.inner.get(space, key)
    }
    fn scan_prefix(&self, space: Space, prefix: &[u8]) -> Result<Entries, StorageError> {
        self.inner.scan_prefix(space, prefix)
    }
    fn apply(&self, batch: WriteBatch) -> Result<(), StorageError> {
        self.entered.fetch_add(1, Ordering::SeqCst);
        if self.panic.load(Ordering::SeqCst) {
            panic!("the disk caught fire (a test storage panicking on purpose)");
        }
        if self.slow.load(Ordering::SeqCst) {
            std::thread::sleep(FSYNC);
        }
        self.inner.apply(batch)?;
        self.applied.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

async fn start(name: &str, network: &MemoryNetwork, storage: Arc<dyn Storage>) -> Node {
    Node::builder()
        .name(name)
        .transport(network.endpoint(name))
        .storage(storage)
        .consensus(Arc::new(HashgraphFactory::default()))
        .steward(Arc::new(SinglePolicyFactory::new(SinglePolicyConfig {
            commit_delay_ms: 20,
            ..SinglePolicyConfig::default()
        })))
        .start()
        .await
        .expect("node starts")
}

async fn wait_for(node: &Node, what: &str, pred: impl Fn(&Event) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let event = tokio::time::timeout_at(deadline, node.next_event())
            .await
            .unwrap_or_else(|_| panic!("{}: timed out waiting for {what}", node.name()))
            .expect("node running");
        if pred(&event) {
            return;
        }
    }
}

/// The longest time between consecutive instants of `marks` inside `[from, to]`, the window
/// edges included (so a stall at either end counts too).
fn longest_gap(marks: &[Instant], from: Instant, to: Instant) -> Duration {
    let mut points: Vec<Instant> = marks
        .iter()
        .copied()
        .filter(|t| (from..=to).contains(t))
        .collect();
    points.push(from);
    points.push(to);
    points.sort();
    points
        .windows(2)
        .map(|w| w[1] - w[0])
        .max()
        .unwrap_or_default()
}

async fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_step_stuck_in_storage_does_not_stall_a_timer_on_the_runtime() {
    let ticks: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let marks = ticks.clone();
    let ticker = tokio::spawn(async move {
        let mut interval = tokio::time::interval(Duration::from_millis(10));
        loop {
            interval.tick().await;
            marks.lock().unwrap().push(Instant::now());
        }
    });
    tokio::task::yield_now().await;

    let storage = SlowStorage::slow();
    let from = Instant::now();
    // Opening the engine writes the new identity: one slow batch already.
    let node = start("stuck", &MemoryNetwork::new(), storage.clone()).await;
    let before = storage.applied.load(Ordering::SeqCst);
    let call = Instant::now();
    node.create_group(b"slow-room").await.unwrap();
    let took = call.elapsed();
    let to = Instant::now();
    ticker.abort();

    // The steps really went through the slow store...
    assert!(before >= 1, "opening the engine wrote nothing");
    assert!(storage.applied.load(Ordering::SeqCst) > before);
    assert!(took >= FSYNC, "create_group took only {took:?}");
    // ...and the timer kept ticking on time all along.
    let ticks = ticks.lock().unwrap().clone();
    let gap = longest_gap(&ticks, from, to);
    assert!(
        gap < STALL,
        "the timer stalled for {gap:?} while the node was in storage (window {:?}, {} ticks)",
        to - from,
        ticks.len()
    );
    assert!(ticks.len() >= 20, "only {} ticks", ticks.len());
    node.shutdown().await;
}

#[tokio::test(flavor = "current_thread")]
async fn other_nodes_keep_chatting_while_one_node_is_stuck_in_storage() {
    let network = MemoryNetwork::new();
    let bob = start("bob", &network, Arc::new(MemoryStorage::new())).await;
    let carol = start("carol", &network, Arc::new(MemoryStorage::new())).await;
    bob.create_group(b"chat").await.unwrap();
    carol.join_group(b"chat").await.unwrap();
    wait_for(&carol, "carol joined", |e| {
        matches!(e, Event::Joined { .. })
    })
    .await;

    // Bob talks every 20 ms; carol's receipts are timed.
    let talker = tokio::spawn({
        let bob = bob.clone();
        async move {
            let mut interval = tokio::time::interval(Duration::from_millis(20));
            for i in 0u32.. {
                interval.tick().await;
                bob.send(b"chat", &i.to_be_bytes()).await.unwrap();
            }
        }
    });
    let heard: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let listener = tokio::spawn({
        let carol = carol.clone();
        let heard = heard.clone();
        async move {
            while let Some(event) = carol.next_event().await {
                if matches!(event, Event::MessageReceived { .. }) {
                    heard.lock().unwrap().push(Instant::now());
                }
            }
        }
    });
    wait_until("carol hears bob", || heard.lock().unwrap().len() >= 3).await;

    // Meanwhile dora, on another network, is stuck in a slow store.
    let storage = SlowStorage::slow();
    let from = Instant::now();
    let dora = start("dora", &MemoryNetwork::new(), storage.clone()).await;
    dora.create_group(b"slow-room").await.unwrap();
    dora.send(b"slow-room", b"hello?").await.unwrap();
    let to = Instant::now();
    assert!(to - from >= 2 * FSYNC, "dora's steps were not slow");
    talker.abort();
    listener.abort();

    let heard = heard.lock().unwrap().clone();
    let gap = longest_gap(&heard, from, to);
    assert!(
        gap < STALL,
        "bob's messages to carol stalled for {gap:?} while dora was in storage (window {:?})",
        to - from
    );
    for node in [&bob, &carol, &dora] {
        node.shutdown().await;
    }
}

#[tokio::test(flavor = "current_thread")]
async fn shutdown_waits_for_the_step_in_storage_and_releases_the_store() {
    let storage = SlowStorage::slow();
    let node = start("eve", &MemoryNetwork::new(), storage.clone()).await;
    let member = node.member_id();
    let opened = storage.entered.load(Ordering::SeqCst);
    let creating = tokio::spawn({
        let node = node.clone();
        async move { node.create_group(b"kept").await }
    });
    // Shut down while the create_group step is inside its slow apply.
    wait_until("the step is in storage", || {
        storage.entered.load(Ordering::SeqCst) > opened
    })
    .await;
    assert_eq!(storage.applied.load(Ordering::SeqCst), opened);
    node.shutdown().await;

    // The command queued before the shutdown finished, its write is in the store, and the
    // engine (with every handle it held on the store) is gone: its thread has ended.
    creating
        .await
        .unwrap()
        .expect("the command before shutdown completes");
    assert!(storage.applied.load(Ordering::SeqCst) > opened);
    assert_eq!(
        Arc::strong_count(&storage),
        1,
        "the engine still holds the store after shutdown"
    );
    assert!(matches!(
        node.create_group(b"late").await,
        Err(NodeError::Stopped)
    ));
    drop(node);

    // A node restarted on the same store is still in the group.
    storage.slow.store(false, Ordering::SeqCst);
    let again = start("eve", &MemoryNetwork::new(), storage.clone()).await;
    assert_eq!(again.member_id(), member);
    let groups = again.groups().await.unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].as_bytes(), b"kept");
    again.shutdown().await;
}

#[tokio::test(flavor = "current_thread")]
async fn dropping_the_last_handle_ends_the_engine_thread() {
    let storage = SlowStorage::slow();
    let node = start("fay", &MemoryNetwork::new(), storage.clone()).await;
    node.create_group(b"room").await.unwrap();
    drop(node);
    wait_until("the engine released the store", || {
        Arc::strong_count(&storage) == 1
    })
    .await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_step_that_panics_stops_the_node_with_a_typed_error() {
    let storage = Arc::new(SlowStorage::default());
    let node = start("gus", &MemoryNetwork::new(), storage.clone()).await;
    storage.panic.store(true, Ordering::SeqCst);
    assert!(matches!(
        node.create_group(b"room").await,
        Err(NodeError::Stopped)
    ));
    assert!(matches!(node.groups().await, Err(NodeError::Stopped)));
    node.shutdown().await;
    wait_until("the engine released the store", || {
        Arc::strong_count(&storage) == 1
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_node_restarts_on_its_file_right_after_shutdown() {
    // SQLite locks the file exclusively while a store is open: each restart opens the store only
    // if the shutdown before it has dropped the engine, and with it the connection.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hal.sqlite");
    let network = MemoryNetwork::new();
    let open = || -> Arc<dyn Storage> {
        Arc::new(demls_storage_sqlite::SqliteStorage::open_path(&path).expect("store opens"))
    };
    let node = start("hal", &network, open()).await;
    let member = node.member_id();
    node.create_group(b"kept").await.unwrap();
    node.shutdown().await;
    for round in 0u32..5 {
        let node = start("hal", &network, open()).await;
        assert_eq!(node.member_id(), member);
        assert_eq!(node.groups().await.unwrap().len(), 1);
        node.send(b"kept", &round.to_be_bytes()).await.unwrap();
        node.shutdown().await;
    }
}
