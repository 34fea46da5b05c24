//! [`DeliveryTransport`]: a [`Transport`] over the host's `delivery_module`, reached through
//! the `lp_*` consumer ABI.
//!
//! Connecting (once, lazily, or eagerly with [`DeliveryTransport::connect_blocking`]):
//! `lp_client_create("delivery_module", "demls_module")`, `lp_subscribe` to
//! `messageReceived` and `connectionStateChanged` (before start), `createNode(<config>)`,
//! `start()`. A de-MLS topic is a content topic (`subscribe(<topic>)`, once per topic;
//! delivery_module has no unsubscribe, so unsubscribing only filters locally). A payload is
//! published as lip-segmentation segments, exactly as the `logos` transport does (one
//! segment when it fits), each by `lp_invoke_async(send, [topic, {"_bytes": base64url}])`.
//! Received segments are reassembled; our own publications echoed back are dropped.
//!
//! Threads: blocking `lp_invoke` calls run under `spawn_blocking`; `lp_invoke_async` and the
//! callbacks never block. Inbound messages wait in a bounded queue (dropped, and counted,
//! when full). `close` unsubscribes and destroys the client: no callback runs after it
//! returns.

use std::collections::{HashSet, VecDeque};
use std::ffi::{CStr, c_char, c_int, c_void};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use demls::{Inbound, Topic, Transport, TransportError};
use demls_transport_logos::{
    ENTIRE_HASH_LEN, Reassembler, ReassemblyLimits, entire_hash, parse_segment, segment_payload,
};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot, watch};

use super::error::DeliveryError;
use super::lp::LpApi;

/// The largest Waku message delivery_module carries (150 KiB).
pub const MAX_MESSAGE_SIZE: usize = 150 * 1024;
/// Bytes of a message kept for everything but a segment's chunk.
pub const SEGMENT_OVERHEAD: usize = demls_transport_logos::SEGMENT_OVERHEAD;
/// The largest payload `publish` accepts (segmented): 16 MiB.
pub const MAX_PAYLOAD: usize = 16 * 1024 * 1024;
/// Inbound messages that may wait for `recv`.
pub const INBOUND_QUEUE: usize = 1024;
/// How long a `send` may take before it counts as failed.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// The timeout handed to blocking `lp_invoke` calls (ms).
pub const INVOKE_TIMEOUT_MS: i32 = 30_000;
/// Own publications remembered to drop their echoes.
const OWN_REMEMBERED: usize = 512;

/// Called with `(status, detail)` on every `connectionStateChanged`.
pub type StateListener = Box<dyn Fn(&str, &str) + Send + Sync>;

/// A connected client: its handle and subscriptions (addresses), and the callbacks' userdata.
struct Connection {
    client: usize,
    subscriptions: Vec<usize>,
    user_data: usize,
}

struct Inner {
    api: &'static LpApi,
    delivery_config: String,
    topics: Mutex<HashSet<String>>,
    tx: mpsc::Sender<Inbound>,
    rx: tokio::sync::Mutex<mpsc::Receiver<Inbound>>,
    reassembler: Mutex<Reassembler<String, Vec<u8>>>,
    own: Mutex<VecDeque<[u8; ENTIRE_HASH_LEN]>>,
    state: Mutex<(String, String)>,
    on_state: Mutex<Option<StateListener>>,
    closed: watch::Sender<bool>,
    is_closed: AtomicBool,
    dropped: AtomicU64,
    connection: Mutex<Option<Connection>>,
    connect_lock: Mutex<()>,
}

/// The `delivery_module` transport.
pub struct DeliveryTransport {
    inner: Arc<Inner>,
}

/// Whether a delivery LIDL `result` (or a bare value) says success.
fn result_ok(json_text: &str) -> Result<(), String> {
    match serde_json::from_str::<Value>(json_text) {
        Ok(Value::Object(o)) if o.get("success") == Some(&Value::Bool(false)) => Err(o
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("unspecified error")
            .to_owned()),
        Ok(Value::Object(o)) if o.contains_key("code") && o.contains_key("origin") => {
            Err(Value::Object(o).to_string())
        }
        Ok(Value::Bool(false)) => Err("false".into()),
        Ok(_) => Ok(()),
        Err(e) => Err(format!("result is not JSON: {e}")),
    }
}

