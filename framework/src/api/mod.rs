//! # The de-MLS API
//!
//! What an application sees of de-MLS, as specified in `specs/api.md`: nodes, groups,
//! members, messages and **membership decisions**. How decisions are reached (proposals on the
//! wire, votes, signatures, the consensus backend) stays behind it.
//!
//! - [`Node`](crate::Node) is the async form; [`BlockingNode`] the form for callers without an
//!   async runtime (and the base of the C API).
//! - [`Event`], [`GroupInfo`], [`Message`], [`Status`], [`ChangeRequest`] and [`ApiError`]
//!   have one **canonical JSON form** each (serde; byte strings in base64), shared by the C
//!   API, the CLI and the Logos Core module.
//! - [`call`](call()) runs any operation by name with JSON arguments: one entry point for hosts
//!   that speak JSON.

mod b64;
mod blocking;
mod call;
mod change;
mod error;
mod event;
mod info;

pub use b64::{decode as decode_bytes, encode as encode_bytes};
pub use blocking::BlockingNode;
pub use call::{DEFAULT_HISTORY_LIMIT, MAX_EVENT_WAIT_MS, METHODS, backends, call};
pub use change::{Change, ChangeRequest, ViolationKind};
pub use error::{ApiError, ERROR_CODES, ErrorCode};
pub use event::{EVENT_TYPES, Event, Outcome, REJECT_REASONS, reason_name};
pub use info::{Decision, DecisionState, GroupInfo, Message, Role, Status};

/// This library's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[cfg(test)]
mod tests;
