//! # scale — the whole de-MLS protocol at 1,000 to 10,000 members
//!
//! ```text
//! cargo run --release -p demls-sim --example scale -- --members 1000,2000,5000,10000
//!     [--parts build,batch,commit,join,votes,memory,decision] [--full 16] [--quick]
//!     [--seed 1] [--commit-delay-ms 200] [--latency waku|uniform] [--stewards 7]
//! ```
//!
//! For each size `n`: `--full` (S) members are simulated in full (engines), the other `n − S`
//! are *light members* (real MLS members with real KeyPackages that never process a Welcome,
//! and that vote on every proposal from one pool actor; `demls_sim::LightPool`). Prints one
//! JSON line per measurement and, at the end, a Markdown table. `--quick` runs n = 100, 200
//! (a CI-sized check). What each part measures, the models and the results:
//! `harness/sim/SCALE.md`.
//!
//! CPU times are process CPU times (rayon workers included) of the engine calls concerned (the simulator meters every
//! engine call). Sizes are wire bytes of the envelopes.

mod alloc;
mod policy;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use demls::engine::{GroupEvent, ProposalAction};
use demls::{Epoch, GroupId, MemberId, Space, Storage};
use demls_consensus_hashgraph::HashgraphFactory;
use demls_sim::{CpuMode, Link, MessageKind, NodeId, Sim, SimConfig, SizeLatency};
use serde_json::{Value, json};

use policy::Directed;

#[global_allocator]
static ALLOC: alloc::Counting = alloc::Counting;

/// Joiners per epoch in the batched build.
const BATCH: usize = 100;
/// Longest virtual time any one step may take before the run reports it stuck.
const STEP_LIMIT_MS: u64 = 600_000;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Latency {
    Waku,
    Uniform,
}

struct Opts {
    sizes: Vec<usize>,
    parts: BTreeSet<String>,
    full: usize,
    seed: u64,
    commit_delay_ms: u64,
    latency: Latency,
    stewards: usize,
    /// Who votes on the membership proposals of the commit part: `stewards` (the small
    /// model, what the default `auto` policy uses above 100 members) or `all`.
    commit_voters_all: bool,
}

const ALL_PARTS: [&str; 7] = [
    "build", "batch", "commit", "join", "votes", "memory", "decision",
];

fn opts() -> Opts {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let quick = args.iter().any(|a| a == "--quick");
    let sizes = value("--members")
        .unwrap_or_else(|| {
            if quick {
                "100,200".into()
            } else {
                "1000,2000,5000,10000".into()
            }
        })
        .split(',')
        .map(|s| s.trim().parse().expect("--members takes numbers"))
        .collect();
    let parts: BTreeSet<String> = value("--parts")
        .map(|p| p.split(',').map(|s| s.trim().to_owned()).collect())
        .unwrap_or_else(|| ALL_PARTS.iter().map(|s| s.to_string()).collect());
    for p in &parts {
        assert!(ALL_PARTS.contains(&p.as_str()), "unknown part {p}");
    }
    let latency = match value("--latency").as_deref() {
        None | Some("waku") => Latency::Waku,
        Some("uniform") => Latency::Uniform,
        Some(other) => panic!("--latency waku|uniform, not {other}"),
    };
    let number =
        |name: &str, default: u64| value(name).map_or(default, |v| v.parse().expect("a number"));
    Opts {
        sizes,
        parts,
        full: number("--full", 16).max(4) as usize,
        seed: number("--seed", 1),
        commit_delay_ms: number("--commit-delay-ms", 200),
        latency,
        stewards: number("--stewards", 7).max(1) as usize,
        commit_voters_all: match value("--commit-voters").as_deref() {
            None | Some("stewards") => false,
            Some("all") => true,
            Some(other) => panic!("--commit-voters stewards|all, not {other}"),
        },
    }
}

fn ms(us: u64) -> f64 {
    (us as f64 / 10.0).round() / 100.0
}

fn median(mut v: Vec<u64>) -> Option<u64> {
    v.sort_unstable();
    v.get(v.len() / 2).copied()
}

fn emit(mut row: Value, part: &str, n: usize) -> Value {
    if let Some(map) = row.as_object_mut() {
        let mut full = serde_json::Map::new();
        full.insert("bench".into(), json!("scale"));
        full.insert("part".into(), json!(part));
        full.insert("n".into(), json!(n));
        full.extend(std::mem::take(map));
        row = Value::Object(full);
    }
    println!("{row}");
    row
}

