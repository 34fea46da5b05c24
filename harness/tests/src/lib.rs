//! # demls-tests
//!
//! The tests that need more than the framework: the group engine and the node driven end to
//! end on the real backends (memory and SQLite storage, the memory transport, hashgraph
//! consensus) and the simulator's adversaries. They live in this crate, not in `framework/` or
//! in a backend, so the framework has no dependency on any backend (not even for its tests) and
//! a backend depends on the framework only.
//!
//! The library is the deterministic test network the engine tests and the stateful fuzz
//! targets (`fuzz/`, a separate nightly workspace) run on: [`net::Net`], sans-IO engines on
//! the memory or the SQLite storage, a publication queue and simulated time, plus records and
//! snapshots of a run. The tests are under `tests/`:
//!
//! ```text
//! cargo test -p demls-tests                            # all of them
//! cargo test -p demls-tests --test hostile             # one file
//! cargo test -p demls-tests --test kill_and_restart    # the SQLite kill test
//! ```
//!
//! - `tests/kill_and_restart.rs` runs one member as a child process on SQLite and kills it with
//!   SIGKILL at seeded points. The child is this crate's binary `demls-sqlite-member`
//!   (`src/bin/`): an integration test can start a binary of its own package only
//!   (`CARGO_BIN_EXE_<name>`), so the binary lives here too.
#![warn(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]

pub mod net;
