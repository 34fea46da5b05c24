//! A deterministic in-process network of sans-IO engines: every publication is queued and
//! delivered in order to every other member subscribed to its topic; time advances only to the
//! next engine deadline. A trimmed copy of `harness/tests/tests/common/mod.rs` (memory
//! storage only, every engine's randomness seeded), plus what the fuzz targets need on top: a
//! record of every publication, snapshots of every member's storage, and restoring a network
//! from one.
//!
//! Engine errors are panics here: an input from the network must never make a step fail.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use demls::engine::{Engine, EngineParams, GroupEvent, Output};
use demls::internals::mls::{Crypto, MlsState};
use demls::policy::single::{SinglePolicyConfig, SinglePolicyFactory};
use demls::internals::txn::Txn;
use demls::{GroupId, Inbound, MemberId, Timestamp, Topic};
use demls_consensus_hashgraph::HashgraphFactory;
use demls_storage_memory::MemoryStorage;

/// One publication: who published it, where, and the encoded envelope.
#[derive(Clone, Debug)]
pub struct Publication {
    /// The publishing member's index.
    pub from: usize,
    /// The topic.
    pub topic: Topic,
    /// The encoded envelope.
    pub payload: Vec<u8>,
}

/// One member of the network.
pub struct Member {
    /// Its engine.
    pub engine: Engine,
    /// What the engine stores into.
    pub store: MemoryStorage,
    /// Every event it reported.
    pub events: Vec<GroupEvent>,
    /// The topics it is subscribed to.
    pub subscribed: BTreeSet<Topic>,
}

/// A deterministic network of members.
pub struct Session {
    /// The members, by index.
    pub members: Vec<Member>,
    /// The current simulated time.
    pub now: Timestamp,
    queue: VecDeque<Publication>,
    /// Every publication so far, in order (when recording).
    pub recorded: Option<Vec<Publication>>,
    /// The commit-envelope key of every epoch of a group members went through (when
    /// recording: read from a member's storage after each of its steps).
    pub keys: Option<(GroupId, BTreeMap<u64, [u8; 16]>)>,
}

/// Every member's storage and subscriptions at one instant, to start networks from.
pub struct Snapshot {
    stores: Vec<MemoryStorage>,
    subscribed: Vec<BTreeSet<Topic>>,
    /// The simulated time of the snapshot.
    pub now: Timestamp,
}

/// The identity seed of member `i`.
pub fn seed(i: usize) -> [u8; 32] {
    let mut s = [0u8; 32];
    s[..8].copy_from_slice(&(i as u64 + 1).to_be_bytes());
    s
}

/// The entropy seed of member `i`'s engine (a fixed run seed: every run is the same).
fn entropy_seed(i: usize) -> [u8; 32] {
    let mut s = seed(i);
    s[24..].copy_from_slice(&0x00f0_22ed_u64.to_be_bytes());
    s
}

/// The start of simulated time: today's midnight (UTC). OpenMLS checks KeyPackage lifetimes
/// against the wall clock, so simulated time must stay near it.
pub fn t0() -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_millis() as u64;
    now - now % 86_400_000
}

/// A group id from a name.
pub fn gid(name: &str) -> GroupId {
    GroupId::new(name.as_bytes().to_vec()).expect("a short non-empty name")
}

/// A copy of a memory store that shares nothing with it (the simulator's adversaries copy
/// members the same way).
pub use demls_sim::adversary::snapshot as copy_store;

/// The epoch and epoch key that `storage` holds for `group`.
pub fn epoch_key(storage: &MemoryStorage, group: &GroupId) -> Option<(u64, [u8; 16])> {
    let txn = Txn::new(storage);
    let crypto = Crypto::default();
    let provider = crypto.provider(&txn);
    let state = MlsState::load(&provider, group).ok()?;
    Some((state.epoch(), state.commit_envelope_key(&crypto).ok()?))
    // `txn` is dropped uncommitted: loading leaves no trace.
}

