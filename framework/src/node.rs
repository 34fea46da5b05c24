//! The async [`Node`]: one tokio task that owns the [`Engine`], the transport, the storage and
//! the timers, and a cheap cloneable handle to talk to it.
//!
//! Everything at the handle's edge is plain bytes, integers and [`GroupEvent`]s, so the C API wraps
//! it one function per method. Events can be pulled ([`Node::next_event`],
//! [`Node::try_next_event`]) or pushed to a callback ([`Node::set_event_callback`]).
//! The event queue is bounded: a node whose events are never consumed (and that has no
//! callback) stops processing the network until they are.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::clock::{Clock, SystemClock};
use crate::config::{ConfigError, NodeConfig};
use crate::consensus::ConsensusFactory;
use crate::engine::Submission;
use crate::engine::{Engine, EngineError, EngineParams, GroupEvent, GroupSummary, Output};
use crate::invitation::Invitation;
use crate::registry::{self, BuildContext};
use crate::steward::StewardPolicyFactory;
use crate::storage::Storage;
use crate::transport::{Transport, TransportError};
use crate::types::{GroupId, MemberId, ProposalId};

/// Why a node operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The engine refused the command.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The transport failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// A group id was empty or longer than 255 bytes.
    #[error("invalid group id")]
    InvalidGroupId,
    /// A member id was not 20 bytes.
    #[error("invalid member id")]
    InvalidMemberId,
    /// A proposal id was not 32 bytes.
    #[error("invalid proposal id")]
    InvalidProposalId,
    /// The node has been shut down.
    #[error("node stopped")]
    Stopped,
}

/// A callback receiving every event (instead of the pull queue).
pub type EventCallback = Box<dyn Fn(GroupEvent) + Send + Sync>;

type Reply<T> = oneshot::Sender<Result<T, NodeError>>;

enum Command {
    CreateGroup(GroupId, Reply<()>),
    Join(GroupId, Reply<()>),
    JoinInvited(Invitation, Reply<()>),
    Invitation(GroupId, Reply<Invitation>),
    Send(GroupId, Vec<u8>, Reply<Vec<u8>>),
    ProposeAdd(GroupId, Vec<u8>, Reply<Submission>),
    ProposeRemove(GroupId, MemberId, Reply<Submission>),
    Leave(GroupId, Reply<Submission>),
    Vote(GroupId, ProposalId, bool, Reply<()>),
    Summary(GroupId, oneshot::Sender<Option<GroupSummary>>),
    Groups(oneshot::Sender<Vec<GroupId>>),
    Shutdown(oneshot::Sender<()>),
}

struct Shared {
    commands: mpsc::Sender<Command>,
    events: tokio::sync::Mutex<mpsc::Receiver<GroupEvent>>,
    callback: Arc<Mutex<Option<EventCallback>>>,
    member_id: MemberId,
    name: String,
}

/// A running de-MLS node. Cloning the handle is cheap; the node stops on
/// [`shutdown`](Node::shutdown) or when the last handle is dropped.
#[derive(Clone)]
pub struct Node {
    shared: Arc<Shared>,
}

/// Assembles a node from explicit backends (or from a [`NodeConfig`] via the registry).
pub struct NodeBuilder {
    name: String,
    transport: Option<Arc<dyn Transport>>,
    storage: Option<Arc<dyn Storage>>,
    consensus: Option<Arc<dyn ConsensusFactory>>,
    steward: Option<Arc<dyn StewardPolicyFactory>>,
    params: EngineParams,
    seed: Option<[u8; 32]>,
    clock: Arc<dyn Clock>,
    event_queue: usize,
}

