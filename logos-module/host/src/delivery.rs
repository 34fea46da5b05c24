//! The fake `delivery_module`: what a module reaches through the host's `lp_*` consumer ABI.
//!
//! Owns the process-wide state behind [`crate::exports`]: clients, event subscriptions, stored
//! tokens and the one delivery node of this host, which publishes to and receives from the
//! relay hub ([`crate::relay`], through [`crate::relay_link`]) instead of a Waku network. It
//! does not touch the module image.
//!
//! It behaves as the real `delivery_module` does for the calls de-MLS makes (methods as in
//! `logos-chat-module`'s `deps/delivery_module.lidl`):
//! - `createNode(config: tstr) -> result` records the node configuration (any text); a second
//!   `createNode` fails, as the real one rejects duplicates;
//! - `start() -> result` fails before `createNode` and when started (it is not idempotent); it
//!   connects to the relay and emits
//!   `connectionStateChanged ["connected", ts]` (`["disconnected", ts]` when the link drops);
//! - `subscribe(contentTopic)` / `unsubscribe(contentTopic) -> result` fail before `start`;
//! - `send(contentTopic, payload: bstr) -> result` fails before `start` and for a payload above
//!   the Waku limit of 150 KiB; its value is the message hash;
//! - `stop() -> result` closes the link.
//!
//! A received message on a subscribed topic is emitted as `messageReceived [messageHash,
//! contentTopic, {"_bytes": base64url}, timestamp]` (timestamp in nanoseconds since the epoch,
//! as Waku stamps messages). A `result` is `{"success": true, "value": …}` or
//! `{"success": false, "error": "<text>"}`; an argument the method refuses answers the error
//! object `{"code": "invalid_args", …}` as its result, and an unknown method answers `null`, as
//! every provider flavour does. A client whose target is not `delivery_module` fails its calls
//! with `LP_ERR_UNAVAILABLE` and the error object `object_unavailable`.
//!
//! Callbacks run on two internal threads (events; asynchronous results), never on the caller's,
//! and after `lp_unsubscribe` / `lp_client_destroy` return none fires for that handle.

use std::cell::Cell;
use std::collections::{BTreeSet, HashMap};
use std::ffi::{CString, c_char, c_int, c_void};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use crate::frame::Publication;
use crate::relay_link::RelayLink;

/// The name of the one module this fake provides.
pub const DELIVERY_MODULE: &str = "delivery_module";
/// The largest payload `send` accepts (the Waku message limit).
pub const MAX_PAYLOAD: usize = 150 * 1024;
/// Return codes of the consumer ABI (`logos_protocol.h`).
pub const LP_OK: c_int = 0;
/// An argument was refused.
pub const LP_ERR_INVALID_ARG: c_int = -1;
/// The target module could not be reached.
pub const LP_ERR_UNAVAILABLE: c_int = -4;

const QUEUE: usize = 1024;

/// An event callback: `(event_name, data_json, user_data)`.
pub type EventCb = unsafe extern "C" fn(*const c_char, *const c_char, *mut c_void);
/// A result callback of `lp_invoke_async`: `(ok, json, user_data)`.
pub type ResultCb = unsafe extern "C" fn(c_int, *const c_char, *mut c_void);

/// A caller's opaque pointer, handed back to its callbacks only.
#[derive(Clone, Copy)]
struct UserData(*mut c_void);
// SAFETY: the pointer is never dereferenced here; the ABI lets callbacks run on any thread.
unsafe impl Send for UserData {}

/// The outcome of one call: the result JSON value, or a failure code and its error object.
#[derive(Debug, Clone, PartialEq)]
pub enum Invoked {
    /// `LP_OK` and the result value.
    Ok(Value),
    /// A negative `LP_ERR_*` code and the canonical error object.
    Failed(c_int, Value),
}

struct Client {
    target: String,
}

struct Subscription {
    client: u64,
    event: CString,
    cb: EventCb,
    user_data: UserData,
}

