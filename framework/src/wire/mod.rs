//! Everything de-MLS puts on the wire, as protobuf (prost derive, no code generation step).
//!
//! One [`Envelope`] format carries every message; the engine dispatches on its [`Kind`] in one
//! place. Inside MLS application messages travels a [`Frame`]; the consensus payload of a
//! voting proposal is a [`GroupProposal`]; a commit's authenticated data is a [`CommitInfo`].
//! The exact schema is in `specs/de-mls.md`.

mod beyond;
pub mod bundle;
mod envelope;
mod frames;
mod proposals;
pub mod sealed;

pub use beyond::{BeyondHistory, signed_bytes as beyond_signed_bytes};
pub use envelope::{Envelope, Kind};
pub use frames::{BranchTag, Chat, CommitInfo, ForkNotice, Frame, Rejoin, Repair, Status, frame};
pub use proposals::{
    AddMember, EmergencyCriteria, GroupProposal, RemoveMember, StewardElection, group_proposal,
};

/// Why bytes did not decode as a de-MLS wire message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// Not valid protobuf for the expected message.
    #[error("undecodable {what}: {source}")]
    Decode {
        /// Which message was expected.
        what: &'static str,
        /// The protobuf error.
        #[source]
        source: prost::DecodeError,
    },
    /// Decoded, but a field is missing or out of range.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// Which message.
        what: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// A sealed commit failed authentication (wrong epoch key, or tampered).
    #[error("sealed commit failed authentication")]
    Unseal,
}

/// Decodes a protobuf message, naming it in the error.
pub(crate) fn decode<M: prost::Message + Default>(
    what: &'static str,
    bytes: &[u8],
) -> Result<M, WireError> {
    M::decode(bytes).map_err(|source| WireError::Decode { what, source })
}

/// Decodes an MLS application plaintext.
pub fn decode_frame(bytes: &[u8]) -> Result<Frame, WireError> {
    decode("frame", bytes)
}

/// Decodes the body of a fork notice.
pub fn decode_fork_notice(bytes: &[u8]) -> Result<ForkNotice, WireError> {
    decode("fork notice", bytes)
}

/// Decodes a voting proposal's payload.
pub fn decode_group_proposal(bytes: &[u8]) -> Result<GroupProposal, WireError> {
    decode("group proposal", bytes)
}

/// Decodes a commit's authenticated data.
pub fn decode_commit_info(bytes: &[u8]) -> Result<CommitInfo, WireError> {
    decode("commit info", bytes)
}

/// Encodes any of the messages above.
pub fn encode<M: prost::Message>(message: &M) -> Vec<u8> {
    message.encode_to_vec()
}
