//! What belongs to the library rather than to a node: its version, the registered backends,
//! and making sure every bundled backend is registered (once, before any registry use) also
//! when the static library is linked and the linker dropped the `inventory` entries.

use std::ffi::c_char;
use std::sync::Once;

use crate::memory::string_out;
use crate::result::{boundary, demls_result, require};

/// Registers every bundled backend and built-in steward policy explicitly, once.
pub(crate) fn link_all() {
    static LINK: Once = Once::new();
    LINK.call_once(|| {
        demls_transport_memory::link();
        demls_transport_logos::link();
        demls_storage_memory::link();
        demls_storage_sqlite::link();
        demls_consensus_hashgraph::link();
        demls_core::policy::link();
    });
}

/// This library's version (`"0.1.0"`), a static NUL-terminated string. Never NULL; never free
/// it.
#[unsafe(no_mangle)]
pub extern "C" fn demls_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// The registered backends by slot, as JSON: `{"transport": ["logos", "memory"], "storage":
/// [...], "consensus": [...], "steward": [...]}`. Release `*out_json` with
/// `demls_string_free`.
///
/// # Safety
/// `out_json` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn demls_backends(out_json: *mut *mut c_char) -> demls_result {
    boundary(|| {
        require(out_json, "out_json")?;
        link_all();
        let json = demls_core::api::backends().to_string();
        // SAFETY: checked above; valid for a write by the caller's contract.
        unsafe { *out_json = string_out(json) };
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_version_is_the_framework_version() {
        // SAFETY: a static NUL-terminated string.
        let v = unsafe { std::ffi::CStr::from_ptr(super::demls_version()) };
        assert_eq!(v.to_str().expect("utf-8"), demls_core::api::VERSION);
    }
}