#[derive(Default)]
struct Node {
    config: Option<String>,
    link: Option<RelayLink>,
    generation: u64,
    topics: BTreeSet<String>,
}

struct Job {
    client: u64,
    method: String,
    args: String,
    cb: ResultCb,
    user_data: UserData,
}

struct Event {
    name: CString,
    data: CString,
}

/// The process-wide fake `delivery_module` and client registry.
pub struct Delivery {
    relay: Mutex<Option<PathBuf>>,
    node: Mutex<Node>,
    clients: Mutex<HashMap<u64, Client>>,
    subs: Mutex<HashMap<u64, Subscription>>,
    tokens: Mutex<HashMap<String, String>>,
    /// Held while a callback runs; taken by unsubscribe/destroy to wait one out.
    in_callback: Mutex<()>,
    next_id: AtomicU64,
    events: SyncSender<Event>,
    jobs: SyncSender<Job>,
}

thread_local! {
    static ON_CALLBACK_THREAD: Cell<bool> = const { Cell::new(false) };
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The process's fake `delivery_module` (created, with its two threads, on first use).
pub fn delivery() -> &'static Delivery {
    static DELIVERY: OnceLock<Delivery> = OnceLock::new();
    DELIVERY.get_or_init(|| {
        let (events, events_rx) = sync_channel(QUEUE);
        let (jobs, jobs_rx) = sync_channel(QUEUE);
        spawn("lp-events", move || event_loop(events_rx));
        spawn("lp-async", move || job_loop(jobs_rx));
        Delivery {
            relay: Mutex::new(None),
            node: Mutex::default(),
            clients: Mutex::default(),
            subs: Mutex::default(),
            tokens: Mutex::default(),
            in_callback: Mutex::new(()),
            next_id: AtomicU64::new(1),
            events,
            jobs,
        }
    })
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) {
    if let Err(e) = std::thread::Builder::new().name(name.into()).spawn(f) {
        tracing::error!(thread = name, error = %e, "cannot start a delivery thread");
    }
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

fn success(value: Value) -> Value {
    json!({"success": true, "value": value})
}

fn failure(error: impl Into<String>) -> Value {
    json!({"success": false, "error": error.into()})
}

fn invalid_args(message: &str) -> Value {
    json!({"code": "invalid_args", "message": message, "origin": DELIVERY_MODULE})
}

fn message_hash(p: &Publication) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(p.topic.as_bytes());
    ctx.update(&[0]);
    ctx.update(&p.payload);
    let digest = ctx.finish();
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("0x{hex}")
}

fn decode_bytes(v: &Value) -> Option<Vec<u8>> {
    let text = v.as_object()?.get("_bytes")?.as_str()?;
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .or_else(|_| URL_SAFE.decode(text))
        .ok()
}

impl Delivery {
    /// Sets the relay hub socket `start` connects to.
    pub fn set_relay(&self, path: Option<PathBuf>) {
        *lock(&self.relay) = path;
    }

