//! The group handle: every per-group operation (info, invitation, send, history, membership
//! requests, votes). A handle holds the group id and a weak reference to its node, so a call
//! after the node was freed fails with `DEMLS_RESULT_USE_AFTER_FREE` instead of touching freed
//! memory.

use std::ffi::c_char;
use std::sync::{Arc, Weak};

use demls_core::api::{ApiError, BlockingNode, ErrorCode};

use crate::memory::{bytes_arg, bytes_out, string_out};
use crate::result::{boundary, demls_result, on_runtime_thread, require};

/// One group of one node, as obtained from `demls_node_create_group`, `demls_node_join_group`,
/// `demls_node_join_by_invitation` or `demls_node_open_group`. Released by
/// `demls_group_free`, before or after its node.
pub struct demls_group {
    node: Weak<BlockingNode>,
    id: Vec<u8>,
}

impl demls_group {
    pub(crate) fn new(node: &Arc<BlockingNode>, id: Vec<u8>) -> demls_group {
        demls_group {
            node: Arc::downgrade(node),
            id,
        }
    }
}

/// Runs `op` on the group's node, if it is still alive.
///
/// # Safety
/// `group` is NULL or a live group handle.
unsafe fn with_node<T>(
    group: *const demls_group,
    op: impl FnOnce(&BlockingNode, &[u8]) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    require(group, "group")?;
    // SAFETY: a live handle by the caller's contract.
    let group = unsafe { &*group };
    let Some(node) = group.node.upgrade() else {
        return Err(ApiError::new(
            ErrorCode::UseAfterFree,
            "the node of this group handle was freed",
        ));
    };
    let result = op(&node, &group.id);
    // If the node was freed meanwhile, this is the last reference: never stop a runtime from
    // one of its own threads (an event callback's).
    if on_runtime_thread()
        && let Some(last) = Arc::into_inner(node)
    {
        std::thread::spawn(move || drop(last));
    }
    result
}

/// Writes a JSON text to an out-parameter.
///
/// # Safety
/// `out` is valid for a write.
unsafe fn put_json<T: serde::Serialize>(out: *mut *mut c_char, value: &T) -> Result<(), ApiError> {
    let text = serde_json::to_string(value)
        .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
    // SAFETY: by the caller's contract.
    unsafe { *out = string_out(text) };
    Ok(())
}

/// Releases a group handle (not the group: the node stays a member). NULL does nothing.
///
/// # Safety
/// `group` is NULL or a live group handle; it must not be used after this call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn demls_group_free(group: *mut demls_group) {
    let _ = boundary(|| {
        if !group.is_null() {
            // SAFETY: made by Box::into_raw in the node module, released once by the contract.
            drop(unsafe { Box::from_raw(group) });
        }
        Ok(())
    });
}

/// The group's id (the bytes it was created or joined with): `*out_id`, `*out_len`, released
/// with `demls_bytes_free`. Works after the node was freed. Non-blocking.
///
/// # Safety
/// `group` is NULL or a live group handle; `out_id` and `out_len` are NULL or valid for a
/// write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn demls_group_id(
    group: *const demls_group,
    out_id: *mut *mut u8,
    out_len: *mut usize,
) -> demls_result {
    boundary(|| {
        require(group, "group")?;
        require(out_id, "out_id")?;
        require(out_len, "out_len")?;
        // SAFETY: a live handle by the contract.
        let (ptr, len) = bytes_out(unsafe { &*group }.id.clone());
        // SAFETY: checked above.
        unsafe {
            *out_id = ptr;
            *out_len = len;
        }
        Ok(())
    })
}

/// The group as this node sees it now, as JSON (`{"group", "epoch", "members", "stewards",
/// "role", "authenticator", "decisions"}`). `DEMLS_RESULT_UNKNOWN_GROUP` if the node is not
/// (or not yet, or no longer) a member. Release `*out_json` with `demls_string_free`.
/// Blocking.
///
/// # Safety
/// `group` is NULL or a live group handle; `out_json` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn demls_group_info(
    group: *const demls_group,
    out_json: *mut *mut c_char,
) -> demls_result {
    boundary(|| {
        require(out_json, "out_json")?;
        // SAFETY: by this function's contract.
        let info = unsafe { with_node(group, |n, id| n.group(id)) }?.ok_or_else(|| {
            ApiError::new(
                ErrorCode::UnknownGroup,
                "this node is not (yet) a member of the group",
            )
        })?;
        // SAFETY: checked above.
        unsafe { put_json(out_json, &info) }
    })
}

/// The group's invitation (`"demls-invite:1:..."`) to hand to someone out of band, who joins
/// with `demls_node_join_by_invitation`. Release `*out_invitation` with
/// `demls_string_free`. Blocking.
///
/// # Safety
/// `group` is NULL or a live group handle; `out_invitation` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn demls_group_invitation(
    group: *const demls_group,
    out_invitation: *mut *mut c_char,
) -> demls_result {
    boundary(|| {
        require(out_invitation, "out_invitation")?;
        // SAFETY: by this function's contract.
        let invitation = unsafe { with_node(group, |n, id| n.invitation(id)) }?;
        // SAFETY: checked above.
        unsafe { *out_invitation = string_out(invitation.to_string()) };
        Ok(())
    })
}