/// Leaves the full members (other than the creator at leaf 0) are placed at: every power of two
/// below `n` (one in each subtree of the creator's copath, so that their commits fill it),
/// then the smallest other leaves from 3 up; never leaf 1, which stays a light member.
fn full_positions(n: usize, count: usize) -> Vec<u32> {
    let mut p: Vec<u32> = (1..32)
        .map(|k| 1u32 << k)
        .take_while(|&x| (x as usize) < n)
        .collect();
    let mut extra = 3u32;
    while p.len() < count && (extra as usize) < n {
        if !extra.is_power_of_two() {
            p.push(extra);
        }
        extra += 1;
    }
    p.truncate(count);
    p.sort_unstable();
    p
}

/// The epoch `node` is in, from its own event log (cheap, unlike a group summary).
fn epoch_of(sim: &Sim, node: NodeId) -> Option<Epoch> {
    sim.events(node).iter().rev().find_map(|(_, e)| match e {
        GroupEvent::EpochAdvanced { epoch, .. }
        | GroupEvent::Joined { epoch, .. }
        | GroupEvent::GroupCreated { epoch, .. } => Some(*epoch),
        _ => None,
    })
}

/// What one commit cost.
struct CommitCost {
    create_us: Option<u64>,
    process_us: Vec<u64>,
    bytes: u64,
    proposals: usize,
}

impl CommitCost {
    fn row(&self, kind: &str, tree: &str) -> Value {
        json!({
            "kind": kind,
            "tree": tree,
            "proposals": self.proposals,
            "create_ms": self.create_us.map(ms),
            "process_ms": median(self.process_us.clone()).map(ms),
            "process_max_ms": self.process_us.iter().copied().max().map(ms),
            "processed_by": self.process_us.len(),
            "bytes": self.bytes,
        })
    }
}

/// One group of size `n`: S full members (`full[0]` created it) and light members.
struct Run {
    sim: Sim,
    g: GroupId,
    full: Vec<NodeId>,
    directed: Directed,
    n: usize,
}

impl Run {
    fn creator(&self) -> NodeId {
        self.full[0]
    }

    /// Runs in 20 ms slices until `done` holds; false after `limit_ms` of virtual time.
    fn until(&mut self, limit_ms: u64, done: impl Fn(&Sim) -> bool) -> bool {
        let end = self.sim.now().plus_ms(limit_ms);
        while self.sim.now() < end {
            if done(&self.sim) {
                return true;
            }
            self.sim.run_for(20);
        }
        done(&self.sim)
    }

    /// Runs until every node of `nodes` is in `epoch` or later.
    fn until_epoch(&mut self, nodes: &[NodeId], epoch: Epoch) -> bool {
        let ok = self.until(STEP_LIMIT_MS, |s| {
            nodes
                .iter()
                .all(|&n| epoch_of(s, n).is_some_and(|e| e >= epoch))
        });
        if !ok {
            let at: Vec<_> = nodes.iter().map(|&n| epoch_of(&self.sim, n)).collect();
            eprintln!("stuck waiting for epoch {epoch}: {at:?}");
        }
        ok
    }

    /// Full members in the group now.
    fn in_group(&self) -> Vec<NodeId> {
        self.full
            .iter()
            .copied()
            .filter(|&n| epoch_of(&self.sim, n).is_some())
            .collect()
    }

    fn light_ids(&self) -> BTreeSet<MemberId> {
        self.sim
            .light()
            .map(|l| l.members().iter().copied().collect())
            .unwrap_or_default()
    }

    /// Light members in leaf order, with their leaves.
    fn light_leaves(&self) -> Vec<(u32, MemberId)> {
        let lights = self.light_ids();
        let roster = self
            .sim
            .roster(self.creator(), &self.g)
            .expect("creator's roster");
        roster
            .entries()
            .iter()
            .filter(|e| lights.contains(&e.id))
            .map(|e| (e.leaf, e.id))
            .collect()
    }

    /// New light members announcing KeyPackages now.
    fn announce_new(&mut self, count: usize) -> Vec<MemberId> {
        let new = self
            .sim
            .add_light_members(&self.g, count)
            .expect("light members");
        self.sim.announce_light(&new).expect("announce");
        new
    }

