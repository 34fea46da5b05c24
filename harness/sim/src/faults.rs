//! Faults: changes to the network and to nodes' liveness, applied now or scheduled for a
//! virtual time. This module owns what each fault does to the simulator's state; deciding the
//! fate of a copy under the resulting state is `network.rs`'s job.

use std::collections::BTreeSet;

use demls::Timestamp;

use crate::config::Link;
use crate::error::SimError;
use crate::node::NodeId;
use crate::sim::{Sim, open_engine};

/// A change to the network or to a node, applied by [`Sim::fault`] or scheduled by
/// [`Sim::at`] / [`Sim::after`].
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// Sets the loss probability of the default link (overridden links keep theirs).
    Loss(f64),
    /// Sets the latency range of the default link (overridden links keep theirs).
    Latency {
        /// Shortest latency, ms.
        min_ms: u64,
        /// Longest latency, ms.
        max_ms: u64,
    },
    /// Replaces the default link.
    DefaultLink(Link),
    /// Overrides the link from `from` to `to` (that direction only).
    SetLink {
        /// The sender.
        from: NodeId,
        /// The receiver.
        to: NodeId,
        /// Its new behaviour.
        link: Link,
    },
    /// Returns the link from `from` to `to` to the default.
    ClearLink {
        /// The sender.
        from: NodeId,
        /// The receiver.
        to: NodeId,
    },
    /// Splits the network into the listed sets; every node not listed (including nodes added
    /// later) belongs to one further set together. Replaces any earlier partition. Copies
    /// between sets are dropped when sent and, if already in flight, when they arrive.
    Partition(Vec<Vec<NodeId>>),
    /// Removes the partition.
    Heal,
    /// Mutes (`true`) or unmutes a node: a muted node's publications reach nobody.
    Mute(NodeId, bool),
    /// Deafens (`true`) or undeafens a node: nothing reaches a deaf node, even copies already
    /// in flight. Its engine keeps running (timers fire, it can publish).
    Deafen(NodeId, bool),
    /// Crashes a node: its engine is dropped (in-memory state such as buffered messages is
    /// lost), its storage kept, every copy in flight to it dropped. Crashing a crashed node
    /// does nothing.
    Crash(NodeId),
    /// Suppresses (`true`) or restores one kind of a node's publications: e.g. a steward whose
    /// commits never leave it ("commit-silent") while it still votes and chats.
    Suppress(NodeId, crate::stats::MessageKind, bool),
    /// Restarts a node: reopens its engine on its storage with the same identity and a fresh
    /// entropy seed for the new incarnation, subscribes to the engine's topics and schedules
    /// its timers. A running node is crashed first.
    Restart(NodeId),
}

impl Fault {
    /// The node this fault is about, if it is about one.
    pub fn node(&self) -> Option<NodeId> {
        match self {
            Fault::Mute(n, _)
            | Fault::Deafen(n, _)
            | Fault::Suppress(n, _, _)
            | Fault::Crash(n)
            | Fault::Restart(n) => Some(*n),
            _ => None,
        }
    }
}

impl Sim {
    /// Applies `fault` now.
    pub fn fault(&mut self, fault: Fault) -> Result<(), SimError> {
        self.check_nodes(&fault)?;
        self.trace.line(self.now, format_args!("fault {fault:?}"));
        tracing::debug!(?fault, now = self.now.0, "fault");
        match fault {
            Fault::Loss(loss) => {
                let link = self.network.default_link().with_loss(loss);
                self.network.set_default(link)
            }
            Fault::Latency { min_ms, max_ms } => {
                let link = Link {
                    min_ms,
                    max_ms,
                    ..self.network.default_link()
                };
                self.network.set_default(link)
            }
            Fault::DefaultLink(link) => self.network.set_default(link),
            Fault::SetLink { from, to, link } => self.network.set_link(from, to, link),
            Fault::ClearLink { from, to } => {
                self.network.clear_link(from, to);
                Ok(())
            }
            Fault::Partition(sets) => self.network.partition(&sets),
            Fault::Heal => {
                self.network.heal();
                Ok(())
            }
            Fault::Mute(node, on) => {
                self.node_mut(node)?.muted = on;
                Ok(())
            }
            Fault::Deafen(node, on) => {
                self.node_mut(node)?.deaf = on;
                Ok(())
            }
            Fault::Suppress(node, kind, on) => {
                let n = self.node_mut(node)?;
                if on {
                    n.suppressed.insert(kind);
                } else {
                    n.suppressed.remove(&kind);
                }
                Ok(())
            }
            Fault::Crash(node) => self.crash_node(node),
            Fault::Restart(node) => self.restart_node(node),
        }
    }

