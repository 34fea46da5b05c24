//! The async [`Node`]: a cheap cloneable handle to a running node, whose driver task owns the
//! transport and the timers and whose engine thread owns the [`Engine`](crate::Engine).
//!
//! This is the Rust form of the API specified in `specs/api.md`: everything at the handle's
//! edge is plain bytes, integers and the [`api`](crate::api) types (events, group summaries,
//! messages), each with its canonical JSON form, so the C API wraps it one function per method.
//! Events can be pulled ([`Node::next_event`], [`Node::try_next_event`]) or pushed to a callback
//! ([`Node::set_event_callback`]). Callers without an async runtime use
//! [`BlockingNode`](crate::api::BlockingNode).
//! The event queue is bounded: a node whose events are never consumed (and that has no
//! callback) stops processing the network until they are.
//!
//! # Where engine steps run
//!
//! An engine step is synchronous and can be long: it does the MLS cryptography and ends with
//! [`Storage::apply`](crate::Storage::apply) of the step's writes, which on a durable backend
//! waits for an fsync. On the async runtime such a step would stall every other task of its
//! worker thread (other nodes, the transport's own tasks, the application's timers), and on a
//! current-thread runtime all of them. So a node is two parts:
//!
//! - the **driver** (`driver.rs`), a tokio task that owns the transport, the timer and the
//!   event queue. It `select!`s over the handles' requests, `transport.recv()` and a sleep until
//!   the engine's next deadline, sends the input to the engine thread, awaits the step's result
//!   (the runtime runs other tasks meanwhile), then carries out the step's output: subscribe,
//!   publish, unsubscribe, deliver events.
//! - the **engine thread** (`engine_thread.rs`), one OS thread per node that owns the engine. It
//!   opens it (reading its state from the storage) and then runs the steps sent to it, one at a
//!   time and in order, answering each on a oneshot channel (an API call's reply goes to its
//!   caller straight from the step, before the output is carried out, as it always has).
//!
//! A dedicated thread rather than `tokio::task::spawn_blocking` with the engine behind a mutex,
//! because:
//! - the engine is one state machine of `&mut self` steps; one owner running them in arrival
//!   order says exactly that, with no lock and no question of which step takes it next;
//! - shutdown is deterministic: the thread ends when its queue closes and is joined, so when
//!   [`Node::shutdown`] returns the engine has been dropped with every handle it held on the
//!   storage (a SQLite connection and its file lock) and the node can be restarted on the same
//!   store at once; with a mutex the engine is freed by whichever task drops it last;
//! - it does not draw on the runtime's blocking pool, which is shared with the application's
//!   own blocking work, bounded, and not waited for by `Runtime::shutdown_background`.
//!
//! The cost is one mostly idle thread per node (a process usually runs one node).
//!
//! Steps of one node stay serial: the driver takes the next input only once the step before has
//! been answered and its output carried out. That keeps what held before: outputs go out in step
//! order, and a full event queue still stops the node from taking more input. What no longer
//! waits for a step is the rest of the runtime. While a node's step is in storage its own inputs
//! queue (inbound messages in the transport's bounded queue, API calls in the handle's channel),
//! since the engine is one state machine; other nodes, their traffic and every other task go on.
//! (Overlapping a step with carrying out the previous step's output would save at most one
//! output's publishing per step, for a third stage with its own ordering and backpressure; it
//! is not done.)
//!
//! # Stopping
//!
//! [`Node::shutdown`] is taken after every request sent before it: the step in progress finishes
//! (its write included) and its output is carried out; then the transport is closed, the engine
//! thread ends and is joined, and only then does `shutdown` return. Dropping the last handle does
//! the same except closing the transport. If the runtime is dropped while a node runs, the
//! driver's drop still waits for the step in progress to finish before the engine is dropped.
//! A step that panics ends the engine thread (the panic is logged): the node stops, and every
//! call, the one that was in flight included, fails with [`NodeError::Stopped`].

mod builder;
mod command;
mod driver;
mod engine_thread;
mod history;