impl NodeBuilder {
    /// A label for traces.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }
    /// The transport.
    pub fn transport(mut self, transport: Arc<dyn Transport>) -> Self {
        self.transport = Some(transport);
        self
    }
    /// The storage.
    pub fn storage(mut self, storage: Arc<dyn Storage>) -> Self {
        self.storage = Some(storage);
        self
    }
    /// The consensus factory.
    pub fn consensus(mut self, consensus: Arc<dyn ConsensusFactory>) -> Self {
        self.consensus = Some(consensus);
        self
    }
    /// The steward-policy factory.
    pub fn steward(mut self, steward: Arc<dyn StewardPolicyFactory>) -> Self {
        self.steward = Some(steward);
        self
    }
    /// Engine parameters.
    pub fn params(mut self, params: EngineParams) -> Self {
        self.params = params;
        self
    }
    /// A fixed identity seed.
    pub fn seed(mut self, seed: [u8; 32]) -> Self {
        self.seed = Some(seed);
        self
    }
    /// The clock (default: system time).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
    /// Capacity of the event queue.
    pub fn event_queue(mut self, capacity: usize) -> Self {
        self.event_queue = capacity.max(1);
        self
    }

    /// Starts the node on the current tokio runtime. Slots left unset are filled with the
    /// defaults from the registry.
    pub async fn start(self) -> Result<Node, NodeError> {
        let ctx = BuildContext {
            node_name: self.name.clone(),
            base_dir: ".".into(),
        };
        let defaults = NodeConfig::default();
        let transport = match self.transport {
            Some(t) => t,
            None => registry::build_transport(&defaults.transport, &ctx)?,
        };
        let storage = match self.storage {
            Some(s) => s,
            None => registry::build_storage(&defaults.storage, &ctx)?,
        };
        let consensus = match self.consensus {
            Some(c) => c,
            None => registry::build_consensus(&defaults.consensus, &ctx)?,
        };
        let steward = match self.steward {
            Some(s) => s,
            None => registry::build_steward(&defaults.steward, &ctx)?,
        };
        let mut engine = Engine::open(
            storage,
            consensus,
            steward,
            self.params,
            self.seed,
            self.clock.now(),
        )?;
        let max_payload = transport.max_payload();
        if engine
            .params()
            .max_app_message_bytes
            .saturating_add(crate::engine::APP_MESSAGE_FRAMING_BYTES)
            > max_payload
        {
            return Err(EngineError::InvalidParameter(crate::engine::InvalidParam {
                key: "max_app_message_bytes",
                reason: "with its framing (2 KiB) it exceeds the transport's largest payload: \
                         such a message could never be sent",
            })
            .into());
        }
        engine.limit_inbound(max_payload);
        for topic in engine.topics() {
            transport.subscribe(&topic).await?;
        }
        let (cmd_tx, cmd_rx) = mpsc::channel(256);
        let (ev_tx, ev_rx) = mpsc::channel(self.event_queue);
        let callback: Arc<Mutex<Option<EventCallback>>> = Arc::new(Mutex::new(None));
        let member_id = engine.member_id();
        let driver = Driver {
            engine,
            transport,
            clock: self.clock,
            events: ev_tx,
            callback: callback.clone(),
            name: self.name.clone(),
        };
        tokio::spawn(driver.run(cmd_rx));
        tracing::info!(node = %self.name, member = %member_id, "node started");
        Ok(Node {
            shared: Arc::new(Shared {
                commands: cmd_tx,
                events: tokio::sync::Mutex::new(ev_rx),
                callback,
                member_id,
                name: self.name,
            }),
        })
    }
}

impl Node {
    /// A builder with every slot unset.
    pub fn builder() -> NodeBuilder {
        NodeBuilder {
            name: "node".into(),
            transport: None,
            storage: None,
            consensus: None,
            steward: None,
            params: EngineParams::default(),
            seed: None,
            clock: Arc::new(SystemClock),
            event_queue: 4096,
        }
    }

    /// Starts a node from a configuration, building every backend through the registry.
    pub async fn start(config: NodeConfig) -> Result<Node, NodeError> {
        let ctx = BuildContext {
            node_name: config.node.name.clone().unwrap_or_else(|| "node".into()),
            base_dir: config.base_dir.clone(),
        };
        let mut builder = Node::builder()
            .name(ctx.node_name.clone())
            .transport(registry::build_transport(&config.transport, &ctx)?)
            .storage(registry::build_storage(&config.storage, &ctx)?)
            .consensus(registry::build_consensus(&config.consensus, &ctx)?)
            .steward(registry::build_steward(&config.steward, &ctx)?)
            .params(config.group.clone());
        if let Some(seed) = config.identity_seed()? {
            builder = builder.seed(seed);
        }
        if let Some(capacity) = config.node.event_queue {
            builder = builder.event_queue(capacity);
        }
        builder.start().await
    }