    /// Schedules `fault` at virtual time `at` (immediately if `at` has passed). It fires in
    /// order with the other items of that time; if it cannot be applied then, the failure is
    /// recorded in [`errors`](Sim::errors).
    pub fn at(&mut self, at: Timestamp, fault: Fault) {
        self.schedule_fault(at, fault);
    }

    /// Schedules `fault` `delay_ms` milliseconds from now.
    pub fn after(&mut self, delay_ms: u64, fault: Fault) {
        self.schedule_fault(self.now.plus_ms(delay_ms), fault);
    }

    /// Sets the default link's loss probability now.
    pub fn set_loss(&mut self, loss: f64) -> Result<(), SimError> {
        self.fault(Fault::Loss(loss))
    }

    /// Sets the default link's latency range now.
    pub fn set_latency(&mut self, min_ms: u64, max_ms: u64) -> Result<(), SimError> {
        self.fault(Fault::Latency { min_ms, max_ms })
    }

    /// Overrides the link from `from` to `to` now.
    pub fn set_link(&mut self, from: NodeId, to: NodeId, link: Link) -> Result<(), SimError> {
        self.fault(Fault::SetLink { from, to, link })
    }

    /// Returns the link from `from` to `to` to the default now.
    pub fn clear_link(&mut self, from: NodeId, to: NodeId) -> Result<(), SimError> {
        self.fault(Fault::ClearLink { from, to })
    }

    /// Partitions the network now (see [`Fault::Partition`]).
    pub fn partition(&mut self, sets: &[Vec<NodeId>]) -> Result<(), SimError> {
        self.fault(Fault::Partition(sets.to_vec()))
    }

    /// Removes the partition now.
    pub fn heal(&mut self) {
        // Healing names no node and cannot fail.
        let _ = self.fault(Fault::Heal);
    }

    /// Mutes or unmutes `node` now.
    pub fn mute(&mut self, node: NodeId, on: bool) -> Result<(), SimError> {
        self.fault(Fault::Mute(node, on))
    }

    /// Deafens or undeafens `node` now.
    pub fn deafen(&mut self, node: NodeId, on: bool) -> Result<(), SimError> {
        self.fault(Fault::Deafen(node, on))
    }

    /// Crashes `node` now.
    pub fn crash(&mut self, node: NodeId) -> Result<(), SimError> {
        self.fault(Fault::Crash(node))
    }

    /// Restarts `node` now.
    pub fn restart(&mut self, node: NodeId) -> Result<(), SimError> {
        self.fault(Fault::Restart(node))
    }

    fn check_nodes(&self, fault: &Fault) -> Result<(), SimError> {
        let known = |n: NodeId| {
            if n.0 < self.nodes.len() {
                Ok(())
            } else {
                Err(SimError::UnknownNode(n))
            }
        };
        match fault {
            Fault::SetLink { from, to, .. } | Fault::ClearLink { from, to } => {
                known(*from)?;
                known(*to)
            }
            Fault::Partition(sets) => sets.iter().flatten().try_for_each(|&n| known(n)),
            other => other.node().map_or(Ok(()), known),
        }
    }

    fn crash_node(&mut self, id: NodeId) -> Result<(), SimError> {
        let node = self.node_mut(id)?;
        if node.engine.take().is_none() {
            return Ok(());
        }
        node.tick_generation += 1;
        node.tick_at = None;
        Ok(())
    }

    fn restart_node(&mut self, id: NodeId) -> Result<(), SimError> {
        self.crash_node(id)?;
        let (seed, now) = (self.seed, self.now);
        let node = self.node_mut(id)?;
        node.incarnation += 1;
        let engine = open_engine(node, seed, id, now)
            .map_err(|source| SimError::Engine { node: id, source })?;
        let wanted: BTreeSet<_> = engine.topics().into_iter().collect();
        node.engine = Some(engine);
        let stale: Vec<_> = node.subscriptions.difference(&wanted).cloned().collect();
        for topic in &stale {
            self.unsubscribe(id, topic);
        }
        for topic in wanted {
            self.subscribe(id, topic);
        }
        self.trace.line(
            self.now,
            format_args!(
                "restarted {id} incarnation {}",
                self.nodes[id.0].incarnation
            ),
        );
        self.reschedule(id, false);
        Ok(())
    }
}