fn open_engine(store: &MemoryStorage, i: usize, now: Timestamp) -> Engine {
    let mut engine = Engine::open(
        Arc::new(store.clone()),
        Arc::new(HashgraphFactory::default()),
        Arc::new(SinglePolicyFactory::new(SinglePolicyConfig::default())),
        EngineParams::default(),
        Some(seed(i)),
        now,
    )
    .expect("an engine opens on a memory store");
    engine.set_entropy_seed(entropy_seed(i));
    engine
}

impl Session {
    /// A network of `n` fresh members at [`t0`].
    pub fn new(n: usize) -> Session {
        let now = Timestamp(t0());
        let members = (0..n)
            .map(|i| {
                let store = MemoryStorage::new();
                Member {
                    engine: open_engine(&store, i, now),
                    store,
                    events: Vec::new(),
                    subscribed: BTreeSet::new(),
                }
            })
            .collect();
        Session {
            members,
            now,
            queue: VecDeque::new(),
            recorded: None,
            keys: None,
        }
    }

    /// Every member's state now (nothing may be queued).
    pub fn snapshot(&self) -> Snapshot {
        assert!(self.queue.is_empty(), "snapshot of a quiet network only");
        Snapshot {
            stores: self.members.iter().map(|m| copy_store(&m.store)).collect(),
            subscribed: self.members.iter().map(|m| m.subscribed.clone()).collect(),
            now: self.now,
        }
    }

    /// A network whose members restart from `snapshot` (each engine opened on a copy of its
    /// stored state, as after a crash of every member at that instant).
    pub fn restore(snapshot: &Snapshot) -> Session {
        let members = snapshot
            .stores
            .iter()
            .zip(&snapshot.subscribed)
            .enumerate()
            .map(|(i, (store, subscribed))| {
                let store = copy_store(store);
                Member {
                    engine: open_engine(&store, i, snapshot.now),
                    store,
                    events: Vec::new(),
                    subscribed: subscribed.clone(),
                }
            })
            .collect();
        Session {
            members,
            now: snapshot.now,
            queue: VecDeque::new(),
            recorded: None,
            keys: None,
        }
    }

    /// Member `i`'s id.
    pub fn id(&self, i: usize) -> MemberId {
        self.members[i].engine.member_id()
    }

    /// Carries out an engine output of member `from`.
    pub fn apply(&mut self, from: usize, out: Output) {
        if let Some((g, keys)) = &mut self.keys
            && let Some((epoch, key)) = epoch_key(&self.members[from].store, g)
        {
            keys.insert(epoch, key);
        }
        let m = &mut self.members[from];
        m.subscribed.extend(out.subscribe);
        for o in out.publish {
            let p = Publication {
                from,
                topic: o.topic,
                payload: o.payload,
            };
            if let Some(log) = &mut self.recorded {
                log.push(p.clone());
            }
            self.queue.push_back(p);
        }
        for t in out.unsubscribe {
            m.subscribed.remove(&t);
        }
        m.events.extend(out.events);
    }

    /// Hands `payload` to member `to` as if it came from the network on `topic`, and carries
    /// out what the member does about it. Members not subscribed to `topic` get it too (a
    /// transport may deliver anything).
    pub fn inject(&mut self, to: usize, topic: &Topic, payload: Vec<u8>) {
        let inbound = Inbound {
            topic: topic.clone(),
            payload,
            message_id: Vec::new(),
        };
        let out = self.members[to]
            .engine
            .handle(&inbound, self.now)
            .unwrap_or_else(|e| panic!("member {to} failed on an inbound message: {e}"));
        self.apply(to, out);
    }

    /// Delivers every queued message (and what it causes) until the queue is empty.
    pub fn flush(&mut self) {
        while let Some(p) = self.queue.pop_front() {
            for to in 0..self.members.len() {
                if to == p.from || !self.members[to].subscribed.contains(&p.topic) {
                    continue;
                }
                self.inject(to, &p.topic, p.payload.clone());
            }
        }
    }

