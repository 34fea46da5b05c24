//! The 12 exports of `logos_module_impl.h` (logos-protocol), and nothing else. Every one
//! runs in a panic boundary, checks its pointers for NULL, and returns strings the host
//! releases with `logos_module_string_free`.

use std::ffi::{c_char, c_int, c_void};

use crate::emit::EmitCallback;
use crate::error::DispatchError;
use crate::ffi::{boundary, string_free, string_out, text_in};
use crate::unload::UnloadDoneCallback;
use crate::{caller, context, dispatch, emit, table, tokens, unload};

/// The logos-protocol version of the header revision implemented here: the one with
/// `logos_module_accept_inbound_token` (added at 0.8).
pub const PROTOCOL_VERSION: &str = "0.8.0";

/// Runs a method: `method` by name with `args_json` (a JSON array; NULL means `[]`).
/// Returns the result JSON, or the error object of a refused call; never NULL.
///
/// # Safety
/// `method` and `args_json` are NULL or NUL-terminated strings valid for the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn logos_module_dispatch(
    method: *const c_char,
    args_json: *const c_char,
) -> *mut c_char {
    let panicked = || DispatchError::Failed("internal: a panic was caught".into()).to_json();
    boundary(string_out(panicked().to_string()), || {
        // SAFETY: by this function's contract.
        let (method, args) = unsafe { (text_in(method), text_in(args_json)) };
        string_out(dispatch::dispatch(method, args).to_string())
    })
}

/// The method and event metadata (the `getMethods` shape).
#[unsafe(no_mangle)]
pub extern "C" fn logos_module_get_methods() -> *mut c_char {
    boundary(std::ptr::null_mut(), || {
        string_out(table::methods_json().to_string())
    })
}

/// Records the module context; any argument may be NULL.
///
/// # Safety
/// Each argument is NULL or a NUL-terminated string valid for the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn logos_module_set_context(
    module_path: *const c_char,
    instance_id: *const c_char,
    instance_persistence_path: *const c_char,
) {
    boundary((), || {
        // SAFETY: by this function's contract.
        let s = |p| unsafe { text_in(p) }.and_then(Result::ok);
        context::set(context::Context {
            module_path: context::non_empty(s(module_path)),
            instance_id: context::non_empty(s(instance_id)),
            persistence_path: context::non_empty(s(instance_persistence_path)).map(Into::into),
        });
    })
}

/// Installs (or with NULL clears) the event callback; the old one is not called after this
/// returns.
///
/// # Safety
/// `cb` is NULL or a function callable from any thread with `user_data`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn logos_module_set_emit_callback(
    cb: Option<EmitCallback>,
    user_data: *mut c_void,
) {
    boundary((), || emit::set(cb, user_data))
}

/// Stores the token this module presents when calling `module_name`. 0 on acceptance, -1
/// for a NULL or non-UTF-8 argument.
///
/// # Safety
/// Both arguments are NULL or NUL-terminated strings valid for the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn logos_module_accept_token(
    module_name: *const c_char,
    token: *const c_char,
) -> c_int {
    boundary(-1, || {
        // SAFETY: by this function's contract.
        match unsafe { (text_in(module_name), text_in(token)) } {
            (Some(Ok(m)), Some(Ok(t))) => {
                tokens::accept_outbound(m, t);
                0
            }
            _ => -1,
        }
    })
}

/// Records that `caller` may present `token` when calling this module. 0 on acceptance, -1
/// for a NULL or non-UTF-8 argument.
///
/// # Safety
/// Both arguments are NULL or NUL-terminated strings valid for the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn logos_module_accept_inbound_token(
    caller: *const c_char,
    token: *const c_char,
) -> c_int {
    boundary(-1, || {
        // SAFETY: by this function's contract.
        match unsafe { (text_in(caller), text_in(token)) } {
            (Some(Ok(c)), Some(Ok(t))) => {
                tokens::accept_inbound(c, t);
                0
            }
            _ => -1,
        }
    })
}

/// Replaces the granted host services (a JSON array from `["token_registry",
/// "token_delivery"]`; NULL or empty clears). 0 on acceptance, -1 (nothing changed) for a
/// malformed list or an unknown service.
///
/// # Safety
/// `services_json` is NULL or a NUL-terminated string valid for the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn logos_module_grant_host_services(services_json: *const c_char) -> c_int {
    boundary(-1, || {
        // SAFETY: by this function's contract.
        let text = match unsafe { text_in(services_json) } {
            None => None,
            Some(Ok(t)) => Some(t),
            Some(Err(())) => return -1,
        };
        if tokens::grant(text) { 0 } else { -1 }
    })
}

/// Installs (or with NULL clears) the unload-done callback.
///
/// # Safety
/// `cb` is NULL or a function callable from any thread with `user_data`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn logos_module_set_unload_done_callback(
    cb: Option<UnloadDoneCallback>,
    user_data: *mut c_void,
) {
    boundary((), || unload::set_callback(cb, user_data))
}

/// 0 when quiescent; 1 when the node is still shutting down (the unload-done callback then
/// runs exactly once when it is done).
#[unsafe(no_mangle)]
pub extern "C" fn logos_module_about_to_unload() -> c_int {
    boundary(0, unload::about_to_unload)
}

/// Pushes (non-NULL) or pops (NULL) the caller of the dispatch about to run, on this thread.
///
/// # Safety
/// `caller_json` is NULL or a NUL-terminated string valid for the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn logos_module_set_call_caller(caller_json: *const c_char) {
    boundary((), || {
        // SAFETY: by this function's contract.
        let document =
            unsafe { text_in(caller_json) }.map(|t| t.map(str::to_owned).unwrap_or_default());
        caller::push_or_pop(document);
    })
}

/// The logos-protocol version implemented ([`PROTOCOL_VERSION`]); static, never free it.
#[unsafe(no_mangle)]
pub extern "C" fn logos_module_get_protocol_version() -> *const c_char {
    c"0.8.0".as_ptr()
}

/// Releases a string this module returned; NULL does nothing.
///
/// # Safety
/// `s` is NULL or a string returned by this module and not released yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn logos_module_string_free(s: *mut c_char) {
    boundary((), || {
        // SAFETY: by this function's contract.
        unsafe { string_free(s) }
    })
}
