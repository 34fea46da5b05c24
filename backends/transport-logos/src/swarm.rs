//! The relay node's own tokio task: it owns the libp2p swarm and talks to the
//! [`LogosTransport`](crate::LogosTransport) handles over bounded channels.
//!
//! Inbound: every gossipsub message is decoded as a WakuMessage and validated (undecodable or
//! oversized ones are rejected, so they are not forwarded); messages on subscribed content
//! topics go through reassembly and are queued for `recv` (dropped, with a warning, when the
//! queue is full). Peers: metadata is requested on every new connection; a peer of another
//! cluster is disconnected and recorded in the [`Gate`](crate::gate::Gate)'s backoff table,
//! which refuses its connections for a while; static peers are redialled with exponential
//! backoff (not while under cluster backoff).
//!
//! Static peers are dialled from a fresh source port, not from the listening one (libp2p's
//! default). Two nodes that list each other dial each other at about the same time; from their
//! listening ports, the two dials share one address pair, and if their SYNs cross the kernel
//! makes them a single TCP connection (a simultaneous open) on which both ends start the Noise
//! handshake as initiator, so it fails on both. From fresh ports they are two ordinary
//! connections, each with one initiator, and both work. Redial delays are also jittered
//! ([`redial`](crate::redial)) so that two nodes retrying each other do not stay in step.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use demls::{Inbound, Topic};
use futures::StreamExt;
use libp2p::request_response::{self, Message};
use libp2p::swarm::SwarmEvent;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::{Multiaddr, PeerId, Swarm, gossipsub};
use tokio::sync::{mpsc, oneshot};

use crate::behaviour::{Behaviour, BehaviourEvent};
use crate::config::StaticPeer;
use crate::error::LogosError;
use crate::hash::{MESSAGE_HASH_LEN, message_hash};
use crate::metadata::Metadata;
use crate::redial::{self, REDIAL_INITIAL, REDIAL_MAX};
use crate::segmentation::{self, Reassembler, ReassemblyLimits};
use crate::wire::WakuMessage;

/// How often redials and reassembly timeouts are checked.
const TICK: Duration = Duration::from_millis(250);

/// The deterministic hash of one published Waku message.
pub type MessageHash = [u8; MESSAGE_HASH_LEN];

/// What the transport handles ask of the task.
pub(crate) enum Command {
    Publish {
        content_topic: String,
        segments: Vec<Vec<u8>>,
        reply: oneshot::Sender<Result<Vec<MessageHash>, LogosError>>,
    },
    Subscribe {
        content_topic: String,
        reply: oneshot::Sender<()>,
    },
    Unsubscribe {
        content_topic: String,
        reply: oneshot::Sender<()>,
    },
    Status {
        reply: oneshot::Sender<Status>,
    },
    Shutdown {
        reply: oneshot::Sender<()>,
    },
}

/// A snapshot of the node's network state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Status {
    /// Addresses the node listens on.
    pub listen_addrs: Vec<Multiaddr>,
    /// Connected peers.
    pub connected: Vec<PeerId>,
    /// Connected peers subscribed to the node's pubsub topic.
    pub relay_peers: usize,
    /// Peers in the gossipsub mesh of the pubsub topic.
    pub mesh_peers: usize,
    /// Inbound messages dropped because the `recv` queue was full.
    pub dropped: u64,
    /// Times a peer was disconnected because its metadata named another cluster (or none).
    /// Each starts (or doubles) the peer's backoff; further messages of a peer already under
    /// backoff are not counted again.
    pub rejected_peers: u64,
    /// Connections refused because the peer was under cluster backoff (inbound ones right
    /// after the handshake, before any protocol runs; dials of ours before they start).
    pub refused_connections: u64,
    /// Peers under cluster backoff now.
    pub backed_off_peers: usize,
    /// Connected peers whose metadata named our cluster.
    pub confirmed_peers: Vec<PeerId>,
    /// Incomplete segmented payloads being reassembled.
    pub partial_messages: usize,
    /// Bytes buffered for reassembly.
    pub reassembly_bytes: usize,
}

struct Redial {
    addr: Multiaddr,
    backoff: Duration,
    next: Instant,
    dialing: bool,
    connected: bool,
}

