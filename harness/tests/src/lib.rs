//! # demls-tests
//!
//! The tests that need more than the framework: the group engine and the node driven end to
//! end on the real backends (memory and SQLite storage, the memory transport, hashgraph
//! consensus) and the simulator's adversaries. They live in this crate, not in `framework/`,
//! so the framework has no dependency on any backend, not even for its tests.
//!
//! The library is empty; everything is under `tests/`:
//!
//! ```text
//! cargo test -p demls-tests                  # all of them
//! cargo test -p demls-tests --test hostile   # one file
//! ```
//!
//! `tests/common` is the shared harness: a deterministic in-test network of sans-IO engines.
