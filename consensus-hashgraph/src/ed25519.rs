//! Ed25519, the default signature scheme: signing with `ring`, verification with `ed25519-dalek`
//! batches and a cofactored single check.
//!
//! This module owns the validity rule for Ed25519 vote signatures and its two implementations
//! (batch and single) that must agree. It does not know about votes or proposals.
//!
//! # The validity rule
//!
//! A signature `(R, s)` by key `A` over message `M` is valid iff `A` was accepted by
//! [`Ed25519::prepare_key`] (canonical encoding, not of small order), `R` decodes to a curve point,
//! `s` is a canonical scalar (`s < ℓ`), and the **cofactored** equation
//! `[8]([s]B − [k]A − R) = 0` holds with `k = SHA-512(R ‖ A ‖ M) mod ℓ` (the encodings of `R` and
//! `A` as they appear on the wire). This is the rule of ZIP-215. Honest signatures (from `ring`,
//! `ed25519-dalek` or any RFC 8032 signer) always satisfy it.
//!
//! `ed25519-dalek`'s batch equation is cofactor-less: a signature whose `R` carries a small-order
//! component passes or fails it depending on the random coefficients, i.e. on what else is in the
//! batch. A passing batch still implies (except with probability about 2⁻¹²⁸) that every member
//! satisfies the cofactored equation; a failing batch is bisected down to the cofactored single
//! check. So the set of accepted signatures is exactly the set satisfying the rule above, however
//! the votes were grouped.

use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::IsIdentity;
use ed25519_dalek::VerifyingKey;
use ring::signature::{Ed25519KeyPair, KeyPair};

use crate::scheme::{BatchItem, KeyError, SignatureScheme, Signer, SignerError, bisect_failures};

/// Length of an Ed25519 public key.
pub const PUBLIC_KEY_LEN: usize = 32;
/// Length of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;
/// Ranges at most this long are checked signature by signature during bisection.
const BISECT_LEAF: usize = 4;

/// The Ed25519 signature scheme (stateless; the default for [`crate::Consensus`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ed25519;

/// An Ed25519 public key decompressed once, kept with its wire bytes.
#[derive(Clone, Copy, Debug)]
pub struct Ed25519Key(VerifyingKey);

impl Ed25519Key {
    /// The 32 wire bytes of the key.
    pub fn as_bytes(&self) -> &[u8; PUBLIC_KEY_LEN] {
        self.0.as_bytes()
    }
}

/// True if the 32 bytes encode the field element `y` canonically (`y < 2^255 − 19`), ignoring the
/// sign bit. The only non-canonical encodings are `y ∈ [p, 2^255)`.
fn y_is_canonical(bytes: &[u8; 32]) -> bool {
    let top = bytes[31] & 0x7f;
    let middle_all_ff = bytes[1..31].iter().all(|&b| b == 0xff);
    !(top == 0x7f && middle_all_ff && bytes[0] >= 0xed)
}

/// The authoritative single-signature check (see the module documentation).
fn verify_cofactored(key: &Ed25519Key, message: &[u8], signature: &[u8]) -> bool {
    let Ok(sig) = <&[u8; SIGNATURE_LEN]>::try_from(signature) else {
        return false;
    };
    let mut r_bytes = [0u8; 32];
    r_bytes.copy_from_slice(&sig[..32]);
    let mut s_bytes = [0u8; 32];
    s_bytes.copy_from_slice(&sig[32..]);
    let Some(r) = CompressedEdwardsY(r_bytes).decompress() else {
        return false;
    };
    let Some(s) = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes)) else {
        return false;
    };
    let mut h = ring::digest::Context::new(&ring::digest::SHA512);
    h.update(&r_bytes);
    h.update(key.as_bytes());
    h.update(message);
    let mut wide = [0u8; 64];
    wide.copy_from_slice(h.finish().as_ref());
    let k = Scalar::from_bytes_mod_order_wide(&wide);
    let minus_a = -key.0.to_edwards();
    // [s]B − [k]A − R, then clear the cofactor.
    let check = EdwardsPoint::vartime_double_scalar_mul_basepoint(&k, &minus_a, &s) - r;
    check.mul_by_cofactor().is_identity()
}

impl SignatureScheme for Ed25519 {
    type PreparedKey = Ed25519Key;
    const NAME: &'static str = "ed25519";

    fn public_key_len(&self) -> usize {
        PUBLIC_KEY_LEN
    }

    fn signature_len(&self) -> usize {
        SIGNATURE_LEN
    }