    fn tick(&mut self, i: usize) {
        let out = self.members[i]
            .engine
            .tick(self.now)
            .unwrap_or_else(|e| panic!("member {i} failed on a tick: {e}"));
        self.apply(i, out);
    }

    /// Runs until nothing is queued and no deadline falls within `max_ms` from now.
    pub fn run(&mut self, max_ms: u64) {
        let end = self.now.plus_ms(max_ms);
        loop {
            self.flush();
            let next = self
                .members
                .iter()
                .filter_map(|m| m.engine.next_deadline())
                .min();
            match next {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    for i in 0..self.members.len() {
                        if self.members[i]
                            .engine
                            .next_deadline()
                            .is_some_and(|d| d <= self.now)
                        {
                            self.tick(i);
                        }
                    }
                }
                _ => break,
            }
        }
    }

    /// Advances the clock by `ms`, running everything due meanwhile.
    pub fn advance(&mut self, ms: u64) {
        let target = self.now.plus_ms(ms);
        self.run(ms);
        self.now = self.now.max(target);
        for i in 0..self.members.len() {
            self.tick(i);
        }
        self.flush();
    }

    /// Member `i` creates group `g`.
    pub fn create(&mut self, i: usize, g: &GroupId) {
        let out = self.members[i]
            .engine
            .create_group(g.clone(), self.now)
            .expect("create a group");
        self.apply(i, out);
    }

    /// Member `i` asks to join group `g`.
    pub fn join(&mut self, i: usize, g: &GroupId) {
        let out = self.members[i]
            .engine
            .request_join(g.clone(), self.now)
            .expect("request a join");
        self.apply(i, out);
    }

    /// Member `i` sends `payload` to group `g`; returns the message id.
    pub fn send(&mut self, i: usize, g: &GroupId, payload: &[u8]) -> Vec<u8> {
        let (id, out) = self.members[i]
            .engine
            .send_message(g, payload, self.now)
            .expect("send a message");
        self.apply(i, out);
        id
    }

    /// Member `i` proposes to remove `target` from group `g`.
    pub fn propose_remove(&mut self, i: usize, g: &GroupId, target: MemberId) {
        let (_, out) = self.members[i]
            .engine
            .propose_remove(g, target, self.now)
            .expect("propose a removal");
        self.apply(i, out);
    }

    /// Asserts that the listed members, and only they, are in group `g`, with the same epoch,
    /// roster and epoch authenticator everywhere; returns the epoch.
    pub fn assert_converged(&self, g: &GroupId, who: &[usize]) -> u64 {
        let first = self.members[who[0]]
            .engine
            .group_summary(g)
            .unwrap_or_else(|| panic!("member {} is not in the group", who[0]));
        let roster: BTreeSet<MemberId> = first.members.iter().copied().collect();
        let expected: BTreeSet<MemberId> = who.iter().map(|&i| self.id(i)).collect();
        assert_eq!(
            roster, expected,
            "roster differs from the honest member set"
        );
        for &i in who {
            let s = self.members[i]
                .engine
                .group_summary(g)
                .unwrap_or_else(|| panic!("member {i} is not in the group"));
            assert_eq!(s.epoch, first.epoch, "member {i} epoch");
            assert_eq!(s.members, first.members, "member {i} roster");
            assert_eq!(
                s.authenticator, first.authenticator,
                "member {i} epoch authenticator"
            );
        }
        first.epoch
    }

    /// Application messages member `i` received in group `g`: id → payload.
    pub fn received(&self, i: usize, g: &GroupId) -> BTreeMap<Vec<u8>, Vec<u8>> {
        self.members[i]
            .events
            .iter()
            .filter_map(|e| match e {
                GroupEvent::MessageReceived {
                    group_id,
                    message_id,
                    payload,
                    ..
                } if group_id == g => Some((message_id.clone(), payload.clone())),
                _ => None,
            })
            .collect()
    }

    /// Forgets every member's events.
    pub fn clear_events(&mut self) {
        for m in &mut self.members {
            m.events.clear();
        }
    }
}