    /// Registers a client of `target`; its handle id.
    pub fn create_client(&self, target: &str) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        lock(&self.clients).insert(
            id,
            Client {
                target: target.to_owned(),
            },
        );
        id
    }

    /// Forgets a client and its subscriptions; no callback of it fires after this returns.
    pub fn destroy_client(&self, client: u64) {
        lock(&self.clients).remove(&client);
        lock(&self.subs).retain(|_, s| s.client != client);
        self.wait_for_callbacks();
    }

    /// Subscribes `cb` to `event` of the client's target; the subscription id.
    pub fn subscribe(
        &self,
        client: u64,
        event: &str,
        cb: EventCb,
        user_data: *mut c_void,
    ) -> Option<u64> {
        let event = CString::new(event).ok()?;
        if !lock(&self.clients).contains_key(&client) {
            return None;
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        lock(&self.subs).insert(
            id,
            Subscription {
                client,
                event,
                cb,
                user_data: UserData(user_data),
            },
        );
        Some(id)
    }

    /// Cancels a subscription; its callback does not fire after this returns.
    pub fn unsubscribe(&self, sub: u64) {
        lock(&self.subs).remove(&sub);
        self.wait_for_callbacks();
    }

    fn wait_for_callbacks(&self) {
        // From inside a callback the running one is the caller itself: nothing to wait for.
        if !ON_CALLBACK_THREAD.with(Cell::get) {
            drop(lock(&self.in_callback));
        }
    }

    /// Stores a token (`lp_token_save`).
    pub fn save_token(&self, module: &str, token: &str) {
        lock(&self.tokens).insert(module.to_owned(), token.to_owned());
    }

    /// The stored token for `module` (`lp_token_get`).
    pub fn token(&self, module: &str) -> Option<String> {
        lock(&self.tokens).get(module).cloned()
    }

    /// Queues an asynchronous call; `cb` fires exactly once on the async thread (unless the
    /// client is destroyed first). False when the queue refused it.
    pub fn invoke_async(
        &self,
        client: u64,
        method: &str,
        args: &str,
        cb: ResultCb,
        user_data: *mut c_void,
    ) -> bool {
        let job = Job {
            client,
            method: method.to_owned(),
            args: args.to_owned(),
            cb,
            user_data: UserData(user_data),
        };
        self.jobs.send(job).is_ok()
    }

    /// Runs one call of `method` with the JSON array `args` on the client's target.
    pub fn invoke(&self, client: u64, method: &str, args: &str) -> Invoked {
        let target = match lock(&self.clients).get(&client) {
            Some(c) => c.target.clone(),
            None => {
                return Invoked::Failed(
                    LP_ERR_INVALID_ARG,
                    json!({"code": "invalid_args", "message": "unknown client", "origin": "lp"}),
                );
            }
        };
        if target != DELIVERY_MODULE {
            return Invoked::Failed(
                LP_ERR_UNAVAILABLE,
                json!({"code": "object_unavailable",
                       "message": format!("no module '{target}' in the test host"),
                       "origin": target}),
            );
        }
        let args: Vec<Value> = match serde_json::from_str(args) {
            Ok(Value::Array(a)) => a,
            _ => {
                return Invoked::Failed(
                    LP_ERR_INVALID_ARG,
                    json!({"code": "invalid_args", "message": "arguments must be a JSON array",
                           "origin": DELIVERY_MODULE}),
                );
            }
        };
        Invoked::Ok(self.call(method, &args))
    }

    fn call(&self, method: &str, args: &[Value]) -> Value {
        let one_text = || match args {
            [Value::String(s)] => Some(s.clone()),
            _ => None,
        };
        match method {
            "createNode" => match one_text() {
                Some(config) => {
                    let mut node = lock(&self.node);
                    if node.config.is_some() {
                        return failure("a delivery node was already created");
                    }
                    node.config = Some(config);
                    success(Value::Null)
                }
                None => invalid_args("createNode(config: tstr)"),
            },
            "start" if args.is_empty() => self.start(),
            "start" => invalid_args("start()"),
            "stop" => {
                self.disconnect();
                success(Value::Null)
            }
            "subscribe" | "unsubscribe" => {
                let Some(topic) = one_text() else {
                    return invalid_args("subscribe(contentTopic: tstr)");
                };
                let mut node = lock(&self.node);
                if node.link.is_none() {
                    return failure("delivery node is not started");
                }
                if method == "subscribe" {
                    node.topics.insert(topic);
                } else {
                    node.topics.remove(&topic);
                }
                success(Value::Null)
            }
            "send" => match args {
                [Value::String(topic), payload] => match decode_bytes(payload) {
                    Some(payload) => self.send(Publication {
                        topic: topic.clone(),
                        payload,
                    }),
                    None => invalid_args("send(contentTopic: tstr, payload: bstr)"),
                },
                _ => invalid_args("send(contentTopic: tstr, payload: bstr)"),
            },
            _ => Value::Null,
        }
    }

    fn start(&self) -> Value {
        let mut node = lock(&self.node);
        if node.config.is_none() {
            return failure("createNode must be called before start");
        }
        if node.link.is_some() {
            return failure("the delivery node is already started");
        }
        let Some(path) = lock(&self.relay).clone() else {
            return failure("the test host was started without --relay");
        };
        node.generation += 1;
        let generation = node.generation;
        let link = RelayLink::connect(
            &path,
            |p| delivery().receive(p),
            move || delivery().link_closed(generation),
        );
        match link {
            Ok(link) => node.link = Some(link),
            Err(e) => return failure(format!("cannot reach the relay {}: {e}", path.display())),
        }
        drop(node);
        self.emit_connection("connected");
        success(Value::Null)
    }

    fn disconnect(&self) {
        let mut node = lock(&self.node);
        if let Some(link) = node.link.take() {
            link.close();
        }
        node.topics.clear();
    }

    fn send(&self, publication: Publication) -> Value {
        if publication.payload.len() > MAX_PAYLOAD {
            return failure(format!(
                "payload of {} bytes exceeds the delivery limit of {MAX_PAYLOAD}",
                publication.payload.len()
            ));
        }
        let mut node = lock(&self.node);
        let Some(link) = node.link.as_mut() else {
            return failure("delivery node is not started");
        };
        match link.publish(&publication) {
            Ok(()) => success(Value::String(message_hash(&publication))),
            Err(e) => failure(format!("relay write failed: {e}")),
        }
    }

    fn receive(&self, publication: Publication) {
        if !lock(&self.node).topics.contains(&publication.topic) {
            return;
        }
        let data = json!([
            message_hash(&publication),
            publication.topic,
            {"_bytes": URL_SAFE_NO_PAD.encode(&publication.payload)},
            now_ns(),
        ]);
        self.queue_event("messageReceived", &data);
    }

    fn link_closed(&self, generation: u64) {
        let mut node = lock(&self.node);
        if node.generation == generation && node.link.is_some() {
            node.link = None;
            node.topics.clear();
            drop(node);
            self.emit_connection("disconnected");
        }
    }

    fn emit_connection(&self, status: &str) {
        self.queue_event("connectionStateChanged", &json!([status, now_ns()]));
    }

    fn queue_event(&self, name: &str, data: &Value) {
        let (Ok(name), Ok(data)) = (CString::new(name), CString::new(data.to_string())) else {
            return;
        };
        if self.events.send(Event { name, data }).is_err() {
            tracing::warn!("event queue closed: event dropped");
        }
    }
}

