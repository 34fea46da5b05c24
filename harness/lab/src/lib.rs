//! # demls-lab — the researcher's lab
//!
//! A **scenario file** (TOML, [`scenario::Scenario`]) names the members, the protocol stack,
//! the network model, the workload, a schedule of faults and membership changes, and seeds.
//! The same file runs
//!
//! - on the deterministic simulator ([`sim`]): thousands of members on virtual time, the same
//!   seed giving the same results, and
//! - on real `demls` processes ([`real`]), each in its own network namespace, over the real
//!   Logos transport and SQLite storage, through an emulated network with latency, jitter,
//!   loss, partitions and SIGKILLed members.
//!
//! Both produce [`observe::Observations`]; [`metrics`] turns them into `metrics.json` and
//! [`plot`] into SVG plots, so the two backends can be compared figure by figure.
#![warn(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod metrics;
pub mod observe;
pub mod output;
pub mod plan;
pub mod plot;
pub mod progress;
pub mod real;
pub mod scenario;
pub mod simulate;
