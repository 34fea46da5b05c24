//! A fake `delivery_module` behind fake `lp_*` functions, installed with
//! `demls_module::delivery::lp::install`: it logs every call, answers `result`s, and relays
//! `send` to every client subscribed to the topic (the sender included, as a relay network
//! may), from a thread of its own, as `messageReceived` events.

#![allow(dead_code)]

use std::collections::HashSet;
use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::sync::Mutex;

use demls_module::delivery::lp::{EventCb, LpApi, LpFunctions, ResultCb, install};
use serde_json::{Value, json};

struct Sub {
    id: usize,
    client: usize,
    event: String,
    cb: EventCb,
    user_data: usize,
}

struct Client {
    id: usize,
    topics: HashSet<String>,
}

#[derive(Default)]
struct State {
    log: Vec<String>,
    clients: Vec<Client>,
    subs: Vec<Sub>,
    next: usize,
}

static STATE: Mutex<State> = Mutex::new(State {
    log: Vec::new(),
    clients: Vec::new(),
    subs: Vec::new(),
    next: 0x1000,
});

fn s(p: *const c_char) -> String {
    if p.is_null() {
        return "NULL".into();
    }
    // SAFETY: valid during the call.
    unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_owned()
}

fn out(text: &str) -> *mut c_char {
    CString::new(text).unwrap().into_raw()
}

const OK: &str = r#"{"success":true,"value":null,"error":null}"#;

unsafe extern "C" fn client_create(
    target: *const c_char,
    origin: *const c_char,
    _: *const c_char,
    _: *const c_char,
) -> *mut c_void {
    let mut st = STATE.lock().unwrap();
    st.next += 16;
    let id = st.next;
    st.log
        .push(format!("client_create {} {}", s(target), s(origin)));
    st.clients.push(Client {
        id,
        topics: HashSet::new(),
    });
    id as *mut c_void
}

unsafe extern "C" fn client_destroy(c: *mut c_void) {
    let mut st = STATE.lock().unwrap();
    st.log.push("client_destroy".into());
    st.clients.retain(|x| x.id != c as usize);
    st.subs.retain(|x| x.client != c as usize);
}

unsafe extern "C" fn invoke(
    c: *mut c_void,
    method: *const c_char,
    args: *const c_char,
    _timeout: c_int,
    result: *mut *mut c_char,
    _error: *mut *mut c_char,
) -> c_int {
    let (method, args) = (s(method), s(args));
    let mut st = STATE.lock().unwrap();
    st.log.push(format!("invoke {method} {args}"));
    if method == "subscribe" {
        let topic: Vec<String> = serde_json::from_str(&args).unwrap();
        if let Some(client) = st.clients.iter_mut().find(|x| x.id == c as usize) {
            client.topics.insert(topic[0].clone());
        }
    }
    // SAFETY: a valid out-pointer.
    unsafe { *result = out(OK) };
    0
}

unsafe extern "C" fn invoke_async(
    c: *mut c_void,
    method: *const c_char,
    args: *const c_char,
    _timeout: c_int,
    cb: ResultCb,
    user_data: *mut c_void,
) -> c_int {
    let (method, args) = (s(method), s(args));
    let parsed: Value = serde_json::from_str(&args).unwrap();
    let deliveries: Vec<(EventCb, usize, String)> = {
        let mut st = STATE.lock().unwrap();
        st.log.push(format!("invoke_async {method} {}", parsed[0]));
        let topic = parsed[0].as_str().unwrap().to_owned();
        let n = st.log.len();
        let data = json!([format!("{n:064x}"), topic, parsed[1], 1_700_000_000_000u64]).to_string();
        let receivers: Vec<usize> = st
            .clients
            .iter()
            .filter(|x| x.topics.contains(&topic))
            .map(|x| x.id)
            .collect();
        st.subs
            .iter()
            .filter(|x| x.event == "messageReceived" && receivers.contains(&x.client))
            .map(|x| (x.cb, x.user_data, data.clone()))
            .collect()
    };
    let _ = c;
    let user_data = user_data as usize;
    std::thread::spawn(move || {
        for (ev_cb, ud, data) in deliveries {
            let (e, d) = (
                CString::new("messageReceived").unwrap(),
                CString::new(data).unwrap(),
            );
            // SAFETY: a subscription's callback with its userdata.
            unsafe { ev_cb(e.as_ptr(), d.as_ptr(), ud as *mut c_void) };
        }
        let r = CString::new(OK).unwrap();
        // SAFETY: the async result callback, called exactly once.
        unsafe { cb(1, r.as_ptr(), user_data as *mut c_void) };
    });
    0
}

unsafe extern "C" fn subscribe(
    c: *mut c_void,
    event: *const c_char,
    cb: EventCb,
    user_data: *mut c_void,
) -> *mut c_void {
    let mut st = STATE.lock().unwrap();
    st.next += 16;
    let id = st.next;
    let event = s(event);
    st.log.push(format!("subscribe {event}"));
    st.subs.push(Sub {
        id,
        client: c as usize,
        event,
        cb,
        user_data: user_data as usize,
    });
    id as *mut c_void
}

unsafe extern "C" fn unsubscribe(sub: *mut c_void) {
    let mut st = STATE.lock().unwrap();
    st.log.push("unsubscribe".into());
    st.subs.retain(|x| x.id != sub as usize);
}

unsafe extern "C" fn string_free(p: *mut c_char) {
    if !p.is_null() {
        // SAFETY: made by `out`.
        drop(unsafe { CString::from_raw(p) });
    }
}

unsafe extern "C" fn token_save(module: *const c_char, _token: *const c_char) -> c_int {
    STATE
        .lock()
        .unwrap()
        .log
        .push(format!("token_save {}", s(module)));
    0
}

/// Installs the fake and returns its table.
pub fn install_fake() -> &'static LpApi {
    install(LpFunctions {
        client_create,
        client_destroy,
        invoke,
        invoke_async,
        subscribe,
        unsubscribe,
        string_free,
        token_save,
    })
}

/// The calls so far.
pub fn log() -> Vec<String> {
    STATE.lock().unwrap().log.clone()
}

/// Emits `connectionStateChanged [status, ts]` to every subscriber.
pub fn fire_state(status: &str) {
    let subs: Vec<(EventCb, usize)> = STATE
        .lock()
        .unwrap()
        .subs
        .iter()
        .filter(|x| x.event == "connectionStateChanged")
        .map(|x| (x.cb, x.user_data))
        .collect();
    let data = CString::new(json!([status, 1_700_000_000_001u64]).to_string()).unwrap();
    let e = CString::new("connectionStateChanged").unwrap();
    for (cb, ud) in subs {
        // SAFETY: a subscription's callback with its userdata.
        unsafe { cb(e.as_ptr(), data.as_ptr(), ud as *mut c_void) };
    }
}

/// Live subscriptions.
pub fn subscription_count() -> usize {
    STATE.lock().unwrap().subs.len()
}
