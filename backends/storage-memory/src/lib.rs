//! # demls-storage-memory
//!
//! The `"memory"` storage backend: a [`MemoryStorage`] implementing [`demls::Storage`] over
//! ordered in-process maps, one per [`Space`](demls::Space). Batches apply atomically under one
//! lock. Clones share the same data (restart a node on the same state), named stores are
//! process-global (a node rebuilt from the same TOML finds its state again, as with a file),
//! and an optional capacity makes batches fail with [`StorageError::Full`](demls::StorageError)
//! like a full disk.
//!
//! ```toml
//! [storage]
//! backend = "memory"
//! name = "alice"            # see `Config` for every option
//! capacity_bytes = 1048576
//! ```
//!
//! Programs that build nodes from configuration call [`link`] once so the registration is kept.
#![warn(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod config;
mod plugin;
mod store;
mod usage;

pub use config::Config;
pub use plugin::link;
pub use store::MemoryStorage;

/// The name this backend is registered under (`backend = "memory"`).
pub const NAME: &str = "memory";
