//! The sans-IO group engine: bytes and time in, publications and events out.
//!
//! [`Engine`] owns every group a node is in (or joining), the node's identity and its storage.
//! It never reads a clock, opens a socket or spawns a thread: the [`Node`](crate::Node), the
//! deterministic simulator and embedders such as ChatSDK drive it by calling
//! [`handle`](Engine::handle), [`tick`](Engine::tick) and the command methods, and carry out the
//! returned [`Output`].
//!
//! Every call is one atomic *step*: its storage writes are buffered in a transaction and applied
//! together at the end. A step that refuses its input discards the buffer and reloads any
//! in-memory state OpenMLS may have touched, so rejected input leaves no trace.

mod beyond;
mod catch_up;
mod chat;
mod commands;
mod commit;
mod digest;
mod epoch;
mod error;
mod event;
mod fork;
mod freeze;
mod governance;
mod group;
mod history;
mod inbound;
mod join;
mod keypackages;
mod leave;
mod machine;
mod output;
mod params;
mod proposals;
mod publish;
mod records;
mod rejoin;
mod repair;
mod run;
mod selection;
mod silent;
mod step;
mod tick;
mod topics;
mod validation;
mod view;

pub use error::EngineError;
pub use event::{GroupEvent, ProposalAction, ProposalKind, RejectReason, Violation};
pub use freeze::Submission;
pub use history::LoggedMessage;
pub use machine::{Engine, GroupSummary};
pub use output::{Outbound, Output};
pub use params::{APP_MESSAGE_FRAMING_BYTES, EngineParams, InvalidParam, VotingMode};
pub use records::ProposalStatus;
pub use silent::Silent;
pub use topics::GroupTopics;
