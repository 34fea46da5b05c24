//! # demls — decentralized MLS
//!
//! The framework crate: the four plugin traits ([`Transport`], [`Consensus`], [`StewardPolicy`],
//! [`Storage`]), the sans-IO group [`engine`], the async [`Node`] that drives it, the backend
//! registry and the TOML configuration.
#![warn(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod identity;
pub mod mls;
pub mod roster;
pub mod storage;
pub mod transport;
pub mod txn;
pub mod types;

#[cfg(test)]
mod testing;

pub use identity::{Identity, IdentitySigner};
pub use roster::{Roster, RosterEntry};
pub use storage::{Space, Storage, StorageError, WriteBatch, WriteOp};
pub use transport::{Inbound, Transport, TransportError};
pub use types::{Epoch, GroupId, MemberId, ProposalId, Timestamp, Topic};
