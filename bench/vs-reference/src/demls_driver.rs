//! The demls side: sans-IO [`demls::Engine`]s, each on its own in-memory storage, driven
//! directly on the shared instant bus (`bus.rs`) with the engines' own timers on the virtual
//! clock. Voting is the engine default (`VotingMode::Auto`: YES on every valid proposal, at
//! once); every other parameter is the engine default too.

use std::sync::Arc;

use demls::policy::MultiPolicyConfig;
use demls::policy::multi::MultiPolicyFactory;
use demls::policy::single::SinglePolicyFactory;
use demls::{
    ConsensusFactory, Engine, EngineError, EngineParams, GroupEvent, GroupId, Inbound, MemberId, Output,
    StewardPolicyFactory, Timestamp, Topic,
};
use demls_consensus_hashgraph::HashgraphFactory;
use demls_storage_memory::MemoryStorage;

use crate::bus::{self, Core, Publication, View, World};
use crate::measure::{Meter, Record, Traffic};
use crate::workload::{Bench, QUIET_BEFORE_REMOVE_MS, STEP_LIMIT_MS, pick_pair};

/// The implementation name printed in every record.
pub const IMPLEMENTATION: &str = "demls";

/// Builds the steward policy named by a configuration: `single`, or `multi-<model>` with
/// `<model>` any `ConsensusModel` this demls knows (`big`, `small`, …), read through the
/// policy's own configuration parser so a model added later needs no change here.
pub fn policy_for(config: &str) -> Result<Arc<dyn StewardPolicyFactory>, String> {
    if config == "single" {
        return Ok(Arc::new(SinglePolicyFactory::new(Default::default())));
    }
    let Some(model) = config.strip_prefix("multi-") else {
        return Err(format!(
            "unknown demls configuration {config:?} (use single or multi-<model>)"
        ));
    };
    let multi: MultiPolicyConfig = toml::from_str(&format!("consensus_model = {model:?}"))
        .map_err(|e| {
            format!("configuration {config:?}: this demls has no such consensus model ({e})")
        })?;
    let factory = MultiPolicyFactory::new(multi).map_err(|e| format!("{config}: {e}"))?;
    Ok(Arc::new(factory))
}

/// N demls members in one process on the instant bus.
pub struct DemlsBench {
    config: String,
    core: Core<Topic>,
    engines: Vec<Engine>,
    consensus: Arc<dyn ConsensusFactory>,
    policy: Arc<dyn StewardPolicyFactory>,
    params: EngineParams,
    group: GroupId,
    /// Nodes that are (or are becoming) members, in join order.
    members: Vec<usize>,
    /// Per node: whether its last steps reported a change of its group state.
    dirty: Vec<bool>,
    errors: u64,
    rep: u32,
}

impl DemlsBench {
    /// An empty bench for `config`, with virtual time starting at `start_ms` (Unix ms).
    pub fn new(config: &str, start_ms: u64, rep: u32) -> Result<DemlsBench, String> {
        Ok(DemlsBench {
            config: config.to_string(),
            core: Core::new(start_ms),
            engines: Vec::new(),
            consensus: Arc::new(HashgraphFactory::default()),
            policy: policy_for(config)?,
            params: EngineParams::default(),
            group: GroupId::new(b"bench".to_vec()).ok_or("invalid group id")?,
            members: Vec::new(),
            dirty: Vec::new(),
            errors: 0,
            rep,
        })
    }

    fn now(&self) -> Timestamp {
        Timestamp(self.core.now)
    }

    /// Opens a new member's engine (identity and entropy seeded from its index, for
    /// reproducible runs) and subscribes it to the engine's topics.
    fn add_node(&mut self) -> Result<usize, String> {
        let id = self.engines.len();
        let mut identity = [0u8; 32];
        identity[..8].copy_from_slice(&(id as u64 + 1).to_be_bytes());
        let mut engine = Engine::open(
            Arc::new(MemoryStorage::new()),
            self.consensus.clone(),
            self.policy.clone(),
            self.params.clone(),
            Some(identity),
            self.now(),
        )
        .map_err(|e| format!("opening engine {id}: {e}"))?;
        let mut entropy = identity;
        entropy[31] = 0xe5;
        engine.set_entropy_seed(entropy);
        for topic in engine.topics() {
            self.core.subscribe(id, topic);
        }
        self.engines.push(engine);
        self.dirty.push(true);
        Ok(id)
    }

    /// Carries out a step's output: subscribe, publish, unsubscribe; events that change the
    /// node's epoch or roster mark it for the convergence check.
    fn apply(&mut self, node: usize, out: Output) {
        if out.events.iter().any(|e| {
            matches!(
                e,
                GroupEvent::GroupCreated { .. }
                    | GroupEvent::Joined { .. }
                    | GroupEvent::EpochAdvanced { .. }
                    | GroupEvent::ForkResolved { .. }
                    | GroupEvent::Removed { .. }
            )
        }) {
            self.dirty[node] = true;
        }
        for topic in out.subscribe {
            self.core.subscribe(node, topic);
        }
        for o in out.publish {
            let id = content_id(&o.topic, &o.payload);
            self.core.publish(node, o.topic, o.payload, id);
        }
        for topic in out.unsubscribe {
            self.core.unsubscribe(node, &topic);
        }
    }

    fn after_step(&mut self, node: usize, result: Result<Output, EngineError>, tick: bool) {
        match result {
            Ok(out) => self.apply(node, out),
            Err(e) => {
                self.errors += 1;
                eprintln!("demls node {node}: {e}");
            }
        }
        let deadline = self.engines[node].next_deadline().map(|t| t.0);
        self.core.schedule(node, deadline, tick);
    }