    /// Does `act`, waits for the resulting commit by `committer` to be applied by every full
    /// member in the group, and reports its cost.
    fn commit(&mut self, committer: NodeId, act: impl FnOnce(&mut Run)) -> CommitCost {
        let nodes = self.in_group();
        let epoch = epoch_of(&self.sim, committer).expect("committer in group");
        let marks: Vec<usize> = nodes.iter().map(|&n| self.sim.events(n).len()).collect();
        let before = self.sim.stats().kind(MessageKind::Commit);
        act(self);
        self.until_epoch(&nodes, epoch + 1);
        let mut cost = CommitCost {
            create_us: None,
            process_us: Vec::new(),
            bytes: 0,
            proposals: 0,
        };
        for (&node, &mark) in nodes.iter().zip(&marks) {
            let events = self.sim.events(node);
            for (i, (_, e)) in events.iter().enumerate().skip(mark) {
                match e {
                    GroupEvent::CommitCreated {
                        proposals,
                        epoch: e,
                        ..
                    } if node == committer && *e == epoch + 1 => {
                        cost.create_us = self.sim.cpu_of_event(node, i);
                        cost.proposals = proposals.len();
                    }
                    GroupEvent::EpochAdvanced { epoch: e, .. }
                        if node != committer && *e == epoch + 1 =>
                    {
                        if let Some(us) = self.sim.cpu_of_event(node, i) {
                            cost.process_us.push(us);
                        }
                    }
                    _ => {}
                }
            }
        }
        let after = self.sim.stats().kind(MessageKind::Commit);
        let pubs = after.publications - before.publications;
        cost.bytes = (after.bytes_published - before.bytes_published) / pubs.max(1);
        cost
    }
}

fn sim_config(opts: &Opts, directed: &Directed) -> SimConfig {
    let mut cfg = SimConfig::new(opts.seed).with_link(Link::fixed(1));
    cfg.link_stats = true;
    cfg.cpu = CpuMode::Measure;
    // A bulk build opens one add proposal per joiner within the consensus retention period.
    let consensus = consensus_hashgraph::Config {
        max_proposals: 65_536,
        ..consensus_hashgraph::Config::default()
    };
    cfg.consensus = Arc::new(HashgraphFactory::new(consensus));
    cfg.policy = Arc::new(directed.factory(opts.commit_delay_ms));
    cfg
}

/// Builds the group: the one-epoch bulk build, then the full members placed at chosen leaves
/// (a removal commit freeing those leaves, then one commit adding the full members, who join).
/// Returns the run and the rows of the build and join parts.
fn setup(opts: &Opts, n: usize, rows: &mut Vec<Value>) -> Run {
    let directed = Directed::default();
    let mut sim = Sim::new(sim_config(opts, &directed)).expect("simulator");
    let full = sim.add_nodes(opts.full).expect("full members");
    directed.set_steward(sim.member_id(full[0]));
    let g = GroupId::new(b"scale".to_vec()).expect("group id");
    sim.create_group(full[0], &g).expect("create");
    let lights = sim.add_light_members(&g, n - 1).expect("light members");
    let mut run = Run {
        sim,
        g,
        full,
        directed,
        n,
    };
    let creator = run.creator();

    // 1. One epoch: every joiner announces at once; the creator adds all in one commit.
    let cpu0 = run.sim.cpu_us(creator);
    let stats0 = run.sim.stats().clone();
    let wall = Instant::now();
    run.sim.announce_light(&lights).expect("announce");
    let kp_cpu = run.sim.light().map_or(0, |l| l.stats().cpu_us);
    run.until_epoch(&[creator], 1);
    let wall_ms = wall.elapsed().as_millis();
    let delta = |kind| {
        let k = run.sim.stats().kind(kind);
        k.bytes_published - stats0.kind(kind).bytes_published
    };
    let members = run
        .sim
        .group(creator, &run.g)
        .map_or(0, |s| s.members.len());
    let built = json!({
        "kind": "one_epoch",
        "members": members,
        "cpu_ms": ms(run.sim.cpu_us(creator) - cpu0),
        "wall_ms": wall_ms,
        "commits": 1,
        "commit_bytes": delta(MessageKind::Commit),
        "welcome_bytes": delta(MessageKind::Welcome),
        "tree_bytes": delta(MessageKind::RatchetTree),
        "key_packages": lights.len(),
        "key_package_bytes": delta(MessageKind::KeyPackage),
        "joiners_key_package_cpu_ms": ms(kp_cpu),
    });
    eprintln!(
        "n={n}: one-epoch build done in {:.1} s wall",
        wall_ms as f64 / 1e3
    );
    if opts.parts.contains("build") {
        rows.push(emit(built.clone(), "build", n));
    }

    // 2. Free the leaves the full members go to: the creator's first commit after the build
    // (sparse tree), proposed by the creator, voted by everyone (the light members).
    let positions = full_positions(n, opts.full - 1);
    let roster = run.sim.roster(creator, &run.g).expect("roster");
    let targets: Vec<MemberId> = positions
        .iter()
        .filter_map(|&leaf| roster.at_leaf(leaf).map(|e| e.id))
        .collect();
    let freed = run.commit(creator, |run| {
        for &t in &targets {
            run.sim
                .propose_remove(creator, &run.g, t)
                .expect("removal proposed");
        }
    });
    if opts.parts.contains("commit") {
        let mut row = freed.row("remove_first_after_build", "sparse");
        row["note"] =
            json!("the creator's first commit after the bulk build; no full member processes it");
        rows.push(emit(row, "commit", n));
    }

    // 3. The full members join: one add commit, then each processes Welcome + tree.
    let joiners: Vec<NodeId> = run.full[1..].to_vec();
    let stats1 = run.sim.stats().clone();
    let marks: Vec<usize> = joiners.iter().map(|&j| run.sim.events(j).len()).collect();
    let epoch = epoch_of(&run.sim, creator).expect("in group");
    for &j in &joiners {
        run.sim.join_group(j, &run.g).expect("join");
    }
    let all = run.full.clone();
    run.until_epoch(&all, epoch + 1);
    let mut join_us = Vec::new();
    for (&j, &mark) in joiners.iter().zip(&marks) {
        let found = run
            .sim
            .events(j)
            .iter()
            .enumerate()
            .skip(mark)
            .find_map(|(i, (_, e))| {
                matches!(e, GroupEvent::Joined { .. }).then(|| run.sim.cpu_of_event(j, i))
            });
        if let Some(Some(us)) = found {
            join_us.push(us);
        }
    }
    let kind_delta = |kind: MessageKind| {
        let now = run.sim.stats().kind(kind);
        let was = stats1.kind(kind);
        (
            now.publications - was.publications,
            now.bytes_published - was.bytes_published,
        )
    };
    let (welcomes, welcome_bytes) = kind_delta(MessageKind::Welcome);
    let (trees, tree_bytes) = kind_delta(MessageKind::RatchetTree);
    let roster = run.sim.roster(creator, &run.g).expect("roster");
    let placed: Vec<u32> = joiners
        .iter()
        .filter_map(|&j| roster.get(&run.sim.member_id(j)).map(|e| e.leaf))
        .collect();
    let mut sorted = placed.clone();
    sorted.sort_unstable();
    if sorted != positions {
        eprintln!("n={n}: full members at leaves {sorted:?}, wanted {positions:?}");
    }
    if opts.parts.contains("join") {
        rows.push(emit(
            json!({
                "joiners": joiners.len(),
                "joined": join_us.len(),
                "join_ms": median(join_us.clone()).map(ms),
                "join_max_ms": join_us.iter().copied().max().map(ms),
                "welcome_bytes": welcome_bytes / welcomes.max(1),
                "welcome_joiners": joiners.len(),
                "tree_bytes": tree_bytes / trees.max(1),
                "bulk_welcome_bytes": built["welcome_bytes"],
                "bulk_welcome_joiners": n - 1,
                "full_member_leaves": sorted,
            }),
            "join",
            n,
        ));
    }
    run
}

