//! A deterministic in-test network for driving sans-IO engines: every publication is queued
//! and delivered in order to every other engine subscribed to its topic; time advances only
//! to the next engine deadline. Same inputs → same run.
//!
//! Members store into the memory backend, or into SQLite files in a scratch directory when a
//! test runs inside [`on_storage`]`(Backend::Sqlite, ..)`.
#![allow(dead_code)]

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use demls::engine::{Engine, EngineParams, GroupEvent, Output};
use demls::policy::single::{SinglePolicyConfig, SinglePolicyFactory};
use demls::{GroupId, Inbound, MemberId, Storage, Timestamp, Topic};
use demls_consensus_hashgraph::HashgraphFactory;
use demls_storage_memory::MemoryStorage;

/// The storage backend the members of a [`Net`] use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// `demls-storage-memory`.
    Memory,
    /// `demls-storage-sqlite`, one database file per member.
    Sqlite,
}

thread_local! {
    static BACKEND: Cell<Backend> = const { Cell::new(Backend::Memory) };
}

/// Runs `test` with every `Net` it builds storing into `backend` (each test has its thread).
pub fn on_storage(backend: Backend, test: impl FnOnce()) {
    let before = BACKEND.with(|b| b.replace(backend));
    test();
    BACKEND.with(|b| b.set(before));
}

/// Stamps, for each named test body, a module of that name with one `#[test]` per backend:
/// `name::on_memory` and `name::on_sqlite`.
#[macro_export]
macro_rules! on_every_storage {
    ($($test:ident),* $(,)?) => {
        $(
            mod $test {
                #[test]
                fn on_memory() {
                    super::common::on_storage(super::common::Backend::Memory, super::$test);
                }

                #[test]
                fn on_sqlite() {
                    super::common::on_storage(super::common::Backend::Sqlite, super::$test);
                }
            }
        )*
    };
}

/// The start of simulated time: today's midnight (UTC). OpenMLS checks KeyPackage lifetimes
/// against the wall clock, so simulated time must stay near it.
pub fn t0() -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    now - now % 86_400_000
}

pub struct Member {
    pub engine: Engine,
    /// What the engine stores into: reopen an engine on it to restart the member.
    pub store: Arc<dyn Storage>,
    /// The same store when members use the memory backend (adversaries copy it).
    pub memory: Option<MemoryStorage>,
    pub events: Vec<GroupEvent>,
    pub subscribed: BTreeSet<Topic>,
    /// Whether it currently receives traffic.
    pub online: bool,
}

pub struct Net {
    pub members: Vec<Member>,
    pub now: Timestamp,
    queue: VecDeque<(usize, Topic, Vec<u8>)>,
    /// Messages delivered so far.
    pub delivered: u64,
    /// When set, every engine draws its randomness from a seed derived from this.
    pub entropy: Option<u64>,
    /// The steward policy of members added from now on.
    pub policy: std::sync::Arc<dyn demls::StewardPolicyFactory>,
    /// The members' storage backend.
    pub backend: Backend,
    /// Holds the SQLite members' database files.
    scratch: Option<tempfile::TempDir>,
    /// When set, every publication is also recorded here (what a sniffer on the relay sees).
    pub sniffed: Option<Vec<(usize, Topic, Vec<u8>)>>,
}

pub fn params() -> EngineParams {
    EngineParams::default()
}

pub fn seed(i: usize) -> [u8; 32] {
    let mut s = [0u8; 32];
    s[..8].copy_from_slice(&(i as u64 + 1).to_be_bytes());
    s
}

/// Forms group "g" among the first `n` members of `net` (0 creates it, 1.. join in order, so
/// leaf i = member i), checks that they converged and clears their events.
pub fn formed(mut net: Net, n: usize) -> (Net, GroupId) {
    let g = gid("g");
    net.create(0, &g);
    for i in 1..n {
        net.join(i, &g);
        net.run(5_000);
    }
    let all: Vec<usize> = (0..n).collect();
    net.assert_converged(&g, &all);
    net.clear_events();
    (net, g)
}

