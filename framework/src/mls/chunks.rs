//! Content-defined chunks: how the ratchet tree is stored so that a commit writes the parts of
//! the tree it changed, not the whole tree.
//!
//! OpenMLS hands its storage provider the **whole** tree on every merge (≈ 190 bytes per leaf:
//! 1.9 MB at 10,000 members). The provider encodes it, cuts the bytes into chunks at
//! positions chosen by the content (a gear rolling hash over the last 64 bytes, as in
//! FastCDC), and stores each chunk under its digest, plus a manifest listing the digests in
//! order. A write stores only the chunks whose digest the previous manifest lacks and deletes
//! those the new one no longer lists. Because cut points depend on the bytes around them, not on
//! offsets, a change that shifts the bytes after it (a removal blanks a leaf; an add fills one)
//! moves the cut points of the chunks it touches only: the cuts after it fall where they fell.
//! A commit of an UpdatePath changes about log₂ *n* parent nodes, so it writes a few dozen
//! chunks of about 4 KiB.
//!
//! The encoding of the tree is still O(*n*) work per write (OpenMLS gives nothing smaller);
//! what this saves is the bytes written to storage, which for the durable backend is the
//! expensive part.

use std::collections::HashSet;
use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::storage::Space;
use crate::txn::Txn;

use super::store::MlsStoreError;

/// No cut before this many bytes into a chunk.
const MIN_CHUNK: usize = 1024;
/// A cut at the latest here.
const MAX_CHUNK: usize = 16 * 1024;
/// A cut where the top 12 bits of the rolling hash are zero: chunks of about 4 KiB past the
/// minimum.
const CUT_SHIFT: u32 = 64 - 12;

/// Length of a chunk's digest (truncated SHA-256).
pub(crate) const DIGEST_LEN: usize = 16;

/// One pseudo-random 64-bit value per byte value (splitmix64 of the byte), the gear table.
const GEAR: [u64; 256] = {
    let mut table = [0u64; 256];
    let mut i = 0;
    while i < 256 {
        let mut z = (i as u64)
            .wrapping_add(1)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        table[i] = z ^ (z >> 31);
        i += 1;
    }
    table
};

/// Where `data` is cut: consecutive ranges covering it, each at most [`MAX_CHUNK`] long and,
/// except the last, at least [`MIN_CHUNK`].
pub(crate) fn split(data: &[u8]) -> Vec<Range<usize>> {
    let mut out = Vec::with_capacity(data.len() / 4096 + 1);
    let mut start = 0;
    let mut hash: u64 = 0;
    for (i, &byte) in data.iter().enumerate() {
        hash = (hash << 1).wrapping_add(GEAR[byte as usize]);
        let len = i + 1 - start;
        if (len >= MIN_CHUNK && hash >> CUT_SHIFT == 0) || len >= MAX_CHUNK {
            out.push(start..i + 1);
            start = i + 1;
            hash = 0;
        }
    }
    if start < data.len() {
        out.push(start..data.len());
    }
    out
}

/// A chunk's digest.
pub(crate) fn digest(chunk: &[u8]) -> [u8; DIGEST_LEN] {
    let full = ring::digest::digest(&ring::digest::SHA256, chunk);
    let mut out = [0u8; DIGEST_LEN];
    out.copy_from_slice(&full.as_ref()[..DIGEST_LEN]);
    out
}

/// The stored list of a value's chunks, in order.
#[derive(Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Manifest {
    /// Length of the whole value.
    pub len: u64,
    /// Digest of each chunk, in order (a digest may repeat).
    pub chunks: Vec<[u8; DIGEST_LEN]>,
}

/// A value stored as chunks under `chunk_prefix ‖ digest`, listed by a manifest under
/// `manifest_key`, all in [`Space::Mls`].
pub(crate) struct Chunked<'k> {
    /// Where the manifest is.
    pub manifest_key: &'k [u8],
    /// What every chunk key starts with.
    pub chunk_prefix: &'k [u8],
}

