//! Driving the one module instance of a test process through its exported C functions: the
//! emit and unload-done callbacks recording what they get, `dispatch` with JSON in and out, and
//! waiting for events. Each test binary uses a part of it.
#![allow(dead_code)]

use std::ffi::{CStr, CString, c_char, c_void};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use demls_module::abi::*;
use serde_json::Value;

/// Every event emitted to [`on_event`], in order.
pub static EVENTS: Mutex<Vec<(String, Value)>> = Mutex::new(Vec::new());
/// How often [`on_unloaded`] was called.
pub static UNLOADED: AtomicUsize = AtomicUsize::new(0);

/// The emit callback: records the event.
pub unsafe extern "C" fn on_event(name: *const c_char, data: *const c_char, _: *mut c_void) {
    // SAFETY: valid strings during the call.
    let (name, data) = unsafe {
        (
            CStr::from_ptr(name).to_str().unwrap().to_owned(),
            CStr::from_ptr(data).to_str().unwrap().to_owned(),
        )
    };
    EVENTS
        .lock()
        .unwrap()
        .push((name, serde_json::from_str(&data).unwrap()));
}

/// The unload-done callback: counts the calls.
pub unsafe extern "C" fn on_unloaded(_: *mut c_void) {
    UNLOADED.fetch_add(1, Ordering::SeqCst);
}

/// `logos_module_dispatch(method, args)`, the answer parsed.
pub fn call(method: &str, args: Value) -> Value {
    let (m, a) = (
        CString::new(method).unwrap(),
        CString::new(args.to_string()).unwrap(),
    );
    // SAFETY: valid C strings; the answer is released once.
    let out = unsafe { logos_module_dispatch(m.as_ptr(), a.as_ptr()) };
    let text = unsafe { CStr::from_ptr(out) }.to_str().unwrap().to_owned();
    unsafe { logos_module_string_free(out) };
    serde_json::from_str(&text).unwrap()
}

/// The value of a successful `result`; fails the test otherwise.
pub fn ok(method: &str, args: Value) -> Value {
    let v = call(method, args);
    assert_eq!(v["success"], true, "{method}: {v}");
    v["value"].clone()
}

/// Polls `cond` until it holds; fails the test after 20 s, listing the events seen.
pub fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; events: {:?}",
            EVENTS.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether an event `name` matching `matching` was emitted.
pub fn has_event(name: &str, matching: impl Fn(&Value) -> bool) -> bool {
    EVENTS
        .lock()
        .unwrap()
        .iter()
        .any(|(n, d)| n == name && matching(d))
}

/// Waits up to 20 s for an event `name` matching `matching`; its data.
pub fn wait_for_event(name: &str, matching: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some((_, data)) = EVENTS
            .lock()
            .unwrap()
            .iter()
            .find(|(n, d)| n == name && matching(d))
        {
            return data.clone();
        }
        assert!(Instant::now() < deadline, "no {name} event");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// How many events were emitted so far.
pub fn event_count() -> usize {
    EVENTS.lock().unwrap().len()
}
