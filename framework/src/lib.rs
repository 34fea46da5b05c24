//! # demls — decentralized MLS
//!
//! The framework crate: the four plugin traits ([`Transport`], [`Consensus`], [`StewardPolicy`],
//! [`Storage`]), the sans-IO group [`engine`], the async [`Node`] that drives it, the backend
//! registry and the TOML configuration.
#![warn(
    clippy::unwrap_used,
    clippy::print_stdout,
    clippy::print_stderr,
    unreachable_pub
)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod api;
pub mod clock;
pub mod config;
pub mod consensus;
pub mod engine;
#[allow(unreachable_pub)] // `pub` items are the `internals` door's (see below)
mod entropy;
pub mod identity;
pub mod invitation;
#[allow(unreachable_pub)] // `pub` items are the `internals` door's (see below)
mod mls;
pub mod node;
pub mod policy;
pub mod proposal;
pub mod registry;
pub mod roster;
pub mod steward;
pub mod storage;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod transport;
#[allow(unreachable_pub)] // `pub` items are the `internals` door's (see below)
mod txn;
pub mod types;
#[allow(unreachable_pub)] // `pub` items are the `internals` door's (see below)
mod wire;

#[cfg(test)]
mod testing;

/// The door for this project's own harnesses, behind the `internals` feature: the simulator,
/// the cross-backend tests, the fuzz targets and the traffic-counting examples reach the wire
/// codecs, the MLS layer, the storage transaction and the seeded entropy through it. It is not
/// part of the API: nothing here is stable, and an embedder never needs it.
#[cfg(feature = "internals")]
#[doc(hidden)]
pub mod internals {
    /// The wire formats (see `specs/de-mls.md` §4).
    pub mod wire {
        pub use crate::wire::*;
    }
    /// The MLS layer over OpenMLS.
    pub mod mls {
        pub use crate::mls::*;
    }
    /// One engine step's storage transaction.
    pub mod txn {
        pub use crate::txn::*;
    }
    /// Seeded or OS entropy.
    pub mod entropy {
        pub use crate::entropy::*;
    }
}

pub use api::{ApiError, BlockingNode, ErrorCode, Event};
pub use config::{ConfigError, NodeConfig};
pub use consensus::{
    Consensus, ConsensusError, ConsensusEvent, ConsensusFactory, Electorate, Verdict,
};
pub use engine::{
    Engine, EngineError, EngineParams, GroupEvent, GroupSummary, Output, RejectReason, Submission,
};
pub use identity::{Identity, IdentitySigner};
pub use invitation::{Invitation, InvitationError};
pub use node::{EventCallback, Node, NodeBuilder, NodeError};
pub use proposal::{ProposalAction, ProposalKind, Violation};
pub use roster::{Roster, RosterEntry};
pub use steward::{
    CommitFacts, CommitRank, EpochView, PolicyAction, PolicyError, ReadyProposal, StewardPolicy,
    StewardPolicyFactory,
};
pub use storage::{Entries, Space, Storage, StorageError, WriteBatch, WriteOp};
pub use transport::{Inbound, Transport, TransportError};
pub use types::{Epoch, GroupId, MemberId, ProposalId, Timestamp, Topic};
