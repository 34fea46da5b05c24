//! Storage cases about batches: operations apply in order, a batch is visible whole, readers on
//! other threads never see part of one, and a rejected batch leaves no trace.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::ApplyFailure;
use super::support::{Snapshot, apply, get, put, scan, snapshot};
use crate::storage::{Space, Storage, WriteBatch};

/// Operations apply in order: put-then-delete leaves nothing, delete-then-put leaves the new
/// value, the last of two puts wins, and a prefix delete covers earlier puts but not later ones.
pub fn later_ops_in_a_batch_override_earlier_ones(open: &dyn Fn() -> Arc<dyn Storage>) {
    let store = open();
    let mut seed = WriteBatch::new();
    seed.put(Space::Engine, b"existing", b"old");
    seed.put(Space::Engine, b"p/old", b"old");
    apply(store.as_ref(), seed);

    let mut batch = WriteBatch::new();
    batch.put(Space::Engine, b"put-delete", b"gone");
    batch.delete(Space::Engine, b"put-delete");
    batch.delete(Space::Engine, b"existing");
    batch.put(Space::Engine, b"existing", b"new");
    batch.put(Space::Engine, b"twice", b"first");
    batch.put(Space::Engine, b"twice", b"second");
    batch.put(Space::Engine, b"p/early", b"covered");
    batch.delete_prefix(Space::Engine, b"p/");
    batch.put(Space::Engine, b"p/late", b"kept");
    batch.put(Space::Engine, b"q/x", b"covered");
    batch.delete_prefix(Space::Engine, b"q/");
    apply(store.as_ref(), batch);

    let expected: Vec<(Vec<u8>, Vec<u8>)> = vec![
        (b"existing".to_vec(), b"new".to_vec()),
        (b"p/late".to_vec(), b"kept".to_vec()),
        (b"twice".to_vec(), b"second".to_vec()),
    ];
    assert_eq!(scan(store.as_ref(), Space::Engine, b""), expected);
    assert_eq!(get(store.as_ref(), Space::Engine, b"put-delete"), None);
}

/// A large mixed batch over several spaces is visible in full once `apply` returns.
pub fn a_batch_is_applied_in_full(open: &dyn Fn() -> Arc<dyn Storage>) {
    let store = open();
    let mut model: Snapshot = Space::ALL.iter().map(|&s| (s, Vec::new())).collect();
    let mut seed = WriteBatch::new();
    for i in 0..50u32 {
        seed.put(Space::Engine, format!("old/{i:02}"), b"old".to_vec());
    }
    apply(store.as_ref(), seed);

    let mut batch = WriteBatch::new();
    let mut maps: BTreeMap<Space, BTreeMap<Vec<u8>, Vec<u8>>> = BTreeMap::new();
    for i in 0..50u32 {
        if i % 2 == 0 {
            batch.delete(Space::Engine, format!("old/{i:02}"));
        } else {
            maps.entry(Space::Engine)
                .or_default()
                .insert(format!("old/{i:02}").into_bytes(), b"old".to_vec());
        }
    }
    for (n, space) in Space::ALL.iter().enumerate() {
        for i in 0..40u32 {
            let (key, value) = (format!("new/{i:02}"), format!("{n}:{i}"));
            batch.put(*space, key.clone(), value.clone());
            maps.entry(*space)
                .or_default()
                .insert(key.into_bytes(), value.into_bytes());
        }
    }
    apply(store.as_ref(), batch);
    for (space, entries) in maps {
        model.insert(space, entries.into_iter().collect());
    }
    assert_eq!(snapshot(store.as_ref()), model);
}

/// Applying an empty batch succeeds and changes nothing.
pub fn an_empty_batch_is_accepted(open: &dyn Fn() -> Arc<dyn Storage>) {
    let store = open();
    put(store.as_ref(), Space::Node, b"k", b"v");
    let before = snapshot(store.as_ref());
    apply(store.as_ref(), WriteBatch::new());
    assert_eq!(snapshot(store.as_ref()), before);
}