pub use builder::NodeBuilder;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::api::{ChangeRequest, Event, GroupInfo, Message, Status};
use crate::clock::Clock;
use crate::config::{ConfigError, NodeConfig};
use crate::engine::EngineError;
use crate::invitation::Invitation;
use crate::registry::{self, BuildContext};
use crate::transport::TransportError;
use crate::types::{GroupId, MemberId, ProposalId};
use command::{Command, Reply, Request};
use history::History;

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
    /// The node has been shut down, or it stopped because a step panicked.
    #[error("node stopped")]
    Stopped,
    /// The node's engine thread could not be started.
    #[error("could not start the engine thread: {0}")]
    Spawn(#[source] std::io::Error),
}

/// A callback receiving every event (instead of the pull queue).
pub type EventCallback = Box<dyn Fn(Event) + Send + Sync>;

struct Shared {
    requests: mpsc::Sender<Request>,
    events: tokio::sync::Mutex<mpsc::Receiver<Event>>,
    callback: Arc<Mutex<Option<EventCallback>>>,
    history: Arc<Mutex<History>>,
    clock: Arc<dyn Clock>,
    member_id: MemberId,
    name: String,
}

/// A running de-MLS node. Cloning the handle is cheap; the node stops on
/// [`shutdown`](Node::shutdown) or when the last handle is dropped.
#[derive(Clone)]
pub struct Node {
    shared: Arc<Shared>,
}

impl Node {
    /// A builder with every slot unset.
    pub fn builder() -> NodeBuilder {
        NodeBuilder::new()
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
        if let Some(per_group) = config.node.history {
            builder = builder.history(per_group);
        }
        builder.start().await
    }

    /// Reads a TOML file and starts the node it describes (relative paths in it are relative
    /// to the file's directory).
    pub async fn from_config_file(path: impl AsRef<Path>) -> Result<Node, NodeError> {
        Node::start(NodeConfig::from_file(path)?).await
    }

    /// Starts the node a TOML text describes (relative paths in it are relative to the
    /// working directory).
    pub async fn from_config_str(toml: &str) -> Result<Node, NodeError> {
        Node::start(NodeConfig::from_toml_str(toml)?).await
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
        self.request(Request::Command(make(tx))).await?;
        rx.await.map_err(|_| NodeError::Stopped)?
    }

