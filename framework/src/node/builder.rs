//! [`NodeBuilder`]: assembles a node from backends and starts it — the engine opened on its own
//! thread, the driver spawned on the current runtime.

use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use super::driver::Driver;
use super::engine_thread::EngineThread;
use super::history::{DEFAULT_HISTORY, History};
use super::{EventCallback, Node, NodeError, Shared};
use crate::clock::{Clock, SystemClock};
use crate::config::NodeConfig;
use crate::consensus::ConsensusFactory;
use crate::engine::{APP_MESSAGE_FRAMING_BYTES, Engine, EngineError, EngineParams, InvalidParam};
use crate::registry::{self, BuildContext};
use crate::steward::StewardPolicyFactory;
use crate::storage::Storage;
use crate::transport::Transport;
use crate::types::{MemberId, Timestamp, Topic};

/// Capacity of the channel from the handles to the driver.
const REQUEST_QUEUE: usize = 256;

/// What the engine thread reports once the engine is open.
struct Opened {
    member_id: MemberId,
    topics: Vec<Topic>,
    deadline: Option<Timestamp>,
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
    history: usize,
}

impl NodeBuilder {
    /// A builder with every slot unset.
    pub(super) fn new() -> NodeBuilder {
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
            history: DEFAULT_HISTORY,
        }
    }

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

    /// How many messages of each group the node keeps for [`Node::history`] (default 1000; 0
    /// keeps none).
    pub fn history(mut self, per_group: usize) -> Self {
        self.history = per_group;
        self
    }

    /// Starts the node on the current tokio runtime. Slots left unset are filled with the
    /// defaults from the registry. The engine is opened (its state read from the storage) on the
    /// node's engine thread, not on the runtime.
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
        let (params, seed, clock) = (self.params, self.seed, self.clock.clone());
        let max_payload = transport.max_payload();
        let (engine, opened) = EngineThread::start(&self.name, move || {
            let mut engine = Engine::open(storage, consensus, steward, params, seed, clock.now())?;
            if engine
                .params()
                .max_app_message_bytes
                .saturating_add(APP_MESSAGE_FRAMING_BYTES)
                > max_payload
            {
                return Err(EngineError::InvalidParameter(InvalidParam {
                    key: "max_app_message_bytes",
                    reason: "with its framing (2 KiB) it exceeds the transport's largest \
                             payload: such a message could never be sent",
                })
                .into());
            }
            engine.limit_inbound(max_payload);
            let opened = Opened {
                member_id: engine.member_id(),
                topics: engine.topics(),
                deadline: engine.next_deadline(),
            };
            Ok((engine, opened))
        })
        .await?;
        for topic in &opened.topics {
            if let Err(e) = transport.subscribe(topic).await {
                engine.stop().await;
                return Err(e.into());
            }
        }
        let (req_tx, req_rx) = mpsc::channel(REQUEST_QUEUE);
        let (ev_tx, ev_rx) = mpsc::channel(self.event_queue);
        let callback: Arc<Mutex<Option<EventCallback>>> = Arc::new(Mutex::new(None));
        let member_id = opened.member_id;
        let history = Arc::new(Mutex::new(History::new(self.history)));
        let driver = Driver {
            engine,
            transport,
            clock: self.clock.clone(),
            events: ev_tx,
            callback: callback.clone(),
            history: history.clone(),
            name: self.name.clone(),
            deadline: opened.deadline,
        };
        tokio::spawn(driver.run(req_rx));
        tracing::info!(node = %self.name, member = %member_id, "node started");
        Ok(Node {
            shared: Arc::new(Shared {
                requests: req_tx,
                events: tokio::sync::Mutex::new(ev_rx),
                callback,
                history,
                clock: self.clock,
                member_id,
                name: self.name,
            }),
        })
    }
}
