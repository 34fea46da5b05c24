//! One simulated node: its engine (absent while crashed), the storage that outlives crashes,
//! its subscriptions, flags, event log and timer bookkeeping.
//!
//! This module owns a node's state but not what happens to it; the simulator's run loop
//! (`run.rs`) and fault handling (`faults.rs`) change it.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use demls::{
    ConsensusFactory, Engine, EngineParams, GroupEvent, MemberId, StewardPolicyFactory, Timestamp,
    Topic,
};
use demls_storage_memory::MemoryStorage;

/// A node of the simulation: its index in creation order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub usize);

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "n{}", self.0)
    }
}

/// Names a member to act on: a simulated node, or any member id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The member id of this simulated node.
    Node(NodeId),
    /// This member id.
    Member(MemberId),
}

impl From<NodeId> for Target {
    fn from(node: NodeId) -> Target {
        Target::Node(node)
    }
}

impl From<MemberId> for Target {
    fn from(member: MemberId) -> Target {
        Target::Member(member)
    }
}

/// The state the simulator keeps for one node.
pub(crate) struct SimNode {
    /// The running engine; `None` while crashed.
    pub(crate) engine: Option<Engine>,
    /// Survives crashes; a restart reopens the engine on it.
    pub(crate) storage: MemoryStorage,
    pub(crate) member_id: MemberId,
    pub(crate) identity_seed: [u8; 32],
    /// Counts restarts; 0 for the first run. Deliveries carry the incarnation they were sent
    /// to, so a crash drops everything in flight to the node.
    pub(crate) incarnation: u64,
    pub(crate) params: EngineParams,
    pub(crate) consensus: Arc<dyn ConsensusFactory>,
    pub(crate) policy: Arc<dyn StewardPolicyFactory>,
    pub(crate) subscriptions: BTreeSet<Topic>,
    pub(crate) muted: bool,
    pub(crate) deaf: bool,
    /// Kinds of its publications that reach nobody.
    pub(crate) suppressed: BTreeSet<crate::stats::MessageKind>,
    pub(crate) log: Vec<(Timestamp, GroupEvent)>,
    /// Bumped whenever the scheduled tick changes; a tick item of an older generation is stale.
    pub(crate) tick_generation: u64,
    /// The time of the tick currently scheduled, if any.
    pub(crate) tick_at: Option<Timestamp>,
    /// CPU metering of its engine calls (see `cpu.rs`).
    pub(crate) cpu: crate::cpu::NodeCpu,
}

impl SimNode {
    /// Whether the node is running.
    pub(crate) fn is_up(&self) -> bool {
        self.engine.is_some()
    }

    /// Whether a copy arriving now would be handed to the engine.
    pub(crate) fn receives(&self) -> bool {
        self.is_up() && !self.deaf
    }
}
