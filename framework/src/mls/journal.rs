//! The ratchet journal: received application messages whose sender-ratchet advance has not
//! been written to storage yet.
//!
//! Decrypting an application message moves one sender ratchet, and OpenMLS then writes its
//! *whole* message-secrets store (every initialized ratchet of the current and the retained
//! past epochs). At 10,000 active members that store is around a megabyte, so writing it per
//! received message would cost far more than the decryption itself and grow with the group.
//!
//! Instead, while an application message is processed the store's write is skipped
//! ([`MlsStore::defer_secrets`](super::MlsStore)) and the message itself — the
//! `PrivateMessage`, a few hundred bytes — is appended here, in the same step. Loading the
//! group replays the journal in order on top of the last written store, which moves every
//! ratchet exactly as the original processing did (decryption is deterministic). Any full
//! write of the store (sending, merging a commit, or a checkpoint once [`CHECKPOINT_AFTER`]
//! entries accumulate) makes the journal redundant, and it is cleared in that step.
//!
//! What this costs: per received application message one small write instead of one
//! store-sized write; at load, replaying at most [`CHECKPOINT_AFTER`] messages. What it
//! changes: on disk, the keys of up to [`CHECKPOINT_AFTER`] already-consumed generations stay
//! derivable until the next checkpoint. Their plaintexts are in the same storage already (the
//! message history and the consensus records), so this discloses nothing more to someone who
//! reads the disk; in memory, keys are deleted as soon as they are used, as before.
//! Encryption is never deferred: a generation this member used to send is on disk before the
//! ciphertext leaves, so a crash can never make it reuse a key and nonce.

use openmls::prelude::tls_codec::{Deserialize as _, Serialize as _};
use openmls::prelude::{PrivateMessageIn, ProtocolMessage};
use serde::Serialize;

use super::store::{MlsStore, MlsStoreError};
use crate::storage::Space;

/// Journal entries after which the next received message triggers a full write.
pub(crate) const CHECKPOINT_AFTER: usize = 128;

const JOURNAL: &[u8] = b"ratchet_journal";

fn prefix(group_id: &impl Serialize) -> Result<Vec<u8>, MlsStoreError> {
    MlsStore::key(JOURNAL, group_id)
}

/// Appends entry number `seq` (counted from the last full write).
pub(crate) fn append(
    store: &MlsStore<'_, '_>,
    group_id: &impl Serialize,
    seq: usize,
    message: &PrivateMessageIn,
) -> Result<(), MlsStoreError> {
    let bytes = message
        .tls_serialize_detached()
        .map_err(|e| MlsStoreError::Encoding(e.to_string()))?;
    let mut key = prefix(group_id)?;
    key.extend_from_slice(&(seq as u32).to_be_bytes());
    store.txn().put(Space::Mls, key, bytes);
    Ok(())
}

/// The journaled messages, oldest first.
pub(crate) fn entries(
    store: &MlsStore<'_, '_>,
    group_id: &impl Serialize,
) -> Result<Vec<ProtocolMessage>, MlsStoreError> {
    store
        .txn()
        .scan_prefix(Space::Mls, &prefix(group_id)?)?
        .into_iter()
        .map(|(_, bytes)| {
            PrivateMessageIn::tls_deserialize_exact(bytes.as_slice())
                .map(ProtocolMessage::from)
                .map_err(|e| MlsStoreError::Encoding(format!("ratchet journal entry: {e}")))
        })
        .collect()
}

/// Forgets every entry (the store was just written in full, or the group is gone).
pub(crate) fn clear(
    store: &MlsStore<'_, '_>,
    group_id: &impl Serialize,
) -> Result<(), MlsStoreError> {
    store.txn().delete_prefix(Space::Mls, prefix(group_id)?);
    Ok(())
}
