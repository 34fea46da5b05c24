//! The `OpenMlsProvider` of one engine step: [`Crypto`] for cryptography, the engine's
//! [`Entropy`] for randomness, and [`MlsStore`] over the step's transaction for storage.

use openmls_traits::OpenMlsProvider;

use super::crypto::Crypto;
use super::store::MlsStore;
use crate::entropy::Entropy;
use crate::txn::Txn;

/// Bundles crypto, randomness and the step's storage for OpenMLS calls.
pub struct Provider<'a, 't, 's> {
    crypto: &'a Crypto,
    storage: MlsStore<'t, 's>,
}

impl<'a, 't, 's> Provider<'a, 't, 's> {
    /// A provider whose writes land in `txn`.
    pub fn new(crypto: &'a Crypto, txn: &'t Txn<'s>) -> Self {
        Provider {
            crypto,
            storage: MlsStore::new(txn),
        }
    }
}

impl<'t, 's> OpenMlsProvider for Provider<'_, 't, 's> {
    type CryptoProvider = Crypto;
    type RandProvider = Entropy;
    type StorageProvider = MlsStore<'t, 's>;

    fn storage(&self) -> &Self::StorageProvider {
        &self.storage
    }

    fn crypto(&self) -> &Self::CryptoProvider {
        self.crypto
    }

    fn rand(&self) -> &Self::RandProvider {
        self.crypto.entropy()
    }
}

impl Crypto {
    /// A provider for one step whose writes land in `txn` (the harnesses' way in; the engine
    /// builds its providers itself).
    #[cfg_attr(not(feature = "internals"), allow(dead_code))]
    pub fn provider<'a, 't, 's>(&'a self, txn: &'t Txn<'s>) -> Provider<'a, 't, 's> {
        Provider::new(self, txn)
    }
}
