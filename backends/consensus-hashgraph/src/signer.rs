//! The member's identity key as the consensus crate's vote signer.

use std::sync::Arc;

use consensus_hashgraph::{Signer, SignerError};
use demls::IdentitySigner;

/// Signs votes with the member's identity key.
pub(crate) struct IdentityVoteSigner(pub Arc<dyn IdentitySigner>);

impl Signer for IdentityVoteSigner {
    fn public_key(&self) -> &[u8] {
        self.0.public_key()
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignerError> {
        Ok(self.0.sign(message))
    }
}
