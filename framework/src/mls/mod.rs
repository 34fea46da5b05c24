//! OpenMLS behind one module: the storage provider over [`Storage`](crate::Storage), the
//! provider bundle, and [`MlsState`], the wrapper the engine uses for every MLS operation.

mod chunks;
mod crypto;
mod group;
mod journal;
mod provider;
mod secrets;
mod signatures;
mod store;

pub use crypto::Crypto;
pub use group::{
    CommitChanges, GENESIS_LEN, MlsError, MlsParams, MlsState, Processed, ValidKeyPackage,
    claimed_key_package_member, commit_outline, decode_welcome, leaf_encryption_key,
    new_key_package, validate_key_package,
};
pub use provider::Provider;

#[cfg(test)]
mod tests;
