//! Many members in one process on a **real clock**: the in-process memory transport, real
//! timers, every node a tokio task. The group grows one voted add at a time (each joiner once
//! the others share an epoch), then one member is voted out. Prints one JSON line per phase
//! with the CPU time of the whole process and the traffic by envelope kind.
//!
//! ```text
//! cargo run --release --example crowd -- --members 128 [--policy single|multi]
//! ```
//!
//! All members share two cores here, so delivery to the last member of a large group takes
//! far longer than on a real network: status beacons, votes and commits cross each other, and
//! whatever repair traffic the engine sends in such conditions shows up in the counts (catch-up
//! requests `catch_up` and answers `bundle`). This is the setting in which, before the repair
//! rules of `specs/de-mls.md` §11, a 128-member group answered catch-up requests no member
//! needed with hundreds of bundles.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use demls::engine::EngineParams;
use demls::internals::wire::{Envelope, Kind};
use demls::policy::MultiPolicyConfig;
use demls::policy::multi::MultiPolicyFactory;
use demls::policy::single::SinglePolicyFactory;
use demls::{Inbound, Node, StewardPolicyFactory, Topic, Transport, TransportError};
use demls_consensus_hashgraph::HashgraphFactory;
use demls_storage_memory::MemoryStorage;
use demls_transport_memory::MemoryNetwork;

const GROUP: &[u8] = b"crowd";

/// Publications and bytes by envelope kind, for all nodes together.
#[derive(Default)]
struct Counts {
    by_kind: BTreeMap<&'static str, (u64, u64)>,
    /// Hashes of the distinct payloads seen, by kind: a commit sent once by its steward and
    /// again as a repair or catch-up answer counts as published twice and distinct once.
    seen: BTreeMap<&'static str, HashSet<u64>>,
}

fn kind_name(payload: &[u8]) -> &'static str {
    match Envelope::decode_checked(payload) {
        Ok((_, Kind::Mls)) => "mls",
        Ok((_, Kind::Consensus)) => "consensus",
        Ok((_, Kind::Control)) => "control",
        Ok((_, Kind::Commit)) => "commit",
        Ok((_, Kind::KeyPackage)) => "key_package",
        Ok((_, Kind::Welcome)) => "welcome",
        Ok((_, Kind::RatchetTree)) => "ratchet_tree",
        Ok((_, Kind::Certificate)) => "certificate",
        Ok((_, Kind::CatchUp)) => "catch_up",
        Ok((_, Kind::Bundle)) => "bundle",
        Ok((_, Kind::Rejoin)) => "rejoin",
        Ok((_, Kind::ForkNotice)) => "fork_notice",
        Ok((_, Kind::Beyond)) => "beyond",
        _ => "other",
    }
}

/// A transport that counts what its node publishes, then hands it to the memory transport.
struct Counting {
    inner: Arc<dyn Transport>,
    counts: Arc<Mutex<Counts>>,
}

#[async_trait]
impl Transport for Counting {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn max_payload(&self) -> usize {
        self.inner.max_payload()
    }
    async fn publish(&self, topic: &Topic, payload: Vec<u8>) -> Result<(), TransportError> {
        {
            let kind = kind_name(&payload);
            let mut hasher = DefaultHasher::new();
            payload.hash(&mut hasher);
            let mut c = self.counts.lock().expect("not poisoned");
            let e = c.by_kind.entry(kind).or_default();
            e.0 += 1;
            e.1 += payload.len() as u64;
            c.seen.entry(kind).or_default().insert(hasher.finish());
        }
        self.inner.publish(topic, payload).await
    }
    async fn subscribe(&self, topic: &Topic) -> Result<(), TransportError> {
        self.inner.subscribe(topic).await
    }
    async fn unsubscribe(&self, topic: &Topic) -> Result<(), TransportError> {
        self.inner.unsubscribe(topic).await
    }
    async fn recv(&self) -> Result<Inbound, TransportError> {
        self.inner.recv().await
    }
    async fn close(&self) {
        self.inner.close().await
    }
}

fn process_cpu() -> f64 {
    let mut ts = Timespec { sec: 0, nsec: 0 };
    // SAFETY: `clock_gettime` writes one `timespec` through the valid pointer it is given.
    unsafe { clock_gettime(2, &mut ts) };
    ts.sec as f64 + ts.nsec as f64 / 1e9
}

#[repr(C)]
struct Timespec {
    sec: i64,
    nsec: i64,
}

unsafe extern "C" {
    fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
}

struct Args {
    members: usize,
    multi: bool,
}

