//! The module's errors: what a refused dispatch answers (the ABI's error object) and why a
//! method failed (carried in a LIDL `result`, or as a `dispatch_failed` error object when the
//! method's return type cannot carry it).
//!
//! Owns the error codes and their JSON forms; it does not decide which call gets which
//! error (that is [`crate::dispatch`]'s and the handlers' job).

use demls::api::ApiError;
use serde_json::{Value, json};

/// The `origin` of every error object this module produces.
pub const ORIGIN: &str = "demls_module";

/// Why a dispatch was refused as a whole: the ABI's error object
/// `{"code": "<code>", "message": "...", "origin": "demls_module"}`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DispatchError {
    /// No method of that name (`unknown_method`).
    #[error("unknown method {0:?}")]
    UnknownMethod(String),
    /// The arguments are not a JSON array of the method's parameter count and types, or the
    /// method name is NULL or not UTF-8 (`invalid_args`).
    #[error("{0}")]
    InvalidArgs(String),
    /// The call failed in a way its LIDL return type cannot carry (before `init`, or a
    /// method returning a list, a record or a string failed) (`dispatch_failed`).
    #[error("{0}")]
    Failed(String),
}

impl DispatchError {
    /// The stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            DispatchError::UnknownMethod(_) => "unknown_method",
            DispatchError::InvalidArgs(_) => "invalid_args",
            DispatchError::Failed(_) => "dispatch_failed",
        }
    }

    /// The error object.
    pub fn to_json(&self) -> Value {
        json!({"code": self.code(), "message": self.to_string(), "origin": ORIGIN})
    }
}

/// Why a method of the module failed. Inside a LIDL `result` its text is
/// `"<code>: <message>"`, the code being one of [`ModuleError::code`]'s names (or the de-MLS
/// API's error name for [`ModuleError::Api`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModuleError {
    /// `init` has not run (or `shutdown` ran since).
    #[error("the module is not initialised: call init first")]
    NotInitialized,
    /// `init` ran already; call `shutdown` first to init again.
    #[error("the module is initialised already")]
    AlreadyInitialized,
    /// The module is shutting down (unload under way).
    #[error("the module is shutting down")]
    ShuttingDown,
    /// The host gave no instance persistence path (`logos_module_set_context`).
    #[error(
        "no instance persistence path: the host must call logos_module_set_context with one before init"
    )]
    NoPersistencePath,
    /// The init configuration is invalid.
    #[error("{0}")]
    InvalidConfig(String),
    /// A `convo_id` that is not lowercase hex of a group id, or of no conversation here.
    #[error("unknown conversation {0:?}")]
    UnknownConversation(String),
    /// An address that is not the hex of a 20-byte member id.
    #[error("invalid address {0:?}: expected 40 hex characters")]
    InvalidAddress(String),
    /// No pending invitation to that conversation.
    #[error("no pending invitation to conversation {0:?}")]
    NoInvitation(String),
    /// The delivery module could not be reached or refused a call.
    #[error("{0}")]
    Delivery(String),
    /// Reading or writing the instance directory failed.
    #[error("persistence: {0}")]
    Persistence(String),
    /// The de-MLS node refused or failed the operation.
    #[error("{}", .0.message)]
    Api(ApiError),
}

impl ModuleError {
    /// The stable machine code (for [`ModuleError::Api`], the API error's name).
    pub fn code(&self) -> &'static str {
        match self {
            ModuleError::NotInitialized => "not_initialized",
            ModuleError::AlreadyInitialized => "already_initialized",
            ModuleError::ShuttingDown => "shutting_down",
            ModuleError::NoPersistencePath => "no_persistence_path",
            ModuleError::InvalidConfig(_) => "invalid_config",
            ModuleError::UnknownConversation(_) => "unknown_conversation",
            ModuleError::InvalidAddress(_) => "invalid_address",
            ModuleError::NoInvitation(_) => "no_invitation",
            ModuleError::Delivery(_) => "delivery",
            ModuleError::Persistence(_) => "persistence",
            ModuleError::Api(e) => e.code.name(),
        }
    }

    /// The text a LIDL `result` carries: `"<code>: <message>"`.
    pub fn result_text(&self) -> String {
        format!("{}: {}", self.code(), self)
    }
}

impl From<ApiError> for ModuleError {
    fn from(e: ApiError) -> Self {
        ModuleError::Api(e)
    }
}

impl From<demls::NodeError> for ModuleError {
    fn from(e: demls::NodeError) -> Self {
        ModuleError::Api(e.into())
    }
}

impl From<std::io::Error> for ModuleError {
    fn from(e: std::io::Error) -> Self {
        ModuleError::Persistence(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_objects_carry_code_message_and_origin() {
        let e = DispatchError::UnknownMethod("nope".into()).to_json();
        assert_eq!(e["code"], "unknown_method");
        assert_eq!(e["origin"], "demls_module");
        assert!(e["message"].as_str().unwrap().contains("nope"));
    }

    #[test]
    fn result_texts_start_with_the_code() {
        assert!(
            ModuleError::NotInitialized
                .result_text()
                .starts_with("not_initialized: ")
        );
    }
}
