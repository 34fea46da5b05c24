//! The voter set: the known, fixed list of public keys allowed to vote on a proposal.
//!
//! This module owns key preparation (decompression happens here, once per set), the canonical
//! order of voters (ascending key bytes), the O(1) key → index lookup and the set's fingerprint.
//! It keeps no per-proposal state; proposals refer to voters by index.

use std::collections::HashMap;
use std::fmt;

use crate::canonical::{HASH_LEN, voter_set_fingerprint};
use crate::ed25519::Ed25519;
use crate::scheme::{KeyError, SignatureScheme};

/// Index of a voter inside a [`VoterSet`] (position in ascending key order).
pub type VoterIndex = u32;

/// Why a voter set could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VoterSetError {
    /// A voter set needs at least one voter.
    #[error("a voter set needs at least one voter")]
    Empty,
    /// More voters than fit the wire format's `expected_voters_count` (u32).
    #[error("{0} voters exceed the u32 limit of expected_voters_count")]
    TooLarge(usize),
    /// The same key appears twice.
    #[error("key at position {position} appears twice")]
    DuplicateKey {
        /// Position of the second occurrence in the input list.
        position: usize,
    },
    /// A key is unusable.
    #[error("key at position {position} is unusable: {error}")]
    InvalidKey {
        /// Position in the input list.
        position: usize,
        /// What is wrong with it.
        error: KeyError,
    },
}

/// The eligible voters of a proposal, built once and shared (`Arc<VoterSet>`) by every proposal
/// that uses the same roster.
pub struct VoterSet<V: SignatureScheme = Ed25519> {
    /// Prepared keys in ascending order of their bytes; the position is the [`VoterIndex`].
    keys: Vec<V::PreparedKey>,
    /// Key bytes → index.
    index: HashMap<Box<[u8]>, VoterIndex>,
    fingerprint: [u8; HASH_LEN],
}

impl VoterSet<Ed25519> {
    /// Builds an Ed25519 voter set from public keys (any order; duplicates are an error).
    pub fn new<K: AsRef<[u8]>>(keys: impl IntoIterator<Item = K>) -> Result<Self, VoterSetError> {
        Self::with_scheme(&Ed25519, keys)
    }
}

impl<V: SignatureScheme> VoterSet<V> {
    /// Builds a voter set for any signature scheme. Each key is decoded and checked once here.
    pub fn with_scheme<K: AsRef<[u8]>>(
        scheme: &V,
        keys: impl IntoIterator<Item = K>,
    ) -> Result<Self, VoterSetError> {
        Self::build(scheme, keys, None)
    }

    /// [`with_scheme`](Self::with_scheme), taking the prepared key of every voter that is also
    /// in `earlier` from there instead of decoding it again. Successive rosters of a group
    /// differ by a few members, so this makes a new set cost what changed (decoding an Ed25519
    /// key is a square root in the field: most of the cost of building a large set).
    pub fn reusing<K: AsRef<[u8]>>(
        scheme: &V,
        keys: impl IntoIterator<Item = K>,
        earlier: &VoterSet<V>,
    ) -> Result<Self, VoterSetError> {
        Self::build(scheme, keys, Some(earlier))
    }

