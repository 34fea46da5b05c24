//! The suites checked against themselves: the storage suite passes on the framework's reference
//! map store, and fails on stores broken in the ways it claims to detect.

use std::sync::Arc;
use std::time::Duration;

use super::storage::{self, ApplyFailure};
use crate::storage::{Space, Storage, StorageError, WriteBatch, WriteOp};
use crate::testing::MapStorage;

/// The reference store, rejecting (before touching anything) any batch that writes the key
/// `poison`.
#[derive(Default)]
struct Guarded(MapStorage);

fn poisoned(batch: &WriteBatch) -> bool {
    batch
        .ops()
        .iter()
        .any(|op| matches!(op, WriteOp::Put { key, .. } if key == b"poison"))
}

impl Storage for Guarded {
    fn name(&self) -> &str {
        "guarded"
    }
    fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.0.get(space, key)
    }
    fn scan_prefix(
        &self,
        space: Space,
        prefix: &[u8],
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StorageError> {
        self.0.scan_prefix(space, prefix)
    }
    fn apply(&self, batch: WriteBatch) -> Result<(), StorageError> {
        if poisoned(&batch) {
            return Err(StorageError::Full);
        }
        self.0.apply(batch)
    }
}

fn poison() -> WriteBatch {
    let mut batch = WriteBatch::new();
    batch.put(Space::Messages, b"poison".to_vec(), b"!".to_vec());
    batch
}

crate::storage_conformance!(
    || Arc::new(Guarded::default()),
    failing_apply = || ApplyFailure {
        store: Arc::new(Guarded::default()),
        poison: poison(),
    },
);

/// Ways to break a store.
#[derive(Clone, Copy, PartialEq)]
enum Bug {
    /// `scan_prefix` returns keys in descending order.
    ReversedScan,
    /// An empty value reads as absent.
    EmptyIsAbsent,
    /// A rejected batch keeps the operations that came before the poison.
    PartialFailure,
    /// Operations of a batch become visible one by one.
    Torn,
}

struct Broken {
    inner: MapStorage,
    bug: Bug,
}

impl Storage for Broken {
    fn name(&self) -> &str {
        "broken"
    }
    fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        let value = self.inner.get(space, key)?;
        Ok(value.filter(|v| !(self.bug == Bug::EmptyIsAbsent && v.is_empty())))
    }
    fn scan_prefix(
        &self,
        space: Space,
        prefix: &[u8],
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StorageError> {
        let mut entries = self.inner.scan_prefix(space, prefix)?;
        if self.bug == Bug::ReversedScan {
            entries.reverse();
        }
        Ok(entries)
    }
    fn apply(&self, batch: WriteBatch) -> Result<(), StorageError> {
        match self.bug {
            Bug::PartialFailure | Bug::Torn => {
                for op in batch.into_ops() {
                    if matches!(&op, WriteOp::Put { key, .. } if key == b"poison") {
                        return Err(StorageError::Full);
                    }
                    let mut one = WriteBatch::new();
                    match op {
                        WriteOp::Put { space, key, value } => one.put(space, key, value),
                        WriteOp::Delete { space, key } => one.delete(space, key),
                        WriteOp::DeletePrefix { space, prefix } => one.delete_prefix(space, prefix),
                    }
                    self.inner.apply(one)?;
                    if self.bug == Bug::Torn {
                        std::thread::sleep(Duration::from_micros(50));
                    }
                }
                Ok(())
            }
            _ if poisoned(&batch) => Err(StorageError::Full),
            _ => self.inner.apply(batch),
        }
    }
}

fn broken(bug: Bug) -> impl Fn() -> Arc<dyn Storage> {
    move || {
        Arc::new(Broken {
            inner: MapStorage::default(),
            bug,
        })
    }
}

#[test]
#[should_panic(expected = "scan of `ab`")]
fn the_suite_catches_an_unsorted_scan() {
    storage::scan_prefix_returns_exactly_the_prefixed_keys_in_order(&broken(Bug::ReversedScan));
}

#[test]
#[should_panic(expected = "key ")]
fn the_suite_catches_empty_values_reading_as_absent() {
    storage::empty_values_and_binary_keys_round_trip(&broken(Bug::EmptyIsAbsent));
}

#[test]
#[should_panic(expected = "a failed apply changed the store")]
fn the_suite_catches_a_partially_applied_failed_batch() {
    storage::a_failed_batch_leaves_the_store_unchanged(&|| ApplyFailure {
        store: broken(Bug::PartialFailure)(),
        poison: poison(),
    });
}

#[test]
#[should_panic(expected = "a reader saw")]
fn the_suite_catches_torn_batches() {
    storage::concurrent_readers_see_only_whole_batches(&broken(Bug::Torn));
}

#[test]
#[should_panic(expected = "the poison batch was accepted")]
fn the_suite_rejects_a_harness_whose_poison_is_accepted() {
    storage::a_failed_batch_leaves_the_store_unchanged(&|| ApplyFailure {
        store: Arc::new(MapStorage::default()),
        poison: poison(),
    });
}