    fn prepare_key(&self, public_key: &[u8]) -> Result<Ed25519Key, KeyError> {
        let bytes =
            <&[u8; PUBLIC_KEY_LEN]>::try_from(public_key).map_err(|_| KeyError::Length {
                expected: PUBLIC_KEY_LEN,
                actual: public_key.len(),
            })?;
        if !y_is_canonical(bytes) {
            return Err(KeyError::NotCanonical);
        }
        let key = VerifyingKey::from_bytes(bytes).map_err(|_| KeyError::NotCanonical)?;
        if key.is_weak() {
            return Err(KeyError::Weak);
        }
        Ok(Ed25519Key(key))
    }

    fn key_bytes<'k>(&self, key: &'k Ed25519Key) -> &'k [u8] {
        key.as_bytes()
    }

    fn verify(&self, key: &Ed25519Key, message: &[u8], signature: &[u8]) -> bool {
        verify_cofactored(key, message, signature)
    }

    fn verify_batch(&self, items: &[BatchItem<'_, Ed25519Key>]) -> Vec<usize> {
        match items.len() {
            0 => return Vec::new(),
            1 => {
                let it = &items[0];
                return if self.verify(it.key, it.message, it.signature) {
                    Vec::new()
                } else {
                    vec![0]
                };
            }
            _ => {}
        }
        // Wrong-length signatures cannot enter a dalek batch; they fail on their own.
        let mut messages: Vec<&[u8]> = Vec::with_capacity(items.len());
        let mut signatures = Vec::with_capacity(items.len());
        let mut keys = Vec::with_capacity(items.len());
        let mut index = Vec::with_capacity(items.len());
        let mut failed = Vec::new();
        for (i, it) in items.iter().enumerate() {
            match <&[u8; SIGNATURE_LEN]>::try_from(it.signature) {
                Ok(bytes) => {
                    messages.push(it.message);
                    signatures.push(ed25519_dalek::Signature::from_bytes(bytes));
                    keys.push(it.key.0);
                    index.push(i);
                }
                Err(_) => failed.push(i),
            }
        }
        let batch_ok = |r: std::ops::Range<usize>| {
            r.is_empty()
                || ed25519_dalek::verify_batch(
                    &messages[r.clone()],
                    &signatures[r.clone()],
                    &keys[r],
                )
                .is_ok()
        };
        if !batch_ok(0..index.len()) {
            let bad = bisect_failures(index.len(), BISECT_LEAF, &mut { batch_ok }, &mut |j| {
                let it = &items[index[j]];
                verify_cofactored(it.key, it.message, it.signature)
            });
            failed.extend(bad.into_iter().map(|j| index[j]));
            failed.sort_unstable();
        }
        tracing::trace!(
            batch = items.len(),
            failed = failed.len(),
            "ed25519 batch verified"
        );
        failed
    }
}

/// An Ed25519 private key (via `ring`), usable as a [`Signer`].
pub struct Ed25519Signer {
    key_pair: Ed25519KeyPair,
}

impl Ed25519Signer {
    /// Builds a signer from a 32-byte RFC 8032 seed (the "private key" of most libraries).
    pub fn from_seed(seed: [u8; 32]) -> Result<Self, SignerError> {
        let key_pair = Ed25519KeyPair::from_seed_unchecked(&seed)
            .map_err(|_| SignerError::KeyRejected("ring rejected the Ed25519 seed"))?;
        Ok(Ed25519Signer { key_pair })
    }
}

impl std::fmt::Debug for Ed25519Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ed25519Signer")
            .field("public_key", &self.public_key())
            .finish_non_exhaustive()
    }
}

