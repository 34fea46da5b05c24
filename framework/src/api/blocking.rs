//! [`BlockingNode`]: the API for callers without an async runtime. It owns a tokio runtime and
//! a [`Node`] running on it, and offers every operation as a blocking call. The C API is built
//! on it.
//!
//! Threads: the runtime has its own worker threads (two), which run the node's driver, its
//! transport and event callbacks; the node's engine has its own thread as always. A blocking
//! call made from one of the runtime's threads (an event callback, say) would wait for the very
//! thread it runs on, so it is refused with [`ErrorCode::WrongThread`] instead.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use super::call::call;
use super::change::ChangeRequest;
use super::error::{ApiError, ErrorCode};
use super::event::Event;
use super::info::{GroupInfo, Message, Status};
use crate::config::NodeConfig;
use crate::invitation::Invitation;
use crate::node::{EventCallback, Node, NodeBuilder};
use crate::types::{GroupId, MemberId};

/// How long dropping a node waits for its runtime's tasks to end.
const RUNTIME_STOP: Duration = Duration::from_secs(5);

/// A node with its own runtime and blocking methods.
pub struct BlockingNode {
    node: Node,
    runtime: Option<tokio::runtime::Runtime>,
}

fn runtime() -> Result<tokio::runtime::Runtime, ApiError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("demls-runtime")
        .enable_all()
        .build()
        .map_err(|e| ApiError::new(ErrorCode::Runtime, e.to_string()))
}

impl BlockingNode {
    /// Starts the node a configuration describes, on a runtime of its own.
    pub fn start(config: NodeConfig) -> Result<BlockingNode, ApiError> {
        not_on_a_runtime()?;
        let runtime = runtime()?;
        let node = runtime.block_on(Node::start(config))?;
        Ok(BlockingNode {
            node,
            runtime: Some(runtime),
        })
    }

    /// Starts the node a TOML text describes.
    pub fn from_config_str(toml: &str) -> Result<BlockingNode, ApiError> {
        let config = NodeConfig::from_toml_str(toml)
            .map_err(|e| ApiError::new(ErrorCode::InvalidConfig, e.to_string()))?;
        BlockingNode::start(config)
    }

    /// Starts the node a TOML file describes.
    pub fn from_config_file(path: impl AsRef<Path>) -> Result<BlockingNode, ApiError> {
        let config = NodeConfig::from_file(path)
            .map_err(|e| ApiError::new(ErrorCode::InvalidConfig, e.to_string()))?;
        BlockingNode::start(config)
    }

    /// Starts a node assembled with a [`NodeBuilder`], on a runtime of its own.
    pub fn from_builder(builder: NodeBuilder) -> Result<BlockingNode, ApiError> {
        not_on_a_runtime()?;
        let runtime = runtime()?;
        let node = runtime.block_on(builder.start())?;
        Ok(BlockingNode {
            node,
            runtime: Some(runtime),
        })
    }

    /// The async handle (for use on this node's runtime, see [`BlockingNode::runtime`]).
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// The node's runtime.
    pub fn runtime(&self) -> &tokio::runtime::Handle {
        // Present from construction until drop.
        self.runtime
            .as_ref()
            .map(tokio::runtime::Runtime::handle)
            .expect("the runtime lives as long as the node")
    }

    fn block<T>(&self, work: impl Future<Output = T>) -> Result<T, ApiError> {
        not_on_a_runtime()?;
        Ok(self.runtime().block_on(work))
    }

    /// This node's member id.
    pub fn member_id(&self) -> MemberId {
        self.node.member_id()
    }

    /// See [`Node::status`].
    pub fn status(&self) -> Result<Status, ApiError> {
        self.block(self.node.status())
    }

    /// See [`Node::create_group`].
    pub fn create_group(&self, group: &[u8]) -> Result<(), ApiError> {
        Ok(self.block(self.node.create_group(group))??)
    }

    /// See [`Node::join_group`].
    pub fn join_group(&self, group: &[u8]) -> Result<(), ApiError> {
        Ok(self.block(self.node.join_group(group))??)
    }

