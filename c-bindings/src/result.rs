//! The result codes of the C API, the per-thread last error message, and the boundary every
//! exported function runs its body in (argument checks, panic catching, error recording).
//! The codes ARE the numbers of [`ErrorCode`]; this module only mirrors them for the header.

use std::cell::RefCell;
use std::ffi::{CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

use demls_core::api::{ApiError, ErrorCode};

/// The result of every fallible function: `DEMLS_RESULT_OK` (0) or the number of the error
/// code of the Rust and JSON API (`specs/api.md`). Numbers are never reused; new codes are
/// only ever appended. The message of a failure is `demls_last_error`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum demls_result {
    /// Success.
    Ok = 0,
    /// A required pointer was NULL.
    NullArgument = 1,
    /// An argument is malformed: not UTF-8, not the JSON expected, a value out of range.
    InvalidArgument = 2,
    /// `demls_node_call` was given a method name it does not know.
    UnknownMethod = 3,
    /// The configuration is invalid (bad TOML, unknown backend or key, bad value).
    InvalidConfig = 4,
    /// A group id was empty or longer than 255 bytes.
    InvalidGroupId = 5,
    /// A member id was not 20 bytes.
    InvalidMemberId = 6,
    /// A decision id was not 32 bytes.
    InvalidDecisionId = 7,
    /// This node is not (or not yet) in that group.
    UnknownGroup = 8,
    /// The group exists already here (or a join to it is under way).
    GroupExists = 9,
    /// The request does not apply now (unknown member, decision not open, ...).
    InvalidRequest = 10,
    /// A payload is larger than the group allows.
    PayloadTooLarge = 11,
    /// The storage belongs to another identity than the configured one.
    IdentityMismatch = 12,
    /// The storage failed; nothing was changed.
    Storage = 13,
    /// The MLS layer failed.
    Mls = 14,
    /// The group's decision-making refused the request.
    DecisionRefused = 15,
    /// The steward policy refused the request.
    StewardPolicy = 16,
    /// The group has no invitation (created by an older version).
    NoInvitation = 17,
    /// The text is not an invitation.
    InvalidInvitation = 18,
    /// The transport failed.
    Transport = 19,
    /// The node has stopped (shut down, or stopped after an internal failure).
    Stopped = 20,
    /// The node could not start a thread or its runtime.
    Runtime = 21,
    /// A Rust panic was caught at the C boundary (a bug; please report it).
    Panic = 22,
    /// Anything else (a bug; please report it).
    Internal = 23,
    /// A group handle was used after its node was freed with `demls_node_free`.
    UseAfterFree = 24,
    /// A blocking call was made from a thread of the node's own runtime (from inside an event
    /// callback), where it would wait for itself.
    WrongThread = 25,
}

impl From<ErrorCode> for demls_result {
    fn from(code: ErrorCode) -> Self {
        match code {
            ErrorCode::NullArgument => demls_result::NullArgument,
            ErrorCode::InvalidArgument => demls_result::InvalidArgument,
            ErrorCode::UnknownMethod => demls_result::UnknownMethod,
            ErrorCode::InvalidConfig => demls_result::InvalidConfig,
            ErrorCode::InvalidGroupId => demls_result::InvalidGroupId,
            ErrorCode::InvalidMemberId => demls_result::InvalidMemberId,
            ErrorCode::InvalidDecisionId => demls_result::InvalidDecisionId,
            ErrorCode::UnknownGroup => demls_result::UnknownGroup,
            ErrorCode::GroupExists => demls_result::GroupExists,
            ErrorCode::InvalidRequest => demls_result::InvalidRequest,
            ErrorCode::PayloadTooLarge => demls_result::PayloadTooLarge,
            ErrorCode::IdentityMismatch => demls_result::IdentityMismatch,
            ErrorCode::Storage => demls_result::Storage,
            ErrorCode::Mls => demls_result::Mls,
            ErrorCode::DecisionRefused => demls_result::DecisionRefused,
            ErrorCode::StewardPolicy => demls_result::StewardPolicy,
            ErrorCode::NoInvitation => demls_result::NoInvitation,
            ErrorCode::InvalidInvitation => demls_result::InvalidInvitation,
            ErrorCode::Transport => demls_result::Transport,
            ErrorCode::Stopped => demls_result::Stopped,
            ErrorCode::Runtime => demls_result::Runtime,
            ErrorCode::Panic => demls_result::Panic,
            ErrorCode::Internal => demls_result::Internal,
            ErrorCode::UseAfterFree => demls_result::UseAfterFree,
            ErrorCode::WrongThread => demls_result::WrongThread,
            // A code added to the Rust API but not yet here: the unit test below fails first.
            _ => demls_result::Internal,
        }
    }
}