/// Everything the task owns.
pub(crate) struct Node {
    pub swarm: Swarm<Behaviour>,
    pub pubsub: String,
    pub cluster_id: u16,
    pub shard: u16,
    pub max_message_size: usize,
    pub inbound: mpsc::Sender<Inbound>,
    pub commands: mpsc::Receiver<Command>,
    pub static_peers: Vec<StaticPeer>,
    pub reassembly: ReassemblyLimits,
}

struct Task {
    swarm: Swarm<Behaviour>,
    topic: gossipsub::IdentTopic,
    pubsub: String,
    metadata: Metadata,
    max_message_size: usize,
    inbound: mpsc::Sender<Inbound>,
    subscriptions: HashSet<String>,
    reassembler: Reassembler<String, MessageHash>,
    redial: HashMap<PeerId, Redial>,
    listen_addrs: Vec<Multiaddr>,
    confirmed: HashSet<PeerId>,
    last_timestamp: i64,
    dropped: u64,
}

/// Runs the node until shut down or until every handle is gone.
pub(crate) async fn run(node: Node) {
    let Node {
        mut swarm,
        pubsub,
        cluster_id,
        shard,
        max_message_size,
        inbound,
        mut commands,
        static_peers,
        reassembly,
    } = node;
    let topic = gossipsub::IdentTopic::new(pubsub.clone());
    if let Err(e) = swarm.behaviour_mut().relay.subscribe(&topic) {
        tracing::error!(error = %e, %pubsub, "cannot subscribe to the pubsub topic");
        return;
    }
    let now = Instant::now();
    let redial = static_peers
        .into_iter()
        .map(|p| {
            let r = Redial {
                addr: p.addr,
                backoff: REDIAL_INITIAL,
                next: now,
                dialing: false,
                connected: false,
            };
            (p.peer_id, r)
        })
        .collect();
    let mut task = Task {
        swarm,
        topic,
        pubsub,
        metadata: Metadata {
            cluster_id: Some(u32::from(cluster_id)),
            shards: vec![u32::from(shard)],
        },
        max_message_size,
        inbound,
        subscriptions: HashSet::new(),
        reassembler: Reassembler::new(reassembly),
        redial,
        listen_addrs: Vec::new(),
        confirmed: HashSet::new(),
        last_timestamp: 0,
        dropped: 0,
    };
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            command = commands.recv() => match command {
                None => break,
                Some(Command::Shutdown { reply }) => {
                    let _ = reply.send(());
                    break;
                }
                Some(command) => task.on_command(command),
            },
            event = task.swarm.select_next_some() => task.on_swarm_event(event),
            _ = tick.tick() => {
                task.redial_static_peers();
                task.reassembler.expire(Instant::now());
            }
        }
    }
    tracing::debug!(peer_id = %task.swarm.local_peer_id(), "relay node stopped");
}

impl Task {
    fn on_command(&mut self, command: Command) {
        match command {
            Command::Publish {
                content_topic,
                segments,
                reply,
            } => {
                let _ = reply.send(self.publish(content_topic, segments));
            }
            Command::Subscribe {
                content_topic,
                reply,
            } => {
                self.subscriptions.insert(content_topic);
                let _ = reply.send(());
            }
            Command::Unsubscribe {
                content_topic,
                reply,
            } => {
                self.subscriptions.remove(&content_topic);
                let _ = reply.send(());
            }
            Command::Status { reply } => {
                let _ = reply.send(self.status());
            }
            Command::Shutdown { reply } => {
                let _ = reply.send(());
            }
        }
    }

    fn status(&self) -> Status {
        let hash = self.topic.hash();
        let relay = &self.swarm.behaviour().relay;
        let backoff = self.swarm.behaviour().gate.backoff();
        Status {
            listen_addrs: self.listen_addrs.clone(),
            connected: self.swarm.connected_peers().copied().collect(),
            relay_peers: relay
                .all_peers()
                .filter(|(_, topics)| topics.contains(&&hash))
                .count(),
            mesh_peers: relay.mesh_peers(&hash).count(),
            dropped: self.dropped,
            rejected_peers: backoff.rejections(),
            refused_connections: backoff.refused(),
            backed_off_peers: backoff.blocked(Instant::now()),
            confirmed_peers: self.confirmed.iter().copied().collect(),
            partial_messages: self.reassembler.partial_count(),
            reassembly_bytes: self.reassembler.buffered_bytes(),
        }
    }