    fn build<K: AsRef<[u8]>>(
        scheme: &V,
        keys: impl IntoIterator<Item = K>,
        earlier: Option<&VoterSet<V>>,
    ) -> Result<Self, VoterSetError> {
        let mut raw: Vec<(Box<[u8]>, usize)> = keys
            .into_iter()
            .enumerate()
            .map(|(i, k)| (Box::from(k.as_ref()), i))
            .collect();
        if raw.is_empty() {
            return Err(VoterSetError::Empty);
        }
        if u32::try_from(raw.len()).is_err() {
            return Err(VoterSetError::TooLarge(raw.len()));
        }
        raw.sort_unstable();
        if let Some(w) = raw.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(VoterSetError::DuplicateKey {
                position: w[0].1.max(w[1].1),
            });
        }
        let mut prepared = Vec::with_capacity(raw.len());
        let mut index = HashMap::with_capacity(raw.len());
        for (i, (bytes, position)) in raw.iter().enumerate() {
            let known = earlier
                .and_then(|e| e.index_of(bytes).and_then(|j| e.key(j)))
                .cloned();
            let key = match known {
                Some(key) => key,
                None => scheme
                    .prepare_key(bytes)
                    .map_err(|error| VoterSetError::InvalidKey {
                        position: *position,
                        error,
                    })?,
            };
            prepared.push(key);
            // `raw.len()` fits a u32 (checked above), so every index does too.
            index.insert(bytes.clone(), i as VoterIndex);
        }
        let fingerprint = voter_set_fingerprint(raw.iter().map(|(k, _)| &k[..]));
        Ok(VoterSet {
            keys: prepared,
            index,
            fingerprint,
        })
    }

    /// Number of voters, `n`.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Always false: a voter set has at least one voter.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Number of voters as the wire format's `u32`.
    pub fn count(&self) -> u32 {
        // Checked at construction.
        self.keys.len() as u32
    }

    /// The index of a key, if it is a voter. O(1).
    pub fn index_of(&self, key: &[u8]) -> Option<VoterIndex> {
        self.index.get(key).copied()
    }

    /// True if the key is a voter.
    pub fn contains(&self, key: &[u8]) -> bool {
        self.index.contains_key(key)
    }

    /// The prepared key of a voter.
    pub fn key(&self, index: VoterIndex) -> Option<&V::PreparedKey> {
        self.keys.get(index as usize)
    }

    /// SHA-256 fingerprint of the set (domain-separated, over the keys in ascending order). Two
    /// sets with the same keys have the same fingerprint whatever order they were given in.
    pub fn fingerprint(&self) -> [u8; HASH_LEN] {
        self.fingerprint
    }
}

impl<V: SignatureScheme> fmt::Debug for VoterSet<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fp: String = self.fingerprint[..6]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        f.debug_struct("VoterSet")
            .field("len", &self.len())
            .field("fingerprint", &fp)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_reusing_an_earlier_one_is_the_same_as_one_built_afresh() {
        let old = VoterSet::new((1..=5u8).map(pk)).unwrap();
        let keys: Vec<Vec<u8>> = (3..=8u8).map(pk).collect();
        let fresh = VoterSet::new(&keys).unwrap();
        let reused = VoterSet::reusing(&Ed25519, &keys, &old).unwrap();
        assert_eq!(reused.fingerprint(), fresh.fingerprint());
        for k in &keys {
            let (a, b) = (fresh.index_of(k).unwrap(), reused.index_of(k).unwrap());
            assert_eq!(a, b);
            assert_eq!(
                Ed25519.key_bytes(fresh.key(a).unwrap()),
                Ed25519.key_bytes(reused.key(b).unwrap())
            );
        }
        assert!(!reused.contains(&pk(1)));
        // Bad new keys are still refused.
        assert!(VoterSet::reusing(&Ed25519, [vec![0u8; 31]], &old).is_err());
    }
    use crate::{Ed25519Signer, Signer};

    fn pk(i: u8) -> Vec<u8> {
        Ed25519Signer::from_seed([i; 32])
            .expect("seed")
            .public_key()
            .to_vec()
    }

    #[test]
    fn order_of_input_does_not_change_indices_or_fingerprint() {
        let a = VoterSet::new([pk(1), pk(2), pk(3)]).expect("set");
        let b = VoterSet::new([pk(3), pk(1), pk(2)]).expect("set");
        assert_eq!(a.fingerprint(), b.fingerprint());
        for i in 1..=3 {
            assert_eq!(a.index_of(&pk(i)), b.index_of(&pk(i)));
        }
        assert_eq!(a.count(), 3);
        assert!(a.index_of(&pk(4)).is_none());
    }

    #[test]
    fn duplicates_empty_sets_and_bad_keys_are_refused() {
        assert_eq!(
            VoterSet::new(Vec::<Vec<u8>>::new()).err(),
            Some(VoterSetError::Empty)
        );
        assert_eq!(
            VoterSet::new([pk(1), pk(2), pk(1)]).err(),
            Some(VoterSetError::DuplicateKey { position: 2 })
        );
        assert!(matches!(
            VoterSet::new([pk(1), vec![0; 5]]),
            Err(VoterSetError::InvalidKey { position: 1, .. })
        ));
    }
}