    /// See [`Node::join_by_invitation`].
    pub fn join_by_invitation(&self, invitation: &Invitation) -> Result<(), ApiError> {
        Ok(self.block(self.node.join_by_invitation(invitation))??)
    }

    /// See [`Node::invitation`].
    pub fn invitation(&self, group: &[u8]) -> Result<Invitation, ApiError> {
        Ok(self.block(self.node.invitation(group))??)
    }

    /// See [`Node::groups`].
    pub fn groups(&self) -> Result<Vec<GroupId>, ApiError> {
        Ok(self.block(self.node.groups())??)
    }

    /// See [`Node::group`].
    pub fn group(&self, group: &[u8]) -> Result<Option<GroupInfo>, ApiError> {
        Ok(self.block(self.node.group(group))??)
    }

    /// See [`Node::propose_add`].
    pub fn propose_add(&self, group: &[u8], key_package: &[u8]) -> Result<ChangeRequest, ApiError> {
        Ok(self.block(self.node.propose_add(group, key_package))??)
    }

    /// See [`Node::propose_remove`].
    pub fn propose_remove(&self, group: &[u8], member: &[u8]) -> Result<ChangeRequest, ApiError> {
        Ok(self.block(self.node.propose_remove(group, member))??)
    }

    /// See [`Node::leave`].
    pub fn leave(&self, group: &[u8]) -> Result<ChangeRequest, ApiError> {
        Ok(self.block(self.node.leave(group))??)
    }

    /// See [`Node::vote`].
    pub fn vote(&self, group: &[u8], decision: &[u8], approve: bool) -> Result<(), ApiError> {
        Ok(self.block(self.node.vote(group, decision, approve))??)
    }

    /// See [`Node::send`].
    pub fn send(&self, group: &[u8], payload: &[u8]) -> Result<Vec<u8>, ApiError> {
        Ok(self.block(self.node.send(group, payload))??)
    }

    /// See [`Node::history`].
    pub fn history(&self, group: &[u8], limit: usize) -> Result<Vec<Message>, ApiError> {
        Ok(self.node.history(group, limit)?)
    }

    /// Waits up to `timeout` for the next event (`None` if none came, or the node stopped
    /// and its queue is empty). A zero timeout only takes an event already queued.
    pub fn next_event(&self, timeout: Duration) -> Result<Option<Event>, ApiError> {
        if timeout.is_zero() {
            return Ok(self.node.try_next_event());
        }
        self.block(self.node.next_event_timeout(timeout))
    }

    /// See [`Node::set_event_callback`]: the callback runs on a runtime worker thread.
    pub fn set_event_callback(&self, callback: Option<EventCallback>) {
        self.node.set_event_callback(callback);
    }

    /// Runs one method of the JSON dispatcher (see [`call`](super::call())): `args` is a JSON
    /// object (or empty for none); the result is its JSON text.
    pub fn call(&self, method: &str, args: &str) -> Result<String, ApiError> {
        let args: Value = if args.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(args)
                .map_err(|e| ApiError::new(ErrorCode::InvalidArgument, format!("arguments: {e}")))?
        };
        let result = self.block(call(&self.node, method, &args))??;
        serde_json::to_string(&result)
            .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))
    }

    /// Stops the node (see [`Node::shutdown`]); later calls fail with
    /// [`ErrorCode::Stopped`]. Calling it again does nothing.
    pub fn shutdown(&self) -> Result<(), ApiError> {
        self.block(self.node.shutdown())
    }
}

impl Drop for BlockingNode {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            if tokio::runtime::Handle::try_current().is_err() {
                runtime.block_on(self.node.shutdown());
            }
            runtime.shutdown_timeout(RUNTIME_STOP);
        }
    }
}

/// Refuses a blocking call from inside a tokio runtime (it would block a worker, and from one
/// of this node's own workers wait for itself).
fn not_on_a_runtime() -> Result<(), ApiError> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(ApiError::new(
            ErrorCode::WrongThread,
            "a blocking call from a thread of a tokio runtime (an event callback?)",
        ));
    }
    Ok(())
}
