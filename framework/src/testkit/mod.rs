//! Conformance suites: the behaviour every [`Transport`](crate::Transport),
//! [`Storage`](crate::Storage), [`Consensus`](crate::Consensus) and
//! [`StewardPolicy`](crate::StewardPolicy) implementation must show, as test functions each
//! one runs from its own tests (`tests/conformance.rs`).
//!
//! This module owns only tests of the trait contracts written in [`crate::transport`],
//! [`crate::storage`], [`crate::consensus`] and [`crate::steward`]; it must not test anything a particular backend adds on top (those tests
//! live in the backend crate) and it never touches the engine. It is compiled only with the
//! `testkit` feature.
//!
//! # Adopting the suites in a new backend
//!
//! 1. Add the framework with the feature as a dev-dependency of the backend crate:
//!
//!    ```toml
//!    [dev-dependencies]
//!    demls = { path = "../../framework", features = ["testkit"] }
//!    ```
//!
//! 2. Create `tests/conformance.rs` with one macro call. Each call stamps one named `#[test]`
//!    per case, so a failure reads as a sentence (`test unsubscribe_stops_delivery ... FAILED`);
//!    call it inside a `mod` to group the names:
//!
//!    ```ignore
//!    // A storage backend: a closure that opens a fresh, empty store per call.
//!    demls::storage_conformance!(|| std::sync::Arc::new(my_backend::Store::new()));
//!
//!    // A transport backend: anything implementing `TransportHarness`, e.g. a closure that
//!    // returns `n` connected endpoints on a fresh network per call.
//!    demls::transport_conformance!(my_backend::conformance_factory());
//!
//!    // A consensus plugin or a steward policy: a closure returning its factory.
//!    demls::consensus_conformance!(|| std::sync::Arc::new(my_plugin::Factory::default()));
//!    demls::steward_conformance!(|| std::sync::Arc::new(my_policy::Factory::default()));
//!    ```
//!
//! 3. Backends that can be made to fail an `apply` (a capacity limit, an injected I/O error)
//!    also run the optional atomic-failure case through the macro's second form:
//!    `demls::storage_conformance!(open, failing_apply = || ApplyFailure { .. })`
//!    (see [`storage::ApplyFailure`]).
//!
//! Every case is also a public function ([`transport`], [`storage`], [`consensus`] and
//! [`steward`]), so a backend can call single cases from its own tests, e.g. with a
//! non-default configuration: storage, consensus and steward cases are plain functions, and
//! transport cases run with [`run`], e.g.
//! `demls::testkit::run(transport::recv_is_cancel_safe(&harness))`.
//!
//! Real network transports need a moment before a subscription is effective; the transport
//! suite handles that itself (it publishes probe messages until every subscriber has seen one,
//! with a timeout) and lets a harness add a settle delay and longer timeouts
//! ([`transport::TransportHarness`]). Every wait is bounded, so a broken backend fails a case
//! instead of hanging it.

use std::future::Future;
use std::time::Duration;

pub mod consensus;
pub mod steward;
pub mod storage;
pub mod transport;

#[cfg(test)]
mod tests;

/// The longest one async conformance case may run before it fails as hung.
pub const CASE_TIME_LIMIT: Duration = Duration::from_secs(120);

/// Runs one async case to completion on a fresh two-worker multi-thread runtime, failing it
/// (by panicking) when it takes longer than [`CASE_TIME_LIMIT`]. The conformance macros call
/// this from every stamped `#[test]`.
///
/// # Panics
/// When the runtime cannot be built, when the case panics, or when it times out.
pub fn run<F: Future<Output = ()>>(case: F) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("the conformance runtime must start");
    runtime.block_on(async {
        if tokio::time::timeout(CASE_TIME_LIMIT, case).await.is_err() {
            panic!("the case did not finish within {CASE_TIME_LIMIT:?}: the backend hangs");
        }
    });
}
