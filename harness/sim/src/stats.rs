//! What the network did with every message copy: counters in total, per envelope kind and,
//! when enabled, per directed link.
//!
//! One publication becomes one *copy* per other node subscribed to its topic; every copy ends
//! in exactly one [`Fate`] (or is still in flight). This module only counts; it decides nothing.

use std::collections::BTreeMap;
use std::fmt;

use demls::internals::wire::{Envelope, Kind};

use crate::node::NodeId;

/// How one message copy ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fate {
    /// Handed to the receiving engine.
    Delivered,
    /// Dropped by the link's loss probability.
    Lost,
    /// Sender and receiver were on different sides of a partition (when sent or on arrival).
    Partitioned,
    /// The sender was muted.
    Muted,
    /// The receiver was crashed or deafened (when sent or on arrival), or restarted since.
    Down,
    /// The receiver had unsubscribed from the topic by the time the copy arrived.
    Unsubscribed,
}

impl fmt::Display for Fate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// The kind of a published envelope, as decoded by the simulator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MessageKind {
    /// An MLS application message (a chat message).
    Mls,
    /// A sealed consensus message (a proposal or a vote).
    Consensus,
    /// A sealed control frame (a status beacon or a repair request).
    Control,
    /// A sealed commit.
    Commit,
    /// A would-be member's KeyPackage.
    KeyPackage,
    /// A Welcome.
    Welcome,
    /// A ratchet tree sent with a Welcome.
    RatchetTree,
    /// A sealed certificate part for a member catching up.
    Certificate,
    /// A request to catch up from a member stuck in an old epoch.
    CatchUp,
    /// Several envelopes in one message (a catch-up answer).
    Bundle,
    /// A member's request to be re-added without a vote.
    Rejoin,
    /// A member's branch history after meeting another branch of a fork.
    ForkNotice,
    /// A member's signed statement that a catch-up request is beyond its retained history.
    Beyond,
    /// Bytes that do not decode as a de-MLS envelope.
    Undecodable,
}

impl MessageKind {
    /// Every kind, in order.
    pub const ALL: [MessageKind; 14] = [
        MessageKind::Mls,
        MessageKind::Consensus,
        MessageKind::Control,
        MessageKind::Commit,
        MessageKind::KeyPackage,
        MessageKind::Welcome,
        MessageKind::RatchetTree,
        MessageKind::Certificate,
        MessageKind::CatchUp,
        MessageKind::Bundle,
        MessageKind::Rejoin,
        MessageKind::ForkNotice,
        MessageKind::Beyond,
        MessageKind::Undecodable,
    ];

    /// Decodes the envelope of `payload` to find its kind.
    pub fn of(payload: &[u8]) -> MessageKind {
        match Envelope::decode_checked(payload) {
            Ok((_, Kind::Mls)) => MessageKind::Mls,
            Ok((_, Kind::Consensus)) => MessageKind::Consensus,
            Ok((_, Kind::Control)) => MessageKind::Control,
            Ok((_, Kind::Commit)) => MessageKind::Commit,
            Ok((_, Kind::KeyPackage)) => MessageKind::KeyPackage,
            Ok((_, Kind::Welcome)) => MessageKind::Welcome,
            Ok((_, Kind::RatchetTree)) => MessageKind::RatchetTree,
            Ok((_, Kind::Certificate)) => MessageKind::Certificate,
            Ok((_, Kind::CatchUp)) => MessageKind::CatchUp,
            Ok((_, Kind::Bundle)) => MessageKind::Bundle,
            Ok((_, Kind::Rejoin)) => MessageKind::Rejoin,
            Ok((_, Kind::ForkNotice)) => MessageKind::ForkNotice,
            Ok((_, Kind::Beyond)) => MessageKind::Beyond,
            Ok((_, Kind::Unspecified)) | Err(_) => MessageKind::Undecodable,
        }
    }
}

