//! What every storage case leans on: one-line wrappers that fail the case with the store's
//! error, whole-store snapshots, and the boundary key set with its model.

use std::collections::BTreeMap;

use crate::storage::{Space, Storage, WriteBatch};

/// Every space in a store, as sorted `(key, value)` lists.
pub(super) type Snapshot = BTreeMap<Space, Vec<(Vec<u8>, Vec<u8>)>>;

pub(super) fn apply(store: &dyn Storage, batch: WriteBatch) {
    let what = format!("{batch:?}");
    if let Err(e) = store.apply(batch) {
        panic!("apply of {what} failed: {e}");
    }
}

pub(super) fn put(store: &dyn Storage, space: Space, key: &[u8], value: &[u8]) {
    let mut batch = WriteBatch::new();
    batch.put(space, key, value);
    apply(store, batch);
}

pub(super) fn get(store: &dyn Storage, space: Space, key: &[u8]) -> Option<Vec<u8>> {
    store
        .get(space, key)
        .unwrap_or_else(|e| panic!("get {space:?}/{} failed: {e}", hex::encode(key)))
}

pub(super) fn scan(store: &dyn Storage, space: Space, prefix: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    store
        .scan_prefix(space, prefix)
        .unwrap_or_else(|e| panic!("scan {space:?}/{} failed: {e}", hex::encode(prefix)))
}

pub(super) fn keys(entries: &[(Vec<u8>, Vec<u8>)]) -> Vec<Vec<u8>> {
    entries.iter().map(|(k, _)| k.clone()).collect()
}

pub(super) fn snapshot(store: &dyn Storage) -> Snapshot {
    Space::ALL
        .iter()
        .map(|&space| (space, scan(store, space, b"")))
        .collect()
}

/// Keys chosen to sit on both sides of the `ab` and `\xff` prefix boundaries, in no order.
pub(super) const BOUNDARY_KEYS: &[&[u8]] = &[
    b"ac",
    b"ab\xff",
    b"aa\xff",
    b"ab",
    b"b",
    b"ab\x00",
    b"a",
    b"abc",
    b"ab\xff\xff",
    b"\xff\xff",
    b"a\xff",
    b"\xff",
    b"a\xff\x01",
    b"\x00",
    b"aa",
];

pub(super) fn seed_boundary_keys(store: &dyn Storage, space: Space) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut batch = WriteBatch::new();
    let mut model = BTreeMap::new();
    for (i, key) in BOUNDARY_KEYS.iter().enumerate() {
        let value = format!("v{i}").into_bytes();
        batch.put(space, *key, value.clone());
        model.insert(key.to_vec(), value);
    }
    apply(store, batch);
    model
}

pub(super) fn model_scan(
    model: &BTreeMap<Vec<u8>, Vec<u8>>,
    prefix: &[u8],
) -> Vec<(Vec<u8>, Vec<u8>)> {
    model
        .iter()
        .filter(|(k, _)| k.starts_with(prefix))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}