impl Chunked<'_> {
    fn chunk_key(&self, digest: &[u8; DIGEST_LEN]) -> Vec<u8> {
        [self.chunk_prefix, digest.as_slice()].concat()
    }

    /// The stored manifest, if any.
    pub(crate) fn manifest(&self, txn: &Txn<'_>) -> Result<Option<Manifest>, MlsStoreError> {
        match txn.get(Space::Mls, self.manifest_key)? {
            Some(bytes) => Ok(Some(postcard::from_bytes(&bytes)?)),
            None => Ok(None),
        }
    }

    /// Stores `value`, writing only the chunks the stored manifest lacks and deleting the
    /// chunks it no longer needs. Returns how many bytes of chunks were written.
    pub(crate) fn write(&self, txn: &Txn<'_>, value: &[u8]) -> Result<usize, MlsStoreError> {
        let old: HashSet<[u8; DIGEST_LEN]> = self
            .manifest(txn)?
            .map(|m| m.chunks.into_iter().collect())
            .unwrap_or_default();
        let ranges = split(value);
        let mut manifest = Manifest {
            len: value.len() as u64,
            chunks: Vec::with_capacity(ranges.len()),
        };
        let mut kept = HashSet::with_capacity(ranges.len());
        let mut written = 0;
        for range in ranges {
            let chunk = &value[range];
            let d = digest(chunk);
            manifest.chunks.push(d);
            if kept.insert(d) && !old.contains(&d) {
                txn.put(Space::Mls, self.chunk_key(&d), chunk);
                written += chunk.len();
            }
        }
        for gone in old.difference(&kept) {
            txn.delete(Space::Mls, self.chunk_key(gone));
        }
        txn.put(
            Space::Mls,
            self.manifest_key,
            postcard::to_allocvec(&manifest)?,
        );
        Ok(written)
    }

    /// The stored value, if any, checked against its manifest.
    pub(crate) fn read(&self, txn: &Txn<'_>) -> Result<Option<Vec<u8>>, MlsStoreError> {
        let Some(manifest) = self.manifest(txn)? else {
            return Ok(None);
        };
        let mut value = Vec::with_capacity(manifest.len as usize);
        for d in &manifest.chunks {
            let chunk = txn.get(Space::Mls, &self.chunk_key(d))?.ok_or_else(|| {
                MlsStoreError::Encoding("a chunk of a stored value is missing".into())
            })?;
            if digest(&chunk) != *d {
                return Err(MlsStoreError::Encoding(
                    "a chunk of a stored value does not match its digest".into(),
                ));
            }
            value.extend_from_slice(&chunk);
        }
        if value.len() as u64 != manifest.len {
            return Err(MlsStoreError::Encoding(
                "a stored value is not as long as its manifest says".into(),
            ));
        }
        Ok(Some(value))
    }

    /// Deletes the value: its chunks and its manifest.
    pub(crate) fn delete(&self, txn: &Txn<'_>) -> Result<(), MlsStoreError> {
        if let Some(manifest) = self.manifest(txn)? {
            let unique: HashSet<_> = manifest.chunks.into_iter().collect();
            for d in unique {
                txn.delete(Space::Mls, self.chunk_key(&d));
            }
            txn.delete(Space::Mls, self.manifest_key);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Storage as _;
    use crate::testing::MapStorage;

    /// Deterministic pseudo-random bytes.
    fn bytes(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    fn digests(data: &[u8]) -> HashSet<[u8; DIGEST_LEN]> {
        split(data).into_iter().map(|r| digest(&data[r])).collect()
    }

    #[test]
    fn chunks_cover_the_value_within_their_bounds() {
        for len in [0, 1, 1023, 1024, 5000, 200_000] {
            let data = bytes(len, len as u64);
            let ranges = split(&data);
            let mut at = 0;
            for (i, r) in ranges.iter().enumerate() {
                assert_eq!(r.start, at);
                assert!(r.len() <= MAX_CHUNK);
                if i + 1 < ranges.len() {
                    assert!(r.len() >= MIN_CHUNK);
                }
                at = r.end;
            }
            assert_eq!(at, data.len());
            assert_eq!(split(&data), ranges, "deterministic");
        }
        // A long run of one byte value has no content to cut on: cut at the maximum.
        let flat = vec![0u8; 100_000];
        assert!(
            split(&flat)
                .iter()
                .rev()
                .skip(1)
                .all(|r| r.len() == MAX_CHUNK)
        );
        let avg = 400_000 / split(&bytes(400_000, 9)).len();
        assert!(
            (2_000..10_000).contains(&avg),
            "about 4 KiB past the minimum: {avg}"
        );
    }

    #[test]
    fn a_change_in_place_or_a_shift_touches_only_the_chunks_around_it() {
        let data = bytes(400_000, 1);
        let before = digests(&data);
        // Twenty same-length edits spread over the value (parent nodes along a path).
        let mut edited = data.clone();
        for k in 0..20 {
            let at = 10_000 + k * 19_000;
            edited[at..at + 32].copy_from_slice(&bytes(32, 100 + k as u64));
        }
        let changed = digests(&edited).difference(&before).count();
        assert!(changed <= 40, "{changed} chunks changed for 20 edits");
        // Bytes inserted in the middle shift everything after them: still a few chunks.
        let mut shifted = data.clone();
        shifted.splice(200_000..200_000, bytes(77, 5));
        let changed = digests(&shifted).difference(&before).count();
        assert!(changed <= 3, "{changed} chunks changed for one insertion");
        // And removed.
        let mut cut = data.clone();
        cut.drain(150_000..150_500);
        assert!(digests(&cut).difference(&before).count() <= 3);
    }

    #[test]
    fn a_rewrite_stores_only_new_chunks_and_drops_unused_ones() {
        let store = MapStorage::default();
        let chunked = Chunked {
            manifest_key: b"m",
            chunk_prefix: b"c/",
        };
        let data = bytes(300_000, 3);
        let txn = Txn::new(&store);
        assert_eq!(chunked.write(&txn, &data).unwrap(), data.len());
        txn.commit().unwrap();

        let mut edited = data.clone();
        edited[123_456..123_500].copy_from_slice(&bytes(44, 8));
        let txn = Txn::new(&store);
        let written = chunked.write(&txn, &edited).unwrap();
        assert!(
            written > 0 && written <= 2 * MAX_CHUNK,
            "wrote {written} bytes"
        );
        assert_eq!(chunked.read(&txn).unwrap(), Some(edited.clone()));
        txn.commit().unwrap();

        let stored: usize = store
            .scan_prefix(Space::Mls, b"c/")
            .unwrap()
            .iter()
            .map(|(_, v)| v.len())
            .sum();
        assert_eq!(stored, edited.len(), "no chunk of the old value is left");

        let txn = Txn::new(&store);
        chunked.delete(&txn).unwrap();
        assert_eq!(chunked.read(&txn).unwrap(), None);
        txn.commit().unwrap();
        assert!(store.scan_prefix(Space::Mls, b"").unwrap().is_empty());
    }

    #[test]
    fn a_missing_or_altered_chunk_is_an_error_not_a_wrong_value() {
        let store = MapStorage::default();
        let chunked = Chunked {
            manifest_key: b"m",
            chunk_prefix: b"c/",
        };
        let data = bytes(50_000, 4);
        let txn = Txn::new(&store);
        chunked.write(&txn, &data).unwrap();
        txn.commit().unwrap();
        let (key, mut value) = store
            .scan_prefix(Space::Mls, b"c/")
            .unwrap()
            .into_iter()
            .next()
            .unwrap();
        value[0] ^= 1;
        let txn = Txn::new(&store);
        txn.put(Space::Mls, key.clone(), value);
        assert!(chunked.read(&txn).is_err(), "altered");
        txn.delete(Space::Mls, key);
        assert!(chunked.read(&txn).is_err(), "missing");
    }
}
