//! One engine step's view of storage: reads fall through to the backend, writes collect in an
//! overlay, and the step either commits them all with one [`Storage::apply`] or drops them.
//!
//! This is what makes every engine step atomic and makes rejected input leave no trace, on any
//! backend. The overlay lives for one step only and is not shared between threads.

use std::cell::RefCell;
use std::collections::BTreeMap;

use crate::storage::{Entries, Space, Storage, StorageError, WriteBatch};

/// A write-buffering transaction over a [`Storage`] backend.
pub struct Txn<'s> {
    base: &'s dyn Storage,
    inner: RefCell<Overlay>,
}

#[derive(Default)]
struct Overlay {
    /// The latest value written in this step for each key (`None` = deleted).
    entries: BTreeMap<(Space, Vec<u8>), Option<Vec<u8>>>,
    /// Prefixes deleted in this step (keys under them read as absent unless re-written).
    deleted_prefixes: Vec<(Space, Vec<u8>)>,
    /// The writes in order, for the final batch.
    batch: WriteBatch,
}

impl<'s> Txn<'s> {
    /// Starts a transaction over `base`.
    pub fn new(base: &'s dyn Storage) -> Txn<'s> {
        Txn {
            base,
            inner: RefCell::new(Overlay::default()),
        }
    }

    /// Reads `key`, seeing this step's own writes first.
    pub fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        let inner = self.inner.borrow();
        if let Some(value) = inner.entries.get(&(space, key.to_vec())) {
            return Ok(value.clone());
        }
        if inner
            .deleted_prefixes
            .iter()
            .any(|(s, p)| *s == space && key.starts_with(p))
        {
            return Ok(None);
        }
        drop(inner);
        self.base.get(space, key)
    }

    /// Reads every entry under `prefix`, merged with this step's writes, sorted by key.
    pub fn scan_prefix(&self, space: Space, prefix: &[u8]) -> Result<Entries, StorageError> {
        let inner = self.inner.borrow();
        let mut merged: BTreeMap<Vec<u8>, Vec<u8>> = self
            .base
            .scan_prefix(space, prefix)?
            .into_iter()
            .filter(|(k, _)| {
                !inner
                    .deleted_prefixes
                    .iter()
                    .any(|(s, p)| *s == space && k.starts_with(p))
            })
            .collect();
        let start = (space, prefix.to_vec());
        for ((s, k), v) in inner.entries.range(start..) {
            if *s != space || !k.starts_with(prefix) {
                break;
            }
            match v {
                Some(v) => merged.insert(k.clone(), v.clone()),
                None => merged.remove(k),
            };
        }
        Ok(merged.into_iter().collect())
    }

    /// Buffers a put.
    pub fn put(&self, space: Space, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        let (key, value) = (key.into(), value.into());
        let mut inner = self.inner.borrow_mut();
        inner.batch.put(space, key.clone(), value.clone());
        inner.entries.insert((space, key), Some(value));
    }

    /// Buffers a delete.
    pub fn delete(&self, space: Space, key: impl Into<Vec<u8>>) {
        let key = key.into();
        let mut inner = self.inner.borrow_mut();
        inner.batch.delete(space, key.clone());
        inner.entries.insert((space, key), None);
    }

    /// Buffers a prefix delete.
    pub fn delete_prefix(&self, space: Space, prefix: impl Into<Vec<u8>>) {
        let prefix = prefix.into();
        let mut inner = self.inner.borrow_mut();
        inner.batch.delete_prefix(space, prefix.clone());
        inner
            .entries
            .retain(|(s, k), _| !(*s == space && k.starts_with(&prefix)));
        inner.deleted_prefixes.push((space, prefix));
    }

    /// Applies every buffered write atomically.
    pub fn commit(self) -> Result<(), StorageError> {
        let batch = self.inner.into_inner().batch;
        if batch.is_empty() {
            return Ok(());
        }
        self.base.apply(batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MapStorage;

    #[test]
    fn reads_see_own_writes_and_commit_applies_them() {
        let base = MapStorage::default();
        let mut batch = WriteBatch::new();
        batch.put(Space::Engine, b"a".to_vec(), b"1".to_vec());
        batch.put(Space::Engine, b"b".to_vec(), b"2".to_vec());
        base.apply(batch).unwrap();

        let txn = Txn::new(&base);
        txn.put(Space::Engine, b"c".to_vec(), b"3".to_vec());
        txn.delete(Space::Engine, b"a".to_vec());
        assert_eq!(txn.get(Space::Engine, b"a").unwrap(), None);
        assert_eq!(txn.get(Space::Engine, b"c").unwrap(), Some(b"3".to_vec()));
        let keys: Vec<_> = txn
            .scan_prefix(Space::Engine, b"")
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(keys, vec![b"b".to_vec(), b"c".to_vec()]);
        // Nothing reaches the base before commit.
        assert_eq!(base.get(Space::Engine, b"a").unwrap(), Some(b"1".to_vec()));
        txn.commit().unwrap();
        assert_eq!(base.get(Space::Engine, b"a").unwrap(), None);
        assert_eq!(base.get(Space::Engine, b"c").unwrap(), Some(b"3".to_vec()));
    }

    #[test]
    fn a_dropped_transaction_leaves_the_base_unchanged() {
        let base = MapStorage::default();
        {
            let txn = Txn::new(&base);
            txn.put(Space::Mls, b"k".to_vec(), b"v".to_vec());
        }
        assert_eq!(base.get(Space::Mls, b"k").unwrap(), None);
    }

    #[test]
    fn prefix_delete_hides_base_keys_until_rewritten() {
        let base = MapStorage::default();
        let mut batch = WriteBatch::new();
        batch.put(Space::Mls, b"g1/x".to_vec(), b"1".to_vec());
        batch.put(Space::Mls, b"g1/y".to_vec(), b"2".to_vec());
        batch.put(Space::Mls, b"g2/x".to_vec(), b"3".to_vec());
        base.apply(batch).unwrap();
        let txn = Txn::new(&base);
        txn.delete_prefix(Space::Mls, b"g1/".to_vec());
        txn.put(Space::Mls, b"g1/y".to_vec(), b"new".to_vec());
        assert_eq!(txn.get(Space::Mls, b"g1/x").unwrap(), None);
        assert_eq!(txn.get(Space::Mls, b"g1/y").unwrap(), Some(b"new".to_vec()));
        assert_eq!(txn.scan_prefix(Space::Mls, b"g1/").unwrap().len(), 1);
        txn.commit().unwrap();
        assert_eq!(base.get(Space::Mls, b"g1/x").unwrap(), None);
        assert_eq!(
            base.get(Space::Mls, b"g1/y").unwrap(),
            Some(b"new".to_vec())
        );
        assert_eq!(base.get(Space::Mls, b"g2/x").unwrap(), Some(b"3".to_vec()));
    }
}