/// Commit costs at a sparse tree (only the creator ever committed), then, after the full
/// members at power-of-two leaves committed once each, at a tree where the creator's copath is
/// filled.
fn commits(opts: &Opts, run: &mut Run, rows: &mut Vec<Value>) {
    let creator = run.creator();
    let proposer = run.full[1];
    let n = run.n;
    let report = opts.parts.contains("commit");
    // The voter set of an epoch is fixed when the epoch starts: switching models takes one
    // unmeasured commit, voted by the old set.
    let switch = |run: &mut Run, stewards: Option<Vec<MemberId>>| {
        run.directed.set_voters(stewards.clone());
        let _ = run.commit(creator, |run| {
            run.announce_new(1);
        });
        if let Some(l) = run.sim.light_mut() {
            l.set_voters(stewards.map(|_| BTreeSet::new()));
        }
    };
    let voters = if opts.commit_voters_all {
        "all"
    } else {
        let stewards: Vec<MemberId> = run
            .full
            .iter()
            .take(opts.stewards.min(run.full.len()))
            .map(|&f| run.sim.member_id(f))
            .collect();
        switch(run, Some(stewards));
        "stewards"
    };
    let sparse_and_filled = |run: &mut Run, tree: &str, rows: &mut Vec<Value>| {
        let add = run.commit(creator, |run| {
            run.announce_new(1);
        });
        let lights = run.light_leaves();
        let target = if tree == "sparse" {
            lights.last().map(|l| l.1)
        } else {
            lights.first().map(|l| l.1)
        }
        .expect("a light member");
        let remove = run.commit(creator, |run| {
            run.sim
                .propose_remove(proposer, &run.g, target)
                .expect("removal");
        });
        let lights = run.light_leaves();
        let targets: Vec<MemberId> = if tree == "sparse" {
            lights.iter().rev().take(10).map(|l| l.1).collect()
        } else {
            lights.iter().take(10).map(|l| l.1).collect()
        };
        let mixed = run.commit(creator, |run| {
            run.announce_new(10);
            for &t in &targets {
                run.sim
                    .propose_remove(proposer, &run.g, t)
                    .expect("removal");
            }
        });
        if report {
            for (kind, cost) in [("add", &add), ("remove", &remove), ("mixed_10_10", &mixed)] {
                let mut row = cost.row(kind, tree);
                row["voters"] = json!(voters);
                rows.push(emit(row, "commit", n));
            }
        }
    };
    sparse_and_filled(run, "sparse", rows);

    // Fill the creator's copath: one commit with a path by each full member at a
    // power-of-two leaf, i.e. one in each subtree of the copath, in ascending leaf order. An
    // add-only commit carries no path, so each fill commit removes a light member: the one at
    // the highest leaf, in the top subtree, which is filled last (by a committer whose own
    // path then covers what the removals blanked above it).
    let roster = run.sim.roster(creator, &run.g).expect("roster");
    let mut fillers: Vec<(u32, NodeId)> = run.full[1..]
        .iter()
        .filter_map(|&f| {
            let leaf = roster.get(&run.sim.member_id(f))?.leaf;
            leaf.is_power_of_two().then_some((leaf, f))
        })
        .collect();
    fillers.sort_unstable();
    let mut fill_us = Vec::new();
    for &(leaf, f) in &fillers {
        run.directed.set_steward(run.sim.member_id(f));
        let target = run
            .light_leaves()
            .last()
            .map(|l| l.1)
            .expect("a light member");
        let cost = run.commit(f, |run| {
            run.sim
                .propose_remove(proposer, &run.g, target)
                .expect("removal");
        });
        eprintln!(
            "n={n}: fill commit by leaf {leaf}: create {:?} ms, {} B",
            cost.create_us.map(ms),
            cost.bytes
        );
        fill_us.extend(cost.create_us);
    }
    run.directed.set_steward(run.sim.member_id(creator));
    if report {
        rows.push(emit(
            json!({
                "kind": "fill",
                "tree": "filling",
                "commits": fillers.len(),
                "committer_leaves": fillers.iter().map(|f| f.0).collect::<Vec<_>>(),
                "create_ms_median": median(fill_us.clone()).map(ms),
                "create_ms_max": fill_us.iter().copied().max().map(ms),
            }),
            "commit",
            n,
        ));
    }
    sparse_and_filled(run, "filled", rows);
    if !opts.commit_voters_all {
        switch(run, None);
    }
}

