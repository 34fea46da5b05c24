//! # demls_module: de-MLS as a Logos Core module
//!
//! A `cdylib` (`libdemls_module.so`) implementing the module-implementation C ABI of
//! logos-protocol (`logos_module_impl.h`): the 12 `logos_module_*` exports ([`abi`]), the
//! LIDL contract `demls_module.lidl` (methods and events in one table, [`table`]), and a
//! transport over the host's `delivery_module` ([`delivery`]). Inside Logos Core the module
//! reaches the network only through that delivery module.
//!
//! The ABI is process-global, so the module is too: one instance (one de-MLS node) per
//! process. `logos-module/README.md` documents the contract's conventions and decisions.
#![warn(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod abi;
pub mod caller;
pub mod config;
pub mod content;
pub mod context;
pub mod delivery;
pub mod dispatch;
mod emit;
pub mod error;
mod events;
mod ffi;
mod handlers;
pub mod ids;
mod inbox_tap;
pub mod invite;
mod module;
pub mod store;
pub mod table;
pub mod tokens;
mod unload;

pub use abi::PROTOCOL_VERSION;
pub use caller::{Caller, current_caller};
pub use dispatch::{LIDL, NAME, VERSION};
pub use emit::EmitCallback;
pub use unload::UnloadDoneCallback;