    /// Reads a TOML file and starts the node it describes.
    pub async fn from_config_file(path: impl AsRef<Path>) -> Result<Node, NodeError> {
        Node::start(NodeConfig::from_file(path)?).await
    }

    /// This node's member id (20 bytes).
    pub fn member_id(&self) -> MemberId {
        self.shared.member_id
    }

    /// The node's label.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    async fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T, NodeError> {
        let (tx, rx) = oneshot::channel();
        self.shared
            .commands
            .send(make(tx))
            .await
            .map_err(|_| NodeError::Stopped)?;
        rx.await.map_err(|_| NodeError::Stopped)?
    }

    fn gid(group_id: &[u8]) -> Result<GroupId, NodeError> {
        GroupId::new(group_id.to_vec()).ok_or(NodeError::InvalidGroupId)
    }

    /// Creates a group with this node as its first member and steward.
    pub async fn create_group(&self, group_id: &[u8]) -> Result<(), NodeError> {
        let gid = Self::gid(group_id)?;
        self.call(|r| Command::CreateGroup(gid, r)).await
    }

    /// Asks to join a group by its id alone: announces a KeyPackage and waits (in the
    /// background) for the members' vote and a Welcome; [`GroupEvent::Joined`] follows. Trust on
    /// first use: the first group under this id to add the node is joined, even a look-alike
    /// someone else created under the same id; [`join_by_invitation`](Node::join_by_invitation)
    /// rules that out.
    pub async fn join_group(&self, group_id: &[u8]) -> Result<(), NodeError> {
        let gid = Self::gid(group_id)?;
        self.call(|r| Command::Join(gid, r)).await
    }

    /// Asks to join the group an invitation names, accepting only a Welcome into the group
    /// whose genesis the invitation names (a look-alike under the same id is refused with
    /// `Rejected { ForeignWelcome }`); [`GroupEvent::Joined`] follows.
    pub async fn join_by_invitation(&self, invitation: &Invitation) -> Result<(), NodeError> {
        let invitation = invitation.clone();
        self.call(|r| Command::JoinInvited(invitation, r)).await
    }

    /// The invitation to a group this node is a member of, to hand to a would-be member out
    /// of band (its text form is `Display`).
    pub async fn invitation(&self, group_id: &[u8]) -> Result<Invitation, NodeError> {
        let gid = Self::gid(group_id)?;
        self.call(|r| Command::Invitation(gid, r)).await
    }

    /// Sends an application message; returns its 16-byte message id.
    pub async fn send(&self, group_id: &[u8], payload: &[u8]) -> Result<Vec<u8>, NodeError> {
        let gid = Self::gid(group_id)?;
        let payload = payload.to_vec();
        self.call(|r| Command::Send(gid, payload, r)).await
    }

    /// Opens a vote on adding the holder of a KeyPackage (`MlsMessage` bytes), or defers it
    /// while a higher-priority vote runs ([`Submission::Deferred`]).
    pub async fn propose_add(
        &self,
        group_id: &[u8],
        key_package: &[u8],
    ) -> Result<Submission, NodeError> {
        let gid = Self::gid(group_id)?;
        let kp = key_package.to_vec();
        self.call(|r| Command::ProposeAdd(gid, kp, r)).await
    }

    /// Opens a vote on removing a member (20-byte member id), or defers it while a
    /// higher-priority vote runs ([`Submission::Deferred`]).
    pub async fn propose_remove(
        &self,
        group_id: &[u8],
        member_id: &[u8],
    ) -> Result<Submission, NodeError> {
        let gid = Self::gid(group_id)?;
        let member = MemberId::from_slice(member_id).ok_or(NodeError::InvalidMemberId)?;
        self.call(|r| Command::ProposeRemove(gid, member, r)).await
    }

    /// Asks to leave a group: final without a vote; a steward other than this node commits the
    /// removal, after which this node's state of the group is erased (`GroupEvent::Removed`).
    pub async fn leave(&self, group_id: &[u8]) -> Result<Submission, NodeError> {
        let gid = Self::gid(group_id)?;
        self.call(|r| Command::Leave(gid, r)).await
    }

    /// Votes on an open proposal (32-byte proposal id).
    pub async fn vote(
        &self,
        group_id: &[u8],
        proposal_id: &[u8],
        yes: bool,
    ) -> Result<(), NodeError> {
        let gid = Self::gid(group_id)?;
        let id = ProposalId::from_slice(proposal_id).ok_or(NodeError::InvalidProposalId)?;
        self.call(|r| Command::Vote(gid, id, yes, r)).await
    }

    /// A snapshot of a group (epoch, members, authenticator, stewards, proposals).
    pub async fn group(&self, group_id: &[u8]) -> Result<Option<GroupSummary>, NodeError> {
        let gid = Self::gid(group_id)?;
        let (tx, rx) = oneshot::channel();
        self.shared
            .commands
            .send(Command::Summary(gid, tx))
            .await
            .map_err(|_| NodeError::Stopped)?;
        rx.await.map_err(|_| NodeError::Stopped)
    }

    /// Groups this node is a member of.
    pub async fn groups(&self) -> Result<Vec<GroupId>, NodeError> {
        let (tx, rx) = oneshot::channel();
        self.shared
            .commands
            .send(Command::Groups(tx))
            .await
            .map_err(|_| NodeError::Stopped)?;
        rx.await.map_err(|_| NodeError::Stopped)
    }

    /// Waits for the next event; `None` once the node has stopped and the queue is drained.
    pub async fn next_event(&self) -> Option<GroupEvent> {
        self.shared.events.lock().await.recv().await
    }

    /// Waits up to `timeout` for the next event.
    pub async fn next_event_timeout(&self, timeout: Duration) -> Option<GroupEvent> {
        tokio::time::timeout(timeout, self.next_event())
            .await
            .ok()
            .flatten()
    }

    /// The next event if one is queued.
    pub fn try_next_event(&self) -> Option<GroupEvent> {
        self.shared.events.try_lock().ok()?.try_recv().ok()
    }

    /// Delivers every later event to `callback` (on the node's task) instead of the queue;
    /// `None` returns to the queue. The callback must not block.
    pub fn set_event_callback(&self, callback: Option<EventCallback>) {
        if let Ok(mut slot) = self.shared.callback.lock() {
            *slot = callback;
        }
    }

    /// Stops the node: closes the transport and ends the task.
    pub async fn shutdown(&self) {
        let (tx, rx) = oneshot::channel();
        if self
            .shared
            .commands
            .send(Command::Shutdown(tx))
            .await
            .is_ok()
        {
            let _ = rx.await;
        }
    }
}

