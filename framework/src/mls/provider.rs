//! The `OpenMlsProvider` of one engine step: RustCrypto for cryptography and randomness, and
//! [`MlsStore`] over the step's transaction for storage.

use openmls_rust_crypto::RustCrypto;
use openmls_traits::OpenMlsProvider;

use super::store::MlsStore;
use crate::txn::Txn;

/// Bundles crypto and the step's storage for OpenMLS calls.
pub struct Provider<'a, 't, 's> {
    crypto: &'a RustCrypto,
    storage: MlsStore<'t, 's>,
}

impl<'a, 't, 's> Provider<'a, 't, 's> {
    /// A provider whose writes land in `txn`.
    pub fn new(crypto: &'a RustCrypto, txn: &'t Txn<'s>) -> Self {
        Provider {
            crypto,
            storage: MlsStore::new(txn),
        }
    }
}

impl<'t, 's> OpenMlsProvider for Provider<'_, 't, 's> {
    type CryptoProvider = RustCrypto;
    type RandProvider = RustCrypto;
    type StorageProvider = MlsStore<'t, 's>;

    fn storage(&self) -> &Self::StorageProvider {
        &self.storage
    }

    fn crypto(&self) -> &Self::CryptoProvider {
        self.crypto
    }

    fn rand(&self) -> &Self::RandProvider {
        self.crypto
    }
}
