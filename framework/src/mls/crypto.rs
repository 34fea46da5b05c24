//! OpenMLS cryptography with every random byte taken from the engine's [`Entropy`].
//!
//! RustCrypto does all the work, except that HPKE's ephemeral keys (the only randomness OpenMLS
//! does not draw through its `OpenMlsRand` provider) come from a PRNG seeded, for each sealing,
//! with a hash of a 32-byte secret drawn once from the engine's entropy and of that sealing's
//! inputs (recipient key, info, associated data, plaintext). OpenMLS seals the path secrets of a
//! commit on several threads at once (rayon), so seeds drawn one after another from the entropy
//! stream would be handed out in whatever order the threads ran; seeds derived from the inputs
//! do not depend on it. The secret is fresh random bytes in production (OS entropy), so the
//! ephemeral keys are as unpredictable as before, and identical inputs — the only case where
//! two sealings share a seed — only reveal that the same plaintext went to the same key again.
//! In the deterministic simulator the entropy is seeded, so a run's every byte — ciphertexts and
//! epoch authenticators included — repeats exactly.

use std::cell::Cell;

use hpke_rs::{Hpke, HpkeError, Mode};
use hpke_rs_crypto::error::Error as HpkeCryptoError;
use hpke_rs_crypto::types::{AeadAlgorithm, KdfAlgorithm, KemAlgorithm};
use hpke_rs_crypto::{HpkeCrypto, HpkeTestRng};
use hpke_rs_rust_crypto::HpkeRustCrypto;
use openmls::prelude::tls_codec::SecretVLBytes;
use openmls_rust_crypto::RustCrypto;
use openmls_traits::crypto::OpenMlsCrypto;
use openmls_traits::types::{
    AeadType, Ciphersuite, CryptoError, ExporterSecret, HashType, HpkeAeadType, HpkeCiphertext,
    HpkeConfig, HpkeKdfType, HpkeKemType, HpkeKeyPair, KemOutput, SignatureScheme,
};
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

use crate::entropy::Entropy;

thread_local! {
    /// The seed of the next HPKE PRNG, set just before each sealing on this thread.
    static NEXT_SEED: Cell<Option<[u8; 32]>> = const { Cell::new(None) };
}

/// The HPKE PRNG: ChaCha20 seeded from the engine's entropy.
pub struct SeededPrng(ChaCha20Rng);

impl zeroize::Zeroize for SeededPrng {
    fn zeroize(&mut self) {
        // Replacing the stream drops the old state; ChaCha20Rng has no zeroize of its own.
        self.0 = ChaCha20Rng::from_seed([0; 32]);
    }
}

impl hpke_rs_crypto::TryRng for SeededPrng {
    type Error = core::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(self.0.next_u32())
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Ok(self.0.next_u64())
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), Self::Error> {
        self.0.fill_bytes(dest);
        Ok(())
    }
}

impl hpke_rs_crypto::TryCryptoRng for SeededPrng {}

/// Never fails: the stream is unbounded.
#[derive(Debug)]
pub struct NeverFails;

impl std::fmt::Display for NeverFails {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("unreachable")
    }
}

impl HpkeTestRng for SeededPrng {
    type Error = NeverFails;

    fn try_fill_test_bytes(&mut self, dest: &mut [u8]) -> Result<(), Self::Error> {
        self.0.fill_bytes(dest);
        Ok(())
    }

    fn seed(&mut self, seed: &[u8]) {
        let mut s = [0u8; 32];
        let n = seed.len().min(32);
        s[..n].copy_from_slice(&seed[..n]);
        self.0 = ChaCha20Rng::from_seed(s);
    }
}

/// RustCrypto's HPKE with key generation drawing from [`SeededPrng`].
#[derive(Debug)]
pub struct SeededHpke;

impl HpkeCrypto for SeededHpke {
    type HpkePrng = SeededPrng;

    fn name() -> String {
        "demls-seeded-rustcrypto".into()
    }

    fn supports_kdf(alg: KdfAlgorithm) -> Result<(), HpkeCryptoError> {
        HpkeRustCrypto::supports_kdf(alg)
    }

    fn supports_kem(alg: KemAlgorithm) -> Result<(), HpkeCryptoError> {
        HpkeRustCrypto::supports_kem(alg)
    }