impl DeliveryTransport {
    /// A transport over `api`, handing `delivery_config` to `createNode`. Nothing is called
    /// until it connects.
    pub fn new(api: &'static LpApi, delivery_config: String) -> DeliveryTransport {
        let (tx, rx) = mpsc::channel(INBOUND_QUEUE);
        let (closed, _) = watch::channel(false);
        DeliveryTransport {
            inner: Arc::new(Inner {
                api,
                delivery_config,
                topics: Mutex::new(HashSet::new()),
                tx,
                rx: tokio::sync::Mutex::new(rx),
                reassembler: Mutex::new(Reassembler::new(ReassemblyLimits {
                    max_partials: 64,
                    max_payload: MAX_PAYLOAD,
                    max_bytes: 2 * MAX_PAYLOAD,
                    timeout: Duration::from_secs(60),
                })),
                own: Mutex::new(VecDeque::new()),
                state: Mutex::new(("connecting".into(), "delivery_module not started".into())),
                on_state: Mutex::new(None),
                closed,
                is_closed: AtomicBool::new(false),
                dropped: AtomicU64::new(0),
                connection: Mutex::new(None),
                connect_lock: Mutex::new(()),
            }),
        }
    }

    /// Calls `listener` on every delivery connection state change.
    pub fn on_state_change(&self, listener: StateListener) {
        *self
            .inner
            .on_state
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(listener);
    }

    /// The last connection state: `(status, detail)`.
    pub fn state(&self) -> (String, String) {
        self.inner
            .state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Inbound messages dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.inner.dropped.load(Ordering::Relaxed)
    }

    /// Connects now, blocking the calling thread (not for a tokio worker thread): client,
    /// subscriptions, `createNode`, `start`. Does nothing if connected.
    pub fn connect_blocking(&self) -> Result<(), DeliveryError> {
        self.inner.connect()
    }

    async fn ensure_connected(&self) -> Result<(), TransportError> {
        if self.inner.is_closed.load(Ordering::SeqCst) {
            return Err(TransportError::Closed);
        }
        if self.inner.connected() {
            return Ok(());
        }
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || inner.connect())
            .await
            .map_err(|e| TransportError::Unavailable(e.to_string()))?
            .map_err(Into::into)
    }

    /// The client handle (connected).
    fn client(&self) -> Result<*mut c_void, TransportError> {
        self.inner
            .connection
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|c| c.client as *mut c_void)
            .ok_or(TransportError::Closed)
    }
}

impl Inner {
    fn connected(&self) -> bool {
        self.connection
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }

    fn connect(self: &Arc<Self>) -> Result<(), DeliveryError> {
        let _one_at_a_time = self.connect_lock.lock().unwrap_or_else(|p| p.into_inner());
        if self.connected() {
            return Ok(());
        }
        if self.is_closed.load(Ordering::SeqCst) {
            return Err(DeliveryError::Closed);
        }
        let api = self.api;
        let client = api.client_create(super::NAME, crate::dispatch::NAME)?;
        let user_data = Arc::into_raw(self.clone()) as *mut c_void;
        let mut connection = Connection {
            client: client as usize,
            subscriptions: Vec::new(),
            user_data: user_data as usize,
        };
        let setup = (|| {
            for event in ["messageReceived", "connectionStateChanged"] {
                // SAFETY: a live client; `user_data` is an `Arc<Inner>` kept until teardown.
                let sub = unsafe { api.subscribe(client, event, on_event, user_data) }?;
                connection.subscriptions.push(sub as usize);
            }
            // The delivery node belongs to the delivery_module, not to this transport: it
            // outlives a `shutdown` of the module, and delivery_module refuses a second
            // `createNode` and a second `start`. So a later `init` in the same process reuses
            // the node: it subscribes again and calls only the steps not yet done.
            for (method, args, done) in [
                (
                    "createNode",
                    json!([self.delivery_config]).to_string(),
                    &api.node_created,
                ),
                ("start", "[]".to_owned(), &api.node_started),
            ] {
                if done.load(Ordering::SeqCst) {
                    continue;
                }
                // SAFETY: a live client.
                let result = unsafe { api.invoke(client, method, &args, INVOKE_TIMEOUT_MS) }?;
                result_ok(&result).map_err(|detail| DeliveryError::Call {
                    method: method.into(),
                    detail,
                })?;
                done.store(true, Ordering::SeqCst);
            }
            Ok(())
        })();
        if let Err(e) = setup {
            teardown(api, connection);
            return Err(e);
        }
        *self.connection.lock().unwrap_or_else(|p| p.into_inner()) = Some(connection);
        tracing::info!(origin = %api.origin, "delivery_module started");
        Ok(())
    }