fn args() -> Result<Args, String> {
    let mut out = Args {
        members: 32,
        multi: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--members" => {
                out.members = it
                    .next()
                    .ok_or("--members needs a value")?
                    .parse()
                    .map_err(|e| format!("--members: {e}"))?
            }
            "--policy" => {
                out.multi = match it.next().as_deref() {
                    Some("multi") => true,
                    Some("single") => false,
                    other => return Err(format!("--policy single|multi, not {other:?}")),
                }
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(out)
}

/// Waits until every node in `nodes` reports the same epoch and `size` members.
async fn converged(nodes: &[Node], size: usize, within: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < within {
        let mut epochs = Vec::with_capacity(nodes.len());
        for n in nodes {
            match n.group(GROUP).await {
                Ok(Some(s)) if s.members.len() == size => epochs.push(s.epoch),
                _ => break,
            }
        }
        if epochs.len() == nodes.len() && epochs.windows(2).all(|w| w[0] == w[1]) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

fn report(phase: &str, members: usize, cpu: f64, wall: f64, counts: &Counts, ok: bool) {
    let kinds: Vec<String> = counts
        .by_kind
        .iter()
        .map(|(k, (n, b))| {
            let distinct = counts.seen.get(k).map_or(0, HashSet::len);
            format!("\"{k}\":{{\"published\":{n},\"distinct\":{distinct},\"bytes\":{b}}}")
        })
        .collect();
    println!(
        "{{\"bench\":\"crowd\",\"phase\":\"{phase}\",\"members\":{members},\"ok\":{ok},\"cpu_s\":{cpu:.2},\"wall_s\":{wall:.2},\"kinds\":{{{}}}}}",
        kinds.join(",")
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), String> {
    let args = args()?;
    demls_transport_memory::link();
    let network = MemoryNetwork::new();
    let counts = Arc::new(Mutex::new(Counts::default()));
    let policy: Arc<dyn StewardPolicyFactory> = if args.multi {
        Arc::new(MultiPolicyFactory::new(MultiPolicyConfig::default()).map_err(|e| e.to_string())?)
    } else {
        Arc::new(SinglePolicyFactory::new(Default::default()))
    };
    let consensus = Arc::new(HashgraphFactory::default());
    let mut nodes = Vec::with_capacity(args.members);
    for i in 0..args.members {
        let transport = Arc::new(Counting {
            inner: network.endpoint(format!("m{i}")),
            counts: counts.clone(),
        });
        let node = Node::builder()
            .name(format!("m{i}"))
            .transport(transport)
            .storage(Arc::new(MemoryStorage::new()))
            .consensus(consensus.clone())
            .steward(policy.clone())
            .params(EngineParams::default())
            .event_queue(1 << 16)
            .start()
            .await
            .map_err(|e| e.to_string())?;
        nodes.push(node);
    }
    let (cpu0, wall0) = (process_cpu(), Instant::now());
    nodes[0]
        .create_group(GROUP)
        .await
        .map_err(|e| e.to_string())?;
    let mut grown = true;
    for i in 1..args.members {
        nodes[i]
            .join_group(GROUP)
            .await
            .map_err(|e| e.to_string())?;
        if !converged(&nodes[..=i], i + 1, Duration::from_secs(120)).await {
            eprintln!("member {i} did not join within 120 s");
            grown = false;
            break;
        }
    }
    let snapshot = |c: &Arc<Mutex<Counts>>| {
        let c = c.lock().expect("not poisoned");
        Counts {
            by_kind: c.by_kind.clone(),
            seen: c.seen.clone(),
        }
    };
    report(
        "grow",
        args.members,
        process_cpu() - cpu0,
        wall0.elapsed().as_secs_f64(),
        &snapshot(&counts),
        grown,
    );
    if !grown {
        return Err("the group did not grow".into());
    }
    tokio::time::sleep(Duration::from_secs(10)).await;
    let before = snapshot(&counts);
    let (cpu1, wall1) = (process_cpu(), Instant::now());
    let victim = nodes[args.members - 1].member_id();
    // Any member that may open a removal (under the small consensus model only stewards).
    let mut opened = false;
    for n in &nodes[1..args.members - 1] {
        if n.propose_remove(GROUP, victim.as_bytes()).await.is_ok() {
            opened = true;
            break;
        }
    }
    let removed = opened
        && converged(
            &nodes[..args.members - 1],
            args.members - 1,
            Duration::from_secs(300),
        )
        .await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    let after = snapshot(&counts);
    let mut delta = Counts::default();
    for (k, (n, b)) in &after.by_kind {
        let (n0, b0) = before.by_kind.get(k).copied().unwrap_or_default();
        if n - n0 > 0 {
            delta.by_kind.insert(k, (n - n0, b - b0));
            let old = before.seen.get(k);
            let new: HashSet<u64> = after.seen[k]
                .iter()
                .filter(|h| old.is_none_or(|o| !o.contains(h)))
                .copied()
                .collect();
            delta.seen.insert(k, new);
        }
    }
    report(
        "remove",
        args.members,
        process_cpu() - cpu1,
        wall1.elapsed().as_secs_f64(),
        &delta,
        removed,
    );
    Ok(())
}
