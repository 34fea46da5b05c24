//! Strings and byte buffers across the boundary: reading the caller's (checked for NULL and,
//! for text, UTF-8), handing out the library's (owned by the caller from then on, released
//! with `demls_string_free` / `demls_bytes_free`).

use std::ffi::{CStr, CString, c_char};

use demls_core::api::{ApiError, ErrorCode};

use crate::result::require;

/// Reads a NUL-terminated UTF-8 argument.
///
/// # Safety
/// `text`, if not NULL, points to a NUL-terminated string that outlives the returned slice.
pub(crate) unsafe fn text_arg<'a>(text: *const c_char, name: &str) -> Result<&'a str, ApiError> {
    require(text, name)?;
    // SAFETY: not NULL, NUL-terminated by the caller's contract.
    unsafe { CStr::from_ptr(text) }
        .to_str()
        .map_err(|_| ApiError::new(ErrorCode::InvalidArgument, format!("`{name}` is not UTF-8")))
}

/// Reads a byte-string argument (pointer and length).
///
/// # Safety
/// `bytes`, if not NULL, points to `len` readable bytes that outlive the returned slice.
pub(crate) unsafe fn bytes_arg<'a>(
    bytes: *const u8,
    len: usize,
    name: &str,
) -> Result<&'a [u8], ApiError> {
    require(bytes, name)?;
    // SAFETY: not NULL, `len` bytes by the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts(bytes, len) })
}

/// A string for the caller (JSON never holds a NUL byte; any other text has them replaced).
pub(crate) fn string_out(text: String) -> *mut c_char {
    match CString::new(text) {
        Ok(s) => s.into_raw(),
        Err(e) => {
            let mut bytes = e.into_vec();
            bytes.retain(|b| *b != 0);
            CString::new(bytes).unwrap_or_default().into_raw()
        }
    }
}

/// A byte buffer for the caller: its pointer and length.
pub(crate) fn bytes_out(bytes: Vec<u8>) -> (*mut u8, usize) {
    let boxed = bytes.into_boxed_slice();
    let len = boxed.len();
    (Box::into_raw(boxed).cast::<u8>(), len)
}

/// Releases a string the library handed out (every `char **out_...` of this API). NULL does
/// nothing. Passing anything else, or a string twice, is undefined behaviour.
///
/// # Safety
/// `text` is NULL or a string this library returned and not yet released.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn demls_string_free(text: *mut c_char) {
    if text.is_null() {
        return;
    }
    // SAFETY: made by CString::into_raw in `string_out`, released once by the contract.
    drop(unsafe { CString::from_raw(text) });
}

/// Releases a byte buffer the library handed out (every `uint8_t **out_...` with its
/// `size_t *out_len`), given the same pointer and length. NULL does nothing.
///
/// # Safety
/// `bytes` is NULL or a buffer this library returned with exactly this `len`, not yet
/// released.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn demls_bytes_free(bytes: *mut u8, len: usize) {
    if bytes.is_null() {
        return;
    }
    // SAFETY: made by Box::into_raw of a boxed slice of `len` bytes in `bytes_out`.
    drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(bytes, len)) });
}