    fn receive(&self, data: &str) {
        let Ok(Value::Array(fields)) = serde_json::from_str::<Value>(data) else {
            tracing::warn!("a messageReceived event that is not a JSON array was dropped");
            return;
        };
        let (Some(hash), Some(topic), Some(payload)) = (
            fields.first().and_then(Value::as_str),
            fields.get(1).and_then(Value::as_str),
            fields
                .get(2)
                .and_then(|p| p.get("_bytes"))
                .and_then(Value::as_str),
        ) else {
            tracing::warn!("a malformed messageReceived event was dropped");
            return;
        };
        if !self
            .topics
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(topic)
        {
            tracing::trace!(
                topic,
                "a message on a topic not subscribed here was dropped"
            );
            return;
        }
        let trimmed = payload.trim_end_matches('=');
        let Ok(bytes) = URL_SAFE_NO_PAD
            .decode(trimmed)
            .or_else(|_| STANDARD.decode(payload))
        else {
            tracing::warn!(topic, "a message whose payload is not base64 was dropped");
            return;
        };
        let segment = match parse_segment(&bytes) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(topic, error = %e, "dropping a message that is not a valid segment");
                return;
            }
        };
        if self
            .own
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&segment.entire_hash)
        {
            return;
        }
        let message_id =
            hex::decode(hash.trim_start_matches("0x")).unwrap_or_else(|_| hash.as_bytes().to_vec());
        let done = self
            .reassembler
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .add(topic.to_owned(), segment, message_id, Instant::now());
        match done {
            Ok(Some(whole)) => {
                let inbound = Inbound {
                    topic: Topic::new(topic),
                    payload: whole.payload,
                    message_id: whole.tag,
                };
                if self.tx.try_send(inbound).is_err() {
                    let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                    tracing::warn!(dropped = n, "inbound queue full: a message was dropped");
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(topic, error = %e, "dropping a segmented message"),
        }
    }

    fn state_changed(&self, data: &str) {
        let fields: Vec<Value> = serde_json::from_str(data).unwrap_or_default();
        let status = fields
            .first()
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_owned();
        let detail = match fields.get(1) {
            Some(ts) => format!("delivery_module connectionStateChanged at {ts}"),
            None => "delivery_module connectionStateChanged".into(),
        };
        *self.state.lock().unwrap_or_else(|p| p.into_inner()) = (status.clone(), detail.clone());
        if let Some(listener) = self
            .on_state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            listener(&status, &detail);
        }
    }
}

/// Unsubscribes, destroys the client and releases the callbacks' userdata (after which no
/// callback runs).
fn teardown(api: &LpApi, connection: Connection) {
    for sub in connection.subscriptions {
        // SAFETY: subscriptions of this client, released once.
        unsafe { api.unsubscribe(sub as *mut c_void) };
    }
    // SAFETY: the client, destroyed once.
    unsafe { api.client_destroy(connection.client as *mut c_void) };
    // SAFETY: the `Arc<Inner>` leaked at connect; no callback can use it any more.
    drop(unsafe { Arc::from_raw(connection.user_data as *const Inner) });
}

/// The event callback of both subscriptions.
unsafe extern "C" fn on_event(event: *const c_char, data: *const c_char, user_data: *mut c_void) {
    crate::ffi::boundary((), || {
        if event.is_null() || data.is_null() || user_data.is_null() {
            return;
        }
        // SAFETY: the userdata is the live `Arc<Inner>` of the subscription (released only
        // after unsubscribing); the strings are valid during the call.
        let (inner, event, data) = unsafe {
            (
                &*(user_data as *const Inner),
                CStr::from_ptr(event).to_string_lossy(),
                CStr::from_ptr(data).to_string_lossy(),
            )
        };
        match event.as_ref() {
            "messageReceived" => inner.receive(&data),
            "connectionStateChanged" => inner.state_changed(&data),
            other => tracing::debug!(event = other, "an unexpected delivery event was ignored"),
        }
    })
}

type SendReply = oneshot::Sender<Result<(), String>>;

/// The result callback of `send`.
unsafe extern "C" fn on_sent(ok: c_int, json: *const c_char, user_data: *mut c_void) {
    crate::ffi::boundary((), || {
        if user_data.is_null() {
            return;
        }
        // SAFETY: the box handed to lp_invoke_async, which calls this exactly once.
        let reply = unsafe { Box::from_raw(user_data as *mut SendReply) };
        let text = if json.is_null() {
            "null".to_owned()
        } else {
            // SAFETY: valid during the call.
            unsafe { CStr::from_ptr(json) }
                .to_string_lossy()
                .into_owned()
        };
        let outcome = if ok == 0 { Err(text) } else { result_ok(&text) };
        let _ = reply.send(outcome);
    })
}

#[async_trait]
impl Transport for DeliveryTransport {
    fn name(&self) -> &str {
        super::NAME
    }

