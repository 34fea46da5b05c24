//! A [`Storage`] wrapper that brackets every batch with step markers, so a restart can prove
//! that the database holds whole batches only.
//!
//! Each batch is written as `begin = n`, the engine's operations, `end = n` (in
//! [`Space::Node`], keys no engine record uses). If a batch were ever applied in part, the
//! file would hold `begin != end` after a kill; the parent checks that they are equal, and that
//! `end` is at least the number of steps the member had acknowledged (nothing acknowledged is
//! lost).

use std::sync::atomic::{AtomicU64, Ordering};

use demls::{Entries, Space, Storage, StorageError, WriteBatch};

const BEGIN: &[u8] = b"kill-test/begin";
const END: &[u8] = b"kill-test/end";

/// The wrapped store and its step counter.
pub struct Recording<S> {
    inner: S,
    steps: AtomicU64,
}

fn counter(store: &dyn Storage, key: &[u8]) -> Result<u64, StorageError> {
    Ok(match store.get(Space::Node, key)? {
        Some(bytes) => u64::from_be_bytes(
            bytes
                .try_into()
                .map_err(|_| StorageError::Corrupt("step marker".into()))?,
        ),
        None => 0,
    })
}

impl<S: Storage> Recording<S> {
    /// Wraps `inner`; returns the markers found in it (`begin`, `end`).
    pub fn open(inner: S) -> Result<(Recording<S>, u64, u64), StorageError> {
        let begin = counter(&inner, BEGIN)?;
        let end = counter(&inner, END)?;
        let store = Recording {
            inner,
            steps: AtomicU64::new(end),
        };
        Ok((store, begin, end))
    }

    /// Batches applied so far (over every run on this database).
    pub fn steps(&self) -> u64 {
        self.steps.load(Ordering::SeqCst)
    }
}

impl<S: Storage> Storage for Recording<S> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.inner.get(space, key)
    }

    fn scan_prefix(&self, space: Space, prefix: &[u8]) -> Result<Entries, StorageError> {
        self.inner.scan_prefix(space, prefix)
    }

    fn apply(&self, batch: WriteBatch) -> Result<(), StorageError> {
        let n = self.steps() + 1;
        let mut bracketed = WriteBatch::new();
        bracketed.put(Space::Node, BEGIN, n.to_be_bytes());
        bracketed.extend(batch);
        bracketed.put(Space::Node, END, n.to_be_bytes());
        self.inner.apply(bracketed)?;
        self.steps.store(n, Ordering::SeqCst);
        Ok(())
    }
}
