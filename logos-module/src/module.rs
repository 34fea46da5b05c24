//! The running module: one de-MLS node per process (the ABI is process-global), its own
//! tokio runtime, its persistence, and the event pump thread that turns node events and
//! inbox frames into the contract's events. `init` starts it; `shutdown` or the unload
//! handshake stops it.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, sync_channel};
use std::sync::{Arc, Mutex, MutexGuard, Once};
use std::thread::JoinHandle;
use std::time::Duration;

use demls::config::BackendConfig;
use demls::registry::{self, BuildContext};
use demls::{Identity, MemberId, Node, NodeConfig, Topic, Transport};
use serde_json::json;

use crate::config::{DemlsConfig, TransportKind};
use crate::delivery::{self, DeliveryTransport};
use crate::error::ModuleError;
use crate::inbox_tap::{INBOX_QUEUE, InboxTap};
use crate::store::{self, Store};
use crate::{context, emit, events, ids, tokens};

/// How long stopping the runtime waits for its tasks.
const RUNTIME_STOP: Duration = Duration::from_secs(5);
/// How long one wait of the event pump lasts.
const PUMP_WAIT: Duration = Duration::from_millis(100);

/// The state of a started module.
pub struct Running {
    runtime: Mutex<Option<tokio::runtime::Runtime>>,
    handle: tokio::runtime::Handle,
    /// The node.
    pub node: Node,
    /// This instance's member id.
    pub me: MemberId,
    /// Its address.
    pub address: String,
    /// Its identity (signs inbox invitations).
    pub identity: Identity,
    /// The module's files.
    pub store: Mutex<Store>,
    /// Join at once on an inbox invitation.
    pub auto_accept: bool,
    /// The transport under the inbox tap (publishes invitations to other inboxes).
    pub network: Arc<dyn Transport>,
    /// The delivery connection state `(state, detail)`.
    pub delivery: Arc<Mutex<(String, String)>>,
    stop: AtomicBool,
    pump: Mutex<Option<JoinHandle<()>>>,
}

impl Running {
    /// Runs `work` on the node's runtime, blocking this (non-runtime) thread.
    pub fn block<T>(&self, work: impl Future<Output = T>) -> T {
        self.handle.block_on(work)
    }

    /// The store, locked.
    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the pump should stop.
    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

static RUNNING: Mutex<Option<Arc<Running>>> = Mutex::new(None);

fn slot() -> MutexGuard<'static, Option<Arc<Running>>> {
    RUNNING.lock().unwrap_or_else(|p| p.into_inner())
}

/// The running module, or [`ModuleError::NotInitialized`].
pub fn running() -> Result<Arc<Running>, ModuleError> {
    slot().clone().ok_or(ModuleError::NotInitialized)
}

/// Whether `init` ran (and no shutdown since).
pub fn is_initialized() -> bool {
    slot().is_some()
}

/// A shutdown taken out of the module state, to finish on any non-runtime thread.
pub struct Shutdown(Arc<Running>);

impl Shutdown {
    /// Stops the node (its transport with it), the event pump and the runtime.
    pub fn finish(self) {
        let r = self.0;
        r.stop.store(true, Ordering::SeqCst);
        r.block(r.node.shutdown());
        if let Some(pump) = r.pump.lock().unwrap_or_else(|p| p.into_inner()).take() {
            if pump.join().is_err() {
                tracing::error!("the event pump panicked");
            }
        }
        if let Some(runtime) = r.runtime.lock().unwrap_or_else(|p| p.into_inner()).take() {
            runtime.shutdown_timeout(RUNTIME_STOP);
        }
        tracing::info!("demls_module stopped");
    }
}

/// Takes the running module out of the state (new calls see it stopped), or `None`.
pub fn begin_shutdown() -> Option<Shutdown> {
    slot().take().map(Shutdown)
}

/// Registers every backend this image bundles (once).
pub fn link_all() {
    static LINK: Once = Once::new();
    LINK.call_once(|| {
        demls_transport_memory::link();
        demls_transport_logos::link();
        demls_storage_memory::link();
        demls_storage_sqlite::link();
        demls_consensus_hashgraph::link();
        demls::policy::link();
        delivery::link();
    });
}

fn init_logging(level: Option<&str>) {
    static LOGGING: Once = Once::new();
    let level = match level {
        Some(l @ ("error" | "warn" | "info" | "debug" | "trace")) => l.to_owned(),
        _ => "info".to_owned(),
    };
    LOGGING.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::try_from_env("DEMLS_MODULE_LOG")
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .try_init();
    });
}

fn invalid(e: impl std::fmt::Display) -> ModuleError {
    ModuleError::InvalidConfig(e.to_string())
}

