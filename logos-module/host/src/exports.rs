//! The `lp_*` consumer ABI (`logos_protocol.h`) as exported C functions of the host executable.
//!
//! Owns the C boundary only: pointer checks, string ownership, handle boxing and a panic
//! boundary around every function. What the calls do is [`crate::delivery`]'s. A module image
//! finds these with `dlsym(RTLD_DEFAULT, "lp_…")`; the executable exports them because it links
//! with `-rdynamic` and keeps them ([`EXPORTED`]).
//!
//! Strings returned here are allocated by this image and freed with [`lp_string_free`].

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::delivery::{self, EventCb, Invoked, LP_ERR_INVALID_ARG, LP_OK, ResultCb};

/// The logos-protocol version this host implements the consumer ABI of.
pub const PROTOCOL_VERSION: &CStr = c"0.8.0";
/// Its MAJOR component: a module image must report the same one.
pub const PROTOCOL_MAJOR: i64 = 0;
const LP_ERR_INTERNAL: c_int = -3;

/// An `lp_client` handle: a boxed client id.
pub struct LpClient {
    id: u64,
}

/// An `lp_subscription` handle: a boxed subscription id.
pub struct LpSubscription {
    id: u64,
}

fn guard<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        tracing::error!("panic at the lp_* boundary");
        fallback
    })
}

/// # Safety
/// `p` is NULL or a NUL-terminated string valid for the call.
unsafe fn text<'a>(p: *const c_char) -> Option<&'a str> {
    if p.is_null() {
        return None;
    }
    // SAFETY: per this function's contract.
    unsafe { CStr::from_ptr(p) }.to_str().ok()
}

fn owned(s: String) -> *mut c_char {
    CString::new(s).map_or(std::ptr::null_mut(), CString::into_raw)
}

/// `const char* lp_protocol_version(void)`: static, not freed.
#[unsafe(no_mangle)]
pub extern "C" fn lp_protocol_version() -> *const c_char {
    PROTOCOL_VERSION.as_ptr()
}

/// `int lp_protocol_abi_major(void)`.
#[unsafe(no_mangle)]
pub extern "C" fn lp_protocol_abi_major() -> c_int {
    PROTOCOL_MAJOR as c_int
}

/// `void lp_string_free(char*)`: frees a string returned by this image; NULL is a no-op.
///
/// # Safety
/// `s` is NULL or a string this image returned and has not freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lp_string_free(s: *mut c_char) {
    if !s.is_null() {
        // SAFETY: allocated by `CString::into_raw` in this image.
        drop(unsafe { CString::from_raw(s) });
    }
}

/// `lp_client* lp_client_create(target, origin, target_transport_json, capability_transport_json)`:
/// NULL for a NULL/empty target; the transports are ignored (everything is in-process).
///
/// # Safety
/// String arguments are NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lp_client_create(
    target: *const c_char,
    origin: *const c_char,
    _target_transport_json: *const c_char,
    _capability_transport_json: *const c_char,
) -> *mut LpClient {
    guard(std::ptr::null_mut(), || {
        // SAFETY: per the contract.
        let (target, origin) = unsafe { (text(target), text(origin)) };
        match target {
            Some(t) if !t.is_empty() => {
                tracing::debug!(
                    target = t,
                    origin = origin.unwrap_or(""),
                    "lp_client_create"
                );
                let id = delivery::delivery().create_client(t);
                Box::into_raw(Box::new(LpClient { id }))
            }
            _ => std::ptr::null_mut(),
        }
    })
}

/// `void lp_client_destroy(lp_client*)`: no callback of the client fires after it returns.
///
/// # Safety
/// `client` is NULL or a live handle from [`lp_client_create`], not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lp_client_destroy(client: *mut LpClient) {
    if client.is_null() {
        return;
    }
    // SAFETY: per the contract.
    let client = unsafe { Box::from_raw(client) };
    guard((), || delivery::delivery().destroy_client(client.id));
}

/// `int lp_invoke(client, method, args_json, timeout_ms, out_result_json, out_error_json)`.
///
/// # Safety
/// `client` is NULL or live; strings NULL or NUL-terminated; out-pointers NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lp_invoke(
    client: *mut LpClient,
    method: *const c_char,
    args_json: *const c_char,
    _timeout_ms: c_int,
    out_result_json: *mut *mut c_char,
    out_error_json: *mut *mut c_char,
) -> c_int {
    guard(LP_ERR_INTERNAL, || {
        // SAFETY: per the contract.
        let (method, args) = unsafe { (text(method), text(args_json)) };
        let (Some(method), false) = (method, client.is_null()) else {
            return LP_ERR_INVALID_ARG;
        };
        // SAFETY: non-NULL and live per the contract.
        let id = unsafe { &*client }.id;
        match delivery::delivery().invoke(id, method, args.unwrap_or("[]")) {
            Invoked::Ok(v) => {
                if !out_result_json.is_null() {
                    // SAFETY: writable per the contract.
                    unsafe { *out_result_json = owned(v.to_string()) };
                }
                LP_OK
            }
            Invoked::Failed(code, e) => {
                if !out_error_json.is_null() {
                    // SAFETY: writable per the contract.
                    unsafe { *out_error_json = owned(e.to_string()) };
                }
                code
            }
        }
    })
}