/// Every result code, in numeric order.
#[cfg(test)]
const RESULTS: &[demls_result] = &[
    demls_result::Ok,
    demls_result::NullArgument,
    demls_result::InvalidArgument,
    demls_result::UnknownMethod,
    demls_result::InvalidConfig,
    demls_result::InvalidGroupId,
    demls_result::InvalidMemberId,
    demls_result::InvalidDecisionId,
    demls_result::UnknownGroup,
    demls_result::GroupExists,
    demls_result::InvalidRequest,
    demls_result::PayloadTooLarge,
    demls_result::IdentityMismatch,
    demls_result::Storage,
    demls_result::Mls,
    demls_result::DecisionRefused,
    demls_result::StewardPolicy,
    demls_result::NoInvitation,
    demls_result::InvalidInvitation,
    demls_result::Transport,
    demls_result::Stopped,
    demls_result::Runtime,
    demls_result::Panic,
    demls_result::Internal,
    demls_result::UseAfterFree,
    demls_result::WrongThread,
];

/// The snake_case name of a result code as a static NUL-terminated string (`"ok"`,
/// `"unknown_group"`, ...; the JSON form's `name`), or `"unknown"` for a number that is no
/// code. Never NULL; never free it.
#[unsafe(no_mangle)]
pub extern "C" fn demls_result_name(result: u32) -> *const c_char {
    static NAMES: std::sync::OnceLock<Vec<CString>> = std::sync::OnceLock::new();
    let names = NAMES.get_or_init(|| {
        let mut names = vec![CString::from(c"ok")];
        for code in demls_core::api::ERROR_CODES {
            names.push(CString::new(code.name()).unwrap_or_default());
        }
        names
    });
    names
        .get(result as usize)
        .map_or(c"unknown".as_ptr(), |n| n.as_ptr())
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_last_error(message: &str) {
    let text = CString::new(message.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|slot| *slot.borrow_mut() = text);
}

/// The message of the last call that failed on the calling thread (`""` if none has). The
/// string belongs to the library: it stays valid until the next failing call on the same
/// thread, or the thread's end; copy it to keep it. Never NULL; never free it. May be called
/// from an event callback.
#[unsafe(no_mangle)]
pub extern "C" fn demls_last_error() -> *const c_char {
    LAST_ERROR.with(|slot| slot.borrow().as_ptr())
}

/// Runs the body of an exported function: catches a panic (`DEMLS_RESULT_PANIC`), records the
/// message of a failure as the thread's last error, and turns the outcome into a code.
pub(crate) fn boundary(body: impl FnOnce() -> Result<(), ApiError>) -> demls_result {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => demls_result::Ok,
        Ok(Err(e)) => {
            set_last_error(&e.message);
            e.code.into()
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".to_owned());
            set_last_error(&format!("panic at the C boundary: {what}"));
            demls_result::Panic
        }
    }
}

/// `DEMLS_RESULT_NULL_ARGUMENT` unless `pointer` is set.
pub(crate) fn require<T>(pointer: *const T, name: &str) -> Result<(), ApiError> {
    if pointer.is_null() {
        return Err(ApiError::new(
            ErrorCode::NullArgument,
            format!("`{name}` is NULL"),
        ));
    }
    Ok(())
}

/// Whether the calling thread is a worker of a tokio runtime (an event callback's thread).
pub(crate) fn on_runtime_thread() -> bool {
    tokio::runtime::Handle::try_current().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_result_number_is_the_error_code_number_and_back() {
        assert_eq!(RESULTS.len(), demls_core::api::ERROR_CODES.len() + 1);
        assert_eq!(RESULTS[0] as u32, 0);
        for (i, code) in demls_core::api::ERROR_CODES.iter().enumerate() {
            let result = demls_result::from(*code);
            assert_eq!(result as u32, code.code(), "{code:?}");
            assert_eq!(RESULTS[i + 1], result);
        }
    }

    #[test]
    fn result_names_are_the_json_names() {
        let name = |n| {
            // SAFETY: demls_result_name returns a static NUL-terminated string.
            unsafe { std::ffi::CStr::from_ptr(demls_result_name(n)) }
                .to_str()
                .expect("utf-8")
                .to_owned()
        };
        assert_eq!(name(0), "ok");
        assert_eq!(name(8), "unknown_group");
        assert_eq!(name(24), "use_after_free");
        assert_eq!(name(9999), "unknown");
    }

    #[test]
    fn a_panic_becomes_the_panic_code_with_a_message() {
        let result = boundary(|| panic!("boom"));
        assert_eq!(result, demls_result::Panic);
        // SAFETY: the last error is a valid NUL-terminated string on this thread.
        let message = unsafe { std::ffi::CStr::from_ptr(demls_last_error()) };
        assert!(message.to_string_lossy().contains("boom"));
    }
}
