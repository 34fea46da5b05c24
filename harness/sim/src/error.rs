//! The simulator's errors: what a command or fault can fail with, and the record of an engine
//! step that failed during the run (kept, never panicked on).

use demls::{EngineError, Timestamp};

use crate::faults::Fault;
use crate::node::NodeId;

/// Why a simulator call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// No node with this id was added.
    #[error("no node {0}")]
    UnknownNode(NodeId),
    /// The node is crashed; restart it first.
    #[error("node {0} is down")]
    NodeDown(NodeId),
    /// A link setting is out of range.
    #[error("invalid link: {reason}")]
    InvalidLink {
        /// What is wrong.
        reason: &'static str,
    },
    /// A node was listed in two sets of a partition.
    #[error("node {0} is listed in two partition sets")]
    PartitionOverlap(NodeId),
    /// Light members could not be created or act (see [`Sim::add_light_members`](crate::Sim::add_light_members)).
    #[error("light members: {0}")]
    Light(String),
    /// The node's engine refused or failed.
    #[error("node {node}: {source}")]
    Engine {
        /// The node.
        node: NodeId,
        /// The engine's error.
        #[source]
        source: EngineError,
    },
}

impl SimError {
    /// The engine's error, when the engine failed.
    pub fn engine_error(&self) -> Option<&EngineError> {
        match self {
            SimError::Engine { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// What the run loop was doing when something failed.
#[derive(Clone, Debug)]
pub enum Activity {
    /// Handing a message to `to`'s engine.
    Delivery {
        /// The sender.
        from: NodeId,
        /// The receiver.
        to: NodeId,
    },
    /// Running `node`'s timers.
    Tick {
        /// The node.
        node: NodeId,
    },
    /// Applying a scheduled fault.
    Fault(Fault),
}

/// A failure during the run: an engine step returned an error (a storage failure) or a
/// scheduled fault could not be applied. The run goes on.
#[derive(Debug)]
pub struct Failure {
    /// When.
    pub at: Timestamp,
    /// Doing what.
    pub during: Activity,
    /// The error.
    pub error: SimError,
}

impl Failure {
    /// The node the failure happened at, if it concerns one.
    pub fn node(&self) -> Option<NodeId> {
        match (&self.error, &self.during) {
            (SimError::Engine { node, .. }, _) => Some(*node),
            (_, Activity::Delivery { to, .. }) => Some(*to),
            (_, Activity::Tick { node }) => Some(*node),
            (_, Activity::Fault(fault)) => fault.node(),
        }
    }
}
