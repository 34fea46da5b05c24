//! The storage conformance suite: one public function per rule of the [`Storage`] contract,
//! and [`storage_conformance!`](crate::storage_conformance) to stamp them all into a backend's
//! test file.
//!
//! A backend supplies a factory that opens a fresh, empty store per call (`open`). Cases
//! compare the store against a plain in-memory model where that is simpler than spelling the
//! expected result out. The optional [`a_failed_batch_leaves_the_store_unchanged`] case runs
//! only for backends that can be made to fail an `apply` ([`ApplyFailure`]).
//!
//! The cases live in four files: [`basics`] (single operations, scans, spaces), [`batches`]
//! (ordering, atomicity, concurrency), [`scale`] (large values, many keys) and [`mls`] (an
//! OpenMLS group kept in the store).

use std::sync::Arc;

use crate::storage::{Storage, WriteBatch};

pub mod basics;
pub mod batches;
pub mod mls;
pub mod scale;
mod support;

pub use basics::{
    a_delete_removes_the_key, a_put_value_reads_back, absent_keys_read_as_none,
    an_empty_prefix_scans_the_whole_space, an_overwrite_replaces_the_value,
    delete_prefix_removes_only_the_prefixed_keys, deleting_absent_keys_is_not_an_error,
    empty_values_and_binary_keys_round_trip,
    scan_prefix_returns_exactly_the_prefixed_keys_in_order, spaces_are_isolated,
};
pub use batches::{
    a_batch_is_applied_in_full, a_failed_batch_leaves_the_store_unchanged,
    an_empty_batch_is_accepted, concurrent_readers_see_only_whole_batches,
    later_ops_in_a_batch_override_earlier_ones,
};
pub use mls::an_mls_group_round_trips_through_the_store;
pub use scale::{a_four_mib_value_round_trips, ten_thousand_small_keys_round_trip_in_order};

/// How to make one store's `apply` fail: a fresh, empty `store`, and a `poison` batch it must
/// reject however it is combined with other writes (e.g. a store opened with a small capacity
/// and a batch putting a value larger than that capacity).
///
/// The store must accept the case's seed data (under 1 KiB) before the poison.
pub struct ApplyFailure {
    /// A fresh, empty store.
    pub store: Arc<dyn Storage>,
    /// Operations the store rejects.
    pub poison: WriteBatch,
}

/// Stamps one `#[test]` per storage conformance case into the calling module.
///
/// The first argument is an expression evaluating to a factory `Fn() -> Arc<S>` (for any
/// `S: Storage`, including `dyn Storage`) that opens a fresh, empty store per call. The
/// optional `failing_apply = ...` argument is a `Fn() -> ApplyFailure` and adds the
/// atomic-failure case.
///
/// ```ignore
/// demls::storage_conformance!(|| std::sync::Arc::new(my_backend::Store::new()));
/// demls::storage_conformance!(
///     || std::sync::Arc::new(my_backend::Store::new()),
///     failing_apply = my_failing_store,
/// );
/// ```
#[macro_export]
macro_rules! storage_conformance {
    ($open:expr $(,)?) => {
        $crate::__storage_conformance_cases! {
            $open;
            absent_keys_read_as_none,
            a_put_value_reads_back,
            empty_values_and_binary_keys_round_trip,
            an_overwrite_replaces_the_value,
            a_delete_removes_the_key,
            deleting_absent_keys_is_not_an_error,
            scan_prefix_returns_exactly_the_prefixed_keys_in_order,
            an_empty_prefix_scans_the_whole_space,
            spaces_are_isolated,
            delete_prefix_removes_only_the_prefixed_keys,
            later_ops_in_a_batch_override_earlier_ones,
            a_batch_is_applied_in_full,
            an_empty_batch_is_accepted,
            a_four_mib_value_round_trips,
            ten_thousand_small_keys_round_trip_in_order,
            concurrent_readers_see_only_whole_batches,
            an_mls_group_round_trips_through_the_store,
        }
    };
    ($open:expr, failing_apply = $failing:expr $(,)?) => {
        $crate::storage_conformance!($open);

        #[test]
        fn a_failed_batch_leaves_the_store_unchanged() {
            let failing = $failing;
            $crate::testkit::storage::a_failed_batch_leaves_the_store_unchanged(&failing);
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __storage_conformance_cases {
    ($open:expr; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                let factory = $open;
                let open = move || -> ::std::sync::Arc<dyn $crate::Storage> { factory() };
                $crate::testkit::storage::$case(&open);
            }
        )*
    };
}