pub fn gid(name: &str) -> GroupId {
    GroupId::new(name.as_bytes().to_vec()).unwrap()
}

impl Net {
    pub fn new(n: usize) -> Net {
        Net::with_params(n, params())
    }

    /// A network whose engines draw every random byte from `run_seed`.
    pub fn seeded(n: usize, run_seed: u64) -> Net {
        Net::seeded_with_params(n, params(), run_seed)
    }

    /// A network whose members use the multi-steward policy with `config`.
    pub fn multi(n: usize, config: demls::policy::MultiPolicyConfig) -> Net {
        let mut net = Net::with_params(0, params());
        net.policy = Arc::new(demls::policy::multi::MultiPolicyFactory::new(config).unwrap());
        for i in 0..n {
            net.add_member(i, params());
        }
        net
    }

    /// A network with `params` whose engines draw every random byte from `run_seed`, so
    /// randomised timings (answer back-offs, jitter) repeat from run to run.
    pub fn seeded_with_params(n: usize, params: EngineParams, run_seed: u64) -> Net {
        let mut net = Net::with_params(0, params.clone());
        net.entropy = Some(run_seed);
        for i in 0..n {
            net.add_member(i, params.clone());
        }
        net
    }

    pub fn with_params(n: usize, params: EngineParams) -> Net {
        let mut net = Net {
            members: Vec::new(),
            now: Timestamp(t0()),
            queue: VecDeque::new(),
            delivered: 0,
            entropy: None,
            policy: Arc::new(SinglePolicyFactory::new(SinglePolicyConfig::default())),
            backend: BACKEND.with(Cell::get),
            scratch: None,
            sniffed: None,
        };
        for i in 0..n {
            net.add_member(i, params.clone());
        }
        net
    }

    pub fn add_member(&mut self, i: usize, params: EngineParams) -> usize {
        let (store, memory) = self.open_store();
        let engine = self.open_engine(store.clone(), i, params);
        self.members.push(Member {
            engine,
            store,
            memory,
            events: Vec::new(),
            subscribed: BTreeSet::new(),
            online: true,
        });
        self.members.len() - 1
    }

    /// Member `i`'s engine on `store`, as this net opens them.
    fn open_engine(&self, store: Arc<dyn Storage>, i: usize, params: EngineParams) -> Engine {
        let mut engine = Engine::open(
            store,
            Arc::new(HashgraphFactory::default()),
            self.policy.clone(),
            params,
            Some(seed(i)),
            self.now,
        )
        .unwrap();
        if let Some(run_seed) = self.entropy {
            let mut s = seed(i);
            s[24..].copy_from_slice(&run_seed.to_be_bytes());
            engine.set_entropy_seed(s);
        }
        engine
    }

    /// Restarts member `i`: a new engine opened on its storage (what was only in memory is
    /// gone, as after a crash).
    pub fn restart(&mut self, i: usize, params: EngineParams) {
        let store = self.members[i].store.clone();
        self.members[i].engine = self.open_engine(store, i, params);
    }

    /// A fresh store for the next member, on this net's backend.
    fn open_store(&mut self) -> (Arc<dyn Storage>, Option<MemoryStorage>) {
        match self.backend {
            Backend::Memory => {
                let memory = MemoryStorage::new();
                (Arc::new(memory.clone()), Some(memory))
            }
            Backend::Sqlite => {
                let dir = self
                    .scratch
                    .get_or_insert_with(|| tempfile::tempdir().unwrap());
                let mut config = demls_storage_sqlite::Config::at(
                    dir.path().join(format!("member-{}.db", self.members.len())),
                );
                // These tests check behaviour, not power loss: no fsync per step (8x faster
                // here). The kill test (tests/kill_and_restart.rs) runs the default, `full`.
                config.synchronous = demls_storage_sqlite::Synchronous::Normal;
                let store = demls_storage_sqlite::SqliteStorage::open(&config).unwrap();
                (Arc::new(store), None)
            }
        }
    }

