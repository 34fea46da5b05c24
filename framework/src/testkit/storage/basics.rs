//! Storage cases about single operations: absent keys, put, overwrite, delete, prefix scans
//! and prefix deletes around byte boundaries, and isolation between spaces.

use std::sync::Arc;

use super::support::{apply, get, keys, model_scan, put, scan, seed_boundary_keys, snapshot};
use crate::storage::{Space, Storage, WriteBatch};

/// `get` of a key never written is `Ok(None)` in every space, and scanning for it finds nothing.
pub fn absent_keys_read_as_none(open: &dyn Fn() -> Arc<dyn Storage>) {
    let store = open();
    put(store.as_ref(), Space::Engine, b"present", b"1");
    for space in Space::ALL {
        assert_eq!(get(store.as_ref(), space, b"missing"), None, "{space:?}");
        assert!(
            scan(store.as_ref(), space, b"missing").is_empty(),
            "{space:?}"
        );
    }
    assert_eq!(
        get(store.as_ref(), Space::Engine, b"presen"),
        None,
        "a prefix is not a key"
    );
    assert_eq!(get(store.as_ref(), Space::Engine, b"present!"), None);
}

/// A put value reads back unchanged.
pub fn a_put_value_reads_back(open: &dyn Fn() -> Arc<dyn Storage>) {
    let store = open();
    put(store.as_ref(), Space::Node, b"identity", b"seed bytes");
    assert_eq!(
        get(store.as_ref(), Space::Node, b"identity"),
        Some(b"seed bytes".to_vec())
    );
}

/// An empty value is present (`Some(vec![])`, not `None`); keys and values holding any byte,
/// including an empty key, round-trip.
pub fn empty_values_and_binary_keys_round_trip(open: &dyn Fn() -> Arc<dyn Storage>) {
    let store = open();
    let every_byte: Vec<u8> = (0..=255u8).collect();
    let entries: Vec<(Vec<u8>, Vec<u8>)> = vec![
        (b"empty".to_vec(), Vec::new()),
        (Vec::new(), b"empty key".to_vec()),
        (b"\x00".to_vec(), every_byte.clone()),
        (every_byte.clone(), b"\x00\xff".to_vec()),
        (b"\xff\x00\xff".to_vec(), vec![0u8; 64]),
    ];
    let mut batch = WriteBatch::new();
    for (k, v) in &entries {
        batch.put(Space::Mls, k.clone(), v.clone());
    }
    apply(store.as_ref(), batch);
    for (k, v) in &entries {
        assert_eq!(
            get(store.as_ref(), Space::Mls, k).as_ref(),
            Some(v),
            "key {}",
            hex::encode(k)
        );
    }
    let mut sorted = entries.clone();
    sorted.sort();
    assert_eq!(scan(store.as_ref(), Space::Mls, b""), sorted);
}

/// A second put of the same key replaces the value.
pub fn an_overwrite_replaces_the_value(open: &dyn Fn() -> Arc<dyn Storage>) {
    let store = open();
    put(store.as_ref(), Space::Engine, b"k", b"first, and longer");
    put(store.as_ref(), Space::Engine, b"k", b"second");
    assert_eq!(
        get(store.as_ref(), Space::Engine, b"k"),
        Some(b"second".to_vec())
    );
    assert_eq!(
        scan(store.as_ref(), Space::Engine, b"").len(),
        1,
        "one key, one entry"
    );
}

/// A delete removes the key and nothing else.
pub fn a_delete_removes_the_key(open: &dyn Fn() -> Arc<dyn Storage>) {
    let store = open();
    put(store.as_ref(), Space::Engine, b"k1", b"1");
    put(store.as_ref(), Space::Engine, b"k2", b"2");
    let mut batch = WriteBatch::new();
    batch.delete(Space::Engine, b"k1");
    apply(store.as_ref(), batch);
    assert_eq!(get(store.as_ref(), Space::Engine, b"k1"), None);
    assert_eq!(
        get(store.as_ref(), Space::Engine, b"k2"),
        Some(b"2".to_vec())
    );
}

/// Deleting a key or prefix that is not there succeeds and changes nothing.
pub fn deleting_absent_keys_is_not_an_error(open: &dyn Fn() -> Arc<dyn Storage>) {
    let store = open();
    put(store.as_ref(), Space::Engine, b"kept", b"1");
    let before = snapshot(store.as_ref());
    let mut batch = WriteBatch::new();
    batch.delete(Space::Engine, b"never written");
    batch.delete(Space::Messages, b"kept");
    batch.delete_prefix(Space::Consensus, b"nothing here");
    apply(store.as_ref(), batch);
    assert_eq!(snapshot(store.as_ref()), before);
}

