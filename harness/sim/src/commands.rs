//! Commands a test or experiment issues to a node's engine, at the current virtual time. Each
//! carries out the engine's output (subscriptions, publications, events) exactly as a delivery
//! would, and keeps the node's timer scheduled.

use demls::{Engine, EngineError, GroupId, Output, ProposalId, Submission, Timestamp};

use crate::accounting::SentMessage;
use crate::error::SimError;
use crate::node::{NodeId, Target};
use crate::sim::Sim;

impl Sim {
    /// Runs any engine command on `node` now and carries out its output; `what` names it in
    /// the trace. The named commands below are built on this; use it for engine commands the
    /// simulator does not wrap.
    pub fn command<T>(
        &mut self,
        node: NodeId,
        what: &str,
        f: impl FnOnce(&mut Engine, Timestamp) -> Result<(T, Output), EngineError>,
    ) -> Result<T, SimError> {
        let now = self.now;
        let start = self.meter_start();
        let engine = self
            .node_mut(node)?
            .engine
            .as_mut()
            .ok_or(SimError::NodeDown(node))?;
        let result = f(engine, now);
        let events = result.as_ref().map_or(0, |(_, o)| o.events.len());
        self.meter_end(node, start, events);
        match result {
            Ok((value, out)) => {
                self.trace.line(now, format_args!("command {node} {what}"));
                self.apply(node, out);
                self.emit_at = None;
                self.reschedule(node, false);
                Ok(value)
            }
            Err(source) => {
                self.emit_at = None;
                self.trace
                    .line(now, format_args!("command {node} {what} failed: {source}"));
                self.reschedule(node, false);
                Err(SimError::Engine { node, source })
            }
        }
    }

    /// `node` creates `group`, as its only member and steward.
    pub fn create_group(&mut self, node: NodeId, group: &GroupId) -> Result<(), SimError> {
        self.command(node, "create_group", |e, now| {
            e.create_group(group.clone(), now).map(|o| ((), o))
        })
    }

    /// `node` asks to join `group`: it announces a KeyPackage (re-announced until added).
    pub fn join_group(&mut self, node: NodeId, group: &GroupId) -> Result<(), SimError> {
        self.command(node, "join_group", |e, now| {
            e.request_join(group.clone(), now).map(|o| ((), o))
        })
    }

    /// `node` sends an application message to `group`; returns its message id. The message is
    /// recorded for [`undelivered`](Sim::undelivered) with the sender's epoch and roster.
    pub fn send(
        &mut self,
        node: NodeId,
        group: &GroupId,
        payload: &[u8],
    ) -> Result<Vec<u8>, SimError> {
        let summary = self.engine(node).and_then(|e| e.group_summary(group));
        let message_id =
            self.command(node, "send", |e, now| e.send_message(group, payload, now))?;
        let (epoch, expected) = match summary {
            Some(s) => (
                s.epoch,
                s.members.iter().filter_map(|&m| self.node_of(m)).collect(),
            ),
            None => (0, Vec::new()),
        };
        self.ledger.record_send(SentMessage {
            group: group.clone(),
            message_id: message_id.clone(),
            sender: node,
            epoch,
            sent_at: self.now,
            expected,
        });
        Ok(message_id)
    }

    /// `node` opens a vote on adding the holder of `key_package` (an MLS KeyPackage message),
    /// or defers it while a higher-priority vote runs.
    pub fn propose_add(
        &mut self,
        node: NodeId,
        group: &GroupId,
        key_package: &[u8],
    ) -> Result<Submission, SimError> {
        self.command(node, "propose_add", |e, now| {
            e.propose_add(group, key_package, now)
        })
    }

    /// `node` opens a vote on removing `target` (a node or a member id), or defers it while a
    /// higher-priority vote runs.
    pub fn propose_remove(
        &mut self,
        node: NodeId,
        group: &GroupId,
        target: impl Into<Target>,
    ) -> Result<Submission, SimError> {
        let member = match target.into() {
            Target::Member(m) => m,
            Target::Node(n) => {
                self.nodes
                    .get(n.0)
                    .ok_or(SimError::UnknownNode(n))?
                    .member_id
            }
        };
        self.command(node, "propose_remove", |e, now| {
            e.propose_remove(group, member, now)
        })
    }

    /// `node` asks to leave `group` (final without a vote; a steward commits it).
    pub fn leave(&mut self, node: NodeId, group: &GroupId) -> Result<Submission, SimError> {
        self.command(node, "leave", |e, now| e.leave(group, now))
    }

    /// `node` casts its vote on `proposal`.
    pub fn vote(
        &mut self,
        node: NodeId,
        group: &GroupId,
        proposal: ProposalId,
        yes: bool,
    ) -> Result<(), SimError> {
        self.command(node, "vote", |e, now| {
            e.vote(group, proposal, yes, now).map(|o| ((), o))
        })
    }
}