/// Writers on several threads replace a 16-key record with one batch each time; readers on other
/// threads scanning at the same time always see one whole record, never a mix or a gap.
pub fn concurrent_readers_see_only_whole_batches(open: &dyn Fn() -> Arc<dyn Storage>) {
    const KEYS: usize = 16;
    const WRITERS: u8 = 3;
    const ROUNDS: u32 = 150;
    let store = open();
    let record = |writer: u8, round: u32| {
        let mut batch = WriteBatch::new();
        batch.delete_prefix(Space::Engine, b"record/");
        let value = format!("{writer}:{round}:{}", "x".repeat(48)).into_bytes();
        for k in 0..KEYS {
            batch.put(Space::Engine, format!("record/{k:02}"), value.clone());
        }
        batch
    };
    apply(store.as_ref(), record(0, 0));
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let readers: Vec<_> = (0..3)
            .map(|_| {
                scope.spawn(|| {
                    let mut scans = 0u32;
                    while !done.load(Ordering::Acquire) || scans == 0 {
                        let entries = scan(store.as_ref(), Space::Engine, b"record/");
                        assert_eq!(entries.len(), KEYS, "a reader saw a partial batch");
                        let first = &entries[0].1;
                        assert!(
                            entries.iter().all(|(_, v)| v == first),
                            "a reader saw two batches mixed"
                        );
                        scans += 1;
                    }
                    scans
                })
            })
            .collect();
        let writers: Vec<_> = (1..=WRITERS)
            .map(|w| {
                let store = &store;
                scope.spawn(move || {
                    for round in 1..=ROUNDS {
                        apply(store.as_ref(), record(w, round));
                    }
                })
            })
            .collect();
        for writer in writers {
            writer
                .join()
                .unwrap_or_else(|e| std::panic::resume_unwind(e));
        }
        done.store(true, Ordering::Release);
        for reader in readers {
            let scans = reader
                .join()
                .unwrap_or_else(|e| std::panic::resume_unwind(e));
            assert!(scans > 0);
        }
    });
    let last = scan(store.as_ref(), Space::Engine, b"record/");
    let value = String::from_utf8_lossy(&last[0].1).into_owned();
    assert!(
        (1..=WRITERS).any(|w| value.starts_with(&format!("{w}:{ROUNDS}:"))),
        "the final record {value:?} is not some writer's last batch"
    );
}

/// **Optional capability.** A batch the store rejects leaves it exactly as it was, even when
/// the rejected batch also puts, overwrites, deletes and prefix-deletes; the same batch without
/// the poison then applies.
pub fn a_failed_batch_leaves_the_store_unchanged(failing: &dyn Fn() -> ApplyFailure) {
    let ApplyFailure { store, poison } = failing();
    let mut seed = WriteBatch::new();
    seed.put(Space::Engine, b"keep", b"1");
    seed.put(Space::Engine, b"overwrite", b"old");
    seed.put(Space::Engine, b"delete", b"doomed");
    seed.put(Space::Mls, b"group/a", b"a");
    seed.put(Space::Mls, b"group/b", b"b");
    apply(store.as_ref(), seed);
    let before = snapshot(store.as_ref());

    let mut changes = WriteBatch::new();
    changes.put(Space::Engine, b"new", b"fresh");
    changes.put(Space::Engine, b"overwrite", b"new");
    changes.delete(Space::Engine, b"delete");
    changes.delete_prefix(Space::Mls, b"group/");
    changes.put(Space::Messages, b"log/1", b"hello");

    for (label, batch) in [
        ("poison last", {
            let mut b = changes.clone();
            b.extend(poison.clone());
            b
        }),
        ("poison first", {
            let mut b = poison.clone();
            b.extend(changes.clone());
            b
        }),
    ] {
        assert!(
            store.apply(batch).is_err(),
            "{label}: the poison batch was accepted; the harness must supply a batch the store rejects"
        );
        assert_eq!(
            snapshot(store.as_ref()),
            before,
            "{label}: a failed apply changed the store"
        );
    }
    apply(store.as_ref(), changes);
    assert_eq!(
        get(store.as_ref(), Space::Engine, b"new"),
        Some(b"fresh".to_vec())
    );
    assert_eq!(get(store.as_ref(), Space::Engine, b"delete"), None);
    assert!(scan(store.as_ref(), Space::Mls, b"group/").is_empty());
}