fn event_loop(rx: Receiver<Event>) {
    ON_CALLBACK_THREAD.with(|c| c.set(true));
    for event in rx {
        let d = delivery();
        let _running = lock(&d.in_callback);
        let targets: Vec<(EventCb, UserData)> = {
            let clients = lock(&d.clients);
            lock(&d.subs)
                .values()
                .filter(|s| s.event == event.name)
                .filter(|s| {
                    clients
                        .get(&s.client)
                        .is_some_and(|c| c.target == DELIVERY_MODULE)
                })
                .map(|s| (s.cb, s.user_data))
                .collect()
        };
        for (cb, user_data) in targets {
            // SAFETY: the subscriber registered `cb` with this `user_data` for this event; the
            // strings live across the call; unsubscribe waits on `in_callback` held here.
            unsafe { cb(event.name.as_ptr(), event.data.as_ptr(), user_data.0) };
        }
    }
}

fn job_loop(rx: Receiver<Job>) {
    ON_CALLBACK_THREAD.with(|c| c.set(true));
    for job in rx {
        let d = delivery();
        let (ok, text) = match d.invoke(job.client, &job.method, &job.args) {
            Invoked::Ok(v) => (1, v.to_string()),
            Invoked::Failed(_, e) => (0, e.to_string()),
        };
        let Ok(text) = CString::new(text) else {
            continue;
        };
        let _running = lock(&d.in_callback);
        if !lock(&d.clients).contains_key(&job.client) {
            continue;
        }
        // SAFETY: as for events; `lp_client_destroy` waits on `in_callback`.
        unsafe { (job.cb)(ok, text.as_ptr(), job.user_data.0) };
    }
}
