//! The signature abstraction: [`SignatureScheme`] (verify one, verify a batch) and [`Signer`]
//! (public key, sign).
//!
//! This module owns the traits, the batch item type, the errors of the crypto layer and the generic
//! bisection helper that turns a failed batch into the exact list of bad signatures. It knows no
//! concrete algorithm; Ed25519 lives in `ed25519`.

/// Why a public key cannot be used by a signature scheme.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The key has the wrong length for the scheme.
    #[error("public key has {actual} bytes, the scheme expects {expected}")]
    Length {
        /// Length the scheme expects.
        expected: usize,
        /// Length of the key given.
        actual: usize,
    },
    /// The bytes are not a canonical encoding of a curve point (or do not decode at all).
    #[error("public key is not a canonical point encoding")]
    NotCanonical,
    /// The key is a small-order point: anyone could forge signatures for it.
    #[error("public key is a weak (small-order) point")]
    Weak,
}

/// Why a [`Signer`] could not produce a signature or be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignerError {
    /// The key material was rejected by the crypto library.
    #[error("signing key rejected: {0}")]
    KeyRejected(&'static str),
    /// A signer backed by a device or remote service failed.
    #[error("signing failed: {0}")]
    Failed(&'static str),
}

/// One signature to check inside a batch.
#[derive(Clone, Copy)]
pub struct BatchItem<'a, K> {
    /// The signer's prepared (decoded) public key.
    pub key: &'a K,
    /// The signed message (for votes: the 32 bytes of `vote_hash`).
    pub message: &'a [u8],
    /// The signature bytes as received.
    pub signature: &'a [u8],
}

/// A signature algorithm used to verify votes.
///
/// # Note for implementers
///
/// * [`SignatureScheme::prepare_key`] is called **once per voter set and key**, never per vote; do
///   all expensive key decoding (point decompression, subgroup checks) there. Reject keys that
///   would let anyone forge signatures (e.g. small-order points), and reject non-canonical
///   encodings so that one key cannot appear under two byte strings.
/// * [`SignatureScheme::verify`] and [`SignatureScheme::verify_batch`] **must accept exactly the
///   same signatures**: a signature is valid in a batch if and only if it is valid alone, whatever
///   else is in the batch. Consensus decisions depend on which votes count; if validity depended on
///   batching, two honest peers holding the same votes could disagree. Batch equations that are
///   only probabilistically equivalent must fail with negligible probability (≤ 2⁻¹²⁰).
/// * `verify_batch` returns the indices of the items that failed, in ascending order. The default
///   checks items one by one; override it with a real batch equation plus a fallback (for example
///   [`bisect_failures`]) when the algorithm allows.
/// * Implementations must be deterministic and must not panic on any input bytes.
pub trait SignatureScheme: Send + Sync + 'static {
    /// A public key decoded and checked once, ready for fast verification. Cloned when a new
    /// voter set reuses the keys of an earlier one ([`crate::VoterSet::reusing`]).
    type PreparedKey: Clone + Send + Sync + 'static;

    /// Short algorithm name used in logs and benchmark output.
    const NAME: &'static str;

    /// Length of a public key in bytes.
    fn public_key_len(&self) -> usize;

    /// Length of a signature in bytes.
    fn signature_len(&self) -> usize;

    /// Decodes and checks a public key.
    fn prepare_key(&self, public_key: &[u8]) -> Result<Self::PreparedKey, KeyError>;

    /// The key bytes a prepared key was made from.
    fn key_bytes<'k>(&self, key: &'k Self::PreparedKey) -> &'k [u8];

    /// Verifies one signature.
    fn verify(&self, key: &Self::PreparedKey, message: &[u8], signature: &[u8]) -> bool;

    /// Verifies many signatures and returns the indices of those that failed (ascending).
    fn verify_batch(&self, items: &[BatchItem<'_, Self::PreparedKey>]) -> Vec<usize> {
        items
            .iter()
            .enumerate()
            .filter(|(_, it)| !self.verify(it.key, it.message, it.signature))
            .map(|(i, _)| i)
            .collect()
    }
}

/// A private key able to sign votes.
///
/// # Note for implementers
///
/// `public_key` must return the exact bytes that appear in voter sets and in `vote_owner`, and
/// `sign` must produce signatures that the matching [`SignatureScheme`] accepts over the given
/// message (the 32 bytes of a `vote_hash`). A signer for a hardware or remote key may fail; return
/// [`SignerError`] rather than panicking.
pub trait Signer {
    /// The public key matching this signer.
    fn public_key(&self) -> &[u8];

    /// Signs `message`.
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignerError>;
}

/// Finds the failing items of a batch whose combined check failed, by bisection.
///
/// `batch_ok(range)` checks a sub-range with the batch equation; `single_ok(i)` is the
/// authoritative check of one item. Ranges of at most `leaf` items are checked one by one. The
/// returned indices are ascending. With `k` bad items among `m`, this costs about `2k·log2(m/leaf)`
/// batch checks plus `k·leaf` single checks.
pub fn bisect_failures(
    len: usize,
    leaf: usize,
    batch_ok: &mut dyn FnMut(std::ops::Range<usize>) -> bool,
    single_ok: &mut dyn FnMut(usize) -> bool,
) -> Vec<usize> {
    let mut failed = Vec::new();
    // Explicit stack of ranges known (or suspected) to contain a failure; processed left to right.
    let mut stack: Vec<std::ops::Range<usize>> = Vec::with_capacity(64);
    stack.push(0..len);
    while let Some(range) = stack.pop() {
        if range.is_empty() {
            continue;
        }
        if range.len() <= leaf.max(1) {
            failed.extend(range.filter(|&i| !single_ok(i)));
            continue;
        }
        let mid = range.start + range.len() / 2;
        let (left, right) = (range.start..mid, mid..range.end);
        // Push right first so the left half is handled first and output stays ordered.
        for half in [right, left] {
            if !batch_ok(half.clone()) {
                stack.push(half);
            }
        }
    }
    failed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bisection_finds_exactly_the_bad_items_in_order() {
        let bad = [3usize, 4, 57, 99];
        let is_bad = |i: usize| bad.contains(&i);
        let mut batch_calls = 0;
        let got = bisect_failures(
            100,
            2,
            &mut |r| {
                batch_calls += 1;
                !r.clone().any(is_bad)
            },
            &mut |i| !is_bad(i),
        );
        assert_eq!(got, bad);
        assert!(
            batch_calls < 60,
            "bisection used {batch_calls} batch checks"
        );
    }

    #[test]
    fn bisection_with_no_bad_items_in_a_range_reports_nothing() {
        let got = bisect_failures(8, 1, &mut |_| true, &mut |_| true);
        assert!(got.is_empty());
    }
}
