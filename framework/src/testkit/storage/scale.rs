//! Storage cases about size: a multi-megabyte value and ten thousand keys.

use std::sync::Arc;

use super::support::{apply, get, put, scan};
use crate::storage::{Space, Storage, WriteBatch};

/// A 4 MiB value (a large group's ratchet tree is about 2 MB) round-trips through `get` and
/// `scan_prefix`, and can be replaced by a small one.
pub fn a_four_mib_value_round_trips(open: &dyn Fn() -> Arc<dyn Storage>) {
    let store = open();
    let big: Vec<u8> = (0..4 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    put(store.as_ref(), Space::Mls, b"tree", &big);
    assert!(
        get(store.as_ref(), Space::Mls, b"tree") == Some(big.clone()),
        "the 4 MiB value changed"
    );
    let scanned = scan(store.as_ref(), Space::Mls, b"tr");
    assert!(
        scanned.len() == 1 && scanned[0].1 == big,
        "scan did not return the 4 MiB value intact"
    );
    put(store.as_ref(), Space::Mls, b"tree", b"small");
    assert_eq!(
        get(store.as_ref(), Space::Mls, b"tree"),
        Some(b"small".to_vec())
    );
}

/// 10,000 small keys written out of order in ten batches all read back, and a scan lists them
/// sorted.
pub fn ten_thousand_small_keys_round_trip_in_order(open: &dyn Fn() -> Arc<dyn Storage>) {
    const N: u32 = 10_000;
    let store = open();
    let key = |i: u32| {
        let mut k = b"k/".to_vec();
        k.extend_from_slice(&i.to_be_bytes());
        k
    };
    // 7919 is prime and coprime with N, so this visits every index once, out of order.
    let order: Vec<u32> = (0..N).map(|i| (i * 7919) % N).collect();
    for chunk in order.chunks(1000) {
        let mut batch = WriteBatch::new();
        for &i in chunk {
            batch.put(Space::Messages, key(i), i.to_le_bytes());
        }
        apply(store.as_ref(), batch);
    }
    let entries = scan(store.as_ref(), Space::Messages, b"k/");
    assert_eq!(entries.len(), N as usize, "keys are missing or duplicated");
    for (i, (k, v)) in (0..N).zip(&entries) {
        assert_eq!(k, &key(i), "scan out of order at {i}");
        assert_eq!(v, &i.to_le_bytes().to_vec(), "wrong value at {i}");
    }
    for i in (0..N).step_by(97) {
        assert_eq!(
            get(store.as_ref(), Space::Messages, &key(i)),
            Some(i.to_le_bytes().to_vec())
        );
    }
}
