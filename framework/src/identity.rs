//! A node's long-term identity: one Ed25519 key pair that signs its MLS leaf, its KeyPackages
//! and its consensus votes. The [`MemberId`] is derived from the public key, so a vote's signer
//! and an MLS roster entry are the same thing by construction.
//!
//! This module owns the secret seed; nothing else in the crate sees it.

use std::fmt;

use openmls::prelude::SignatureScheme;
use openmls_traits::signatures::{Signer as MlsSigner, SignerError};
use ring::signature::{Ed25519KeyPair, KeyPair};

use crate::types::MemberId;

/// Something that signs with a member's identity key. Consensus plugins receive one to sign
/// their votes.
///
/// # Note for implementers
/// `sign` must produce a 64-byte Ed25519 signature over exactly `message` that verifies under
/// `public_key()`; it must not fail.
pub trait IdentitySigner: Send + Sync {
    /// The 32-byte Ed25519 public key.
    fn public_key(&self) -> &[u8];
    /// Signs `message`.
    fn sign(&self, message: &[u8]) -> Vec<u8>;
}

/// An Ed25519 identity.
pub struct Identity {
    seed: [u8; 32],
    key_pair: Ed25519KeyPair,
    public: [u8; 32],
    member_id: MemberId,
}

/// The seed was not a valid Ed25519 seed.
#[derive(Debug, thiserror::Error)]
#[error("invalid Ed25519 seed")]
pub struct InvalidSeed;

impl Identity {
    /// Builds the identity of a 32-byte Ed25519 seed.
    pub fn from_seed(seed: [u8; 32]) -> Result<Identity, InvalidSeed> {
        let key_pair = Ed25519KeyPair::from_seed_unchecked(&seed).map_err(|_| InvalidSeed)?;
        let mut public = [0u8; 32];
        public.copy_from_slice(key_pair.public_key().as_ref());
        Ok(Identity {
            seed,
            key_pair,
            public,
            member_id: MemberId::from_signature_key(&public),
        })
    }

    /// A fresh random identity.
    pub fn generate() -> Identity {
        let mut seed = [0u8; 32];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut seed)
            .expect("the system random number generator failed");
        Identity::from_seed(seed).expect("any 32 bytes are a valid Ed25519 seed")
    }

    /// The seed, for persisting the identity in the node's storage.
    pub(crate) fn seed(&self) -> &[u8; 32] {
        &self.seed
    }

    /// The member id derived from the public key.
    pub fn member_id(&self) -> MemberId {
        self.member_id
    }

    /// The 32-byte Ed25519 public key.
    pub fn public_key(&self) -> &[u8; 32] {
        &self.public
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("member_id", &self.member_id)
            .finish_non_exhaustive()
    }
}

impl IdentitySigner for Identity {
    fn public_key(&self) -> &[u8] {
        &self.public
    }

    fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.key_pair.sign(message).as_ref().to_vec()
    }
}

impl MlsSigner for Identity {
    fn sign(&self, payload: &[u8]) -> Result<Vec<u8>, SignerError> {
        Ok(self.key_pair.sign(payload).as_ref().to_vec())
    }

    fn signature_scheme(&self) -> SignatureScheme {
        SignatureScheme::ED25519
    }
}

/// Verifies an Ed25519 signature.
pub fn verify_ed25519(public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, public_key)
        .verify(message, signature)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_under_the_public_key_and_ids_follow_the_key() {
        let id = Identity::from_seed([7u8; 32]).unwrap();
        let sig = IdentitySigner::sign(&id, b"hello");
        assert!(verify_ed25519(id.public_key(), b"hello", &sig));
        assert!(!verify_ed25519(id.public_key(), b"hellO", &sig));
        assert_eq!(
            id.member_id(),
            MemberId::from_signature_key(id.public_key())
        );
        let again = Identity::from_seed([7u8; 32]).unwrap();
        assert_eq!(again.public_key(), id.public_key());
    }
}