    /// A malicious copy of member `i` in group `g` (memory backend only).
    pub fn adversary(&self, i: usize, g: &GroupId) -> demls_sim::adversary::Adversary {
        let memory = self.members[i]
            .memory
            .as_ref()
            .expect("adversaries copy a memory store");
        demls_sim::adversary::Adversary::new(memory, seed(i), g)
    }

    pub fn id(&self, i: usize) -> MemberId {
        self.members[i].engine.member_id()
    }

    /// Carries out an engine output of member `from`.
    pub fn apply(&mut self, from: usize, out: Output) {
        let m = &mut self.members[from];
        m.subscribed.extend(out.subscribe);
        for o in out.publish {
            if let Some(log) = self.sniffed.as_mut() {
                log.push((from, o.topic.clone(), o.payload.clone()));
            }
            self.queue.push_back((from, o.topic, o.payload));
        }
        for t in out.unsubscribe {
            m.subscribed.remove(&t);
        }
        m.events.extend(out.events);
    }

    /// Injects raw bytes to member `to` on `topic`, as if from the network.
    pub fn inject(&mut self, to: usize, topic: &Topic, payload: Vec<u8>) -> Output {
        let inbound = Inbound {
            topic: topic.clone(),
            payload,
            message_id: Vec::new(),
        };
        self.members[to].engine.handle(&inbound, self.now).unwrap()
    }

    /// Member `i` alone (nobody else hears it) takes a KeyPackage `announcement` on `g`'s
    /// welcome topic and runs its own timers until it publishes a Welcome: with `i` the only
    /// member, it votes and commits the add by itself. Returns the Welcome and the ratchet
    /// tree it published, as published.
    pub fn add_alone(&mut self, i: usize, g: &GroupId, announcement: Vec<u8>) -> Vec<Vec<u8>> {
        use demls::internals::wire::{Envelope, Kind};
        let kind = |p: &[u8]| Envelope::decode_checked(p).map(|(_, k)| k).ok();
        let topic = demls::engine::GroupTopics::of(g).welcome;
        let mut published = self.inject(i, &topic, announcement).publish;
        for _ in 0..50 {
            if published
                .iter()
                .any(|p| kind(&p.payload) == Some(Kind::Welcome))
            {
                break;
            }
            let Some(t) = self.members[i].engine.next_deadline() else {
                break;
            };
            self.now = self.now.max(t);
            published.extend(self.members[i].engine.tick(self.now).unwrap().publish);
        }
        let answer: Vec<Vec<u8>> = published
            .into_iter()
            .filter(|p| matches!(kind(&p.payload), Some(Kind::Welcome | Kind::RatchetTree)))
            .map(|p| p.payload)
            .collect();
        assert_eq!(answer.len(), 2, "member {i} produced a Welcome and a tree");
        answer
    }

    /// Removes and returns every queued publication (tests inspect, tamper with or drop them).
    pub fn take_queue(&mut self) -> Vec<(usize, Topic, Vec<u8>)> {
        self.queue.drain(..).collect()
    }

    /// Queues a publication as if member `from` had published it.
    pub fn enqueue(&mut self, from: usize, topic: Topic, payload: Vec<u8>) {
        self.queue.push_back((from, topic, payload));
    }

    /// Delivers every queued message (and what it causes) until the queue is empty.
    pub fn flush(&mut self) {
        while let Some((from, topic, payload)) = self.queue.pop_front() {
            for to in 0..self.members.len() {
                if to == from
                    || !self.members[to].online
                    || !self.members[to].subscribed.contains(&topic)
                {
                    continue;
                }
                self.delivered += 1;
                let inbound = Inbound {
                    topic: topic.clone(),
                    payload: payload.clone(),
                    message_id: Vec::new(),
                };
                let out = self.members[to].engine.handle(&inbound, self.now).unwrap();
                self.apply(to, out);
            }
        }
    }

