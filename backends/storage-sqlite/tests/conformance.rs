//! The framework's storage conformance suite, run against the SQLite storage, including the
//! atomic-failure case (a small `max_page_count` makes `apply` fail with `Full`).

mod common;

use std::sync::Arc;

use common::ScratchStore;
use demls::testkit::storage::ApplyFailure;
use demls::{Space, WriteBatch};

/// A store with 64 pages (256 KiB) of room and a batch putting a 1 MiB value.
fn full_disk() -> ApplyFailure {
    let mut poison = WriteBatch::new();
    poison.put(Space::Messages, b"too big".to_vec(), vec![0u8; 1 << 20]);
    ApplyFailure {
        store: Arc::new(ScratchStore::new(Some(64))),
        poison,
    }
}

demls::storage_conformance!(
    || Arc::new(ScratchStore::new(None)),
    failing_apply = full_disk
);
