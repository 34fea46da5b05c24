//! [`MemoryStorage`]: the store itself, its [`demls::Storage`] implementation, and the
//! process-global registry of named stores.
//!
//! This module owns the data and the lock that makes each batch atomic; the capacity
//! projection lives in [`crate::usage`].

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::ops::Bound;
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use demls::{Space, Storage, StorageError, WriteBatch, WriteOp};

use crate::usage::{entry_size, projected};

/// Every space's entries, ordered by key bytes.
pub(crate) type Spaces = BTreeMap<Space, BTreeMap<Vec<u8>, Vec<u8>>>;

/// The entries of `map` whose key starts with `prefix`, in key order.
pub(crate) fn prefixed<'m>(
    map: &'m BTreeMap<Vec<u8>, Vec<u8>>,
    prefix: &'m [u8],
) -> impl Iterator<Item = (&'m Vec<u8>, &'m Vec<u8>)> + 'm {
    map.range::<[u8], _>((Bound::Included(prefix), Bound::Unbounded))
        .take_while(move |(key, _)| key.starts_with(prefix))
}

/// An in-process, transactional key-value store implementing [`demls::Storage`].
///
/// Clones share the same data: keep a clone to restart a node on the state it left. Reads and
/// batches from many threads are safe; each batch is applied under one write lock, so readers
/// see all of it or none of it.
#[derive(Clone)]
pub struct MemoryStorage {
    shared: Arc<RwLock<Data>>,
}

#[derive(Default)]
pub(crate) struct Data {
    pub(crate) spaces: Spaces,
    /// Sum of every entry's key and value length.
    pub(crate) used: usize,
    capacity: Option<usize>,
}

/// Named stores of this process. They are held strongly, like files on a disk, until
/// [`MemoryStorage::forget_named`].
fn named_stores() -> &'static Mutex<HashMap<String, MemoryStorage>> {
    static NAMED: OnceLock<Mutex<HashMap<String, MemoryStorage>>> = OnceLock::new();
    NAMED.get_or_init(Mutex::default)
}

impl MemoryStorage {
    /// A new, empty store without a capacity limit.
    pub fn new() -> MemoryStorage {
        MemoryStorage {
            shared: Arc::default(),
        }
    }

    /// A new, empty store that holds at most `capacity_bytes` (see [`set_capacity`](Self::set_capacity)).
    pub fn with_capacity(capacity_bytes: usize) -> MemoryStorage {
        let store = MemoryStorage::new();
        store.set_capacity(Some(capacity_bytes));
        store
    }

    /// The process-global store called `name`, created empty on first use. It lives until
    /// [`forget_named`](Self::forget_named), so a node rebuilt in the same process finds its
    /// state again.
    pub fn named(name: &str) -> MemoryStorage {
        named_stores()
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(name.to_owned())
            .or_default()
            .clone()
    }

    /// Removes `name` from the process-global registry (clones still held keep working);
    /// returns whether it existed. The next [`named`](Self::named) call starts empty.
    pub fn forget_named(name: &str) -> bool {
        named_stores()
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name)
            .is_some()
    }

    pub(crate) fn read(&self) -> RwLockReadGuard<'_, Data> {
        // `apply` checks everything before its first change, and the changes themselves cannot
        // fail, so a poisoned lock still guards consistent data.
        self.shared.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Data> {
        self.shared.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets (or with `None` lifts) the capacity: from now on a batch fails with
    /// [`StorageError::Full`], changing nothing, if it would leave the store holding more than
    /// `capacity_bytes` and more than it holds now. A batch that does not grow the store is
    /// always accepted, so a full store can still delete. Applies to every clone.
    pub fn set_capacity(&self, capacity_bytes: Option<usize>) {
        self.write().capacity = capacity_bytes;
    }

    /// The capacity, `None` when unlimited.
    pub fn capacity(&self) -> Option<usize> {
        self.read().capacity
    }

    /// Bytes held: the sum of every key's and value's length, over all spaces.
    pub fn used_bytes(&self) -> usize {
        self.read().used
    }

    /// Entries held, over all spaces.
    pub fn len(&self) -> usize {
        self.read().spaces.values().map(BTreeMap::len).sum()
    }

    /// True when the store holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when both handles share the same data.
    pub fn same_as(&self, other: &MemoryStorage) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

impl Default for MemoryStorage {
    fn default() -> Self {
        MemoryStorage::new()
    }
}

impl fmt::Debug for MemoryStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let data = self.read();
        f.debug_struct("MemoryStorage")
            .field("used_bytes", &data.used)
            .field("capacity", &data.capacity)
            .finish()
    }
}