    /// Runs until nothing is queued and no deadline falls within `max_ms` from now.
    pub fn run(&mut self, max_ms: u64) {
        let end = self.now.plus_ms(max_ms);
        loop {
            self.flush();
            let next = self
                .members
                .iter()
                .filter(|m| m.online)
                .filter_map(|m| m.engine.next_deadline())
                .min();
            match next {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    for i in 0..self.members.len() {
                        if !self.members[i].online {
                            continue;
                        }
                        if self.members[i]
                            .engine
                            .next_deadline()
                            .is_some_and(|d| d <= self.now)
                        {
                            let out = self.members[i].engine.tick(self.now).unwrap();
                            self.apply(i, out);
                        }
                    }
                }
                _ => break,
            }
        }
        self.now = self.now.max(end.min(self.now));
    }

    /// Advances the clock by `ms` (running everything due meanwhile).
    pub fn advance(&mut self, ms: u64) {
        let target = self.now.plus_ms(ms);
        self.run(ms);
        self.now = target;
        for i in 0..self.members.len() {
            if self.members[i].online {
                let out = self.members[i].engine.tick(self.now).unwrap();
                self.apply(i, out);
            }
        }
        self.flush();
    }

    pub fn create(&mut self, i: usize, g: &GroupId) {
        let out = self.members[i]
            .engine
            .create_group(g.clone(), self.now)
            .unwrap();
        self.apply(i, out);
    }

    pub fn join(&mut self, i: usize, g: &GroupId) {
        let out = self.members[i]
            .engine
            .request_join(g.clone(), self.now)
            .unwrap();
        self.apply(i, out);
    }

    pub fn send(&mut self, i: usize, g: &GroupId, payload: &[u8]) -> Vec<u8> {
        let (id, out) = self.members[i]
            .engine
            .send_message(g, payload, self.now)
            .unwrap();
        self.apply(i, out);
        id
    }

    pub fn propose_remove(&mut self, i: usize, g: &GroupId, target: MemberId) {
        let (_, out) = self.members[i]
            .engine
            .propose_remove(g, target, self.now)
            .unwrap();
        self.apply(i, out);
    }

    /// Members (indices) of group `g`.
    pub fn in_group(&self, g: &GroupId) -> Vec<usize> {
        (0..self.members.len())
            .filter(|&i| self.members[i].engine.group_summary(g).is_some())
            .collect()
    }

    /// Asserts that every listed member has the same epoch, roster and authenticator, and
    /// returns that epoch.
    pub fn assert_converged(&self, g: &GroupId, who: &[usize]) -> u64 {
        let first = self.members[who[0]]
            .engine
            .group_summary(g)
            .expect("member of the group");
        let roster: BTreeSet<MemberId> = first.members.iter().copied().collect();
        let expected: BTreeSet<MemberId> = who.iter().map(|&i| self.id(i)).collect();
        assert_eq!(
            roster, expected,
            "roster differs from the expected member set"
        );
        for &i in who {
            let s = self.members[i]
                .engine
                .group_summary(g)
                .expect("member of the group");
            assert_eq!(s.epoch, first.epoch, "member {i} epoch");
            assert_eq!(s.members, first.members, "member {i} roster");
            assert_eq!(
                s.authenticator, first.authenticator,
                "member {i} authenticator"
            );
        }
        first.epoch
    }

    /// Message ids member `i` received in group `g`.
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

    pub fn events_of(&self, i: usize) -> &[GroupEvent] {
        &self.members[i].events
    }

    pub fn clear_events(&mut self) {
        for m in &mut self.members {
            m.events.clear();
        }
    }

    /// Rejection reasons member `i` reported.
    pub fn rejections(&self, i: usize) -> Vec<demls::RejectReason> {
        self.members[i]
            .events
            .iter()
            .filter_map(|e| match e {
                GroupEvent::Rejected { reason, .. } => Some(*reason),
                _ => None,
            })
            .collect()
    }
}