    /// A strictly increasing Unix-nanosecond timestamp, so identical payloads republished are
    /// not dropped as duplicates.
    fn next_timestamp(&mut self) -> i64 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
        self.last_timestamp = now.max(self.last_timestamp.saturating_add(1));
        self.last_timestamp
    }

    fn publish(
        &mut self,
        content_topic: String,
        segments: Vec<Vec<u8>>,
    ) -> Result<Vec<MessageHash>, LogosError> {
        let mut encoded = Vec::with_capacity(segments.len());
        for payload in segments {
            let message = WakuMessage {
                payload,
                content_topic: content_topic.clone(),
                timestamp: Some(self.next_timestamp()),
                ..WakuMessage::default()
            };
            let data = message.encode();
            if data.len() > self.max_message_size {
                return Err(LogosError::Publish(format!(
                    "a segment encodes to {} bytes, over the {}-byte limit",
                    data.len(),
                    self.max_message_size
                )));
            }
            encoded.push((message_hash(&self.pubsub, &message), data));
        }
        let mut hashes = Vec::with_capacity(encoded.len());
        for (hash, data) in encoded {
            self.swarm
                .behaviour_mut()
                .relay
                .publish(self.topic.clone(), data)
                .map_err(|e| LogosError::Publish(e.to_string()))?;
            hashes.push(hash);
        }
        Ok(hashes)
    }

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::Behaviour(BehaviourEvent::Relay(gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            })) => self.on_relay_message(propagation_source, message_id, message),
            SwarmEvent::Behaviour(BehaviourEvent::Metadata(event)) => self.on_metadata(event),
            SwarmEvent::Behaviour(BehaviourEvent::Identify(event)) => {
                tracing::trace!(?event, "identify");
            }
            SwarmEvent::Behaviour(_) => {}
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(%address, peer_id = %self.swarm.local_peer_id(), "listening");
                self.listen_addrs.push(address);
            }
            SwarmEvent::ExpiredListenAddr { address, .. } => {
                self.listen_addrs.retain(|a| *a != address);
            }
            SwarmEvent::ConnectionEstablished {
                peer_id,
                num_established,
                ..
            } => {
                tracing::debug!(%peer_id, "connected");
                if let Some(r) = self.redial.get_mut(&peer_id) {
                    r.connected = true;
                    r.dialing = false;
                    r.backoff = REDIAL_INITIAL;
                }
                if num_established.get() == 1 {
                    self.swarm
                        .behaviour_mut()
                        .metadata
                        .send_request(&peer_id, self.metadata.clone());
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                cause,
                ..
            } => {
                tracing::debug!(%peer_id, ?cause, "disconnected");
                self.confirmed.remove(&peer_id);
                if let Some(r) = self.redial.get_mut(&peer_id) {
                    r.connected = false;
                    r.next = Instant::now() + redial::delay(r.backoff);
                }
            }
            SwarmEvent::OutgoingConnectionError {
                peer_id: Some(peer_id),
                error,
                ..
            } => {
                if let Some(r) = self.redial.get_mut(&peer_id) {
                    let retry_in = redial::delay(r.backoff);
                    tracing::debug!(%peer_id, %error, ?retry_in, "dialing a static peer failed");
                    r.dialing = false;
                    r.next = Instant::now() + retry_in;
                    r.backoff = redial::next_backoff(r.backoff);
                }
            }
            _ => {}
        }
    }

    fn redial_static_peers(&mut self) {
        let now = Instant::now();
        let backoff = self.swarm.behaviour().gate.backoff();
        let due: Vec<(PeerId, Multiaddr)> = self
            .redial
            .iter()
            .filter(|(id, r)| {
                !r.connected
                    && !r.dialing
                    && r.next <= now
                    && !self.swarm.is_connected(id)
                    && backoff.blocked_until(id, now).is_none()
            })
            .map(|(id, r)| (*id, r.addr.clone()))
            .collect();
        for (peer_id, addr) in due {
            // A fresh source port: see the module doc.
            let opts = DialOpts::peer_id(peer_id)
                .addresses(vec![addr])
                .condition(PeerCondition::DisconnectedAndNotDialing)
                .allocate_new_port()
                .build();
            if let Some(r) = self.redial.get_mut(&peer_id) {
                match self.swarm.dial(opts) {
                    Ok(()) => r.dialing = true,
                    Err(e) => {
                        tracing::debug!(%peer_id, error = %e, "cannot dial a static peer");
                        r.next = now + redial::delay(r.backoff);
                        r.backoff = redial::next_backoff(r.backoff);
                    }
                }
            }
        }
    }

    fn on_metadata(&mut self, event: request_response::Event<Metadata, Metadata>) {
        match event {
            request_response::Event::Message {
                peer,
                message:
                    Message::Request {
                        request, channel, ..
                    },
                ..
            } => {
                let ours = self.metadata.clone();
                if self
                    .swarm
                    .behaviour_mut()
                    .metadata
                    .send_response(channel, ours)
                    .is_err()
                {
                    tracing::debug!(%peer, "metadata response not sent: stream gone");
                }
                self.check_cluster(peer, &request);
            }
            request_response::Event::Message {
                peer,
                message: Message::Response { response, .. },
                ..
            } => self.check_cluster(peer, &response),
            request_response::Event::OutboundFailure { peer, error, .. } => {
                tracing::warn!(%peer, %error, "metadata request failed");
            }
            request_response::Event::InboundFailure { peer, error, .. } => {
                tracing::debug!(%peer, %error, "metadata request from peer failed");
            }
            request_response::Event::ResponseSent { .. } => {}
        }
    }

    /// Disconnects a peer that reports another cluster (or none) and puts it under backoff.
    fn check_cluster(&mut self, peer: PeerId, theirs: &Metadata) {
        let gate = &mut self.swarm.behaviour_mut().gate;
        if theirs.cluster_id == self.metadata.cluster_id {
            tracing::debug!(%peer, shards = ?theirs.shards, "peer metadata");
            gate.backoff_mut().forgive(&peer);
            if self.swarm.is_connected(&peer) {
                self.confirmed.insert(peer);
            }
            return;
        }
        if let Some(backoff) = gate.backoff_mut().reject(peer, Instant::now()) {
            tracing::warn!(
                %peer,
                theirs = ?theirs.cluster_id,
                ours = ?self.metadata.cluster_id,
                ?backoff,
                "disconnecting a peer of another cluster; refusing it for the backoff"
            );
        }
        self.confirmed.remove(&peer);
        if let Some(r) = self.redial.get_mut(&peer) {
            r.backoff = REDIAL_MAX;
        }
        let _ = self.swarm.disconnect_peer_id(peer);
    }

    fn on_relay_message(
        &mut self,
        source: PeerId,
        message_id: gossipsub::MessageId,
        message: gossipsub::Message,
    ) {
        let decoded = if message.data.len() > self.max_message_size {
            Err(crate::error::WireError::TooLarge {
                size: message.data.len(),
                limit: self.max_message_size,
            })
        } else {
            WakuMessage::decode(&message.data)
        };
        let acceptance = match &decoded {
            Ok(_) => gossipsub::MessageAcceptance::Accept,
            Err(e) => {
                tracing::warn!(%source, error = %e, "rejecting an invalid Waku message");
                gossipsub::MessageAcceptance::Reject
            }
        };
        self.swarm
            .behaviour_mut()
            .relay
            .report_message_validation_result(&message_id, &source, acceptance);
        let Ok(waku) = decoded else { return };
        if message.topic != self.topic.hash() || !self.subscriptions.contains(&waku.content_topic) {
            return;
        }
        let hash = message_hash(&self.pubsub, &waku);
        let segment = match segmentation::parse(&waku.payload) {
            Ok(segment) => segment,
            Err(e) => {
                tracing::warn!(%source, topic = %waku.content_topic, error = %e, "dropping a message that is not a valid segment");
                return;
            }
        };
        let topic = waku.content_topic;
        match self
            .reassembler
            .add(topic.clone(), segment, hash, Instant::now())
        {
            Ok(Some(done)) => self.deliver(Inbound {
                topic: Topic::new(topic),
                payload: done.payload,
                message_id: done.tag.to_vec(),
            }),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(%source, %topic, error = %e, "dropping a segmented message");
            }
        }
    }

    fn deliver(&mut self, inbound: Inbound) {
        match self.inbound.try_send(inbound) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(m)) => {
                self.dropped += 1;
                tracing::warn!(topic = %m.topic, dropped = self.dropped, "inbound queue full: message dropped");
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }
}