/// Builds the transport the configuration selects (on `runtime`, for those that need one).
fn transport(
    config: &DemlsConfig,
    runtime: &tokio::runtime::Runtime,
    ctx: &BuildContext,
    delivery_state: &Arc<Mutex<(String, String)>>,
) -> Result<Arc<dyn Transport>, ModuleError> {
    match config.transport_kind()? {
        TransportKind::DeliveryModule => {
            let api = delivery::lp::resolve(config.logos_protocol_library.as_deref())
                .map_err(|e| ModuleError::Delivery(e.to_string()))?;
            tokens::forward_to(api);
            let t = DeliveryTransport::new(api, config.delivery_config_text()?);
            let state = delivery_state.clone();
            t.on_state_change(Box::new(move |status, detail| {
                *state.lock().unwrap_or_else(|p| p.into_inner()) =
                    (status.to_owned(), detail.to_owned());
                emit::emit("delivery_state_changed", vec![json!(status), json!(detail)]);
            }));
            // On this (the host's) thread: blocking lp_invoke calls are fine here.
            t.connect_blocking()
                .map_err(|e| ModuleError::Delivery(e.to_string()))?;
            *delivery_state.lock().unwrap_or_else(|p| p.into_inner()) = t.state();
            Ok(Arc::new(t))
        }
        kind => {
            let mut options = config.transport_table()?;
            if kind == TransportKind::Memory && !options.contains_key("network") {
                options.insert("network".into(), "demls_module".into());
            }
            let cfg = BackendConfig {
                backend: kind.backend().into(),
                options,
            };
            let _entered = runtime.enter();
            let t = registry::build_transport(&cfg, ctx).map_err(invalid)?;
            *delivery_state.lock().unwrap_or_else(|p| p.into_inner()) = (
                "connected".into(),
                format!("{} transport (not delivery_module)", kind.backend()),
            );
            Ok(t)
        }
    }
}

/// Starts the module: node, transport, persistence, event pump. Returns the address.
pub fn init(config: DemlsConfig) -> Result<String, ModuleError> {
    let mut slot = slot();
    if slot.is_some() {
        return Err(ModuleError::AlreadyInitialized);
    }
    init_logging(config.log_level.as_deref());
    link_all();
    let dir = context::get()
        .and_then(|c| c.persistence_path)
        .ok_or(ModuleError::NoPersistencePath)?;
    store::ensure_dir(&dir)?;
    let seed = store::load_or_create_seed(&dir)?;
    let identity =
        Identity::from_seed(seed).map_err(|e| ModuleError::Persistence(e.to_string()))?;
    let me = identity.member_id();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("demls-module")
        .enable_all()
        .build()
        .map_err(|e| ModuleError::Persistence(format!("runtime: {e}")))?;
    let ctx = BuildContext {
        node_name: "demls_module".into(),
        base_dir: dir.clone(),
    };
    let delivery = Arc::new(Mutex::new((String::new(), String::new())));
    let network = transport(&config, &runtime, &ctx, &delivery)?;
    let inbox = ids::inbox_topic(&me);
    runtime
        .block_on(network.subscribe(&inbox))
        .map_err(|e| ModuleError::Delivery(format!("subscribing to the inbox: {e}")))?;
    let (frames_tx, frames_rx) = sync_channel(INBOX_QUEUE);
    let tapped: Arc<dyn Transport> =
        Arc::new(InboxTap::new(network.clone(), inbox.clone(), frames_tx));
    let node = runtime.block_on(start_node(&dir, seed, tapped, &ctx))?;
    let store = match Store::open(&dir) {
        Ok(s) => s,
        Err(e) => {
            runtime.block_on(node.shutdown());
            return Err(e);
        }
    };
    let handle = runtime.handle().clone();
    let running = Arc::new(Running {
        runtime: Mutex::new(Some(runtime)),
        handle,
        node,
        me,
        address: ids::address(&me),
        identity,
        store: Mutex::new(store),
        auto_accept: config.auto_accept_invitations.unwrap_or(false),
        network,
        delivery,
        stop: AtomicBool::new(false),
        pump: Mutex::new(None),
    });
    let pump = spawn_pump(running.clone(), frames_rx, inbox)?;
    *running.pump.lock().unwrap_or_else(|p| p.into_inner()) = Some(pump);
    *slot = Some(running.clone());
    drop(slot);
    let (state, detail) = running
        .delivery
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    emit::emit("delivery_state_changed", vec![json!(state), json!(detail)]);
    tracing::info!(address = %running.address, dir = %dir.display(), "demls_module started");
    Ok(running.address.clone())
}

async fn start_node(
    dir: &Path,
    seed: [u8; 32],
    transport: Arc<dyn Transport>,
    ctx: &BuildContext,
) -> Result<Node, ModuleError> {
    let defaults = NodeConfig::default();
    let mut storage_options = toml::Table::new();
    storage_options.insert(
        "path".into(),
        dir.join(store::DB_FILE)
            .to_string_lossy()
            .into_owned()
            .into(),
    );
    let storage = registry::build_storage(
        &BackendConfig {
            backend: "sqlite".into(),
            options: storage_options,
        },
        ctx,
    )
    .map_err(invalid)?;
    let node = Node::builder()
        .name(ctx.node_name.clone())
        .transport(transport)
        .storage(storage)
        .consensus(registry::build_consensus(&defaults.consensus, ctx).map_err(invalid)?)
        .steward(registry::build_steward(&defaults.steward, ctx).map_err(invalid)?)
        .params(defaults.group.clone())
        .seed(seed)
        .start()
        .await?;
    Ok(node)
}

fn spawn_pump(
    r: Arc<Running>,
    frames: Receiver<Vec<u8>>,
    _inbox: Topic,
) -> Result<JoinHandle<()>, ModuleError> {
    std::thread::Builder::new()
        .name("demls-module-events".into())
        .spawn(move || {
            while !r.stopping() {
                while let Ok(frame) = frames.try_recv() {
                    crate::ffi::boundary((), || events::inbox_frame(&r, &frame));
                }
                match r.block(r.node.next_event_timeout(PUMP_WAIT)) {
                    Some(event) => crate::ffi::boundary((), || events::node_event(&r, event)),
                    None if !r.block(r.node.status()).running => {
                        std::thread::sleep(PUMP_WAIT);
                    }
                    None => {}
                }
            }
        })
        .map_err(|e| ModuleError::Persistence(format!("event thread: {e}")))
}
