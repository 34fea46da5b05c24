//! # The de-MLS C API
//!
//! `libdemls_c.so` / `libdemls_c.a` and the header `include/demls.h` (generated from these doc
//! comments by a pinned cbindgen). It wraps `demls_core::api::BlockingNode` and owns nothing
//! of the protocol: every operation is a call of the Rust API, every result code an
//! `ErrorCode` number.
//!
//! Conventions (those of rustls-ffi):
//! - opaque handles (`demls_node`, `demls_group`) made by a function and released by their
//!   `_free` function; `_free(NULL)` does nothing;
//! - every function that can fail returns a `demls_result`; outputs go through trailing
//!   out-parameters, written only when the result is `DEMLS_RESULT_OK`;
//! - every pointer argument is checked (`DEMLS_RESULT_NULL_ARGUMENT`); a Rust panic is caught
//!   at the boundary (`DEMLS_RESULT_PANIC`);
//! - the message of the last failure on a thread is `demls_last_error`;
//! - strings and byte buffers the library hands out are the caller's, released with
//!   `demls_string_free` / `demls_bytes_free`.
//!
//! Modules: `result` (the codes, the last error, the panic boundary), `memory` (strings and
//! byte buffers across the boundary), `library` (version, backends, registration), `node`,
//! `group`, `events`.

#![allow(non_camel_case_types)]
#![warn(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]

mod events;
mod group;
mod library;
mod memory;
mod node;
mod result;

pub use events::{demls_event_callback, demls_node_next_event, demls_node_set_event_callback};
pub use group::{
    demls_group, demls_group_free, demls_group_history, demls_group_id, demls_group_info,
    demls_group_invitation, demls_group_leave, demls_group_propose_add, demls_group_propose_remove,
    demls_group_send, demls_group_vote,
};
pub use library::{demls_backends, demls_version};
pub use memory::{demls_bytes_free, demls_string_free};
pub use node::{
    demls_node, demls_node_call, demls_node_create_group, demls_node_free, demls_node_groups,
    demls_node_join_by_invitation, demls_node_join_group, demls_node_member_id, demls_node_new,
    demls_node_new_from_file, demls_node_open_group, demls_node_shutdown, demls_node_status,
};
pub use result::{demls_last_error, demls_result, demls_result_name};