/// Sends an application message to the group; `*out_message_id` (16 bytes, released with
/// `demls_bytes_free`) is its id. `DEMLS_RESULT_PAYLOAD_TOO_LARGE` above the group's
/// limit. Blocking.
///
/// # Safety
/// `group` is NULL or a live group handle; `payload` is NULL or `payload_len` readable bytes;
/// `out_message_id` and `out_message_id_len` are NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn demls_group_send(
    group: *const demls_group,
    payload: *const u8,
    payload_len: usize,
    out_message_id: *mut *mut u8,
    out_message_id_len: *mut usize,
) -> demls_result {
    boundary(|| {
        // SAFETY: by this function's contract.
        let payload = unsafe { bytes_arg(payload, payload_len, "payload") }?;
        require(out_message_id, "out_message_id")?;
        require(out_message_id_len, "out_message_id_len")?;
        // SAFETY: by this function's contract.
        let id = unsafe { with_node(group, |n, id| n.send(id, payload)) }?;
        let (ptr, len) = bytes_out(id);
        // SAFETY: checked above.
        unsafe {
            *out_message_id = ptr;
            *out_message_id_len = len;
        }
        Ok(())
    })
}

/// The group's last `limit` messages (received, or sent by this node), oldest first, as a
/// JSON array of `{"group", "sender", "message_id", "payload", "epoch", "at_ms"}`. Release
/// `*out_json` with `demls_string_free`. Non-blocking.
///
/// # Safety
/// `group` is NULL or a live group handle; `out_json` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn demls_group_history(
    group: *const demls_group,
    limit: usize,
    out_json: *mut *mut c_char,
) -> demls_result {
    boundary(|| {
        require(out_json, "out_json")?;
        // SAFETY: by this function's contract.
        let messages = unsafe { with_node(group, |n, id| n.history(id, limit)) }?;
        // SAFETY: checked above.
        unsafe { put_json(out_json, &messages) }
    })
}

/// Asks the group to add the member whose MLS KeyPackage (TLS-encoded) this is. `*out_json`
/// is what the request led to: `{"status": "opened", "decision": "<base64>"}` or
/// `{"status": "deferred"}`. Release it with `demls_string_free`. Blocking.
///
/// # Safety
/// `group` is NULL or a live group handle; `key_package` is NULL or `key_package_len` readable
/// bytes; `out_json` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn demls_group_propose_add(
    group: *const demls_group,
    key_package: *const u8,
    key_package_len: usize,
    out_json: *mut *mut c_char,
) -> demls_result {
    boundary(|| {
        // SAFETY: by this function's contract.
        let kp = unsafe { bytes_arg(key_package, key_package_len, "key_package") }?;
        require(out_json, "out_json")?;
        // SAFETY: by this function's contract.
        let request = unsafe { with_node(group, |n, id| n.propose_add(id, kp)) }?;
        // SAFETY: checked above.
        unsafe { put_json(out_json, &request) }
    })
}

/// Asks the group to remove a member (its 20-byte member id); `*out_json` as for
/// `demls_group_propose_add`. Blocking.
///
/// # Safety
/// `group` is NULL or a live group handle; `member_id` is NULL or `member_id_len` readable
/// bytes; `out_json` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn demls_group_propose_remove(
    group: *const demls_group,
    member_id: *const u8,
    member_id_len: usize,
    out_json: *mut *mut c_char,
) -> demls_result {
    boundary(|| {
        // SAFETY: by this function's contract.
        let member = unsafe { bytes_arg(member_id, member_id_len, "member_id") }?;
        require(out_json, "out_json")?;
        // SAFETY: by this function's contract.
        let request = unsafe { with_node(group, |n, id| n.propose_remove(id, member)) }?;
        // SAFETY: checked above.
        unsafe { put_json(out_json, &request) }
    })
}

/// Leaves the group (final, without a vote: the members commit the departure; a `removed`
/// event follows here). `*out_json` as for `demls_group_propose_add`. Blocking.
///
/// # Safety
/// `group` is NULL or a live group handle; `out_json` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn demls_group_leave(
    group: *const demls_group,
    out_json: *mut *mut c_char,
) -> demls_result {
    boundary(|| {
        require(out_json, "out_json")?;
        // SAFETY: by this function's contract.
        let request = unsafe { with_node(group, |n, id| n.leave(id)) }?;
        // SAFETY: checked above.
        unsafe { put_json(out_json, &request) }
    })
}

/// Votes on an open membership decision (its 32-byte id, from a `vote_requested` or
/// `decision_opened` event), with `[group] voting = "manual"`. Blocking.
///
/// # Safety
/// `group` is NULL or a live group handle; `decision_id` is NULL or `decision_id_len`
/// readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn demls_group_vote(
    group: *const demls_group,
    decision_id: *const u8,
    decision_id_len: usize,
    approve: bool,
) -> demls_result {
    boundary(|| {
        // SAFETY: by this function's contract.
        let decision = unsafe { bytes_arg(decision_id, decision_id_len, "decision_id") }?;
        // SAFETY: by this function's contract.
        unsafe { with_node(group, |n, id| n.vote(id, decision, approve)) }
    })
}
