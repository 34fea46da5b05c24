//! Cost of the SQLite storage against the memory storage in a big group: per-commit processing
//! time of one member, and the size of a member's database.
//!
//! ```text
//! cargo run --release -p demls-tests --example sqlite_bench -- [--members 1000,10000] [--commits 5] [--synchronous full|normal]
//! ```
//!
//! For each group size `n`: a steward founds the group; two observers join it — one on the
//! memory storage, one on SQLite (in a temporary directory) — and so do `--commits` leavers
//! (memory storage); then the group is filled up to `n` members with members that exist only as
//! the KeyPackages they announced (their engines are dropped after announcing; their adds are
//! voted by the live members, which is enough while they are the whole roster). Then each
//! leaver leaves in turn — a removal that needs no vote, committed by the steward — and for each
//! of these commits the wall time each observer's engine call spends on it is measured
//! (decryption, tree update, the engine's bookkeeping and its one storage batch; with
//! `synchronous = full`, an fsync).
//!
//! Prints one JSON line per commit and one summary line per size with the medians, their ratio
//! (`sqlite / memory`), the build time, and the SQLite database size (live pages after a
//! checkpoint, and per group member).

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use demls::engine::{Engine, EngineParams, GroupEvent, Output};
use demls::policy::single::SinglePolicyFactory;
use demls::{GroupId, Inbound, MemberId, Space, Storage, Timestamp, Topic};
use demls_consensus_hashgraph::{HashgraphFactory, HashgraphOptions};
use demls_storage_memory::MemoryStorage;
use demls_storage_sqlite::{Config, SqliteStorage, Synchronous};

const STEWARD: usize = 0;
const MEMORY: usize = 1;
const SQLITE: usize = 2;

struct Peer {
    engine: Engine,
    topics: BTreeSet<Topic>,
    /// Wall time of the last `handle` that advanced the epoch.
    commit_time: Option<Duration>,
}

struct Net {
    peers: Vec<Peer>,
    queue: VecDeque<(usize, Topic, Vec<u8>)>,
    now: Timestamp,
}

fn seed(i: u64) -> [u8; 32] {
    let mut s = [0u8; 32];
    s[..8].copy_from_slice(&(i + 1).to_be_bytes());
    s
}

/// Joiners announced per round while the group is built. All of them, in practice: once the
/// silent members are the majority of the roster, adds can no longer reach a quorum.
const ADDS_PER_ROUND: usize = 20_000;

fn engine(storage: Arc<dyn Storage>, i: u64, now: Timestamp) -> Engine {
    // The build opens thousands of add proposals within the consensus backend's retention
    // (5 min): let it hold them all.
    let consensus = HashgraphOptions {
        max_proposals: Some(32_768),
        ..HashgraphOptions::default()
    }
    .into_config()
    .expect("consensus options");
    let mut engine = Engine::open(
        storage,
        Arc::new(HashgraphFactory::new(consensus)),
        Arc::new(SinglePolicyFactory::new(Default::default())),
        EngineParams::default(),
        Some(seed(i)),
        now,
    )
    .expect("open engine");
    engine.set_entropy_seed(seed(i + 1_000_000));
    engine
}

impl Net {
    fn apply(&mut self, from: usize, out: Output) {
        let peer = &mut self.peers[from];
        peer.topics.extend(out.subscribe);
        for o in out.publish {
            self.queue.push_back((from, o.topic, o.payload));
        }
        for t in out.unsubscribe {
            peer.topics.remove(&t);
        }
    }

    fn deliver(&mut self, to: usize, topic: &Topic, payload: &[u8]) {
        let inbound = Inbound {
            topic: topic.clone(),
            payload: payload.to_vec(),
            message_id: Vec::new(),
        };
        let start = Instant::now();
        let out = self.peers[to]
            .engine
            .handle(&inbound, self.now)
            .expect("handle");
        self.record(to, start.elapsed(), out);
    }

    /// Carries out `out` of peer `to`, noting `took` when the call advanced the epoch.
    fn record(&mut self, to: usize, took: Duration, out: Output) {
        if out
            .events
            .iter()
            .any(|e| matches!(e, GroupEvent::EpochAdvanced { .. }))
        {
            self.peers[to].commit_time = Some(took);
        }
        self.apply(to, out);
    }

    fn flush(&mut self) {
        while let Some((from, topic, payload)) = self.queue.pop_front() {
            for to in 0..self.peers.len() {
                if to != from && self.peers[to].topics.contains(&topic) {
                    self.deliver(to, &topic, &payload);
                }
            }
        }
    }

    /// Runs until idle or `ms` of virtual time have passed.
    fn run(&mut self, ms: u64) {
        let end = self.now.plus_ms(ms);
        loop {
            self.flush();
            let next = self
                .peers
                .iter()
                .filter_map(|p| p.engine.next_deadline())
                .min();
            match next {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    for i in 0..self.peers.len() {
                        if self.peers[i]
                            .engine
                            .next_deadline()
                            .is_some_and(|d| d <= self.now)
                        {
                            let start = Instant::now();
                            let out = self.peers[i].engine.tick(self.now).expect("tick");
                            self.record(i, start.elapsed(), out);
                        }
                    }
                }
                _ => break,
            }
        }
        self.now = end.max(self.now);
    }

    fn members(&self, g: &GroupId, peer: usize) -> Vec<MemberId> {
        self.peers[peer]
            .engine
            .group_summary(g)
            .map(|s| s.members)
            .unwrap_or_default()
    }
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn today() -> Timestamp {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as u64;
    Timestamp(now - now % 86_400_000)
}

