//! The [`Sim`] itself: building it, adding nodes, and observing them. Running is in `run.rs`,
//! commands in `commands.rs`, faults in `faults.rs`, convergence and message accounting in
//! `converge.rs` and `accounting.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use demls::{
    ConsensusFactory, Engine, EngineError, EngineParams, GroupEvent, GroupId, GroupSummary,
    MemberId, StewardPolicyFactory, Timestamp, Topic,
};
use demls_storage_memory::MemoryStorage;
use rand_chacha::ChaCha8Rng;

use crate::accounting::Ledger;
use crate::config::{Link, NodeOptions, SimConfig};
use crate::error::{Failure, SimError};
use crate::network::Network;
use crate::node::{NodeId, SimNode};
use crate::queue::EventQueue;
use crate::run::Item;
use crate::seeds;
use crate::stats::Stats;
use crate::trace::Trace;

/// A deterministic simulation of many demls nodes on one virtual clock.
///
/// Build it with [`Sim::new`], add nodes, issue commands and faults, and advance time with
/// [`run_for`](Sim::run_for), [`run_until`](Sim::run_until) or [`step`](Sim::step). Two
/// simulators built from equal configurations (same seed, same start time) and driven by the
/// same calls produce identical runs.
pub struct Sim {
    pub(crate) seed: u64,
    pub(crate) start: Timestamp,
    pub(crate) now: Timestamp,
    pub(crate) params: EngineParams,
    pub(crate) consensus: Arc<dyn ConsensusFactory>,
    pub(crate) policy: Arc<dyn StewardPolicyFactory>,
    pub(crate) link_stats: bool,
    pub(crate) nodes: Vec<SimNode>,
    pub(crate) members: BTreeMap<MemberId, NodeId>,
    pub(crate) subscribers: BTreeMap<Topic, BTreeSet<NodeId>>,
    pub(crate) network: Network,
    pub(crate) rng: ChaCha8Rng,
    pub(crate) queue: EventQueue<Item>,
    pub(crate) stats: Stats,
    pub(crate) trace: Trace,
    pub(crate) ledger: Ledger,
    pub(crate) failures: Vec<Failure>,
    pub(crate) publications: u64,
    pub(crate) cpu_mode: crate::cpu::CpuMode,
    /// In CPU-charging mode, when the output of the engine call being carried out leaves.
    pub(crate) emit_at: Option<Timestamp>,
    /// The light members of one group, if any (see `light.rs`).
    pub(crate) light: Option<crate::light::LightPool>,
}

impl Sim {
    /// A simulator without nodes, at the configured start time.
    pub fn new(config: SimConfig) -> Result<Sim, SimError> {
        config.link.validate()?;
        let mut network = Network::new(config.link);
        network.set_size_latency(config.size_latency)?;
        let start = config.start.unwrap_or_else(seeds::stable_start_utc);
        let mut trace = Trace::new(start, config.keep_trace);
        trace.line(
            start,
            format_args!("sim seed={} start={}", config.seed, start.0),
        );
        tracing::debug!(seed = config.seed, start = start.0, "simulation created");
        Ok(Sim {
            seed: config.seed,
            start,
            now: start,
            params: config.params,
            consensus: config.consensus,
            policy: config.policy,
            link_stats: config.link_stats,
            nodes: Vec::new(),
            members: BTreeMap::new(),
            subscribers: BTreeMap::new(),
            network,
            rng: seeds::network_rng(config.seed),
            queue: EventQueue::new(),
            stats: Stats::default(),
            trace,
            ledger: Ledger::default(),
            failures: Vec::new(),
            publications: 0,
            cpu_mode: config.cpu,
            emit_at: None,
            light: None,
        })
    }

    /// Adds a node with the simulation-wide settings.
    pub fn add_node(&mut self) -> Result<NodeId, SimError> {
        self.add_node_with(NodeOptions::default())
    }

    /// Adds `n` nodes with the simulation-wide settings.
    pub fn add_nodes(&mut self, n: usize) -> Result<Vec<NodeId>, SimError> {
        (0..n).map(|_| self.add_node()).collect()
    }

    /// Adds a node with its own settings where `options` gives them. Its engine opens now;
    /// if its storage already holds groups, it subscribes to their topics.
    pub fn add_node_with(&mut self, options: NodeOptions) -> Result<NodeId, SimError> {
        let id = NodeId(self.nodes.len());
        let mut node = SimNode {
            engine: None,
            storage: options.storage.unwrap_or_default(),
            member_id: MemberId([0; demls::types::MEMBER_ID_LEN]),
            identity_seed: seeds::identity_seed(self.seed, id),
            incarnation: 0,
            params: options.params.unwrap_or_else(|| self.params.clone()),
            consensus: options.consensus.unwrap_or_else(|| self.consensus.clone()),
            policy: options.policy.unwrap_or_else(|| self.policy.clone()),
            subscriptions: BTreeSet::new(),
            muted: false,
            suppressed: Default::default(),
            deaf: false,
            log: Vec::new(),
            tick_generation: 0,
            tick_at: None,
            cpu: Default::default(),
        };
        let engine = open_engine(&node, self.seed, id, self.now)
            .map_err(|source| SimError::Engine { node: id, source })?;
        node.member_id = engine.member_id();
        let topics = engine.topics();
        node.engine = Some(engine);
        self.trace
            .line(self.now, format_args!("add {id} member={}", node.member_id));
        self.members.insert(node.member_id, id);
        self.nodes.push(node);
        for topic in topics {
            self.subscribe(id, topic);
        }
        self.reschedule(id, false);
        Ok(id)
    }