/// `scan_prefix` returns exactly the keys starting with the prefix, sorted by bytes, including
/// keys just around the prefix boundary and at the top of the byte range.
pub fn scan_prefix_returns_exactly_the_prefixed_keys_in_order(open: &dyn Fn() -> Arc<dyn Storage>) {
    let store = open();
    let model = seed_boundary_keys(store.as_ref(), Space::Engine);
    let expected_ab: Vec<&[u8]> = vec![b"ab", b"ab\x00", b"abc", b"ab\xff", b"ab\xff\xff"];
    assert_eq!(
        keys(&scan(store.as_ref(), Space::Engine, b"ab")),
        expected_ab,
        "scan of `ab`"
    );
    for prefix in [
        &b"a"[..],
        b"ab",
        b"ab\x00",
        b"ab\xff",
        b"a\xff",
        b"aa",
        b"\xff",
        b"\xff\xff",
        b"\x00",
        b"b",
        b"c",
        b"abcd",
    ] {
        assert_eq!(
            scan(store.as_ref(), Space::Engine, prefix),
            model_scan(&model, prefix),
            "scan of prefix {}",
            hex::encode(prefix)
        );
    }
}

/// An empty prefix lists every key of the space, sorted, and nothing of other spaces.
pub fn an_empty_prefix_scans_the_whole_space(open: &dyn Fn() -> Arc<dyn Storage>) {
    let store = open();
    let model = seed_boundary_keys(store.as_ref(), Space::Consensus);
    put(store.as_ref(), Space::Messages, b"elsewhere", b"x");
    assert_eq!(
        scan(store.as_ref(), Space::Consensus, b""),
        model_scan(&model, b"")
    );
}

/// The same key in every space holds independent values; deleting in one space touches no other.
pub fn spaces_are_isolated(open: &dyn Fn() -> Arc<dyn Storage>) {
    let store = open();
    let mut batch = WriteBatch::new();
    for space in Space::ALL {
        batch.put(space, b"shared", space.name());
        batch.put(space, b"shared/child", space.name());
    }
    apply(store.as_ref(), batch);
    for space in Space::ALL {
        assert_eq!(
            get(store.as_ref(), space, b"shared"),
            Some(space.name().as_bytes().to_vec())
        );
        assert_eq!(scan(store.as_ref(), space, b"shared").len(), 2, "{space:?}");
    }
    let mut batch = WriteBatch::new();
    batch.delete(Space::Mls, b"shared");
    batch.delete_prefix(Space::Engine, b"");
    apply(store.as_ref(), batch);
    for space in Space::ALL {
        let expected = match space {
            Space::Mls => 1,
            Space::Engine => 0,
            _ => 2,
        };
        assert_eq!(
            scan(store.as_ref(), space, b"").len(),
            expected,
            "{space:?} after deleting in other spaces"
        );
    }
}

/// `delete_prefix` removes exactly the keys under the prefix (also at the `\xff` boundary), and
/// an empty prefix clears only its own space.
pub fn delete_prefix_removes_only_the_prefixed_keys(open: &dyn Fn() -> Arc<dyn Storage>) {
    let store = open();
    let mut model = seed_boundary_keys(store.as_ref(), Space::Mls);
    put(store.as_ref(), Space::Node, b"ab", b"other space");
    for prefix in [&b"ab"[..], b"a\xff", b"\xff"] {
        let mut batch = WriteBatch::new();
        batch.delete_prefix(Space::Mls, prefix);
        apply(store.as_ref(), batch);
        model.retain(|k, _| !k.starts_with(prefix));
        assert_eq!(
            scan(store.as_ref(), Space::Mls, b""),
            model_scan(&model, b""),
            "after deleting prefix {}",
            hex::encode(prefix)
        );
    }
    let mut batch = WriteBatch::new();
    batch.delete_prefix(Space::Mls, b"");
    apply(store.as_ref(), batch);
    assert!(scan(store.as_ref(), Space::Mls, b"").is_empty());
    assert_eq!(
        get(store.as_ref(), Space::Node, b"ab"),
        Some(b"other space".to_vec())
    );
}
