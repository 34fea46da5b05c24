//! Events to C, both ways: a callback the node calls for each event (on a runtime worker
//! thread), or polling with a timeout. Each event is one JSON object of the canonical form
//! (`{"type": "message_received", ...}`, byte strings in base64; `specs/api.md`).

use std::ffi::{CString, c_char, c_void};
use std::time::Duration;

use crate::memory::string_out;
use crate::node::{demls_node, node_arg};
use crate::result::{boundary, demls_result, require};

/// Receives one event: `userdata` as given to `demls_node_set_event_callback`, and the
/// event's JSON text, valid **only during the call** (copy it to keep it).
///
/// Runs on one of the node's runtime worker threads, one event at a time and in order. It
/// must return promptly and must not block. From inside it only non-blocking functions may be
/// called: `demls_last_error`, `demls_result_name`, `demls_version`, `demls_backends`,
/// `demls_string_free`, `demls_bytes_free`, `demls_node_member_id`, `demls_group_id`,
/// `demls_group_history`, `demls_group_free`, `demls_node_next_event` with timeout 0; every
/// blocking function returns `DEMLS_RESULT_WRONG_THREAD` there. It must not call
/// `demls_node_set_event_callback` of its own node (that waits for the running callback to
/// return).
pub type demls_event_callback =
    Option<unsafe extern "C" fn(userdata: *mut c_void, event_json: *const c_char)>;

/// The callback and its `userdata`, movable to the runtime's threads.
struct Target {
    callback: unsafe extern "C" fn(*mut c_void, *const c_char),
    userdata: *mut c_void,
}

// SAFETY: the caller of `demls_node_set_event_callback` promises that `userdata` may be used
// from the runtime's threads (see its documentation); the library never dereferences it.
unsafe impl Send for Target {}
// SAFETY: as above; the callback is called one event at a time.
unsafe impl Sync for Target {}

impl Target {
    fn deliver(&self, json: String) {
        let Ok(text) = CString::new(json) else {
            return;
        };
        // SAFETY: a C function pointer given by the caller; the text lives during the call.
        unsafe { (self.callback)(self.userdata, text.as_ptr()) };
    }
}

/// Delivers every later event to `callback` instead of the polling queue (events already
/// queued stay there for `demls_node_next_event`); a NULL `callback` returns to polling.
/// `userdata` (may be NULL) is passed back unchanged; it must stay valid, and usable from
/// another thread, until the callback is replaced, or the node freed. When this returns, a
/// callback it replaced is no longer running and will not be called again (so its
/// `userdata` may be released). Not from inside the node's own callback.
///
/// # Safety
/// `node` is NULL or a live handle; `callback`, if not NULL, is safe to call from another
/// thread with `userdata`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn demls_node_set_event_callback(
    node: *const demls_node,
    callback: demls_event_callback,
    userdata: *mut c_void,
) -> demls_result {
    boundary(|| {
        // SAFETY: by this function's contract.
        let node = unsafe { node_arg(node) }?;
        node.set_event_callback(callback.map(|callback| {
            let target = Target { callback, userdata };
            Box::new(move |event: demls_core::api::Event| target.deliver(event.to_json()))
                as demls_core::EventCallback
        }));
        Ok(())
    })
}

/// Waits up to `timeout_ms` milliseconds for the next queued event. **When none came**
/// (timeout, or the node stopped and its queue is empty) it returns `DEMLS_RESULT_OK` and sets
/// `*out_json` to NULL; otherwise `*out_json` is the event's JSON, released with
/// `demls_string_free`. With a callback set, events go to the callback and not here.
/// Timeout 0 only takes an event already queued and may be called from an event callback;
/// any other timeout is blocking.
///
/// # Safety
/// `node` is NULL or a live handle; `out_json` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn demls_node_next_event(
    node: *const demls_node,
    timeout_ms: u32,
    out_json: *mut *mut c_char,
) -> demls_result {
    boundary(|| {
        // SAFETY: by this function's contract.
        let node = unsafe { node_arg(node) }?;
        require(out_json, "out_json")?;
        let event = node.next_event(Duration::from_millis(u64::from(timeout_ms)))?;
        let text = event.map_or(std::ptr::null_mut(), |e| string_out(e.to_json()));
        // SAFETY: checked above.
        unsafe { *out_json = text };
        Ok(())
    })
}
