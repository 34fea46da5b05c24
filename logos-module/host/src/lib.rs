//! A Qt-free test host for Logos Core module images, and the harness that drives it.
//!
//! The host (`demls-module-host`) loads a module image exactly as Logos Core's plain host does
//! ([`loader`]), exports the `lp_*` consumer ABI from its executable ([`exports`]) with an
//! in-process fake `delivery_module` behind it ([`delivery`]) that relays between host processes
//! through a Unix-socket hub ([`relay`], [`relay_link`], wire format in [`frame`]), and is driven by JSON lines
//! on stdin ([`driver`], syntax in [`command`]).
//!
//! The harness side ([`harness`], [`scenario`], [`transcript`]) spawns hosts as child
//! processes and drives them as a person would: the tests and the dogfood recording use it.

pub mod cli;
pub mod command;
pub mod delivery;
pub mod driver;
pub mod exports;
pub mod frame;
pub mod harness;
pub mod loader;
pub mod relay;
pub mod relay_link;
pub mod scenario;
pub mod transcript;