/// Bytes received by `node` since `before` (per-link counters), in messages and bytes.
fn received(sim: &Sim, before: &demls_sim::Stats, node: NodeId) -> (u64, u64) {
    sim.stats()
        .links
        .iter()
        .filter(|((_, to), _)| *to == node)
        .map(|(link, c)| {
            let was = before.links.get(link).copied().unwrap_or_default();
            (
                c.delivered - was.delivered,
                c.bytes_delivered - was.bytes_delivered,
            )
        })
        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
}

/// One removal decided and applied under the latency model with CPU charged: end-to-end
/// virtual time and every full member's CPU. Returns (decision row, votes row).
fn decision(opts: &Opts, run: &mut Run, model: &str, voters: usize) -> (Value, Value) {
    let creator = run.creator();
    let proposer = run.full[1];
    let observer = run.full[2];
    let target = run
        .light_leaves()
        .first()
        .map(|l| l.1)
        .expect("a light member");
    let nodes = run.in_group();
    let epoch = epoch_of(&run.sim, creator).expect("in group");
    let marks: Vec<usize> = nodes.iter().map(|&n| run.sim.events(n).len()).collect();
    let cpu0: Vec<u64> = nodes.iter().map(|&n| run.sim.cpu_us(n)).collect();
    let stats0 = run.sim.stats().clone();
    let light0 = run.sim.light().map(|l| l.stats()).unwrap_or_default();
    let t0 = run.sim.now();
    run.sim
        .propose_remove(proposer, &run.g, target)
        .expect("removal");
    run.until_epoch(&nodes, epoch + 1);
    // Votes still in flight (the latency tail) are received and processed too.
    run.sim.run_for(5_000);
    let mut applied = Vec::new();
    let mut decided_at = None;
    let mut committed_at = None;
    let mut commit_us = BTreeMap::new();
    for (&node, &mark) in nodes.iter().zip(&marks) {
        for (i, (at, e)) in run.sim.events(node).iter().enumerate().skip(mark) {
            match e {
                GroupEvent::EpochAdvanced { epoch: e, .. } if *e == epoch + 1 => {
                    applied.push(at.since(t0));
                    commit_us.insert(node, run.sim.cpu_of_event(node, i).unwrap_or(0));
                }
                GroupEvent::ProposalDecided {
                    action: ProposalAction::Remove { member },
                    ..
                } if node == creator && *member == target => decided_at = Some(at.since(t0)),
                GroupEvent::CommitCreated { .. } if node == creator => {
                    committed_at = Some(at.since(t0));
                    commit_us.insert(node, run.sim.cpu_of_event(node, i).unwrap_or(0));
                }
                _ => {}
            }
        }
    }
    let cpu: Vec<u64> = nodes
        .iter()
        .zip(&cpu0)
        .map(|(&n, &c)| run.sim.cpu_us(n) - c)
        .collect();
    let commit_bytes = {
        let now = run.sim.stats().kind(MessageKind::Commit);
        let was = stats0.kind(MessageKind::Commit);
        (now.bytes_published - was.bytes_published) / (now.publications - was.publications).max(1)
    };
    let light = run.sim.light().map(|l| l.stats()).unwrap_or_default();
    let light_votes = light.votes - light0.votes;
    let vote_bytes = (light.vote_bytes - light0.vote_bytes)
        .checked_div(light_votes)
        .unwrap_or(0);
    let latency = match opts.latency {
        Latency::Waku => "waku lognormal mean 50 ms/KiB (min 50 ms), sigma 1, 10 ms..32x mean",
        Latency::Uniform => "uniform 20-1600 ms per copy",
    };
    let obs = nodes.iter().position(|&n| n == observer).expect("observer");
    let (recv_msgs, recv_bytes) = received(&run.sim, &stats0, observer);
    let row = json!({
        "model": model,
        "voters": voters,
        "full": nodes.len(),
        "light": run.n - nodes.len(),
        "latency": latency,
        "freeze_ms": opts.commit_delay_ms,
        "decision_ms": applied.iter().copied().max(),
        "first_applied_ms": applied.iter().copied().min(),
        "decided_at_steward_ms": decided_at,
        "commit_created_ms": committed_at,
        "commit_bytes": commit_bytes,
        "applied_by": applied.len(),
        "cpu_ms_median": median(cpu.clone()).map(ms),
        "cpu_ms_max": cpu.iter().copied().max().map(ms),
        "steward_cpu_ms": ms(cpu[0]),
        "light_votes": light_votes,
    });
    let votes = json!({
        "model": model,
        "voters": voters,
        "member_cpu_ms": ms(cpu[obs] - commit_us.get(&observer).copied().unwrap_or(0)),
        "member_cpu_with_commit_ms": ms(cpu[obs]),
        "received_messages": recv_msgs,
        "received_bytes": recv_bytes,
        "sent_messages": 1,
        "vote_bytes": vote_bytes,
        "note": "one member that neither proposed nor committed; CPU of every engine call from the proposal until 5 s after the last full member applied the commit, except the call applying the commit; received = everything delivered to it meanwhile (votes, proposal, commit, status beacons)",
    });
    (row, votes)
}