    async fn request(&self, request: Request) -> Result<(), NodeError> {
        self.shared
            .requests
            .send(request)
            .await
            .map_err(|_| NodeError::Stopped)
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
    /// background) for the members' vote and a Welcome; [`Event::Joined`] follows. Trust on
    /// first use: the first group under this id to add the node is joined, even a look-alike
    /// someone else created under the same id; [`join_by_invitation`](Node::join_by_invitation)
    /// rules that out.
    pub async fn join_group(&self, group_id: &[u8]) -> Result<(), NodeError> {
        let gid = Self::gid(group_id)?;
        self.call(|r| Command::Join(gid, r)).await
    }

    /// Asks to join the group an invitation names, accepting only a Welcome into the group
    /// whose genesis the invitation names (a look-alike under the same id is refused with
    /// `Event::Rejected` with reason `foreign_welcome`); [`Event::Joined`] follows.
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

    /// Sends an application message; returns its 16-byte message id. The message is added
    /// to the group's [`history`](Node::history).
    pub async fn send(&self, group_id: &[u8], payload: &[u8]) -> Result<Vec<u8>, NodeError> {
        let gid = Self::gid(group_id)?;
        let body = payload.to_vec();
        let (message_id, epoch) = self.call(|r| Command::Send(gid.clone(), body, r)).await?;
        if let Ok(mut history) = self.shared.history.lock() {
            history.record(Message {
                group: gid,
                sender: self.shared.member_id,
                message_id: message_id.clone(),
                payload: payload.to_vec(),
                epoch,
                at_ms: self.shared.clock.now().0,
            });
        }
        Ok(message_id)
    }

    /// The latest `limit` messages of a group (received, and sent by this node), oldest first.
    /// The node keeps up to `[node] history` messages per group (default 1000) in memory: the
    /// history starts empty when the node starts. Works for a group this node has left too.
    pub fn history(&self, group_id: &[u8], limit: usize) -> Result<Vec<Message>, NodeError> {
        let gid = Self::gid(group_id)?;
        Ok(self
            .shared
            .history
            .lock()
            .map(|h| h.latest(&gid, limit))
            .unwrap_or_default())
    }

    /// Opens a vote on adding the holder of a KeyPackage (`MlsMessage` bytes), or defers it
    /// while a higher-priority vote runs ([`ChangeRequest::Deferred`]).
    pub async fn propose_add(
        &self,
        group_id: &[u8],
        key_package: &[u8],
    ) -> Result<ChangeRequest, NodeError> {
        let gid = Self::gid(group_id)?;
        let kp = key_package.to_vec();
        self.call(|r| Command::ProposeAdd(gid, kp, r))
            .await
            .map(ChangeRequest::from)
    }

    /// Opens a vote on removing a member (20-byte member id), or defers it while a
    /// higher-priority vote runs ([`ChangeRequest::Deferred`]).
    pub async fn propose_remove(
        &self,
        group_id: &[u8],
        member_id: &[u8],
    ) -> Result<ChangeRequest, NodeError> {
        let gid = Self::gid(group_id)?;
        let member = MemberId::from_slice(member_id).ok_or(NodeError::InvalidMemberId)?;
        self.call(|r| Command::ProposeRemove(gid, member, r))
            .await
            .map(ChangeRequest::from)
    }

    /// Asks to leave a group: final without a vote; a steward other than this node commits the
    /// removal, after which this node's state of the group is erased (`GroupEvent::Removed`).
    pub async fn leave(&self, group_id: &[u8]) -> Result<ChangeRequest, NodeError> {
        let gid = Self::gid(group_id)?;
        self.call(|r| Command::Leave(gid, r))
            .await
            .map(ChangeRequest::from)
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

    /// A snapshot of a group (epoch, members, stewards, this node's role, authenticator,
    /// decisions); `None` if this node is not a member.
    pub async fn group(&self, group_id: &[u8]) -> Result<Option<GroupInfo>, NodeError> {
        let gid = Self::gid(group_id)?;
        let (tx, rx) = oneshot::channel();
        self.request(Request::Command(Command::Summary(gid, tx)))
            .await?;
        let summary = rx.await.map_err(|_| NodeError::Stopped)?;
        Ok(summary.map(|s| GroupInfo::of(s, self.shared.member_id)))
    }

    /// The node's status: name, member id, version, whether it runs, its groups, queued events.
    pub async fn status(&self) -> Status {
        let groups = self.groups().await;
        let queued = self.shared.events.try_lock().map_or(0, |q| q.len() as u32);
        Status {
            name: self.shared.name.clone(),
            member_id: self.shared.member_id,
            version: crate::api::VERSION.to_owned(),
            running: groups.is_ok(),
            groups: groups.map_or(0, |g| g.len() as u32),
            queued_events: queued,
        }
    }

    /// Groups this node is a member of.
    pub async fn groups(&self) -> Result<Vec<GroupId>, NodeError> {
        let (tx, rx) = oneshot::channel();
        self.request(Request::Command(Command::Groups(tx))).await?;
        rx.await.map_err(|_| NodeError::Stopped)
    }

    /// Waits for the next event; `None` once the node has stopped and the queue is drained.
    pub async fn next_event(&self) -> Option<Event> {
        self.shared.events.lock().await.recv().await
    }

    /// Waits up to `timeout` for the next event.
    pub async fn next_event_timeout(&self, timeout: Duration) -> Option<Event> {
        tokio::time::timeout(timeout, self.next_event())
            .await
            .ok()
            .flatten()
    }

    /// The next event if one is queued.
    pub fn try_next_event(&self) -> Option<Event> {
        self.shared.events.try_lock().ok()?.try_recv().ok()
    }

    /// Delivers every later event to `callback` instead of the queue; `None` returns to the
    /// queue. The callback runs on the node's driver task (a runtime worker thread), one event
    /// at a time and in order; it must not block, and it must not wait for this node (an
    /// `async` call of the node awaited from inside it would wait for the task running it).
    pub fn set_event_callback(&self, callback: Option<EventCallback>) {
        if let Ok(mut slot) = self.shared.callback.lock() {
            *slot = callback;
        }
    }

    /// Stops the node once the requests sent before have been carried out: closes the
    /// transport, ends the driver task and the engine thread, and returns when both have ended
    /// (the engine and its storage released).
    pub async fn shutdown(&self) {
        let (tx, rx) = oneshot::channel();
        if self.request(Request::Shutdown(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}