    fn supports_aead(alg: AeadAlgorithm) -> Result<(), HpkeCryptoError> {
        HpkeRustCrypto::supports_aead(alg)
    }

    fn prng() -> SeededPrng {
        let seed = NEXT_SEED.with(Cell::take).unwrap_or_else(|| {
            // Outside a sealing (never in practice): fall back to the OS.
            Entropy::os()
                .array()
                .expect("a fresh OS entropy source cannot be poisoned")
        });
        SeededPrng(ChaCha20Rng::from_seed(seed))
    }

    fn kdf_extract(alg: KdfAlgorithm, salt: &[u8], ikm: &[u8]) -> Result<Vec<u8>, HpkeCryptoError> {
        HpkeRustCrypto::kdf_extract(alg, salt, ikm)
    }

    fn kdf_expand(
        alg: KdfAlgorithm,
        prk: &[u8],
        info: &[u8],
        output_size: usize,
    ) -> Result<Vec<u8>, HpkeCryptoError> {
        HpkeRustCrypto::kdf_expand(alg, prk, info, output_size)
    }

    fn dh(alg: KemAlgorithm, pk: &[u8], sk: &[u8]) -> Result<Vec<u8>, HpkeCryptoError> {
        HpkeRustCrypto::dh(alg, pk, sk)
    }

    fn secret_to_public(alg: KemAlgorithm, sk: &[u8]) -> Result<Vec<u8>, HpkeCryptoError> {
        HpkeRustCrypto::secret_to_public(alg, sk)
    }

    fn kem_key_gen(
        alg: KemAlgorithm,
        prng: &mut SeededPrng,
    ) -> Result<(Vec<u8>, Vec<u8>), HpkeCryptoError> {
        match alg {
            KemAlgorithm::DhKem25519 => {
                // Any 32 bytes are an X25519 secret (clamped when used).
                let mut sk = vec![0u8; 32];
                prng.0.fill_bytes(&mut sk);
                let pk = HpkeRustCrypto::secret_to_public(alg, &sk)?;
                Ok((pk, sk))
            }
            // Other KEMs are never used by de-MLS groups; they keep RustCrypto's own PRNG.
            _ => HpkeRustCrypto::kem_key_gen(alg, &mut HpkeRustCrypto::prng()),
        }
    }

    fn kem_key_gen_derand(
        alg: KemAlgorithm,
        seed: &[u8],
    ) -> Result<(Vec<u8>, Vec<u8>), HpkeCryptoError> {
        HpkeRustCrypto::kem_key_gen_derand(alg, seed)
    }

    fn kem_encaps(
        alg: KemAlgorithm,
        pk_r: &[u8],
        _prng: &mut SeededPrng,
    ) -> Result<(Vec<u8>, Vec<u8>), HpkeCryptoError> {
        HpkeRustCrypto::kem_encaps(alg, pk_r, &mut HpkeRustCrypto::prng())
    }

    fn kem_decaps(alg: KemAlgorithm, ct: &[u8], sk_r: &[u8]) -> Result<Vec<u8>, HpkeCryptoError> {
        HpkeRustCrypto::kem_decaps(alg, ct, sk_r)
    }

    fn dh_validate_sk(alg: KemAlgorithm, sk: &[u8]) -> Result<Vec<u8>, HpkeCryptoError> {
        HpkeRustCrypto::dh_validate_sk(alg, sk)
    }

    fn aead_seal(
        alg: AeadAlgorithm,
        key: &[u8],
        nonce: &[u8],
        aad: &[u8],
        msg: &[u8],
    ) -> Result<Vec<u8>, HpkeCryptoError> {
        HpkeRustCrypto::aead_seal(alg, key, nonce, aad, msg)
    }

    fn aead_open(
        alg: AeadAlgorithm,
        key: &[u8],
        nonce: &[u8],
        aad: &[u8],
        msg: &[u8],
    ) -> Result<Vec<u8>, HpkeCryptoError> {
        HpkeRustCrypto::aead_open(alg, key, nonce, aad, msg)
    }
}