fn decisions(opts: &Opts, run: &mut Run, rows: &mut Vec<Value>) {
    let n = run.n;
    match opts.latency {
        Latency::Waku => run
            .sim
            .set_size_latency(Some(SizeLatency::waku()))
            .expect("latency model"),
        Latency::Uniform => run.sim.set_latency(20, 1_600).expect("latency"),
    }
    // From the epoch after the first decision, only `stewards` full members vote on
    // membership (the small model); light members then never vote.
    let stewards: Vec<MemberId> = run
        .full
        .iter()
        .take(opts.stewards.min(run.full.len()))
        .map(|&f| run.sim.member_id(f))
        .collect();
    run.directed.set_voters(Some(stewards.clone()));
    run.sim.run_for(5_000);
    run.sim.set_cpu_mode(CpuMode::Charge);
    let (big, big_votes) = decision(opts, run, "big", n);
    if let Some(l) = run.sim.light_mut() {
        l.set_voters(Some(BTreeSet::new()));
    }
    run.sim.run_for(5_000);
    let (small, small_votes) = decision(opts, run, "small", stewards.len());
    run.sim.set_cpu_mode(CpuMode::Measure);
    if opts.parts.contains("decision") {
        rows.push(emit(big, "decision", n));
        rows.push(emit(small, "decision", n));
    }
    if opts.parts.contains("votes") {
        rows.push(emit(big_votes, "votes", n));
        rows.push(emit(small_votes, "votes", n));
    }
}

