//! Where the engine's randomness comes from: the operating system in production, or a seed in
//! the deterministic simulator so that a run can be replayed exactly.
//!
//! Every random byte the engine uses — OpenMLS's (key packages, path secrets, reuse guards),
//! message ids and commit-envelope nonces — is drawn from the engine's [`Entropy`]. A seeded
//! source is a ChaCha20 stream; an OS source is a ChaCha20 stream seeded from the OS.

use std::sync::Mutex;

use openmls_traits::random::OpenMlsRand;
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

/// A cryptographically secure random byte source.
pub struct Entropy {
    rng: Mutex<ChaCha20Rng>,
}

/// The entropy source failed (a poisoned lock after a panic elsewhere).
#[derive(Debug, thiserror::Error)]
#[error("entropy source unavailable")]
pub struct EntropyError;

impl Entropy {
    /// A source seeded from the operating system.
    pub fn os() -> Entropy {
        let mut seed = [0u8; 32];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut seed)
            .expect("the system random number generator failed");
        Entropy {
            rng: Mutex::new(ChaCha20Rng::from_seed(seed)),
        }
    }

    /// A deterministic source: the same seed yields the same bytes. For simulations and tests
    /// only.
    pub fn seeded(seed: [u8; 32]) -> Entropy {
        Entropy {
            rng: Mutex::new(ChaCha20Rng::from_seed(seed)),
        }
    }

    /// Fills `buf` with random bytes.
    pub fn fill(&self, buf: &mut [u8]) -> Result<(), EntropyError> {
        self.rng.lock().map_err(|_| EntropyError)?.fill_bytes(buf);
        Ok(())
    }

    /// `N` random bytes.
    pub fn array<const N: usize>(&self) -> Result<[u8; N], EntropyError> {
        let mut out = [0u8; N];
        self.fill(&mut out)?;
        Ok(out)
    }
}

impl OpenMlsRand for Entropy {
    type Error = EntropyError;

    fn random_array<const N: usize>(&self) -> Result<[u8; N], Self::Error> {
        self.array()
    }

    fn random_vec(&self, len: usize) -> Result<Vec<u8>, Self::Error> {
        let mut out = vec![0u8; len];
        self.fill(&mut out)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_sources_repeat_and_os_sources_do_not() {
        let (a, b) = (Entropy::seeded([1; 32]), Entropy::seeded([1; 32]));
        assert_eq!(a.array::<32>().unwrap(), b.array::<32>().unwrap());
        assert_ne!(
            Entropy::seeded([2; 32]).array::<32>().unwrap(),
            Entropy::seeded([1; 32]).array::<32>().unwrap()
        );
        assert_ne!(
            Entropy::os().array::<32>().unwrap(),
            Entropy::os().array::<32>().unwrap()
        );
    }
}
