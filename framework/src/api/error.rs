//! The API's errors: one numbered code per kind of failure, shared by Rust, the C API (its
//! result codes) and the JSON form (`{"code": 8, "name": "unknown_group", "message": "..."}`).
//! **A number is never reused**: codes are only ever added.

use serde::{Deserialize, Serialize};

use crate::engine::EngineError;
use crate::node::NodeError;

/// Why an API call failed. The numeric value is the C result code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u32)]
#[non_exhaustive]
pub enum ErrorCode {
    /// A required pointer was NULL (C only).
    NullArgument = 1,
    /// An argument is malformed: not UTF-8, not the JSON expected, a value out of range.
    InvalidArgument = 2,
    /// `call` was given a method name it does not know.
    UnknownMethod = 3,
    /// The configuration is invalid (bad TOML, unknown backend or key, bad value).
    InvalidConfig = 4,
    /// A group id was empty or longer than 255 bytes.
    InvalidGroupId = 5,
    /// A member id was not 20 bytes.
    InvalidMemberId = 6,
    /// A decision id was not 32 bytes.
    InvalidDecisionId = 7,
    /// This node is not in that group.
    UnknownGroup = 8,
    /// The group exists already here (or a join to it is under way).
    GroupExists = 9,
    /// The request does not apply now (unknown member, decision not open, ...).
    InvalidRequest = 10,
    /// A payload is larger than the group allows.
    PayloadTooLarge = 11,
    /// The storage belongs to another identity than the configured one.
    IdentityMismatch = 12,
    /// The storage failed; nothing was changed.
    Storage = 13,
    /// The MLS layer failed.
    Mls = 14,
    /// The group's decision-making refused the request.
    DecisionRefused = 15,
    /// The steward policy refused the request.
    StewardPolicy = 16,
    /// The group has no invitation (created by an older version).
    NoInvitation = 17,
    /// The text is not an invitation.
    InvalidInvitation = 18,
    /// The transport failed.
    Transport = 19,
    /// The node has stopped (shut down, or stopped after an internal failure).
    Stopped = 20,
    /// The node could not start a thread or its runtime.
    Runtime = 21,
    /// A Rust panic was caught at the C boundary (a bug; please report it).
    Panic = 22,
    /// Anything else (a bug; please report it).
    Internal = 23,
    /// A handle was used after the node it belongs to was freed (C only).
    UseAfterFree = 24,
    /// A blocking call was made from a thread of the node's own runtime (for instance from
    /// inside an event callback), where it would wait for itself.
    WrongThread = 25,
}

/// Every error code, in numeric order (for the schema and the header test).
pub const ERROR_CODES: &[ErrorCode] = &[
    ErrorCode::NullArgument,
    ErrorCode::InvalidArgument,
    ErrorCode::UnknownMethod,
    ErrorCode::InvalidConfig,
    ErrorCode::InvalidGroupId,
    ErrorCode::InvalidMemberId,
    ErrorCode::InvalidDecisionId,
    ErrorCode::UnknownGroup,
    ErrorCode::GroupExists,
    ErrorCode::InvalidRequest,
    ErrorCode::PayloadTooLarge,
    ErrorCode::IdentityMismatch,
    ErrorCode::Storage,
    ErrorCode::Mls,
    ErrorCode::DecisionRefused,
    ErrorCode::StewardPolicy,
    ErrorCode::NoInvitation,
    ErrorCode::InvalidInvitation,
    ErrorCode::Transport,
    ErrorCode::Stopped,
    ErrorCode::Runtime,
    ErrorCode::Panic,
    ErrorCode::Internal,
    ErrorCode::UseAfterFree,
    ErrorCode::WrongThread,
];

impl ErrorCode {
    /// The number (C result code).
    pub fn code(self) -> u32 {
        self as u32
    }

    /// The snake_case name used in the JSON form.
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::NullArgument => "null_argument",
            ErrorCode::InvalidArgument => "invalid_argument",
            ErrorCode::UnknownMethod => "unknown_method",
            ErrorCode::InvalidConfig => "invalid_config",
            ErrorCode::InvalidGroupId => "invalid_group_id",
            ErrorCode::InvalidMemberId => "invalid_member_id",
            ErrorCode::InvalidDecisionId => "invalid_decision_id",
            ErrorCode::UnknownGroup => "unknown_group",
            ErrorCode::GroupExists => "group_exists",
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::IdentityMismatch => "identity_mismatch",
            ErrorCode::Storage => "storage",
            ErrorCode::Mls => "mls",
            ErrorCode::DecisionRefused => "decision_refused",
            ErrorCode::StewardPolicy => "steward_policy",
            ErrorCode::NoInvitation => "no_invitation",
            ErrorCode::InvalidInvitation => "invalid_invitation",
            ErrorCode::Transport => "transport",
            ErrorCode::Stopped => "stopped",
            ErrorCode::Runtime => "runtime",
            ErrorCode::Panic => "panic",
            ErrorCode::Internal => "internal",
            ErrorCode::UseAfterFree => "use_after_free",
            ErrorCode::WrongThread => "wrong_thread",
        }
    }
}

/// A failed API call: its code and a human-readable message (for logs, not for matching).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{} ({}): {message}", code.name(), code.code())]
pub struct ApiError {
    /// What kind of failure.
    pub code: ErrorCode,
    /// What happened.
    pub message: String,
}

impl ApiError {
    /// An error of `code` saying `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
        }
    }

    /// The canonical JSON form: `{"code": 8, "name": "unknown_group", "message": "..."}`.
    pub fn to_json_value(&self) -> serde_json::Value {
        serde_json::json!({
            "code": self.code.code(),
            "name": self.code.name(),
            "message": self.message,
        })
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        let code = match &e {
            EngineError::UnknownGroup(_) => ErrorCode::UnknownGroup,
            EngineError::GroupExists(_) => ErrorCode::GroupExists,
            EngineError::InvalidRequest(_) => ErrorCode::InvalidRequest,
            EngineError::PayloadTooLarge { .. } => ErrorCode::PayloadTooLarge,
            EngineError::IdentityMismatch { .. } => ErrorCode::IdentityMismatch,
            EngineError::Storage(_) => ErrorCode::Storage,
            EngineError::Mls(_) => ErrorCode::Mls,
            EngineError::Consensus(_) => ErrorCode::DecisionRefused,
            EngineError::Policy(_) => ErrorCode::StewardPolicy,
            EngineError::Entropy(_) => ErrorCode::Internal,
            EngineError::NoGenesis(_) => ErrorCode::NoInvitation,
            EngineError::InvalidParameter(_) => ErrorCode::InvalidConfig,
        };
        ApiError::new(code, e.to_string())
    }
}

impl From<NodeError> for ApiError {
    fn from(e: NodeError) -> Self {
        match e {
            NodeError::Engine(e) => e.into(),
            NodeError::Config(e) => ApiError::new(ErrorCode::InvalidConfig, e.to_string()),
            NodeError::Transport(e) => ApiError::new(ErrorCode::Transport, e.to_string()),
            NodeError::InvalidGroupId => ApiError::new(ErrorCode::InvalidGroupId, e.to_string()),
            NodeError::InvalidMemberId => ApiError::new(ErrorCode::InvalidMemberId, e.to_string()),
            NodeError::InvalidProposalId => {
                ApiError::new(ErrorCode::InvalidDecisionId, "invalid decision id")
            }
            NodeError::Stopped => ApiError::new(ErrorCode::Stopped, e.to_string()),
            NodeError::Spawn(_) => ApiError::new(ErrorCode::Runtime, e.to_string()),
        }
    }
}
