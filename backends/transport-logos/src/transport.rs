//! [`LogosTransport`]: the [`Transport`] handle. It checks and segments what is published,
//! and forwards everything to the relay node's task over bounded channels.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use demls::{Inbound, Topic, Transport, TransportError};
use libp2p::{Multiaddr, PeerId, noise, tcp, yamux};
use tokio::sync::{Mutex, mpsc, oneshot, watch};

use crate::config::Config;
use crate::error::LogosError;
use crate::swarm::{Command, MessageHash, Node, Status};
use crate::topics::{content_topic, pubsub_topic};
use crate::{behaviour, keys, segmentation};

/// Commands queued for the node's task before `publish`/`subscribe` wait.
const COMMAND_QUEUE: usize = 256;

/// A Waku relay peer used as a de-MLS transport (`backend = "logos"`).
pub struct LogosTransport {
    commands: mpsc::Sender<Command>,
    inbound: Mutex<mpsc::Receiver<Inbound>>,
    closed: watch::Sender<bool>,
    peer_id: PeerId,
    pubsub_topic: String,
    max_payload: usize,
    segment_size: usize,
}

impl LogosTransport {
    /// Starts a relay node with `config` (validated first) on the current tokio runtime.
    /// A relative `node_key_file` is resolved against `base_dir`.
    pub fn start(config: &Config, base_dir: &Path) -> Result<Arc<LogosTransport>, LogosError> {
        config
            .validate()
            .map_err(|e| LogosError::InvalidConfig(e.to_string()))?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| LogosError::NoRuntime)?;
        let keypair = match &config.node_key_file {
            Some(path) => keys::load_or_generate(&base_dir.join(path))?,
            None => libp2p::identity::Keypair::generate_ed25519(),
        };
        let peer_id = keypair.public().to_peer_id();
        let listen = config
            .listen_addr()
            .map_err(|e| LogosError::InvalidConfig(e.to_string()))?;
        let static_peers = config
            .static_peers()
            .map_err(|e| LogosError::InvalidConfig(e.to_string()))?;
        let mut swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
            .with_tokio()
            .with_tcp(
                tcp::Config::default().nodelay(true),
                noise::Config::new,
                yamux::Config::default,
            )
            .map_err(|e| LogosError::Swarm(e.to_string()))?
            .with_behaviour(|key| behaviour::build(key, config).map_err(Box::from))
            .map_err(|e| LogosError::Swarm(e.to_string()))?
            .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
            .build();
        swarm
            .listen_on(listen.clone())
            .map_err(|e| LogosError::Listen {
                addr: listen.to_string(),
                message: e.to_string(),
            })?;
        let (commands, command_rx) = mpsc::channel(COMMAND_QUEUE);
        let (inbound_tx, inbound_rx) = mpsc::channel(config.queue_capacity);
        let pubsub = pubsub_topic(config.cluster_id, config.shard);
        runtime.spawn(crate::swarm::run(Node {
            swarm,
            pubsub: pubsub.clone(),
            cluster_id: config.cluster_id,
            shard: config.shard,
            max_message_size: config.max_message_size,
            inbound: inbound_tx,
            commands: command_rx,
            static_peers,
            reassembly: config.reassembly_limits(),
        }));
        tracing::info!(%peer_id, %pubsub, "logos relay node started");
        Ok(Arc::new(LogosTransport {
            commands,
            inbound: Mutex::new(inbound_rx),
            closed: watch::Sender::new(false),
            peer_id,
            pubsub_topic: pubsub,
            max_payload: config.max_payload,
            segment_size: config.segment_size(),
        }))
    }

    /// The node's libp2p peer id.
    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    /// The pubsub topic relayed, `/waku/2/rs/<cluster>/<shard>`.
    pub fn pubsub_topic(&self) -> &str {
        &self.pubsub_topic
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, LogosError> {
        if *self.closed.borrow() {
            return Err(LogosError::Stopped);
        }
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(make(reply))
            .await
            .map_err(|_| LogosError::Stopped)?;
        answer.await.map_err(|_| LogosError::Stopped)
    }

    /// A snapshot of the node's network state.
    pub async fn status(&self) -> Result<Status, LogosError> {
        self.ask(|reply| Command::Status { reply }).await
    }

    /// The addresses the node listens on, each ending in `/p2p/<peer id>`; waits up to
    /// `timeout` for the listener to be up.
    pub async fn listen_addrs(&self, timeout: Duration) -> Result<Vec<Multiaddr>, LogosError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let status = self.status().await?;
            if !status.listen_addrs.is_empty() {
                let p2p = libp2p::multiaddr::Protocol::P2p(self.peer_id);
                return Ok(status
                    .listen_addrs
                    .into_iter()
                    .map(|a| a.with(p2p.clone()))
                    .collect());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(LogosError::Listen {
                    addr: "(configured)".into(),
                    message: "no listen address within the timeout".into(),
                });
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until at least `n` connected peers relay our pubsub topic (and, when `mesh`, are
    /// in our gossipsub mesh). Returns whether that happened within `timeout`.
    pub async fn wait_for_relay_peers(&self, n: usize, mesh: bool, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        while tokio::time::Instant::now() < deadline {
            match self.status().await {
                Ok(s) if s.relay_peers >= n && (!mesh || s.mesh_peers >= n.min(6)) => return true,
                Ok(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                Err(_) => return false,
            }
        }
        false
    }

    /// [`Transport::publish`] that also returns the deterministic hashes of the Waku messages
    /// sent (one per segment, in order).
    pub async fn publish_with_hashes(
        &self,
        topic: &Topic,
        payload: Vec<u8>,
    ) -> Result<Vec<MessageHash>, TransportError> {
        let content_topic = content_topic(topic)?.to_owned();
        if payload.len() > self.max_payload {
            return Err(TransportError::PayloadTooLarge {
                size: payload.len(),
                limit: self.max_payload,
            });
        }
        let segments = segmentation::split(&payload, self.segment_size);
        drop(payload);
        Ok(self
            .ask(|reply| Command::Publish {
                content_topic,
                segments,
                reply,
            })
            .await??)
    }
}

#[async_trait]
impl Transport for LogosTransport {
    fn name(&self) -> &str {
        crate::NAME
    }

    fn max_payload(&self) -> usize {
        self.max_payload
    }

    async fn publish(&self, topic: &Topic, payload: Vec<u8>) -> Result<(), TransportError> {
        self.publish_with_hashes(topic, payload).await.map(|_| ())
    }

    async fn subscribe(&self, topic: &Topic) -> Result<(), TransportError> {
        let content_topic = content_topic(topic)?.to_owned();
        Ok(self
            .ask(|reply| Command::Subscribe {
                content_topic,
                reply,
            })
            .await?)
    }

    async fn unsubscribe(&self, topic: &Topic) -> Result<(), TransportError> {
        let content_topic = content_topic(topic)?.to_owned();
        Ok(self
            .ask(|reply| Command::Unsubscribe {
                content_topic,
                reply,
            })
            .await?)
    }

    async fn recv(&self) -> Result<Inbound, TransportError> {
        let mut closed = self.closed.subscribe();
        if *closed.borrow() {
            return Err(TransportError::Closed);
        }
        tokio::select! {
            biased;
            _ = closed.wait_for(|c| *c) => Err(TransportError::Closed),
            m = async { self.inbound.lock().await.recv().await } => m.ok_or(TransportError::Closed),
        }
    }

    async fn close(&self) {
        if self.closed.send_replace(true) {
            return;
        }
        let (reply, done) = oneshot::channel();
        if self
            .commands
            .send(Command::Shutdown { reply })
            .await
            .is_ok()
        {
            let _ = done.await;
        }
    }
}
