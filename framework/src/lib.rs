//! # demls — decentralized MLS
//!
//! The framework crate: the four plugin traits ([`Transport`], [`Consensus`], [`StewardPolicy`],
//! [`Storage`]), the sans-IO group [`engine`], the async [`Node`] that drives it, the backend
//! registry and the TOML configuration.
#![warn(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod clock;
pub mod config;
pub mod consensus;
pub mod engine;
pub mod entropy;
pub mod identity;
pub mod invitation;
pub mod mls;
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
pub mod txn;
pub mod types;
pub mod wire;

#[cfg(test)]
mod testing;

pub use config::{ConfigError, NodeConfig};
pub use consensus::{
    Consensus, ConsensusError, ConsensusEvent, ConsensusFactory, Outcome, VoterSet,
};
pub use engine::{
    Engine, EngineError, EngineParams, Event, GroupSummary, Output, RejectReason, Submission,
};
pub use identity::{Identity, IdentitySigner};
pub use invitation::{Invitation, InvitationError};
pub use node::{Node, NodeBuilder, NodeError};
pub use proposal::{ProposalAction, ProposalKind, Violation};
pub use roster::{Roster, RosterEntry};
pub use steward::{
    CommitFacts, CommitRank, EpochView, PolicyAction, PolicyError, ReadyProposal, StewardPolicy,
    StewardPolicyFactory,
};
pub use storage::{Entries, Space, Storage, StorageError, WriteBatch, WriteOp};
pub use transport::{Inbound, Transport, TransportError};
pub use types::{Epoch, GroupId, MemberId, ProposalId, Timestamp, Topic};