impl fmt::Display for MessageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Counts of message copies by fate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Publications (each fans out into zero or more copies).
    pub publications: u64,
    /// Copies: one per publication and other node subscribed to its topic when it was sent.
    pub copies: u64,
    /// Copies handed to the receiving engine.
    pub delivered: u64,
    /// Copies lost to the link's loss probability.
    pub lost: u64,
    /// Copies blocked by a partition.
    pub partitioned: u64,
    /// Copies of a muted sender.
    pub muted: u64,
    /// Copies dropped at a crashed or deafened receiver.
    pub down: u64,
    /// Copies that arrived after the receiver unsubscribed from the topic.
    pub unsubscribed: u64,
    /// Bytes published (each publication's payload once).
    pub bytes_published: u64,
    /// Bytes handed to receiving engines (each delivered copy's payload).
    pub bytes_delivered: u64,
}

impl Counters {
    /// Copies whose fate is not decided yet (scheduled and not arrived).
    pub fn in_flight(&self) -> u64 {
        self.copies - self.dropped() - self.delivered
    }

    /// Copies dropped for any reason.
    pub fn dropped(&self) -> u64 {
        self.lost + self.partitioned + self.muted + self.down + self.unsubscribed
    }

    /// What was counted after `earlier` (a snapshot of the same counters): for measuring one
    /// phase of an experiment.
    pub fn since(&self, earlier: &Counters) -> Counters {
        Counters {
            publications: self.publications.saturating_sub(earlier.publications),
            copies: self.copies.saturating_sub(earlier.copies),
            delivered: self.delivered.saturating_sub(earlier.delivered),
            lost: self.lost.saturating_sub(earlier.lost),
            partitioned: self.partitioned.saturating_sub(earlier.partitioned),
            muted: self.muted.saturating_sub(earlier.muted),
            down: self.down.saturating_sub(earlier.down),
            unsubscribed: self.unsubscribed.saturating_sub(earlier.unsubscribed),
            bytes_published: self.bytes_published.saturating_sub(earlier.bytes_published),
            bytes_delivered: self.bytes_delivered.saturating_sub(earlier.bytes_delivered),
        }
    }

    /// The counter of one fate.
    pub fn of(&self, fate: Fate) -> u64 {
        match fate {
            Fate::Delivered => self.delivered,
            Fate::Lost => self.lost,
            Fate::Partitioned => self.partitioned,
            Fate::Muted => self.muted,
            Fate::Down => self.down,
            Fate::Unsubscribed => self.unsubscribed,
        }
    }

    fn count(&mut self, fate: Fate) {
        let c = match fate {
            Fate::Delivered => &mut self.delivered,
            Fate::Lost => &mut self.lost,
            Fate::Partitioned => &mut self.partitioned,
            Fate::Muted => &mut self.muted,
            Fate::Down => &mut self.down,
            Fate::Unsubscribed => &mut self.unsubscribed,
        };
        *c += 1;
    }
}

/// One node's own traffic.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeTraffic {
    /// Envelopes it published.
    pub publications: u64,
    /// Bytes it published.
    pub bytes_published: u64,
    /// Copies delivered to it.
    pub delivered: u64,
    /// Bytes delivered to it.
    pub bytes_delivered: u64,
}

/// Everything the simulator counted so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// All traffic.
    pub total: Counters,
    /// Traffic by envelope kind (kinds never published are absent).
    pub by_kind: BTreeMap<MessageKind, Counters>,
    /// Traffic by directed link `(from, to)`; only with
    /// [`SimConfig::link_stats`](crate::SimConfig::link_stats). `publications` stays zero here.
    pub links: BTreeMap<(NodeId, NodeId), Counters>,
    /// Traffic by node, indexed by node number: what each node published and what was
    /// delivered to it (kept for every node; light members' pool is not counted).
    pub nodes: Vec<NodeTraffic>,
    /// Engine timer ticks run.
    pub ticks: u64,
    /// Items processed by the run loop (deliveries, drops on arrival, ticks, faults).
    pub items: u64,
}

impl Stats {
    /// The counters of one kind (zero if never published).
    pub fn kind(&self, kind: MessageKind) -> Counters {
        self.by_kind.get(&kind).copied().unwrap_or_default()
    }

    /// The counters of one directed link (zero if never used or not tracked).
    pub fn link(&self, from: NodeId, to: NodeId) -> Counters {
        self.links.get(&(from, to)).copied().unwrap_or_default()
    }