fn bench(n: usize, commits: usize, synchronous: Synchronous) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut config = Config::at(dir.path().join("observer.db"));
    config.synchronous = synchronous;
    let sqlite = Arc::new(SqliteStorage::open(&config).expect("open sqlite"));
    let now = today();
    let g = GroupId::new(b"bench".to_vec()).expect("group id");
    let mut net = Net {
        peers: Vec::new(),
        queue: VecDeque::new(),
        now,
    };
    let stores: [Arc<dyn Storage>; 3] = [
        Arc::new(MemoryStorage::new()),
        Arc::new(MemoryStorage::new()),
        sqlite.clone(),
    ];
    for (i, storage) in stores.into_iter().enumerate() {
        net.peers.push(Peer {
            engine: engine(storage, i as u64, now),
            topics: BTreeSet::new(),
            commit_time: None,
        });
    }
    let built = Instant::now();
    let out = net.peers[STEWARD]
        .engine
        .create_group(g.clone(), now)
        .expect("create");
    net.apply(STEWARD, out);
    for leaver in 0..commits {
        net.peers.push(Peer {
            engine: engine(Arc::new(MemoryStorage::new()), 3 + leaver as u64, now),
            topics: BTreeSet::new(),
            commit_time: None,
        });
    }
    for observer in 1..net.peers.len() {
        let out = net.peers[observer]
            .engine
            .request_join(g.clone(), net.now)
            .expect("join");
        net.apply(observer, out);
        net.run(30_000);
    }
    // The rest of the group: KeyPackages announced by engines that are dropped right after.
    let mut next = 3 + commits as u64;
    while net.members(&g, SQLITE).len() < n {
        let missing = n - net.members(&g, STEWARD).len();
        for _ in 0..missing.min(ADDS_PER_ROUND) {
            let mut joiner = engine(Arc::new(MemoryStorage::new()), next, net.now);
            next += 1;
            let out = joiner.request_join(g.clone(), net.now).expect("join");
            for o in out.publish {
                net.queue.push_back((usize::MAX, o.topic, o.payload));
            }
        }
        net.run(60_000);
        eprintln!(
            "members={} after {:.1}s",
            net.members(&g, SQLITE).len(),
            built.elapsed().as_secs_f64()
        );
    }
    let build_secs = built.elapsed().as_secs_f64();
    let (mut memory_ms, mut sqlite_ms) = (Vec::new(), Vec::new());
    for c in 0..commits {
        let leaver = 3 + c;
        net.peers[MEMORY].commit_time = None;
        net.peers[SQLITE].commit_time = None;
        let (_, out) = net.peers[leaver].engine.leave(&g, net.now).expect("leave");
        net.apply(leaver, out);
        net.run(60_000);
        let (Some(m), Some(s)) = (net.peers[MEMORY].commit_time, net.peers[SQLITE].commit_time)
        else {
            let epochs: Vec<_> = net
                .peers
                .iter()
                .map(|p| {
                    p.engine
                        .group_summary(&g)
                        .map(|s| (s.epoch, s.members.len()))
                })
                .collect();
            let proposals = net.peers[STEWARD]
                .engine
                .group_summary(&g)
                .map(|s| s.proposals)
                .unwrap_or_default();
            eprintln!("commit {c}: an observer saw no commit; epochs {epochs:?}; {proposals:?}");
            continue;
        };
        let (m, s) = (m.as_secs_f64() * 1e3, s.as_secs_f64() * 1e3);
        println!(
            "{{\"members\":{n},\"commit\":{c},\"memory_ms\":{m:.3},\"sqlite_ms\":{s:.3},\"ratio\":{:.3}}}",
            s / m
        );
        memory_ms.push(m);
        sqlite_ms.push(s);
    }
    let db_bytes = sqlite.used_bytes().expect("database size");
    // What the entries of each space add up to (keys and values), to see where the bytes go.
    let spaces: Vec<String> = Space::ALL
        .iter()
        .map(|&space| {
            let bytes: usize = sqlite
                .scan_prefix(space, b"")
                .expect("scan")
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum();
            format!("\"{}\":{bytes}", space.name())
        })
        .collect();
    let file_bytes = std::fs::metadata(sqlite.path()).map_or(0, |m| m.len());
    let members = net.members(&g, SQLITE).len();
    let (m, s) = if memory_ms.is_empty() {
        (f64::NAN, f64::NAN)
    } else {
        (median(memory_ms), median(sqlite_ms))
    };
    println!(
        "{{\"members\":{members},\"commits\":{commits},\"synchronous\":\"{synchronous:?}\",\"memory_median_ms\":{m:.3},\"sqlite_median_ms\":{s:.3},\"ratio\":{:.3},\"build_secs\":{build_secs:.1},\"db_bytes\":{db_bytes},\"db_file_bytes\":{file_bytes},\"db_bytes_per_member\":{:.1},\"space_bytes\":{{{}}}}}",
        s / m,
        db_bytes as f64 / members as f64,
        spaces.join(",")
    );
}

fn main() {
    let sizes: Vec<usize> = arg("--members")
        .unwrap_or_else(|| "1000,10000".into())
        .split(',')
        .map(|s| s.trim().parse().expect("--members takes numbers"))
        .collect();
    let commits = arg("--commits").map_or(5, |c| c.parse().expect("--commits takes a number"));
    let synchronous = match arg("--synchronous").as_deref() {
        None | Some("full") => Synchronous::Full,
        Some("normal") => Synchronous::Normal,
        Some(other) => panic!("--synchronous full|normal, not {other}"),
    };
    for n in sizes {
        bench(n.max(4), commits, synchronous);
    }
}