/// `int lp_invoke_async(client, method, args_json, timeout_ms, cb, user_data)`: LP_OK when
/// dispatched; `cb` then fires once, on the host's async thread, in call order.
///
/// # Safety
/// As [`lp_invoke`]; `cb` stays callable with `user_data` until it fires or the client dies.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lp_invoke_async(
    client: *mut LpClient,
    method: *const c_char,
    args_json: *const c_char,
    _timeout_ms: c_int,
    cb: Option<ResultCb>,
    user_data: *mut c_void,
) -> c_int {
    guard(LP_ERR_INTERNAL, || {
        // SAFETY: per the contract.
        let (method, args) = unsafe { (text(method), text(args_json)) };
        let (Some(method), Some(cb), false) = (method, cb, client.is_null()) else {
            return LP_ERR_INVALID_ARG;
        };
        // SAFETY: non-NULL and live per the contract.
        let id = unsafe { &*client }.id;
        if delivery::delivery().invoke_async(id, method, args.unwrap_or("[]"), cb, user_data) {
            LP_OK
        } else {
            LP_ERR_INTERNAL
        }
    })
}

/// `lp_subscription* lp_subscribe(client, event_name, cb, user_data)`: NULL only for a NULL
/// client, an empty event name or a NULL callback.
///
/// # Safety
/// As [`lp_invoke_async`], until [`lp_unsubscribe`] or [`lp_client_destroy`] returns.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lp_subscribe(
    client: *mut LpClient,
    event_name: *const c_char,
    cb: Option<EventCb>,
    user_data: *mut c_void,
) -> *mut LpSubscription {
    guard(std::ptr::null_mut(), || {
        // SAFETY: per the contract.
        let event = unsafe { text(event_name) };
        let (Some(event), Some(cb), false) = (event, cb, client.is_null()) else {
            return std::ptr::null_mut();
        };
        if event.is_empty() {
            return std::ptr::null_mut();
        }
        // SAFETY: non-NULL and live per the contract.
        let id = unsafe { &*client }.id;
        match delivery::delivery().subscribe(id, event, cb, user_data) {
            Some(id) => Box::into_raw(Box::new(LpSubscription { id })),
            None => std::ptr::null_mut(),
        }
    })
}

/// `void lp_unsubscribe(lp_subscription*)`: the callback does not fire after it returns.
///
/// # Safety
/// `sub` is NULL or a live handle from [`lp_subscribe`], not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lp_unsubscribe(sub: *mut LpSubscription) {
    if sub.is_null() {
        return;
    }
    // SAFETY: per the contract.
    let sub = unsafe { Box::from_raw(sub) };
    guard((), || delivery::delivery().unsubscribe(sub.id));
}

/// `int lp_token_save(module_name, token)`.
///
/// # Safety
/// Strings NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lp_token_save(module_name: *const c_char, token: *const c_char) -> c_int {
    guard(LP_ERR_INTERNAL, || {
        // SAFETY: per the contract.
        match unsafe { (text(module_name), text(token)) } {
            (Some(m), Some(t)) => {
                delivery::delivery().save_token(m, t);
                LP_OK
            }
            _ => LP_ERR_INVALID_ARG,
        }
    })
}

/// `char* lp_token_get(module_name)`: NULL when absent.
///
/// # Safety
/// `module_name` NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lp_token_get(module_name: *const c_char) -> *mut c_char {
    guard(std::ptr::null_mut(), || {
        // SAFETY: per the contract.
        unsafe { text(module_name) }
            .and_then(|m| delivery::delivery().token(m))
            .map_or(std::ptr::null_mut(), owned)
    })
}

/// Every exported `lp_*` function, by address: the executable takes this table's address so
/// that the linker keeps (and `-rdynamic` exports) each of them.
pub static EXPORTED: Exported = Exported([
    lp_protocol_version as *const c_void,
    lp_protocol_abi_major as *const c_void,
    lp_string_free as *const c_void,
    lp_client_create as *const c_void,
    lp_client_destroy as *const c_void,
    lp_invoke as *const c_void,
    lp_invoke_async as *const c_void,
    lp_subscribe as *const c_void,
    lp_unsubscribe as *const c_void,
    lp_token_save as *const c_void,
    lp_token_get as *const c_void,
]);

/// The addresses of the exported functions (see [`EXPORTED`]).
pub struct Exported(pub [*const c_void; 11]);
// SAFETY: function addresses, never written nor dereferenced as data.
unsafe impl Sync for Exported {}

/// The names of the exported functions, as a module resolves them.
pub const EXPORTED_NAMES: [&str; 11] = [
    "lp_protocol_version",
    "lp_protocol_abi_major",
    "lp_string_free",
    "lp_client_create",
    "lp_client_destroy",
    "lp_invoke",
    "lp_invoke_async",
    "lp_subscribe",
    "lp_unsubscribe",
    "lp_token_save",
    "lp_token_get",
];
