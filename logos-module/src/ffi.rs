//! Helpers of the C boundary: the panic boundary every export runs its body in, and the
//! conversions of C strings in (borrowed, NULL-checked) and out (heap strings released by
//! `logos_module_string_free`).

use std::ffi::{CStr, CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Runs `body`, turning a panic into `on_panic` (a panic must never cross the C ABI).
pub(crate) fn boundary<T>(on_panic: T, body: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(value) => value,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".into());
            tracing::error!(panic = %what, "caught a panic at the module boundary");
            on_panic
        }
    }
}

/// The text of a borrowed C string: `None` for NULL, `Some(Err(()))` for invalid UTF-8.
///
/// # Safety
/// `p` is NULL or a NUL-terminated string valid for the call.
pub(crate) unsafe fn text_in<'a>(p: *const c_char) -> Option<Result<&'a str, ()>> {
    if p.is_null() {
        return None;
    }
    // SAFETY: by this function's contract.
    Some(unsafe { CStr::from_ptr(p) }.to_str().map_err(|_| ()))
}

/// A heap C string for the host, released by `logos_module_string_free`. Interior NULs
/// (impossible in serialised JSON) are replaced.
pub(crate) fn string_out(s: String) -> *mut c_char {
    let s = if s.contains('\0') {
        s.replace('\0', "\u{FFFD}")
    } else {
        s
    };
    CString::new(s).map_or(std::ptr::null_mut(), CString::into_raw)
}

/// Releases a string from [`string_out`]; NULL does nothing.
///
/// # Safety
/// `s` is NULL or came from [`string_out`] and was not released yet.
pub(crate) unsafe fn string_free(s: *mut c_char) {
    if !s.is_null() {
        // SAFETY: by this function's contract.
        drop(unsafe { CString::from_raw(s) });
    }
}