    /// Copies delivered from any node of `from` to any node of `to`; needs
    /// [`SimConfig::link_stats`](crate::SimConfig::link_stats).
    pub fn delivered_between(&self, from: &[NodeId], to: &[NodeId]) -> u64 {
        from.iter()
            .flat_map(|&a| to.iter().map(move |&b| (a, b)))
            .map(|(a, b)| self.link(a, b).delivered)
            .sum()
    }

    /// The traffic of `node` (zero if it never sent or received).
    pub fn node(&self, node: NodeId) -> NodeTraffic {
        self.nodes.get(node.0).copied().unwrap_or_default()
    }

    fn node_mut(&mut self, node: NodeId) -> Option<&mut NodeTraffic> {
        if node == crate::light::LIGHT_POOL {
            return None;
        }
        if self.nodes.len() <= node.0 {
            self.nodes.resize(node.0 + 1, NodeTraffic::default());
        }
        self.nodes.get_mut(node.0)
    }

    pub(crate) fn node_published(&mut self, node: NodeId, bytes: usize) {
        if let Some(t) = self.node_mut(node) {
            t.publications += 1;
            t.bytes_published += bytes as u64;
        }
    }

    pub(crate) fn node_received(&mut self, node: NodeId, bytes: usize) {
        if let Some(t) = self.node_mut(node) {
            t.delivered += 1;
            t.bytes_delivered += bytes as u64;
        }
    }

    pub(crate) fn publication(&mut self, kind: MessageKind, bytes: usize) {
        for c in [&mut self.total, self.by_kind.entry(kind).or_default()] {
            c.publications += 1;
            c.bytes_published += bytes as u64;
        }
    }

    pub(crate) fn delivered_bytes(
        &mut self,
        kind: MessageKind,
        link: Option<(NodeId, NodeId)>,
        bytes: usize,
    ) {
        self.total.bytes_delivered += bytes as u64;
        self.by_kind.entry(kind).or_default().bytes_delivered += bytes as u64;
        if let Some(link) = link {
            self.links.entry(link).or_default().bytes_delivered += bytes as u64;
        }
    }

    pub(crate) fn copy(&mut self, kind: MessageKind, link: Option<(NodeId, NodeId)>) {
        self.total.copies += 1;
        self.by_kind.entry(kind).or_default().copies += 1;
        if let Some(link) = link {
            self.links.entry(link).or_default().copies += 1;
        }
    }

    pub(crate) fn fate(&mut self, kind: MessageKind, link: Option<(NodeId, NodeId)>, fate: Fate) {
        self.total.count(fate);
        self.by_kind.entry(kind).or_default().count(fate);
        if let Some(link) = link {
            self.links.entry(link).or_default().count(fate);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_copy_is_in_flight_until_it_meets_one_fate() {
        let mut stats = Stats::default();
        let link = Some((NodeId(0), NodeId(1)));
        stats.publication(MessageKind::Mls, 100);
        stats.copy(MessageKind::Mls, link);
        stats.copy(MessageKind::Mls, link);
        assert_eq!(stats.total.in_flight(), 2);
        let snapshot = stats.total;
        stats.fate(MessageKind::Mls, link, Fate::Delivered);
        stats.delivered_bytes(MessageKind::Mls, link, 100);
        stats.fate(MessageKind::Mls, link, Fate::Lost);
        assert_eq!(stats.total.in_flight(), 0);
        let phase = stats.total.since(&snapshot);
        assert_eq!((phase.copies, phase.delivered, phase.lost), (0, 1, 1));
        assert_eq!(
            (stats.total.bytes_published, phase.bytes_delivered),
            (100, 100)
        );
        assert_eq!(stats.kind(MessageKind::Mls).of(Fate::Lost), 1);
        assert_eq!(stats.kind(MessageKind::Commit), Counters::default());
        assert_eq!(stats.delivered_between(&[NodeId(0)], &[NodeId(1)]), 1);
        assert_eq!(stats.delivered_between(&[NodeId(1)], &[NodeId(0)]), 0);
    }

    #[test]
    fn garbage_is_counted_as_undecodable() {
        assert_eq!(
            MessageKind::of(b"\xff\xff garbage"),
            MessageKind::Undecodable
        );
        assert_eq!(MessageKind::of(b""), MessageKind::Undecodable);
    }
}
