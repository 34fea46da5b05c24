//! Which storage backend the members of a [`Net`] use: the memory backend, or SQLite files in
//! a scratch directory the net owns. A test picks the backend with [`on_storage`], or runs on
//! both with [`on_every_storage!`](crate::on_every_storage); the default is memory.

use std::cell::Cell;
use std::sync::Arc;

use demls::Storage;
use demls_storage_memory::MemoryStorage;

use super::Net;

/// The storage backend the members of a [`Net`] use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// `demls-storage-memory`.
    Memory,
    /// `demls-storage-sqlite`, one database file per member.
    Sqlite,
}

thread_local! {
    static BACKEND: Cell<Backend> = const { Cell::new(Backend::Memory) };
}

/// The backend a [`Net`] built now on this thread stores into.
pub(super) fn current() -> Backend {
    BACKEND.with(Cell::get)
}

/// Runs `test` with every [`Net`] it builds storing into `backend` (each test has its thread).
pub fn on_storage(backend: Backend, test: impl FnOnce()) {
    let before = BACKEND.with(|b| b.replace(backend));
    test();
    BACKEND.with(|b| b.set(before));
}

/// Stamps, for each named test body (a `fn()` in scope), a module of that name with one
/// `#[test]` per backend: `name::on_memory` and `name::on_sqlite`.
#[macro_export]
macro_rules! on_every_storage {
    ($($test:ident),* $(,)?) => {
        $(
            mod $test {
                #[test]
                fn on_memory() {
                    $crate::net::on_storage($crate::net::Backend::Memory, super::$test);
                }

                #[test]
                fn on_sqlite() {
                    $crate::net::on_storage($crate::net::Backend::Sqlite, super::$test);
                }
            }
        )*
    };
}

impl Net {
    /// A fresh store for the next member, on this net's backend; the memory store too when
    /// that is the backend.
    pub(super) fn open_store(&mut self) -> (Arc<dyn Storage>, Option<MemoryStorage>) {
        match self.backend {
            Backend::Memory => {
                let memory = MemoryStorage::new();
                (Arc::new(memory.clone()), Some(memory))
            }
            Backend::Sqlite => {
                let dir = self.scratch.get_or_insert_with(|| {
                    tempfile::tempdir().expect("a scratch directory for SQLite members")
                });
                let mut config = demls_storage_sqlite::Config::at(
                    dir.path().join(format!("member-{}.db", self.members.len())),
                );
                // These tests check behaviour, not power loss: no fsync per step (8x faster
                // here). The kill test (tests/kill_and_restart.rs) runs the default, `full`.
                config.synchronous = demls_storage_sqlite::Synchronous::Normal;
                let store = demls_storage_sqlite::SqliteStorage::open(&config)
                    .unwrap_or_else(|e| panic!("a SQLite member store opens: {e}"));
                (Arc::new(store), None)
            }
        }
    }
}
