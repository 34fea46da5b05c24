//! The node handle: starting a node from a TOML configuration, its node-wide calls (status,
//! the JSON dispatcher, groups), obtaining group handles, shutting it down and freeing it.
//! The handle owns the node and its runtime; group handles only refer to it weakly.

use std::ffi::c_char;
use std::sync::Arc;

use demls_core::Invitation;
use demls_core::api::{ApiError, BlockingNode, ErrorCode};

use crate::group::demls_group;
use crate::library::link_all;
use crate::memory::{bytes_arg, bytes_out, string_out, text_arg};
use crate::result::{boundary, demls_result, on_runtime_thread, require};

/// A running de-MLS node with its own runtime (two worker threads, which run its transport
/// and its event callback) and its engine thread. Made by `demls_node_new` or
/// `demls_node_new_from_file`, released by `demls_node_free`. Its functions may be called
/// from any thread, concurrently.
pub struct demls_node {
    pub(crate) inner: Arc<BlockingNode>,
}

/// The node behind a handle argument.
///
/// # Safety
/// `node` is NULL or a live handle from `demls_node_new*`.
pub(crate) unsafe fn node_arg<'a>(node: *const demls_node) -> Result<&'a BlockingNode, ApiError> {
    require(node, "node")?;
    // SAFETY: a live handle by the caller's contract.
    Ok(unsafe { &(*node).inner })
}

fn json<T: serde::Serialize>(value: &T) -> Result<String, ApiError> {
    serde_json::to_string(value).map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))
}

/// Writes a handle to an out-parameter.
///
/// # Safety
/// `out` is valid for a write (checked for NULL before).
unsafe fn put<T>(out: *mut *mut T, value: T) {
    // SAFETY: by the caller's contract.
    unsafe { *out = Box::into_raw(Box::new(value)) };
}

fn start(node: Result<BlockingNode, ApiError>, out: *mut *mut demls_node) -> Result<(), ApiError> {
    let inner = Arc::new(node?);
    // SAFETY: `out` was checked for NULL by the callers.
    unsafe { put(out, demls_node { inner }) };
    Ok(())
}

/// Starts a node from a TOML configuration text (the format of `README.md`, "Using it"):
/// opens its storage, starts its transport and its runtime. Fails with
/// `DEMLS_RESULT_INVALID_CONFIG` for a bad text. Blocking: not from an event callback
/// (`DEMLS_RESULT_WRONG_THREAD`). Release `*out_node` with `demls_node_free`.
///
/// # Safety
/// `config_toml` is NULL or a NUL-terminated string; `out_node` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn demls_node_new(
    config_toml: *const c_char,
    out_node: *mut *mut demls_node,
) -> demls_result {
    boundary(|| {
        // SAFETY: by this function's contract.
        let toml = unsafe { text_arg(config_toml, "config_toml") }?;
        require(out_node, "out_node")?;
        link_all();
        start(BlockingNode::from_config_str(toml), out_node)
    })
}

/// Starts a node from a TOML configuration file (relative paths in it are relative to the
/// file). Otherwise as `demls_node_new`.
///
/// # Safety
/// `path` is NULL or a NUL-terminated string; `out_node` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn demls_node_new_from_file(
    path: *const c_char,
    out_node: *mut *mut demls_node,
) -> demls_result {
    boundary(|| {
        // SAFETY: by this function's contract.
        let path = unsafe { text_arg(path, "path") }?;
        require(out_node, "out_node")?;
        link_all();
        start(BlockingNode::from_config_file(path), out_node)
    })
}

/// Stops the node: closes its transport, ends its driver and engine and releases its storage
/// (the runtime lives on until `demls_node_free`). Later calls on the node or its groups
/// fail with `DEMLS_RESULT_STOPPED` (polling returns the events still queued). **A second
/// shutdown does nothing and returns `DEMLS_RESULT_OK`.** Blocking: not from an event
/// callback.
///
/// # Safety
/// `node` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn demls_node_shutdown(node: *const demls_node) -> demls_result {
    boundary(|| {
        // SAFETY: by this function's contract.
        unsafe { node_arg(node) }?.shutdown()
    })
}