impl Signer for Ed25519Signer {
    fn public_key(&self) -> &[u8] {
        self.key_pair.public_key().as_ref()
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignerError> {
        Ok(self.key_pair.sign(message).as_ref().to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT, EIGHT_TORSION};

    fn signer(i: u8) -> Ed25519Signer {
        Ed25519Signer::from_seed([i; 32]).expect("seed")
    }

    fn key(s: &Ed25519Signer) -> Ed25519Key {
        Ed25519.prepare_key(s.public_key()).expect("key")
    }

    /// A signature that satisfies the cofactored equation but whose `R` has an order-2 component,
    /// built from a secret scalar `a` so that `A = [a]B`.
    fn torsioned_signature(a: Scalar, message: &[u8]) -> ([u8; 32], Vec<u8>) {
        let a_point = EdwardsPoint::mul_base(&a);
        let a_bytes = a_point.compress().to_bytes();
        let r = Scalar::from(123_456_789u64);
        let r_point = EdwardsPoint::mul_base(&r) + EIGHT_TORSION[4];
        let r_bytes = r_point.compress().to_bytes();
        let mut h = ring::digest::Context::new(&ring::digest::SHA512);
        h.update(&r_bytes);
        h.update(&a_bytes);
        h.update(message);
        let mut wide = [0u8; 64];
        wide.copy_from_slice(h.finish().as_ref());
        let k = Scalar::from_bytes_mod_order_wide(&wide);
        let s = r + k * a;
        let mut sig = r_bytes.to_vec();
        sig.extend_from_slice(s.as_bytes());
        (a_bytes, sig)
    }

    #[test]
    fn ring_signatures_verify_alone_and_in_batches() {
        let signers: Vec<_> = (1..=9).map(signer).collect();
        let keys: Vec<_> = signers.iter().map(key).collect();
        let msgs: Vec<[u8; 32]> = (0..9u8).map(|i| [i; 32]).collect();
        let sigs: Vec<_> = signers
            .iter()
            .zip(&msgs)
            .map(|(s, m)| s.sign(m).expect("sign"))
            .collect();
        for i in 0..9 {
            assert!(Ed25519.verify(&keys[i], &msgs[i], &sigs[i]));
        }
        let items: Vec<_> = (0..9)
            .map(|i| BatchItem {
                key: &keys[i],
                message: &msgs[i][..],
                signature: &sigs[i][..],
            })
            .collect();
        assert!(Ed25519.verify_batch(&items).is_empty());
    }

    #[test]
    fn batch_reports_exactly_the_bad_signatures() {
        let signers: Vec<_> = (1..=40).map(signer).collect();
        let keys: Vec<_> = signers.iter().map(key).collect();
        let msgs: Vec<[u8; 32]> = (0..40u8).map(|i| [i; 32]).collect();
        let mut sigs: Vec<_> = signers
            .iter()
            .zip(&msgs)
            .map(|(s, m)| s.sign(m).expect("sign"))
            .collect();
        sigs[7][3] ^= 1; // corrupt R
        sigs[20] = signers[21].sign(&msgs[20]).expect("sign"); // wrong key
        sigs[33].truncate(10); // wrong length
        sigs[39][63] |= 0xf0; // non-canonical s
        let items: Vec<_> = (0..40)
            .map(|i| BatchItem {
                key: &keys[i],
                message: &msgs[i][..],
                signature: &sigs[i][..],
            })
            .collect();
        assert_eq!(Ed25519.verify_batch(&items), vec![7, 20, 33, 39]);
    }

    #[test]
    fn torsioned_signature_is_accepted_whatever_the_batch_around_it() {
        let (a_bytes, sig) = torsioned_signature(Scalar::from(987_654_321u64), b"msg");
        let odd = Ed25519.prepare_key(&a_bytes).expect("key");
        assert!(Ed25519.verify(&odd, b"msg", &sig));
        // dalek's own strict check rejects it: the two rules really differ on this input.
        let dalek_sig = ed25519_dalek::Signature::from_slice(&sig).expect("64 bytes");
        assert!(odd.0.verify_strict(b"msg", &dalek_sig).is_err());

        let signers: Vec<_> = (1..=16).map(signer).collect();
        let keys: Vec<_> = signers.iter().map(key).collect();
        let msgs: Vec<[u8; 32]> = (0..16u8).map(|i| [i; 32]).collect();
        let sigs: Vec<_> = signers
            .iter()
            .zip(&msgs)
            .map(|(s, m)| s.sign(m).expect("sign"))
            .collect();
        // Many different batch compositions: the verdict on the odd signature never changes.
        for size in 1..=16 {
            let mut items: Vec<_> = (0..size)
                .map(|i| BatchItem {
                    key: &keys[i],
                    message: &msgs[i][..],
                    signature: &sigs[i][..],
                })
                .collect();
            items.insert(
                size / 2,
                BatchItem {
                    key: &odd,
                    message: b"msg",
                    signature: &sig,
                },
            );
            assert!(
                Ed25519.verify_batch(&items).is_empty(),
                "batch of {size} rejected a valid signature"
            );
        }
    }

    #[test]
    fn weak_and_non_canonical_keys_are_refused() {
        let identity = EdwardsPoint::default().compress().to_bytes();
        assert_eq!(Ed25519.prepare_key(&identity).err(), Some(KeyError::Weak));
        let torsion = EIGHT_TORSION[1].compress().to_bytes();
        assert_eq!(Ed25519.prepare_key(&torsion).err(), Some(KeyError::Weak));
        // y = p + 1 is the non-canonical twin of the identity's y = 1.
        let mut non_canonical = [0xffu8; 32];
        non_canonical[0] = 0xee;
        non_canonical[31] = 0x7f;
        assert_eq!(
            Ed25519.prepare_key(&non_canonical).err(),
            Some(KeyError::NotCanonical)
        );
        assert!(matches!(
            Ed25519.prepare_key(&[1; 31]),
            Err(KeyError::Length { .. })
        ));
        let base = ED25519_BASEPOINT_POINT.compress().to_bytes();
        assert!(Ed25519.prepare_key(&base).is_ok());
    }
}