/// Storage and heap of one full member (neither creator nor proposer), at `when`.
fn memory(opts: &Opts, run: &Run, when: &str, rows: &mut Vec<Value>) {
    let member = run.full[2];
    let storage = run.sim.storage(member);
    let mut spaces = serde_json::Map::new();
    for space in Space::ALL {
        let bytes: usize = storage
            .scan_prefix(space, b"")
            .expect("memory storage")
            .iter()
            .map(|(k, v)| k.len() + v.len())
            .sum();
        spaces.insert(space.name().into(), json!(bytes));
    }
    let before = alloc::live();
    let copy = demls_sim::adversary::snapshot(storage);
    let stored = alloc::live();
    let directed = Directed::default();
    let cfg = sim_config(opts, &directed);
    let engine = demls::Engine::open(
        Arc::new(copy),
        cfg.consensus.clone(),
        cfg.policy.clone(),
        cfg.params.clone(),
        None,
        run.sim.now(),
    )
    .expect("reopen the member");
    let opened = alloc::live();
    let in_group = engine.group_summary(&run.g).is_some();
    drop(engine);
    rows.push(emit(
        json!({
            "when": when,
            "epoch": epoch_of(&run.sim, member),
            "storage_bytes": storage.used_bytes(),
            "spaces": spaces,
            "heap_storage_bytes": stored.saturating_sub(before),
            "heap_engine_bytes": opened.saturating_sub(stored),
            "heap_total_bytes": opened.saturating_sub(before),
            "reopened_in_group": in_group,
            "method": "live heap bytes (counting global allocator) of a deep copy of the member's memory storage, then of an engine opened on that copy (loads the group: MLS state, records, consensus)",
        }),
        "memory",
        run.n,
    ));
}

/// Grows a group to `n` by commits of BATCH joiners each: the creator commits, one full
/// observer processes every commit; adds are voted by these two (small model).
fn batch_build(opts: &Opts, n: usize, rows: &mut Vec<Value>) {
    let directed = Directed::default();
    let mut sim = Sim::new(sim_config(opts, &directed)).expect("simulator");
    let nodes = sim.add_nodes(2).expect("nodes");
    let (creator, observer) = (nodes[0], nodes[1]);
    directed.set_steward(sim.member_id(creator));
    directed.set_voters(Some(vec![sim.member_id(creator), sim.member_id(observer)]));
    let g = GroupId::new(b"scale-batch".to_vec()).expect("group id");
    sim.create_group(creator, &g).expect("create");
    let lights = sim.add_light_members(&g, n - 2).expect("light members");
    if let Some(l) = sim.light_mut() {
        l.set_voters(Some(BTreeSet::new()));
    }
    let mut run = Run {
        sim,
        g,
        full: nodes.clone(),
        directed,
        n,
    };
    run.sim.join_group(observer, &run.g).expect("join");
    run.until_epoch(&nodes, 1);
    let cpu0 = (run.sim.cpu_us(creator), run.sim.cpu_us(observer));
    let stats0 = run.sim.stats().clone();
    let wall = Instant::now();
    let mut epochs = 0;
    for chunk in lights.chunks(BATCH) {
        let epoch = epoch_of(&run.sim, observer).expect("in group");
        run.sim.announce_light(chunk).expect("announce");
        if !run.until_epoch(&nodes, epoch + 1) {
            break;
        }
        epochs += 1;
        if epochs % 10 == 0 {
            eprintln!(
                "n={n}: batch build at {} members, {:.1} s wall",
                2 + epochs * BATCH,
                wall.elapsed().as_secs_f64()
            );
        }
    }
    // Joiners of a batch whose commit was too early for them come in the next one.
    let g = run.g.clone();
    run.until(STEP_LIMIT_MS, |s| {
        s.group(observer, &g).is_some_and(|x| x.members.len() >= n)
    });
    let kind =
        |k: MessageKind| run.sim.stats().kind(k).bytes_published - stats0.kind(k).bytes_published;
    let commits = run.sim.stats().kind(MessageKind::Commit).publications
        - stats0.kind(MessageKind::Commit).publications;
    let members = run
        .sim
        .group(observer, &run.g)
        .map_or(0, |s| s.members.len());
    rows.push(emit(
        json!({
            "kind": "batches_of_100",
            "members": members,
            "epochs": epoch_of(&run.sim, observer),
            "commits_published": commits,
            "creator_cpu_ms": ms(run.sim.cpu_us(creator) - cpu0.0),
            "member_cpu_ms": ms(run.sim.cpu_us(observer) - cpu0.1),
            "commit_bytes": kind(MessageKind::Commit),
            "welcome_bytes": kind(MessageKind::Welcome),
            "tree_bytes": kind(MessageKind::RatchetTree),
            "wall_ms": wall.elapsed().as_millis(),
            "note": "adds voted by the creator and one full member only (small model); member_cpu_ms: that member processing every commit",
        }),
        "build",
        n,
    ));
}

fn f(row: Option<&Value>, key: &str) -> String {
    match row.and_then(|r| r.get(key)) {
        Some(Value::Number(x)) => {
            let v = x.as_f64().unwrap_or(0.0);
            if v >= 100.0 {
                format!("{v:.0}")
            } else {
                format!("{v:.1}")
            }
        }
        Some(v) if !v.is_null() => v.to_string(),
        _ => "–".into(),
    }
}

