//! # demls-storage-sqlite
//!
//! The `"sqlite"` storage backend: a [`SqliteStorage`] implementing [`demls::Storage`] on an
//! embedded SQLite database (compiled in through rusqlite's `bundled` feature, so no system
//! library is needed). It holds everything a node keeps — the OpenMLS state, the engine's
//! records, retained commits and the application message log — in one file, and survives the
//! process being killed at any instruction:
//!
//! - every [`apply`](demls::Storage::apply) (one engine step) is one SQLite transaction in
//!   WAL mode, so after a crash the file holds exactly the steps that returned `Ok`;
//! - `synchronous = "full"` by default: `Ok` means the step is on disk, also across a power
//!   loss ([`Synchronous`] explains the trade-off);
//! - the schema is versioned (a `meta` table); older files are migrated when opened, newer
//!   ones are refused with [`StorageError::VersionTooNew`](demls::StorageError);
//! - a damaged file, a file another process holds, and a full disk (or the `max_page_count`
//!   limit) fail with `Corrupt`, `Locked` and `Full`, never a panic, and a failed batch
//!   changes nothing.
//!
//! One connection behind a mutex serves every thread; the file is locked exclusively while
//! open, so two nodes can never share one state.
//!
//! ```toml
//! [storage]
//! backend = "sqlite"
//! path = "alice.db"      # default `<node name>.db`; see `Config` for every option
//! synchronous = "full"
//! ```
//!
//! Programs that build nodes from configuration call [`link`] once so the registration is kept.
#![warn(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod config;
mod error;
mod marker;
mod plugin;
mod schema;
mod store;

pub use config::{Config, Synchronous};
pub use plugin::link;
pub use schema::{SCHEMA_VERSION, set_stored_version};
pub use store::SqliteStorage;

/// The name this backend is registered under (`backend = "sqlite"`).
pub const NAME: &str = "sqlite";