fn kem(kem: HpkeKemType) -> Result<KemAlgorithm, CryptoError> {
    match kem {
        HpkeKemType::DhKem25519 => Ok(KemAlgorithm::DhKem25519),
        HpkeKemType::DhKemP256 => Ok(KemAlgorithm::DhKemP256),
        HpkeKemType::DhKemP384 => Ok(KemAlgorithm::DhKemP384),
        HpkeKemType::DhKemP521 => Ok(KemAlgorithm::DhKemP521),
        HpkeKemType::DhKem448 => Ok(KemAlgorithm::DhKem448),
        #[allow(unreachable_patterns)]
        _ => Err(CryptoError::UnsupportedKdf),
    }
}

fn kdf(kdf: HpkeKdfType) -> KdfAlgorithm {
    match kdf {
        HpkeKdfType::HkdfSha256 => KdfAlgorithm::HkdfSha256,
        HpkeKdfType::HkdfSha384 => KdfAlgorithm::HkdfSha384,
        HpkeKdfType::HkdfSha512 => KdfAlgorithm::HkdfSha512,
    }
}

fn aead(aead: HpkeAeadType) -> AeadAlgorithm {
    match aead {
        HpkeAeadType::AesGcm128 => AeadAlgorithm::Aes128Gcm,
        HpkeAeadType::AesGcm256 => AeadAlgorithm::Aes256Gcm,
        HpkeAeadType::ChaCha20Poly1305 => AeadAlgorithm::ChaCha20Poly1305,
        HpkeAeadType::Export => AeadAlgorithm::HpkeExport,
    }
}

/// The cryptography and randomness a node uses for OpenMLS: RustCrypto, with the sending side
/// of HPKE keyed from the node's [`Entropy`].
pub struct Crypto {
    rust: RustCrypto,
    entropy: Entropy,
    /// The secret HPKE seeds are derived from (drawn from `entropy` on first use).
    hpke_secret: std::sync::OnceLock<[u8; 32]>,
    /// Ed25519 checks: decoded-key cache, batch mode for joins.
    signatures: super::signatures::Signatures,
}

impl Crypto {
    /// RustCrypto with randomness from `entropy`.
    pub fn new(entropy: Entropy) -> Crypto {
        Crypto {
            rust: RustCrypto::default(),
            entropy,
            hpke_secret: std::sync::OnceLock::new(),
            signatures: Default::default(),
        }
    }

    /// The signature-checking state (cache, batch mode).
    pub(crate) fn signatures(&self) -> &super::signatures::Signatures {
        &self.signatures
    }

    /// The randomness source.
    pub fn entropy(&self) -> &Entropy {
        &self.entropy
    }

    /// An HPKE instance for one sealing whose PRNG is seeded from the engine's secret and
    /// that sealing's `inputs` (independent of the order concurrent sealings run in).
    fn sender(
        &self,
        config: HpkeConfig,
        inputs: &[&[u8]],
    ) -> Result<Hpke<SeededHpke>, CryptoError> {
        let secret = match self.hpke_secret.get() {
            Some(s) => *s,
            None => {
                let drawn = self
                    .entropy
                    .array()
                    .map_err(|_| CryptoError::InsufficientRandomness)?;
                *self.hpke_secret.get_or_init(|| drawn)
            }
        };
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        ctx.update(b"demls/hpke-seed/v1");
        ctx.update(&secret);
        for input in inputs {
            ctx.update(&(input.len() as u64).to_be_bytes());
            ctx.update(input);
        }
        let mut seed = [0u8; 32];
        seed.copy_from_slice(ctx.finish().as_ref());
        NEXT_SEED.with(|s| s.set(Some(seed)));
        Ok(Hpke::new(
            Mode::Base,
            kem(config.0)?,
            kdf(config.1),
            aead(config.2),
        ))
    }
}

impl Default for Crypto {
    fn default() -> Self {
        Crypto::new(Entropy::os())
    }
}

impl std::ops::Deref for Crypto {
    type Target = RustCrypto;

    fn deref(&self) -> &RustCrypto {
        &self.rust
    }
}

impl OpenMlsCrypto for Crypto {
    fn supports(&self, ciphersuite: Ciphersuite) -> Result<(), CryptoError> {
        self.rust.supports(ciphersuite)
    }

    fn supported_ciphersuites(&self) -> Vec<Ciphersuite> {
        self.rust.supported_ciphersuites()
    }

