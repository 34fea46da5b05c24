//! The engine's error: why a command failed (inbound messages are refused with an event
//! instead, see [`GroupEvent::Rejected`](super::event::GroupEvent::Rejected)).

use crate::consensus::ConsensusError;
use crate::mls::MlsError;
use crate::steward::PolicyError;
use crate::storage::StorageError;
use crate::types::{GroupId, MemberId};

/// Why an engine command failed. Inbound messages never fail this way: a refused message
/// becomes an [`GroupEvent::Rejected`](super::event::GroupEvent::Rejected); only storage failures surface as errors from `handle`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The node is not in this group.
    #[error("not a member of group {0:?}")]
    UnknownGroup(GroupId),
    /// The group already exists (or a join is already under way).
    #[error("group {0:?} already exists")]
    GroupExists(GroupId),
    /// The request is invalid (bad id, unknown member, proposal not open...).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// A payload is larger than allowed.
    #[error("payload of {size} bytes exceeds the limit of {limit} bytes")]
    PayloadTooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The stored identity differs from the configured one.
    #[error("storage belongs to another identity ({stored}), not the configured one")]
    IdentityMismatch {
        /// The member id found in storage.
        stored: MemberId,
    },
    /// Storage failed; the step was not applied.
    #[error(transparent)]
    Storage(StorageError),
    /// An MLS operation failed.
    #[error(transparent)]
    Mls(#[from] MlsError),
    /// The consensus plugin refused.
    #[error(transparent)]
    Consensus(#[from] ConsensusError),
    /// The steward policy refused.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// The entropy source failed.
    #[error(transparent)]
    Entropy(#[from] crate::entropy::EntropyError),
    /// The group was created before groups had a genesis, so it has no invitation.
    #[error("group {0:?} has no genesis (created by an older version): no invitation")]
    NoGenesis(GroupId),
    /// A `[group]` setting cannot work (refused when the engine opens).
    #[error(transparent)]
    InvalidParameter(#[from] super::params::InvalidParam),
}
