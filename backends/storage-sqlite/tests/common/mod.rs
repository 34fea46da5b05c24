//! Helpers shared by this crate's integration tests.
#![allow(dead_code)]

use demls::{Entries, Space, Storage, StorageError, WriteBatch};
use demls_storage_sqlite::{Config, SqliteStorage};

/// A store in its own temporary directory, removed (after the store is closed) on drop.
pub struct ScratchStore {
    /// The store (declared first: it is closed before the directory goes).
    pub store: SqliteStorage,
    /// The directory holding the database file.
    pub dir: tempfile::TempDir,
}

impl ScratchStore {
    /// A fresh database with `max_page_count` pages of room (unlimited when `None`).
    pub fn new(max_page_count: Option<u32>) -> ScratchStore {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut config = Config::at(dir.path().join("store.db"));
        config.max_page_count = max_page_count;
        let store = SqliteStorage::open(&config).expect("open a fresh database");
        ScratchStore { store, dir }
    }
}

impl Storage for ScratchStore {
    fn name(&self) -> &str {
        self.store.name()
    }

    fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.store.get(space, key)
    }

    fn scan_prefix(&self, space: Space, prefix: &[u8]) -> Result<Entries, StorageError> {
        self.store.scan_prefix(space, prefix)
    }

    fn apply(&self, batch: WriteBatch) -> Result<(), StorageError> {
        self.store.apply(batch)
    }
}