    fn hkdf_extract(
        &self,
        hash_type: HashType,
        salt: &[u8],
        ikm: &[u8],
    ) -> Result<SecretVLBytes, CryptoError> {
        self.rust.hkdf_extract(hash_type, salt, ikm)
    }

    fn hmac(
        &self,
        hash_type: HashType,
        key: &[u8],
        message: &[u8],
    ) -> Result<SecretVLBytes, CryptoError> {
        self.rust.hmac(hash_type, key, message)
    }

    fn hkdf_expand(
        &self,
        hash_type: HashType,
        prk: &[u8],
        info: &[u8],
        okm_len: usize,
    ) -> Result<SecretVLBytes, CryptoError> {
        self.rust.hkdf_expand(hash_type, prk, info, okm_len)
    }

    fn hash(&self, hash_type: HashType, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.rust.hash(hash_type, data)
    }

    fn aead_encrypt(
        &self,
        alg: AeadType,
        key: &[u8],
        data: &[u8],
        nonce: &[u8],
        aad: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        self.rust.aead_encrypt(alg, key, data, nonce, aad)
    }

    fn aead_decrypt(
        &self,
        alg: AeadType,
        key: &[u8],
        ct_tag: &[u8],
        nonce: &[u8],
        aad: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        self.rust.aead_decrypt(alg, key, ct_tag, nonce, aad)
    }

    fn signature_key_gen(&self, alg: SignatureScheme) -> Result<(Vec<u8>, Vec<u8>), CryptoError> {
        self.rust.signature_key_gen(alg)
    }

    fn verify_signature(
        &self,
        alg: SignatureScheme,
        data: &[u8],
        pk: &[u8],
        signature: &[u8],
    ) -> Result<(), CryptoError> {
        match alg {
            SignatureScheme::ED25519 => self.signatures.verify(data, pk, signature),
            _ => self.rust.verify_signature(alg, data, pk, signature),
        }
    }

    fn sign(&self, alg: SignatureScheme, data: &[u8], key: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.rust.sign(alg, data, key)
    }

    fn hpke_seal(
        &self,
        config: HpkeConfig,
        pk_r: &[u8],
        info: &[u8],
        aad: &[u8],
        ptxt: &[u8],
    ) -> Result<HpkeCiphertext, CryptoError> {
        let (kem_output, ciphertext) = self
            .sender(config, &[pk_r, info, aad, ptxt])?
            .seal(&pk_r.into(), info, aad, ptxt, None, None, None)
            .map_err(|e| match e {
                HpkeError::InvalidInput => CryptoError::InvalidLength,
                _ => CryptoError::CryptoLibraryError,
            })?;
        Ok(HpkeCiphertext {
            kem_output: kem_output.into(),
            ciphertext: ciphertext.into(),
        })
    }

    fn hpke_open(
        &self,
        config: HpkeConfig,
        input: &HpkeCiphertext,
        sk_r: &[u8],
        info: &[u8],
        aad: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        self.rust.hpke_open(config, input, sk_r, info, aad)
    }

    fn hpke_setup_sender_and_export(
        &self,
        config: HpkeConfig,
        pk_r: &[u8],
        info: &[u8],
        exporter_context: &[u8],
        exporter_length: usize,
    ) -> Result<(KemOutput, ExporterSecret), CryptoError> {
        let (kem_output, context) = self
            .sender(config, &[pk_r, info, exporter_context])?
            .setup_sender(&pk_r.into(), info, None, None, None)
            .map_err(|_| CryptoError::SenderSetupError)?;
        let secret = context
            .export(exporter_context, exporter_length)
            .map_err(|_| CryptoError::ExporterError)?;
        Ok((kem_output, secret.into()))
    }

    fn hpke_setup_receiver_and_export(
        &self,
        config: HpkeConfig,
        enc: &[u8],
        sk_r: &[u8],
        info: &[u8],
        exporter_context: &[u8],
        exporter_length: usize,
    ) -> Result<ExporterSecret, CryptoError> {
        self.rust.hpke_setup_receiver_and_export(
            config,
            enc,
            sk_r,
            info,
            exporter_context,
            exporter_length,
        )
    }

    fn derive_hpke_keypair(
        &self,
        config: HpkeConfig,
        ikm: &[u8],
    ) -> Result<HpkeKeyPair, CryptoError> {
        self.rust.derive_hpke_keypair(config, ikm)
    }
}
