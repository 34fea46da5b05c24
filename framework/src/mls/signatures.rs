//! Ed25519 signature checks on behalf of OpenMLS: decoded keys are cached, and a join checks
//! all the signatures of the ratchet tree it is given as one batch.
//!
//! OpenMLS checks one signature at a time (`verify_strict`), decoding the public key each
//! time. Decoding is a field square root, about a fifth of a check, and a member checks the
//! same few thousand keys over and over (every message and commit of a member is signed with
//! its leaf key), so decoded keys are kept in a bounded cache.
//!
//! A member joining from a Welcome checks the signature of every leaf of the tree it is given
//! (10,000 checks in a group of 10,000). Inside [`Signatures::batched`], checks are collected
//! instead of performed and report success; they are then checked all at once, and the caller
//! discards everything the call produced if the batch fails. A batch check is the cofactored equation, which accepts everything the strict
//! check accepts; it may also accept a signature with small-order components that the strict
//! check would refuse, which cannot matter here: the tree is pinned by the tree hash in the
//! GroupInfo, signed by the committer, and every leaf in it was checked strictly by the members
//! when it was added. A failing batch is reported without telling which signature failed.

use std::collections::HashMap;
use std::sync::Mutex;

use ed25519_dalek::{Signature, VerifyingKey};
use openmls_traits::types::CryptoError;

/// Decoded keys kept at most (about 200 bytes each).
const CACHED_KEYS: usize = 65_536;

/// One collected check: public key, message, signature.
type Collected = (VerifyingKey, Vec<u8>, Signature);

/// The signature-checking state of a [`super::Crypto`].
#[derive(Default)]
pub(crate) struct Signatures {
    keys: Mutex<HashMap<[u8; 32], VerifyingKey>>,
    /// `Some` while checks are being collected.
    collected: Mutex<Option<Vec<Collected>>>,
}

impl Signatures {
    fn key(&self, pk: &[u8]) -> Result<VerifyingKey, CryptoError> {
        let bytes: [u8; 32] = pk.try_into().map_err(|_| CryptoError::CryptoLibraryError)?;
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(key) = keys.get(&bytes) {
            return Ok(*key);
        }
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| CryptoError::CryptoLibraryError)?;
        if keys.len() >= CACHED_KEYS {
            keys.clear();
        }
        keys.insert(bytes, key);
        Ok(key)
    }

    /// Checks (or, while collecting, records) an Ed25519 signature as OpenMLS's provider
    /// would: the same errors for malformed keys and signatures, `verify_strict` semantics.
    pub(crate) fn verify(
        &self,
        data: &[u8],
        pk: &[u8],
        signature: &[u8],
    ) -> Result<(), CryptoError> {
        let key = self.key(pk)?;
        let sig: [u8; 64] = signature
            .try_into()
            .map_err(|_| CryptoError::CryptoLibraryError)?;
        let sig = Signature::from_bytes(&sig);
        let mut collected = self.collected.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(list) = collected.as_mut() {
            list.push((key, data.to_vec(), sig));
            return Ok(());
        }
        drop(collected);
        key.verify_strict(data, &sig)
            .map_err(|_| CryptoError::InvalidSignature)
    }

    /// Runs `f` with signature checks collected instead of performed, then checks them all as
    /// one batch. Returns what `f` returned and the batch's verdict (how many were checked);
    /// the caller must discard what `f` produced if the verdict is an error. Collection ends
    /// when this returns, even if `f` panics.
    pub(crate) fn batched<T>(&self, f: impl FnOnce() -> T) -> (T, Result<usize, CryptoError>) {
        struct Stop<'a>(&'a Signatures);
        impl Drop for Stop<'_> {
            fn drop(&mut self) {
                self.0
                    .collected
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .take();
            }
        }
        *self.collected.lock().unwrap_or_else(|p| p.into_inner()) = Some(Vec::new());
        let stop = Stop(self);
        let out = f();
        let list = self
            .collected
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .unwrap_or_default();
        drop(stop);
        (out, check_all(&list))
    }
}

/// Checks collected signatures as one batch.
fn check_all(list: &[Collected]) -> Result<usize, CryptoError> {
    let messages: Vec<&[u8]> = list.iter().map(|(_, m, _)| m.as_slice()).collect();
    let signatures: Vec<Signature> = list.iter().map(|(_, _, s)| *s).collect();
    let keys: Vec<VerifyingKey> = list.iter().map(|(k, _, _)| *k).collect();
    match list.len() {
        0 => Ok(0),
        1 => keys[0]
            .verify_strict(messages[0], &signatures[0])
            .map(|()| 1)
            .map_err(|_| CryptoError::InvalidSignature),
        n => ed25519_dalek::verify_batch(&messages, &signatures, &keys)
            .map(|()| n)
            .map_err(|_| CryptoError::InvalidSignature),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    fn signed(i: u8, message: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let key = SigningKey::from_bytes(&[i; 32]);
        (
            key.verifying_key().to_bytes().to_vec(),
            key.sign(message).to_bytes().to_vec(),
        )
    }

    #[test]
    fn single_checks_accept_good_signatures_and_refuse_bad_ones_and_bad_encodings() {
        let s = Signatures::default();
        let (pk, sig) = signed(1, b"m");
        assert!(s.verify(b"m", &pk, &sig).is_ok());
        assert!(s.verify(b"m", &pk, &sig).is_ok(), "from the cache");
        assert_eq!(
            s.verify(b"x", &pk, &sig),
            Err(CryptoError::InvalidSignature)
        );
        assert_eq!(
            s.verify(b"m", &pk[..31], &sig),
            Err(CryptoError::CryptoLibraryError)
        );
        assert_eq!(
            s.verify(b"m", &pk, &sig[..63]),
            Err(CryptoError::CryptoLibraryError)
        );
    }

    #[test]
    fn collected_checks_pass_in_one_batch_and_a_single_bad_one_fails_the_batch() {
        let s = Signatures::default();
        let items: Vec<(Vec<u8>, Vec<u8>, Vec<u8>)> = (0..20u8)
            .map(|i| {
                let m = vec![i; 40];
                let (pk, sig) = signed(i, &m);
                (m, pk, sig)
            })
            .collect();
        let (all_ok, verdict) = s.batched(|| {
            items
                .iter()
                .all(|(m, pk, sig)| s.verify(m, pk, sig).is_ok())
        });
        assert!(all_ok, "collected checks report success");
        assert_eq!(verdict, Ok(20));
        // Not collecting any more: checks are performed again.
        assert!(s.verify(&items[0].0, &items[1].1, &items[0].2).is_err());
        let ((), verdict) = s.batched(|| {
            for (i, (m, pk, sig)) in items.iter().enumerate() {
                let m = if i == 7 {
                    b"tampered".to_vec()
                } else {
                    m.clone()
                };
                assert!(s.verify(&m, pk, sig).is_ok());
            }
        });
        assert_eq!(verdict, Err(CryptoError::InvalidSignature));
        let ((), verdict) = s.batched(|| ());
        assert_eq!(verdict, Ok(0));
    }

    #[test]
    fn collection_ends_even_when_the_call_panics() {
        let s = Signatures::default();
        let (pk, sig) = signed(3, b"m");
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            s.batched(|| panic!("inside"))
        }));
        assert!(caught.is_err());
        assert!(
            s.verify(b"other", &pk, &sig).is_err(),
            "checked, not collected"
        );
    }
}