impl Data {
    fn apply_op(&mut self, op: WriteOp) {
        match op {
            WriteOp::Put { space, key, value } => {
                self.used += entry_size(&key, &value);
                let map = self.spaces.entry(space).or_default();
                if let Some(old) = map.get(&key) {
                    self.used -= entry_size(&key, old);
                }
                map.insert(key, value);
            }
            WriteOp::Delete { space, key } => {
                if let Some(old) = self.spaces.get_mut(&space).and_then(|m| m.remove(&key)) {
                    self.used -= entry_size(&key, &old);
                }
            }
            WriteOp::DeletePrefix { space, prefix } => {
                let Some(map) = self.spaces.get_mut(&space) else {
                    return;
                };
                let doomed: Vec<Vec<u8>> = prefixed(map, &prefix).map(|(k, _)| k.clone()).collect();
                for key in doomed {
                    if let Some(old) = map.remove(&key) {
                        self.used -= entry_size(&key, &old);
                    }
                }
            }
        }
    }
}

impl Storage for MemoryStorage {
    fn name(&self) -> &str {
        crate::NAME
    }

    fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self
            .read()
            .spaces
            .get(&space)
            .and_then(|map| map.get(key))
            .cloned())
    }

    fn scan_prefix(
        &self,
        space: Space,
        prefix: &[u8],
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StorageError> {
        let data = self.read();
        Ok(data.spaces.get(&space).map_or_else(Vec::new, |map| {
            prefixed(map, prefix)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        }))
    }

    fn apply(&self, batch: WriteBatch) -> Result<(), StorageError> {
        let mut data = self.write();
        // The projection is always computed in debug builds, to check it against the result.
        let after = (data.capacity.is_some() || cfg!(debug_assertions))
            .then(|| projected(&data.spaces, data.used, batch.ops()));
        if let (Some(capacity), Some(after)) = (data.capacity, after) {
            if after > capacity && after > data.used {
                tracing::warn!(
                    used = data.used,
                    after,
                    capacity,
                    ops = batch.len(),
                    "memory storage full; batch refused"
                );
                return Err(StorageError::Full);
            }
        }
        for op in batch.into_ops() {
            data.apply_op(op);
        }
        debug_assert!(
            after.is_none_or(|after| after == data.used),
            "capacity projection {after:?} disagrees with the applied size {}",
            data.used
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(space: Space, key: &[u8], value: &[u8]) -> WriteBatch {
        let mut batch = WriteBatch::new();
        batch.put(space, key, value);
        batch
    }

    #[test]
    fn used_bytes_follow_puts_overwrites_and_deletes() {
        let store = MemoryStorage::new();
        store.apply(put(Space::Engine, b"ab", b"1234")).unwrap();
        store.apply(put(Space::Mls, b"ab", b"12")).unwrap();
        assert_eq!(store.used_bytes(), 6 + 4);
        store.apply(put(Space::Engine, b"ab", b"1")).unwrap();
        assert_eq!(store.used_bytes(), 3 + 4);
        let mut batch = WriteBatch::new();
        batch.delete(Space::Mls, b"ab");
        batch.delete_prefix(Space::Engine, b"a");
        store.apply(batch).unwrap();
        assert_eq!((store.used_bytes(), store.len()), (0, 0));
    }

    #[test]
    fn a_batch_beyond_capacity_fails_whole_with_full() {
        let store = MemoryStorage::with_capacity(10);
        store.apply(put(Space::Engine, b"k", b"1234")).unwrap();
        let mut batch = WriteBatch::new();
        batch.put(Space::Engine, b"a", b"1");
        batch.delete(Space::Engine, b"k");
        batch.put(Space::Engine, b"b", b"0123456789");
        assert!(matches!(store.apply(batch), Err(StorageError::Full)));
        assert_eq!(
            store.get(Space::Engine, b"k").unwrap(),
            Some(b"1234".to_vec())
        );
        assert_eq!(store.get(Space::Engine, b"a").unwrap(), None);
        assert_eq!(store.used_bytes(), 5);
    }

    #[test]
    fn a_batch_filling_the_store_exactly_fits() {
        let store = MemoryStorage::with_capacity(10);
        store.apply(put(Space::Node, b"k", b"123456789")).unwrap();
        assert_eq!(store.used_bytes(), 10);
        assert!(matches!(
            store.apply(put(Space::Node, b"x", b"")),
            Err(StorageError::Full)
        ));
    }

    #[test]
    fn space_freed_earlier_in_a_batch_counts_for_later_writes() {
        let store = MemoryStorage::with_capacity(20);
        store
            .apply(put(Space::Mls, b"g/old", b"0123456789"))
            .unwrap();
        let mut batch = WriteBatch::new();
        batch.delete_prefix(Space::Mls, b"g/");
        batch.put(Space::Mls, b"g/new", b"0123456789abcde");
        store.apply(batch).unwrap();
        assert_eq!(store.used_bytes(), 20);
    }

    #[test]
    fn a_full_store_still_accepts_batches_that_do_not_grow_it() {
        let store = MemoryStorage::new();
        store
            .apply(put(Space::Engine, b"a", b"0123456789"))
            .unwrap();
        store
            .apply(put(Space::Engine, b"b", b"0123456789"))
            .unwrap();
        // The disk "shrinks" below what is already stored.
        store.set_capacity(Some(5));
        assert_eq!(store.capacity(), Some(5));
        assert!(matches!(
            store.apply(put(Space::Engine, b"c", b"x")),
            Err(StorageError::Full)
        ));
        store.apply(put(Space::Engine, b"a", b"0")).unwrap();
        let mut batch = WriteBatch::new();
        batch.delete(Space::Engine, b"b");
        store.apply(batch).unwrap();
        assert_eq!(store.used_bytes(), 2);
        store.set_capacity(None);
        store.apply(put(Space::Engine, b"big", &[0; 100])).unwrap();
    }

    #[test]
    fn clones_share_data_and_capacity() {
        let store = MemoryStorage::new();
        let restarted = store.clone();
        assert!(store.same_as(&restarted));
        store.apply(put(Space::Node, b"identity", b"seed")).unwrap();
        assert_eq!(
            restarted.get(Space::Node, b"identity").unwrap(),
            Some(b"seed".to_vec())
        );
        restarted.set_capacity(Some(1));
        assert!(matches!(
            store.apply(put(Space::Node, b"more", b"x")),
            Err(StorageError::Full)
        ));
        assert!(!store.same_as(&MemoryStorage::new()));
    }

    #[test]
    fn named_stores_are_found_again_until_forgotten() {
        let first = MemoryStorage::named("store-test-named");
        first.apply(put(Space::Engine, b"k", b"v")).unwrap();
        drop(first);
        let again = MemoryStorage::named("store-test-named");
        assert_eq!(again.get(Space::Engine, b"k").unwrap(), Some(b"v".to_vec()));
        assert!(!again.same_as(&MemoryStorage::named("store-test-other")));
        assert!(MemoryStorage::forget_named("store-test-named"));
        assert!(!MemoryStorage::forget_named("store-test-named"));
        assert!(MemoryStorage::named("store-test-named").is_empty());
        assert_eq!(
            again.get(Space::Engine, b"k").unwrap(),
            Some(b"v".to_vec()),
            "held clones keep working"
        );
    }
}