fn table(rows: &[Value]) {
    let sizes: BTreeSet<u64> = rows.iter().filter_map(|r| r["n"].as_u64()).collect();
    let find = |n: u64, part: &str, pred: &dyn Fn(&Value) -> bool| {
        rows.iter()
            .find(|r| r["n"].as_u64() == Some(n) && r["part"] == part && pred(r))
    };
    println!();
    println!(
        "| n | build 1 epoch: CPU s | build by 100s: CPU s (creator / member) | commit sparse remove: create / process ms, KB | commit filled remove: create / process ms, KB | commit filled add / mixed 10+10: create / process ms | join ms | votes big / small: ms per member | memory after join: storage / heap MB | decision big / small: s (freeze {}) |",
        rows.iter()
            .find(|r| r["part"] == "decision")
            .map_or("–".into(), |r| format!("{} ms", r["freeze_ms"]))
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for n in sizes {
        let build = find(n, "build", &|r| r["kind"] == "one_epoch");
        let batch = find(n, "build", &|r| r["kind"] == "batches_of_100");
        let commit =
            |kind: &str, tree: &str| find(n, "commit", &|r| r["kind"] == kind && r["tree"] == tree);
        let kb = |r: Option<&Value>| {
            r.and_then(|r| r["bytes"].as_f64())
                .map_or("–".into(), |b| format!("{:.1}", b / 1024.0))
        };
        let secs = |r: Option<&Value>, key: &str| {
            r.and_then(|r| r[key].as_f64())
                .map_or("–".into(), |v| format!("{:.1}", v / 1e3))
        };
        let sr = commit("remove", "sparse");
        let fr = commit("remove", "filled");
        let fa = commit("add", "filled");
        let fm = commit("mixed_10_10", "filled");
        let join = find(n, "join", &|_| true);
        let vb = find(n, "votes", &|r| r["model"] == "big");
        let vs = find(n, "votes", &|r| r["model"] == "small");
        let mem = find(n, "memory", &|r| r["when"] == "after_join");
        let mb = |key: &str| {
            mem.and_then(|r| r[key].as_f64())
                .map_or("–".into(), |v| format!("{:.1}", v / 1_048_576.0))
        };
        let db = find(n, "decision", &|r| r["model"] == "big");
        let ds = find(n, "decision", &|r| r["model"] == "small");
        println!(
            "| {n} | {} | {} / {} | {} / {}, {} | {} / {}, {} | {} / {}; {} / {} | {} | {} / {} | {} / {} | {} / {} |",
            secs(build, "cpu_ms"),
            secs(batch, "creator_cpu_ms"),
            secs(batch, "member_cpu_ms"),
            f(sr, "create_ms"),
            f(sr, "process_ms"),
            kb(sr),
            f(fr, "create_ms"),
            f(fr, "process_ms"),
            kb(fr),
            f(fa, "create_ms"),
            f(fa, "process_ms"),
            f(fm, "create_ms"),
            f(fm, "process_ms"),
            f(join, "join_ms"),
            f(vb, "member_cpu_ms"),
            f(vs, "member_cpu_ms"),
            mb("storage_bytes"),
            mb("heap_total_bytes"),
            secs(db, "decision_ms"),
            secs(ds, "decision_ms"),
        );
    }
}

fn main() {
    let opts = opts();
    let mut rows = Vec::new();
    let main_parts = ["build", "commit", "join", "votes", "memory", "decision"];
    for &n in &opts.sizes {
        let n = n.max(opts.full + 12);
        if main_parts.iter().any(|p| opts.parts.contains(*p)) {
            let started = Instant::now();
            let mut run = setup(&opts, n, &mut rows);
            if opts.parts.contains("memory") {
                memory(&opts, &run, "after_join", &mut rows);
            }
            if ["commit", "decision", "votes"]
                .iter()
                .any(|p| opts.parts.contains(*p))
            {
                commits(&opts, &mut run, &mut rows);
            }
            if opts.parts.contains("decision") || opts.parts.contains("votes") {
                decisions(&opts, &mut run, &mut rows);
            }
            if opts.parts.contains("memory") {
                memory(&opts, &run, "after_all_parts", &mut rows);
            }
            let failures = run.sim.errors().len();
            if failures > 0 {
                eprintln!(
                    "n={n}: {failures} failed steps, first: {:?}",
                    run.sim.errors()[0]
                );
            }
            eprintln!(
                "n={n}: done in {:.1} s wall",
                started.elapsed().as_secs_f64()
            );
        }
        if opts.parts.contains("batch") {
            batch_build(&opts, n, &mut rows);
        }
    }
    table(&rows);
}