    fn member_id(&self, node: usize) -> MemberId {
        self.engines[node].member_id()
    }

    fn record(
        &self,
        workload: &str,
        n: usize,
        meter: &Meter,
        traffic: Traffic,
        virtual_start: u64,
        errors: u64,
    ) -> Record {
        let (cpu_s, wall_s) = meter.stop();
        Record {
            implementation: IMPLEMENTATION.to_string(),
            config: self.config.clone(),
            workload: workload.to_string(),
            n,
            cpu_s,
            wall_s,
            traffic: self.core.traffic.since(&traffic),
            virtual_s: (self.core.now - virtual_start) as f64 / 1e3,
            errors: self.errors - errors,
            rep: self.rep,
        }
    }
}

impl Bench for DemlsBench {
    /// W1: member 0 creates the group, then members join one at a time (each a voted add
    /// opened by a steward on the joiner's KeyPackage announcement); the next joiner comes
    /// only once every member shares the epoch and roster.
    fn grow(&mut self, n: usize) -> Result<Record, String> {
        let meter = Meter::start();
        let traffic = self.core.traffic;
        let virtual_start = self.core.now;
        let errors = self.errors;
        let creator = self.add_node()?;
        let now = self.now();
        let result = self.engines[creator].create_group(self.group.clone(), now);
        self.after_step(creator, result, false);
        self.members.push(creator);
        while self.members.len() < n {
            let joiner = self.add_node()?;
            let now = self.now();
            let result = self.engines[joiner].request_join(self.group.clone(), now);
            self.after_step(joiner, result, false);
            self.members.push(joiner);
            let nodes = self.members.clone();
            let what = format!("demls {}: join of member {}", self.config, nodes.len());
            bus::settle(self, &nodes, STEP_LIMIT_MS, &what)?;
        }
        Ok(self.record("grow", n, &meter, traffic, virtual_start, errors))
    }

    /// W2: in the settled group, one member proposes removing another; members vote, a
    /// steward commits; done when every remaining member has applied it.
    fn remove(&mut self) -> Result<Record, String> {
        // Unmeasured: let whatever the last join set in motion finish first.
        bus::run_for(self, QUIET_BEFORE_REMOVE_MS);
        let n = self.members.len();
        let stewards = self.engines[self.members[0]]
            .group_summary(&self.group)
            .map(|s| s.stewards)
            .unwrap_or_default();
        let steward_nodes: Vec<usize> = self
            .members
            .iter()
            .copied()
            .filter(|&m| stewards.contains(&self.member_id(m)))
            .collect();
        let (mut proposer, victim) = pick_pair(&self.members, |m| steward_nodes.contains(&m))?;
        let meter = Meter::start();
        let traffic = self.core.traffic;
        let virtual_start = self.core.now;
        let errors = self.errors;
        let target = self.member_id(victim);
        let now = self.now();
        let mut result = self.engines[proposer].propose_remove(&self.group, target, now);
        if let Err(EngineError::InvalidRequest(reason)) = &result
            && let Some(&steward) = steward_nodes.iter().find(|&&m| m != victim)
        {
            // The small consensus model lets only its voters (the stewards) open membership
            // proposals: a steward proposes instead.
            eprintln!(
                "demls {}: member {proposer} may not propose the removal ({reason}); \
                 steward {steward} does",
                self.config
            );
            proposer = steward;
            result = self.engines[proposer].propose_remove(&self.group, target, now);
        }
        self.after_step(proposer, result.map(|(_, out)| out), false);
        self.members.retain(|&m| m != victim);
        let nodes = self.members.clone();
        let what = format!("demls {}: removal of member {victim}", self.config);
        bus::settle(self, &nodes, STEP_LIMIT_MS, &what)?;
        Ok(self.record("remove", n, &meter, traffic, virtual_start, errors))
    }
}

impl World for DemlsBench {
    type Topic = Topic;

    fn core(&mut self) -> &mut Core<Topic> {
        &mut self.core
    }

    fn deliver(&mut self, to: usize, p: &Publication<Topic>) {
        let inbound = Inbound {
            topic: p.topic.clone(),
            payload: p.payload.clone(),
            message_id: p.id.clone(),
        };
        let now = self.now();
        let result = self.engines[to].handle(&inbound, now);
        self.after_step(to, result, false);
    }

    fn tick(&mut self, node: usize) {
        let now = self.now();
        let result = self.engines[node].tick(now);
        self.after_step(node, result, true);
    }

    fn clock_moved(&mut self, _now: u64) {}

    fn changed(&mut self, node: usize) -> bool {
        std::mem::take(&mut self.dirty[node])
    }

    fn view(&self, node: usize) -> Option<View> {
        let s = self.engines[node].group_summary(&self.group)?;
        let mut roster: Vec<Vec<u8>> = s.members.iter().map(|m| m.0.to_vec()).collect();
        roster.sort();
        Some(View {
            epoch: s.epoch,
            roster,
            authenticator: s.authenticator,
        })
    }

    fn roster_id(&self, node: usize) -> Vec<u8> {
        self.member_id(node).0.to_vec()
    }
}

/// The transport-level id of a publication (as the Logos transport and the simulator use):
/// SHA-256 over topic, a zero byte and the payload.
fn content_id(topic: &Topic, payload: &[u8]) -> Vec<u8> {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(topic.as_str().as_bytes());
    ctx.update(&[0]);
    ctx.update(payload);
    ctx.finish().as_ref().to_vec()
}
