//! Message accounting: every application message sent through [`Sim::send`], who was expected
//! to receive it (the sender's roster when it was sent), and who did, and when. This is how an
//! experiment measures delivery and delivery latency; it never looks inside engines.

use std::collections::BTreeMap;

use demls::{Epoch, GroupId, Timestamp};

use crate::node::NodeId;
use crate::sim::Sim;

/// An application message sent through [`Sim::send`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentMessage {
    /// The group.
    pub group: GroupId,
    /// The engine-assigned message id.
    pub message_id: Vec<u8>,
    /// Who sent it.
    pub sender: NodeId,
    /// The sender's epoch when it sent it.
    pub epoch: Epoch,
    /// When.
    pub sent_at: Timestamp,
    /// The simulated nodes in the sender's roster at that moment (the sender included).
    pub expected: Vec<NodeId>,
}

/// A sent message that some expected receivers never decrypted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Undelivered {
    /// The message id.
    pub message_id: Vec<u8>,
    /// Who sent it.
    pub sender: NodeId,
    /// The sender's epoch when it sent it.
    pub epoch: Epoch,
    /// When it was sent.
    pub sent_at: Timestamp,
    /// Expected receivers (among those asked about) without a `MessageReceived` for it.
    pub missing: Vec<NodeId>,
}

/// Sent messages and receipts.
#[derive(Default)]
pub(crate) struct Ledger {
    sent: Vec<SentMessage>,
    /// (group, message id) → node → first time it was received.
    receipts: BTreeMap<(GroupId, Vec<u8>), BTreeMap<NodeId, Timestamp>>,
}

impl Ledger {
    pub(crate) fn record_send(&mut self, message: SentMessage) {
        self.sent.push(message);
    }

    pub(crate) fn receive(
        &mut self,
        group: &GroupId,
        message_id: &[u8],
        node: NodeId,
        at: Timestamp,
    ) {
        self.receipts
            .entry((group.clone(), message_id.to_vec()))
            .or_default()
            .entry(node)
            .or_insert(at);
    }

    fn received_at(&self, group: &GroupId, message_id: &[u8], node: NodeId) -> Option<Timestamp> {
        self.receipts
            .get(&(group.clone(), message_id.to_vec()))?
            .get(&node)
            .copied()
    }
}

impl Sim {
    /// Every message sent in `group` through [`Sim::send`], in sending order.
    pub fn sent_messages(&self, group: &GroupId) -> Vec<&SentMessage> {
        self.ledger
            .sent
            .iter()
            .filter(|m| &m.group == group)
            .collect()
    }

    /// When `node` first reported `MessageReceived` for `message_id` in `group`.
    pub fn received_at(
        &self,
        node: NodeId,
        group: &GroupId,
        message_id: &[u8],
    ) -> Option<Timestamp> {
        self.ledger.received_at(group, message_id, node)
    }

    /// Messages of `group` that a node of `among` (other than the sender) was expected to
    /// receive — it was in the sender's roster when the message was sent — but has not
    /// reported as `MessageReceived`. Copies still in flight count as missing, so call it once
    /// the run has settled.
    pub fn undelivered(&self, group: &GroupId, among: &[NodeId]) -> Vec<Undelivered> {
        self.sent_messages(group)
            .into_iter()
            .filter_map(|m| {
                let missing: Vec<NodeId> = among
                    .iter()
                    .copied()
                    .filter(|&n| n != m.sender && m.expected.contains(&n))
                    .filter(|&n| self.ledger.received_at(group, &m.message_id, n).is_none())
                    .collect();
                (!missing.is_empty()).then(|| Undelivered {
                    message_id: m.message_id.clone(),
                    sender: m.sender,
                    epoch: m.epoch,
                    sent_at: m.sent_at,
                    missing,
                })
            })
            .collect()
    }
}
