//! # demls-transport-memory
//!
//! The `"memory"` transport backend: an in-process network that many de-MLS nodes in one
//! process share (tests, examples, the embedded default profile). A [`MemoryNetwork`] is the
//! hub; each node holds a [`MemoryTransport`] endpoint implementing [`demls::Transport`].
//! Delivery is immediate and in order per publisher; each endpoint's inbound queue is bounded
//! and drops (and counts) what does not fit.
//!
//! ```toml
//! [transport]
//! backend = "memory"
//! network = "demo"     # see `Config` for every option
//! ```
//!
//! Programs that build nodes from configuration call [`link`] once so the registration is kept.
#![warn(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod config;
mod endpoint;
mod inbox;
mod message;
mod network;
mod plugin;

pub use config::{Config, DEFAULT_MAX_PAYLOAD, DEFAULT_NETWORK, DEFAULT_QUEUE_CAPACITY, Limits};
pub use endpoint::MemoryTransport;
pub use message::{MESSAGE_ID_LEN, message_id};
pub use network::{MemoryNetwork, conformance_factory};
pub use plugin::link;

/// The name this backend is registered under (`backend = "memory"`).
pub const NAME: &str = "memory";
