//! The framework's storage conformance suite, run against the memory storage, including the
//! atomic-failure case (a small capacity makes `apply` fail).

use std::sync::Arc;

use demls::testkit::storage::ApplyFailure;
use demls::{Space, WriteBatch};
use demls_storage_memory::MemoryStorage;

/// A store with 64 KiB of room and a batch putting a 1 MiB value.
fn full_disk() -> ApplyFailure {
    let mut poison = WriteBatch::new();
    poison.put(Space::Messages, b"too big".to_vec(), vec![0u8; 1 << 20]);
    ApplyFailure {
        store: Arc::new(MemoryStorage::with_capacity(64 * 1024)),
        poison,
    }
}

demls::storage_conformance!(|| Arc::new(MemoryStorage::new()), failing_apply = full_disk);