    fn max_payload(&self) -> usize {
        MAX_PAYLOAD
    }

    async fn publish(&self, topic: &Topic, payload: Vec<u8>) -> Result<(), TransportError> {
        if payload.len() > MAX_PAYLOAD {
            return Err(TransportError::PayloadTooLarge {
                size: payload.len(),
                limit: MAX_PAYLOAD,
            });
        }
        self.ensure_connected().await?;
        {
            let mut own = self.inner.own.lock().unwrap_or_else(|p| p.into_inner());
            own.push_back(entire_hash(&payload));
            while own.len() > OWN_REMEMBERED {
                own.pop_front();
            }
        }
        let segments = segment_payload(&payload, MAX_MESSAGE_SIZE - SEGMENT_OVERHEAD);
        for segment in segments {
            let args =
                json!([topic.as_str(), {"_bytes": URL_SAFE_NO_PAD.encode(&segment)}]).to_string();
            let (tx, rx) = oneshot::channel::<Result<(), String>>();
            let user_data = Box::into_raw(Box::new(tx)) as *mut c_void;
            let client = self.client()?;
            // SAFETY: a live client; `on_sent` takes back the box exactly once.
            let dispatched = unsafe {
                self.inner
                    .api
                    .invoke_async(client, "send", &args, on_sent, user_data)
            };
            if let Err(e) = dispatched {
                // SAFETY: not dispatched, so the callback will not take it.
                drop(unsafe { Box::from_raw(user_data as *mut SendReply) });
                return Err(e.into());
            }
            match tokio::time::timeout(SEND_TIMEOUT, rx).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(detail))) => {
                    return Err(DeliveryError::Call {
                        method: "send".into(),
                        detail,
                    }
                    .into());
                }
                Ok(Err(_)) => return Err(TransportError::Closed),
                Err(_) => {
                    return Err(TransportError::Unavailable(
                        "delivery_module send timed out".into(),
                    ));
                }
            }
        }
        Ok(())
    }

    async fn subscribe(&self, topic: &Topic) -> Result<(), TransportError> {
        self.ensure_connected().await?;
        let fresh = self
            .inner
            .topics
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(topic.as_str().to_owned());
        if !fresh {
            return Ok(());
        }
        let inner = self.inner.clone();
        let client = self.client()? as usize;
        let args = json!([topic.as_str()]).to_string();
        let outcome = tokio::task::spawn_blocking(move || {
            // SAFETY: a live client (destroyed only by close, after which calls fail).
            let result = unsafe {
                inner
                    .api
                    .invoke(client as *mut c_void, "subscribe", &args, INVOKE_TIMEOUT_MS)
            }?;
            result_ok(&result).map_err(|detail| DeliveryError::Call {
                method: "subscribe".into(),
                detail,
            })
        })
        .await
        .map_err(|e| TransportError::Unavailable(e.to_string()))?;
        if let Err(e) = outcome {
            self.inner
                .topics
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(topic.as_str());
            return Err(e.into());
        }
        Ok(())
    }

    async fn unsubscribe(&self, topic: &Topic) -> Result<(), TransportError> {
        self.inner
            .topics
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(topic.as_str());
        Ok(())
    }

    async fn recv(&self) -> Result<Inbound, TransportError> {
        let mut closed = self.inner.closed.subscribe();
        if self.inner.is_closed.load(Ordering::SeqCst) || *closed.borrow() {
            return Err(TransportError::Closed);
        }
        let mut rx = self.inner.rx.lock().await;
        tokio::select! {
            message = rx.recv() => message.ok_or(TransportError::Closed),
            _ = closed.wait_for(|c| *c) => Err(TransportError::Closed),
        }
    }

    async fn close(&self) {
        if self.inner.is_closed.swap(true, Ordering::SeqCst) {
            return;
        }
        // `send_replace` stores the value even with no receiver (`send` would not).
        self.inner.closed.send_replace(true);
        let connection = self
            .inner
            .connection
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(connection) = connection {
            let api = self.inner.api;
            let done = tokio::task::spawn_blocking(move || teardown(api, connection)).await;
            if let Err(e) = done {
                tracing::error!(error = %e, "delivery_module teardown failed");
            }
        }
        tracing::info!("delivery_module transport closed");
    }
}

impl Drop for DeliveryTransport {
    fn drop(&mut self) {
        // Not closed: tear down here (the userdata Arc would otherwise keep `Inner` alive).
        self.inner.is_closed.store(true, Ordering::SeqCst);
        let connection = self
            .inner
            .connection
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(connection) = connection {
            teardown(self.inner.api, connection);
        }
    }
}