    /// The run's seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The virtual time the run started at.
    pub fn start(&self) -> Timestamp {
        self.start
    }

    /// The current virtual time.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// Milliseconds of virtual time since the start.
    pub fn elapsed_ms(&self) -> u64 {
        self.now.since(self.start)
    }

    /// What it takes to replay this run: its seed and start time. Put it in failure messages.
    pub fn replay_hint(&self) -> String {
        format!(
            "seed={} start={} (replay with SimConfig::new({}).with_start(Timestamp({})))",
            self.seed, self.start.0, self.seed, self.start.0
        )
    }

    /// Number of nodes added.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Every node, in creation order.
    pub fn nodes(&self) -> Vec<NodeId> {
        (0..self.nodes.len()).map(NodeId).collect()
    }

    pub(crate) fn node(&self, id: NodeId) -> &SimNode {
        match self.nodes.get(id.0) {
            Some(node) => node,
            None => panic!(
                "no node {id} in this simulation ({} nodes)",
                self.nodes.len()
            ),
        }
    }

    pub(crate) fn node_mut(&mut self, id: NodeId) -> Result<&mut SimNode, SimError> {
        self.nodes.get_mut(id.0).ok_or(SimError::UnknownNode(id))
    }

    /// Whether `node` is running (not crashed).
    ///
    /// # Panics
    /// If `node` was not added to this simulation (as do the other observers taking a node).
    pub fn is_up(&self, node: NodeId) -> bool {
        self.node(node).is_up()
    }

    /// How often `node` was restarted.
    pub fn incarnation(&self, node: NodeId) -> u64 {
        self.node(node).incarnation
    }

    /// The member id of `node` (the same across restarts).
    pub fn member_id(&self, node: NodeId) -> MemberId {
        self.node(node).member_id
    }

    /// The node whose member id is `member`, if it is simulated here.
    pub fn node_of(&self, member: MemberId) -> Option<NodeId> {
        self.members.get(&member).copied()
    }

    /// Everything `node`'s engine reported, with the virtual time it was reported at (kept
    /// across crashes).
    pub fn events(&self, node: NodeId) -> &[(Timestamp, GroupEvent)] {
        &self.node(node).log
    }

    /// A snapshot of `group` at `node` (`None` if it is not a member, or is down).
    pub fn group(&self, node: NodeId, group: &GroupId) -> Option<GroupSummary> {
        self.node(node).engine.as_ref()?.group_summary(group)
    }

    /// Nodes that are up and members of `group`, in node order.
    pub fn members_of(&self, group: &GroupId) -> Vec<NodeId> {
        self.nodes()
            .into_iter()
            .filter(|&n| self.group(n, group).is_some())
            .collect()
    }

    /// The engine of `node`, for inspection (`None` while crashed).
    pub fn engine(&self, node: NodeId) -> Option<&Engine> {
        self.node(node).engine.as_ref()
    }

    /// The storage of `node` (shared with its engine; survives crashes).
    pub fn storage(&self, node: NodeId) -> &MemoryStorage {
        &self.node(node).storage
    }

    /// The topics `node` is subscribed to.
    pub fn subscriptions(&self, node: NodeId) -> Vec<Topic> {
        self.node(node).subscriptions.iter().cloned().collect()
    }

    /// Whether `node` is muted (its publications reach nobody).
    pub fn is_muted(&self, node: NodeId) -> bool {
        self.node(node).muted
    }

    /// Whether `node` is deafened (nothing reaches it).
    pub fn is_deaf(&self, node: NodeId) -> bool {
        self.node(node).deaf
    }

    /// The link currently used from `from` to `to`.
    pub fn link(&self, from: NodeId, to: NodeId) -> Link {
        self.network.link(from, to)
    }

    /// Whether `a` and `b` are on the same side of the current partition.
    pub fn connected(&self, a: NodeId, b: NodeId) -> bool {
        self.network.connected(a, b)
    }

    /// Whether a partition is in force.
    pub fn is_partitioned(&self) -> bool {
        self.network.is_partitioned()
    }

    /// Traffic counters so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Failures during the run (engine steps that returned an error, faults that could not be
    /// applied), in order.
    pub fn errors(&self) -> &[Failure] {
        &self.failures
    }

    /// The failures concerning `node`.
    pub fn errors_of(&self, node: NodeId) -> Vec<&Failure> {
        self.failures
            .iter()
            .filter(|f| f.node() == Some(node))
            .collect()
    }

    /// Items (deliveries, timer ticks, faults) waiting in the queue, stale ticks included.
    pub fn pending(&self) -> usize {
        self.queue.len()
    }

    /// The SHA-256 digest of the run's trace so far: equal for two runs exactly when they
    /// processed the same items, made the same decisions and reported the same events.
    pub fn trace_digest(&self) -> [u8; 32] {
        self.trace.digest()
    }

    /// The trace lines, when [`SimConfig::keep_trace`] is set (else empty).
    pub fn trace_lines(&self) -> &[String] {
        self.trace.lines()
    }
}

// Researchers run one simulation per thread.
const _: fn() = || {
    fn send<T: Send>() {}
    send::<Sim>();
};

/// Opens `node`'s engine on its storage for its current incarnation.
pub(crate) fn open_engine(
    node: &SimNode,
    run_seed: u64,
    id: NodeId,
    now: Timestamp,
) -> Result<Engine, EngineError> {
    let mut engine = Engine::open(
        Arc::new(node.storage.clone()),
        node.consensus.clone(),
        node.policy.clone(),
        node.params.clone(),
        Some(node.identity_seed),
        now,
    )?;
    engine.set_entropy_seed(seeds::entropy_seed(run_seed, id, node.incarnation));
    Ok(engine)
}