/// Releases a node: shuts it down if it still runs, stops its runtime (waiting up to 5 s for
/// its tasks) and releases the event callback's `userdata` reference (the callback is not
/// called after this returns). Group handles of the node stay valid as handles: their calls
/// fail with `DEMLS_RESULT_USE_AFTER_FREE`; free them with `demls_group_free`.
/// NULL does nothing. Called from an event callback, the release is finished on a thread of
/// its own (the callback's thread belongs to the runtime being stopped).
///
/// # Safety
/// `node` is NULL or a live handle; it must not be used after this call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn demls_node_free(node: *mut demls_node) {
    let _ = boundary(|| {
        if node.is_null() {
            return Ok(());
        }
        // SAFETY: made by Box::into_raw in `start`, released once by the contract.
        let node = unsafe { Box::from_raw(node) };
        if on_runtime_thread() {
            std::thread::spawn(move || drop(node));
        } else {
            drop(node);
        }
        Ok(())
    });
}

/// This node's member id (20 bytes): `*out_id` and `*out_len`, released with
/// `demls_bytes_free`. Non-blocking.
///
/// # Safety
/// `node` is NULL or a live handle; `out_id` and `out_len` are NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn demls_node_member_id(
    node: *const demls_node,
    out_id: *mut *mut u8,
    out_len: *mut usize,
) -> demls_result {
    boundary(|| {
        // SAFETY: by this function's contract.
        let node = unsafe { node_arg(node) }?;
        require(out_id, "out_id")?;
        require(out_len, "out_len")?;
        let (ptr, len) = bytes_out(node.member_id().as_bytes().to_vec());
        // SAFETY: checked above.
        unsafe {
            *out_id = ptr;
            *out_len = len;
        }
        Ok(())
    })
}

/// The node's status as JSON (`{"name", "member_id", "version", "running", "groups",
/// "queued_events"}`). Release `*out_json` with `demls_string_free`. Blocking.
///
/// # Safety
/// `node` is NULL or a live handle; `out_json` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn demls_node_status(
    node: *const demls_node,
    out_json: *mut *mut c_char,
) -> demls_result {
    boundary(|| {
        // SAFETY: by this function's contract.
        let node = unsafe { node_arg(node) }?;
        require(out_json, "out_json")?;
        let text = json(&node.status()?)?;
        // SAFETY: checked above.
        unsafe { *out_json = string_out(text) };
        Ok(())
    })
}

/// Runs one method of the JSON dispatcher (`specs/api.md`: `status`, `create_group`, `send`,
/// ...) with `args_json` (a JSON object, `""` or `"null"` for none; byte strings in base64);
/// `*out_json` is the JSON result (`null` for methods without one). Release it with
/// `demls_string_free`. Blocking (its `next_event` too).
///
/// # Safety
/// `node` is NULL or a live handle; `method` and `args_json` are NULL or NUL-terminated;
/// `out_json` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn demls_node_call(
    node: *const demls_node,
    method: *const c_char,
    args_json: *const c_char,
    out_json: *mut *mut c_char,
) -> demls_result {
    boundary(|| {
        // SAFETY: by this function's contract.
        let node = unsafe { node_arg(node) }?;
        // SAFETY: by this function's contract.
        let method = unsafe { text_arg(method, "method") }?;
        // SAFETY: by this function's contract.
        let args = unsafe { text_arg(args_json, "args_json") }?;
        require(out_json, "out_json")?;
        let text = node.call(method, args)?;
        // SAFETY: checked above.
        unsafe { *out_json = string_out(text) };
        Ok(())
    })
}

/// The groups this node is a member of, as a JSON array of base64 group ids. Release
/// `*out_json` with `demls_string_free`. Blocking.
///
/// # Safety
/// `node` is NULL or a live handle; `out_json` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn demls_node_groups(
    node: *const demls_node,
    out_json: *mut *mut c_char,
) -> demls_result {
    boundary(|| {
        // SAFETY: by this function's contract.
        let node = unsafe { node_arg(node) }?;
        require(out_json, "out_json")?;
        let text = node.call("groups", "")?;
        // SAFETY: checked above.
        unsafe { *out_json = string_out(text) };
        Ok(())
    })
}

