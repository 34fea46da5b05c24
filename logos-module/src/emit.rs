//! The host's event-emission callback and emitting events through it.
//!
//! The callback is kept with its `user_data` under one lock, and every emission runs while
//! holding that lock: so once `logos_module_set_emit_callback(NULL, _)` (or a replacement)
//! returns, the old callback is never called again, from any thread. The price: the callback
//! must not itself call `logos_module_set_emit_callback` (it would wait for itself).
//! Events may be emitted from any module thread (the event pump, the delivery callbacks).

use std::ffi::{CString, c_char, c_void};
use std::sync::Mutex;

use serde_json::Value;

/// The callback type of `logos_module_impl.h`.
pub type EmitCallback = unsafe extern "C" fn(
    event_name: *const c_char,
    data_json: *const c_char,
    user_data: *mut c_void,
);

struct Installed {
    cb: EmitCallback,
    /// The host's `user_data`, kept as an address (the host owns it).
    user_data: usize,
}

static EMIT: Mutex<Option<Installed>> = Mutex::new(None);

/// Installs (or with `None` clears) the callback. Returns once no emission through the old
/// callback is running.
pub(crate) fn set(cb: Option<EmitCallback>, user_data: *mut c_void) {
    let mut slot = EMIT.lock().unwrap_or_else(|p| p.into_inner());
    *slot = cb.map(|cb| Installed {
        cb,
        user_data: user_data as usize,
    });
}

/// Emits `event` with `args` (a JSON array, in the LIDL event's parameter order). Without a
/// callback the event is dropped (and traced).
pub(crate) fn emit(event: &str, args: Vec<Value>) {
    let data = Value::Array(args).to_string();
    let slot = EMIT.lock().unwrap_or_else(|p| p.into_inner());
    let Some(installed) = slot.as_ref() else {
        tracing::debug!(event, "no emit callback installed: event dropped");
        return;
    };
    let (Ok(name), Ok(data)) = (CString::new(event), CString::new(data)) else {
        tracing::warn!(event, "an event with an interior NUL was dropped");
        return;
    };
    tracing::trace!(event, "emitting");
    // SAFETY: the host installed this callback for exactly these arguments; the strings
    // live until it returns.
    unsafe {
        (installed.cb)(
            name.as_ptr(),
            data.as_ptr(),
            installed.user_data as *mut c_void,
        )
    };
}
