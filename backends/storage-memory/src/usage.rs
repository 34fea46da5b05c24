//! Capacity accounting: how many bytes the store would hold after a batch, computed before the
//! batch touches anything, so a batch that does not fit is refused whole.
//!
//! This module owns the size rule (an entry costs its key's plus its value's length) and the
//! projection; it never modifies the store.

use std::collections::BTreeMap;

use demls::{Space, WriteOp};

use crate::store::{Spaces, prefixed};

/// The bytes one entry costs.
pub(crate) fn entry_size(key: &[u8], value: &[u8]) -> usize {
    key.len() + value.len()
}

/// What the store would hold, in bytes, after applying `ops` in order to `spaces`, which holds
/// `used` bytes now.
pub(crate) fn projected<'a>(spaces: &'a Spaces, used: usize, ops: &'a [WriteOp]) -> usize {
    let mut batch = Projection {
        spaces,
        overlay: BTreeMap::new(),
        cleared: Vec::new(),
    };
    let mut total = used;
    for op in ops {
        match op {
            WriteOp::Put { space, key, value } => {
                let old = batch.current(*space, key);
                let new = entry_size(key, value);
                total = total - old.unwrap_or(0) + new;
                batch.overlay.insert((*space, key), Some(new));
            }
            WriteOp::Delete { space, key } => {
                total -= batch.current(*space, key).unwrap_or(0);
                batch.overlay.insert((*space, key), None);
            }
            WriteOp::DeletePrefix { space, prefix } => {
                total -= batch.delete_prefix(*space, prefix);
            }
        }
    }
    total
}

/// The store as the batch has changed it so far, without copying the store.
struct Projection<'a> {
    spaces: &'a Spaces,
    /// Entries the batch has written: their size, or `None` when deleted.
    overlay: BTreeMap<(Space, &'a [u8]), Option<usize>>,
    /// Prefixes the batch has deleted: stored entries under them count as gone.
    cleared: Vec<(Space, &'a [u8])>,
}

impl<'a> Projection<'a> {
    fn is_cleared(&self, space: Space, key: &[u8]) -> bool {
        self.cleared
            .iter()
            .any(|(s, prefix)| *s == space && key.starts_with(prefix))
    }

    /// The size of `key`'s entry at this point of the batch, `None` when absent.
    fn current(&self, space: Space, key: &'a [u8]) -> Option<usize> {
        if let Some(size) = self.overlay.get(&(space, key)) {
            return *size;
        }
        if self.is_cleared(space, key) {
            return None;
        }
        self.spaces
            .get(&space)
            .and_then(|map| map.get(key))
            .map(|value| entry_size(key, value))
    }

    /// Marks every entry under `prefix` deleted and returns the bytes that frees.
    fn delete_prefix(&mut self, space: Space, prefix: &'a [u8]) -> usize {
        let mut freed = 0;
        if let Some(map) = self.spaces.get(&space) {
            for (key, value) in prefixed(map, prefix) {
                // Entries the batch rewrote are counted from the overlay below.
                if !self.overlay.contains_key(&(space, key.as_slice()))
                    && !self.is_cleared(space, key)
                {
                    freed += entry_size(key, value);
                }
            }
        }
        let written: Vec<(Space, &'a [u8])> = self
            .overlay
            .range((space, prefix)..)
            .take_while(|((s, key), _)| *s == space && key.starts_with(prefix))
            .map(|(k, _)| *k)
            .collect();
        for key in written {
            freed += self.overlay.remove(&key).flatten().unwrap_or(0);
        }
        self.cleared.push((space, prefix));
        freed
    }
}

#[cfg(test)]
mod tests {
    use demls::{Storage, WriteBatch};

    use crate::MemoryStorage;

    /// A small deterministic generator (xorshift), so the test needs no extra dependency.
    struct Xorshift(u64);

    impl Xorshift {
        fn next(&mut self, bound: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % bound
        }
    }

    #[test]
    fn the_projection_matches_the_applied_size_for_random_batches() {
        let mut rng = Xorshift(0x9e37_79b9_7f4a_7c15);
        let store = MemoryStorage::new();
        let spaces = [demls::Space::Mls, demls::Space::Engine];
        for _ in 0..500 {
            let mut batch = WriteBatch::new();
            for _ in 0..rng.next(8) {
                let space = spaces[rng.next(2) as usize];
                let key: Vec<u8> = (0..rng.next(3))
                    .map(|_| b"ab"[rng.next(2) as usize])
                    .collect();
                match rng.next(4) {
                    0 => batch.delete(space, key),
                    1 => batch.delete_prefix(space, key),
                    _ => batch.put(space, key, vec![0; rng.next(6) as usize]),
                }
            }
            let before = store.used_bytes();
            let expected = {
                let data = store.read();
                super::projected(&data.spaces, data.used, batch.ops())
            };
            store.apply(batch).unwrap();
            let recount: usize = demls::Space::ALL
                .iter()
                .flat_map(|&s| store.scan_prefix(s, b"").unwrap())
                .map(|(k, v)| k.len() + v.len())
                .sum();
            assert_eq!(
                (expected, store.used_bytes()),
                (recount, recount),
                "from {before} bytes"
            );
        }
    }
}