/// The node's task.
struct Driver {
    engine: Engine,
    transport: Arc<dyn Transport>,
    clock: Arc<dyn Clock>,
    events: mpsc::Sender<GroupEvent>,
    callback: Arc<Mutex<Option<EventCallback>>>,
    name: String,
}

impl Driver {
    async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        loop {
            let wait = self
                .engine
                .next_deadline()
                .map(|d| Duration::from_millis(d.since(self.clock.now())))
                .unwrap_or(Duration::from_secs(3600));
            let output = tokio::select! {
                command = commands.recv() => match command {
                    None => break,
                    Some(Command::Shutdown(done)) => {
                        self.transport.close().await;
                        let _ = done.send(());
                        break;
                    }
                    Some(command) => self.command(command),
                },
                inbound = self.transport.recv() => match inbound {
                    Ok(message) => self.step(|e, now| e.handle(&message, now)),
                    Err(TransportError::Closed) => break,
                    Err(e) => {
                        tracing::warn!(node = %self.name, error = %e, "transport receive failed");
                        Output::default()
                    }
                },
                () = tokio::time::sleep(wait) => self.step(|e, now| e.tick(now)),
            };
            if !self.perform(output).await {
                break;
            }
        }
        tracing::info!(node = %self.name, "node stopped");
    }

    fn step(
        &mut self,
        f: impl FnOnce(&mut Engine, crate::types::Timestamp) -> Result<Output, EngineError>,
    ) -> Output {
        let now = self.clock.now();
        match f(&mut self.engine, now) {
            Ok(out) => out,
            Err(e) => {
                tracing::error!(node = %self.name, error = %e, "engine step failed");
                Output::default()
            }
        }
    }

    fn command(&mut self, command: Command) -> Output {
        let now = self.clock.now();
        let engine = &mut self.engine;
        fn reply<T>(tx: Reply<T>, result: Result<(T, Output), EngineError>) -> Output {
            match result {
                Ok((value, out)) => {
                    let _ = tx.send(Ok(value));
                    out
                }
                Err(e) => {
                    let _ = tx.send(Err(e.into()));
                    Output::default()
                }
            }
        }
        match command {
            Command::CreateGroup(gid, tx) => {
                reply(tx, engine.create_group(gid, now).map(|o| ((), o)))
            }
            Command::Join(gid, tx) => reply(tx, engine.request_join(gid, now).map(|o| ((), o))),
            Command::JoinInvited(invitation, tx) => reply(
                tx,
                engine.join_by_invitation(&invitation, now).map(|o| ((), o)),
            ),
            Command::Invitation(gid, tx) => {
                reply(tx, engine.invitation(&gid).map(|i| (i, Output::default())))
            }
            Command::Send(gid, payload, tx) => reply(tx, engine.send_message(&gid, &payload, now)),
            Command::ProposeAdd(gid, kp, tx) => reply(tx, engine.propose_add(&gid, &kp, now)),
            Command::ProposeRemove(gid, member, tx) => {
                reply(tx, engine.propose_remove(&gid, member, now))
            }
            Command::Leave(gid, tx) => reply(tx, engine.leave(&gid, now)),
            Command::Vote(gid, id, yes, tx) => {
                reply(tx, engine.vote(&gid, id, yes, now).map(|o| ((), o)))
            }
            Command::Summary(gid, tx) => {
                let _ = tx.send(engine.group_summary(&gid));
                Output::default()
            }
            Command::Groups(tx) => {
                let _ = tx.send(engine.groups());
                Output::default()
            }
            Command::Shutdown(_) => Output::default(),
        }
    }

    /// Carries out an engine output; false when the application side is gone.
    async fn perform(&mut self, output: Output) -> bool {
        let Output {
            subscribe,
            publish,
            unsubscribe,
            events,
            silent,
        } = output;
        for why in silent {
            tracing::trace!(node = %self.name, %why, "input passed over");
        }
        let mut extra = Vec::new();
        for topic in subscribe {
            if let Err(e) = self.transport.subscribe(&topic).await {
                tracing::warn!(node = %self.name, %topic, error = %e, "subscribe failed");
            }
        }
        for message in publish {
            if let Err(e) = self
                .transport
                .publish(&message.topic, message.payload)
                .await
            {
                tracing::warn!(node = %self.name, topic = %message.topic, error = %e, "publish failed");
                extra.push(GroupEvent::PublishFailed {
                    topic: message.topic.as_str().to_owned(),
                    detail: e.to_string(),
                });
            }
        }
        for topic in unsubscribe {
            if let Err(e) = self.transport.unsubscribe(&topic).await {
                tracing::warn!(node = %self.name, %topic, error = %e, "unsubscribe failed");
            }
        }
        for event in events.into_iter().chain(extra) {
            let event = match self.callback.lock() {
                Ok(slot) => match slot.as_ref() {
                    Some(callback) => {
                        callback(event);
                        continue;
                    }
                    None => event,
                },
                Err(_) => event,
            };
            if self.events.send(event).await.is_err() {
                return false;
            }
        }
        true
    }
}