/// The arguments shared by the functions that hand out a group handle.
///
/// # Safety
/// As for those functions.
unsafe fn group_args<'a>(
    node: *const demls_node,
    group_id: *const u8,
    group_id_len: usize,
    out_group: *mut *mut demls_group,
) -> Result<(&'a demls_node, &'a [u8]), ApiError> {
    require(node, "node")?;
    // SAFETY: by the caller's contract.
    let id = unsafe { bytes_arg(group_id, group_id_len, "group_id") }?;
    require(out_group, "out_group")?;
    // SAFETY: not NULL; a live handle by the caller's contract.
    Ok((unsafe { &*node }, id))
}

fn hand_out(node: &demls_node, id: &[u8], out_group: *mut *mut demls_group) {
    let group = demls_group::new(&node.inner, id.to_vec());
    // SAFETY: checked for NULL in `group_args` / by the caller.
    unsafe { put(out_group, group) };
}

/// Creates a group (1–255 bytes of id) with this node as its only member, and hands out its
/// handle (release it with `demls_group_free`). Blocking.
///
/// # Safety
/// `node` is NULL or a live handle; `group_id` is NULL or `group_id_len` readable bytes;
/// `out_group` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn demls_node_create_group(
    node: *const demls_node,
    group_id: *const u8,
    group_id_len: usize,
    out_group: *mut *mut demls_group,
) -> demls_result {
    boundary(|| {
        // SAFETY: by this function's contract.
        let (node, id) = unsafe { group_args(node, group_id, group_id_len, out_group) }?;
        node.inner.create_group(id)?;
        hand_out(node, id, out_group);
        Ok(())
    })
}

/// Asks to join the group with this id: the node announces itself until the group's members
/// vote it in (a `joined` event), taking the first group under that id that adds it. The
/// handle is handed out at once; its calls fail with `DEMLS_RESULT_UNKNOWN_GROUP` until the
/// node has joined. Blocking.
///
/// # Safety
/// As for `demls_node_create_group`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn demls_node_join_group(
    node: *const demls_node,
    group_id: *const u8,
    group_id_len: usize,
    out_group: *mut *mut demls_group,
) -> demls_result {
    boundary(|| {
        // SAFETY: by this function's contract.
        let (node, id) = unsafe { group_args(node, group_id, group_id_len, out_group) }?;
        node.inner.join_group(id)?;
        hand_out(node, id, out_group);
        Ok(())
    })
}

/// Asks to join the one group an invitation names (`"demls-invite:1:..."`, from
/// `demls_group_invitation`); otherwise as `demls_node_join_group`. Fails with
/// `DEMLS_RESULT_INVALID_INVITATION` for a text that is no invitation. Blocking.
///
/// # Safety
/// `node` is NULL or a live handle; `invitation` is NULL or NUL-terminated; `out_group` is
/// NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn demls_node_join_by_invitation(
    node: *const demls_node,
    invitation: *const c_char,
    out_group: *mut *mut demls_group,
) -> demls_result {
    boundary(|| {
        // SAFETY: by this function's contract.
        let node_inner = unsafe { node_arg(node) }?;
        // SAFETY: by this function's contract.
        let text = unsafe { text_arg(invitation, "invitation") }?;
        require(out_group, "out_group")?;
        let invitation: Invitation = text
            .parse()
            .map_err(|e| ApiError::new(ErrorCode::InvalidInvitation, format!("{e}")))?;
        node_inner.join_by_invitation(&invitation)?;
        // SAFETY: checked for NULL above; a live handle by the contract.
        hand_out(unsafe { &*node }, invitation.group_id.as_bytes(), out_group);
        Ok(())
    })
}

/// A handle on a group this node is a member of (`DEMLS_RESULT_UNKNOWN_GROUP` otherwise),
/// e.g. after a restart with durable storage. Blocking.
///
/// # Safety
/// As for `demls_node_create_group`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn demls_node_open_group(
    node: *const demls_node,
    group_id: *const u8,
    group_id_len: usize,
    out_group: *mut *mut demls_group,
) -> demls_result {
    boundary(|| {
        // SAFETY: by this function's contract.
        let (node, id) = unsafe { group_args(node, group_id, group_id_len, out_group) }?;
        if node.inner.group(id)?.is_none() {
            return Err(ApiError::new(
                ErrorCode::UnknownGroup,
                "this node is not a member of that group",
            ));
        }
        hand_out(node, id, out_group);
        Ok(())
    })
}
