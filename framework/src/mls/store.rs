//! OpenMLS's `StorageProvider`, implemented once over any [`Storage`](crate::Storage) backend
//! through the step's [`Txn`].
//!
//! Entities are encoded with postcard (compact binary; JSON for the few entities that need a
//! self-describing format) instead of the JSON used by OpenMLS's
//! own memory provider: at 10,000 members the ratchet tree is written on every merge, and the
//! encoding is most of that cost. Keys are `label ‖ 0x1f ‖ postcard(key)` in [`Space::Mls`].

use std::cell::Cell;

use openmls_traits::storage::{CURRENT_VERSION, StorageProvider, traits};
use serde::Serialize;

use super::chunks::Chunked;
use super::secrets::{self, Hole};
use crate::storage::{Space, StorageError};
use crate::txn::Txn;

/// Why the OpenMLS storage provider failed.
#[derive(Debug, thiserror::Error)]
pub enum MlsStoreError {
    /// The storage backend failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A stored entity could not be encoded or decoded.
    #[error("MLS entity codec error: {0}")]
    Codec(#[from] postcard::Error),
    /// A stored JSON entity could not be encoded or decoded.
    #[error("MLS entity codec error: {0}")]
    Json(#[from] serde_json::Error),
    /// An MLS message kept in the ratchet journal could not be encoded or decoded.
    #[error("MLS message codec error: {0}")]
    Encoding(String),
}

/// Entities whose serde implementation needs a self-describing format (OpenMLS deserializes
/// the join config's past-epoch deletion policy as an untagged enum). They are tiny, so JSON
/// costs nothing; everything else is postcard.
const JSON_LABELS: &[&[u8]] = &[JOIN_CONFIG];

fn encode(label: &[u8], value: &impl Serialize) -> Result<Vec<u8>, MlsStoreError> {
    if JSON_LABELS.contains(&label) {
        Ok(serde_json::to_vec(value)?)
    } else {
        Ok(postcard::to_allocvec(value)?)
    }
}

fn decode<V: serde::de::DeserializeOwned>(label: &[u8], bytes: &[u8]) -> Result<V, MlsStoreError> {
    if JSON_LABELS.contains(&label) {
        Ok(serde_json::from_slice(bytes)?)
    } else {
        Ok(postcard::from_bytes(bytes)?)
    }
}

/// The OpenMLS storage provider of one engine step.
pub struct MlsStore<'t, 's> {
    txn: &'t Txn<'s>,
    /// While set, OpenMLS's writes of the message-secrets store are skipped (and noted in
    /// `deferred`): the caller journals the message instead (see [`super::journal`]).
    defer_secrets: Cell<bool>,
    deferred: Cell<bool>,
    /// Set when the message-secrets store was written in full.
    wrote_secrets: Cell<bool>,
}

impl<'t, 's> MlsStore<'t, 's> {
    /// Wraps the step's transaction.
    pub fn new(txn: &'t Txn<'s>) -> Self {
        MlsStore {
            txn,
            defer_secrets: Cell::new(false),
            deferred: Cell::new(false),
            wrote_secrets: Cell::new(false),
        }
    }

    /// The step's transaction.
    pub(crate) fn txn(&self) -> &'t Txn<'s> {
        self.txn
    }

    /// Skips (`true`) or performs (`false`) writes of the message-secrets store from now on.
    pub(crate) fn defer_secrets(&self, on: bool) {
        self.defer_secrets.set(on);
    }

    /// True (once) if a write of the message-secrets store was skipped since the last call.
    pub(crate) fn take_deferred(&self) -> bool {
        self.deferred.replace(false)
    }

    /// True (once) if the message-secrets store was written in full since the last call.
    pub(crate) fn take_wrote_secrets(&self) -> bool {
        self.wrote_secrets.replace(false)
    }

    /// The key of a group's tree manifest and the prefix of its tree chunks.
    fn tree_keys(group_id: &impl Serialize) -> Result<(Vec<u8>, Vec<u8>), MlsStoreError> {
        let mut prefix = Self::key(TREE_CHUNK, group_id)?;
        prefix.push(0x1f);
        Ok((Self::key(TREE_MANIFEST, group_id)?, prefix))
    }

    pub(crate) fn key(label: &[u8], key: &impl Serialize) -> Result<Vec<u8>, MlsStoreError> {
        let mut out = Vec::with_capacity(label.len() + 40);
        out.extend_from_slice(label);
        out.push(0x1f);
        let encoded = postcard::to_allocvec(key)?;
        out.extend_from_slice(&encoded);
        Ok(out)
    }

    fn write(
        &self,
        label: &[u8],
        key: &impl Serialize,
        value: &impl Serialize,
    ) -> Result<(), MlsStoreError> {
        let value = encode(label, value)?;
        self.txn.put(Space::Mls, Self::key(label, key)?, value);
        Ok(())
    }

    fn read<V: serde::de::DeserializeOwned>(
        &self,
        label: &[u8],
        key: &impl Serialize,
    ) -> Result<Option<V>, MlsStoreError> {
        match self.txn.get(Space::Mls, &Self::key(label, key)?)? {
            Some(bytes) => decode(label, &bytes).map(Some),
            None => Ok(None),
        }
    }

    fn delete(&self, label: &[u8], key: &impl Serialize) -> Result<(), MlsStoreError> {
        self.txn.delete(Space::Mls, Self::key(label, key)?);
        Ok(())
    }

    /// Deletes every epoch key pair (leaf HPKE private keys of past and current epochs) kept for
    /// `group_id`. OpenMLS's group deletion leaves them behind; a member that left must keep
    /// nothing it could still decrypt with.
    pub fn forget_epoch_key_pairs(&self, group_id: &impl Serialize) -> Result<(), MlsStoreError> {
        self.txn
            .delete_prefix(Space::Mls, Self::key(EPOCH_KEY_PAIRS, group_id)?);
        Ok(())
    }

    /// Writes a message-secrets store split by [`secrets::split`]: the body, the holes when
    /// they changed, the member lists not held yet; lists no hole refers to any more are
    /// deleted. A store still in the one-record encoding is replaced.
    fn write_split_secrets(
        &self,
        group_id: &impl Serialize,
        value: &impl Serialize,
    ) -> Result<(), MlsStoreError> {
        let before: Option<Vec<Hole>> = self.read(MESSAGE_SECRETS_HOLES, group_id)?;
        let old = before.clone().unwrap_or_default();
        let split = secrets::split(value, &|d| old.iter().any(|h| h.digest == *d))?;
        for (digest, list) in &split.new_lists {
            self.txn.put(
                Space::Mls,
                Self::key(MESSAGE_SECRETS_LIST, &(group_id, digest))?,
                list.clone(),
            );
        }
        for gone in old
            .iter()
            .filter(|o| !split.holes.iter().any(|h| h.digest == o.digest))
        {
            self.delete(MESSAGE_SECRETS_LIST, &(group_id, &gone.digest))?;
        }
        if before.as_ref() != Some(&split.holes) {
            self.write(MESSAGE_SECRETS_HOLES, group_id, &split.holes)?;
        }
        if before.is_none() {
            self.delete(MESSAGE_SECRETS, group_id)?;
        }
        self.txn.put(
            Space::Mls,
            Self::key(MESSAGE_SECRETS_BODY, group_id)?,
            split.body,
        );
        Ok(())
    }

    /// Reads a message-secrets store: the split encoding, or the older one-record encoding.
    fn read_split_secrets<V: serde::de::DeserializeOwned>(
        &self,
        group_id: &impl Serialize,
    ) -> Result<Option<V>, MlsStoreError> {
        let Some(holes) = self.read::<Vec<Hole>>(MESSAGE_SECRETS_HOLES, group_id)? else {
            return self.read(MESSAGE_SECRETS, group_id);
        };
        let corrupt =
            |what: &'static str| MlsStoreError::Storage(StorageError::Corrupt(what.into()));
        let body = self
            .txn
            .get(Space::Mls, &Self::key(MESSAGE_SECRETS_BODY, group_id)?)?
            .ok_or_else(|| corrupt("message secrets: holes without a body"))?;
        let bytes = secrets::join(
            &body,
            &holes,
            |digest| {
                self.txn
                    .get(
                        Space::Mls,
                        &Self::key(MESSAGE_SECRETS_LIST, &(group_id, digest))?,
                    )?
                    .ok_or_else(|| corrupt("message secrets: a member list is missing"))
            },
            corrupt,
        )?;
        Ok(Some(postcard::from_bytes(&bytes)?))
    }

    /// Lists are stored as a postcard vector of individually encoded items, so items can be
    /// compared by bytes without knowing their type.
    fn read_raw_list(
        &self,
        label: &[u8],
        key: &impl Serialize,
    ) -> Result<Vec<Vec<u8>>, MlsStoreError> {
        Ok(self.read::<Vec<Vec<u8>>>(label, key)?.unwrap_or_default())
    }

    fn append(
        &self,
        label: &[u8],
        key: &impl Serialize,
        item: &impl Serialize,
    ) -> Result<(), MlsStoreError> {
        let mut list = self.read_raw_list(label, key)?;
        list.push(postcard::to_allocvec(item)?);
        self.write(label, key, &list)
    }

    fn remove_item(
        &self,
        label: &[u8],
        key: &impl Serialize,
        item: &impl Serialize,
    ) -> Result<(), MlsStoreError> {
        let mut list = self.read_raw_list(label, key)?;
        let item = postcard::to_allocvec(item)?;
        if let Some(pos) = list.iter().position(|stored| *stored == item) {
            list.remove(pos);
        }
        self.write(label, key, &list)
    }

    fn read_list<V: serde::de::DeserializeOwned>(
        &self,
        label: &[u8],
        key: &impl Serialize,
    ) -> Result<Vec<V>, MlsStoreError> {
        self.read_raw_list(label, key)?
            .iter()
            .map(|bytes| postcard::from_bytes(bytes).map_err(MlsStoreError::from))
            .collect()
    }
}

const JOIN_CONFIG: &[u8] = b"join_config";
const OWN_LEAF_NODES: &[u8] = b"own_leaf_nodes";
const PROPOSAL_REFS: &[u8] = b"proposal_refs";
const QUEUED_PROPOSAL: &[u8] = b"queued_proposal";
/// The whole tree in one record: the encoding before [`super::chunks`], still read (and then
/// replaced) when found.
const TREE: &[u8] = b"tree";
/// The tree's chunk manifest, and the prefix of its chunks (see [`super::chunks`]).
const TREE_MANIFEST: &[u8] = b"tree_manifest";
const TREE_CHUNK: &[u8] = b"tree_chunk";
const INTERIM_TRANSCRIPT_HASH: &[u8] = b"interim_transcript_hash";
const CONTEXT: &[u8] = b"context";
const CONFIRMATION_TAG: &[u8] = b"confirmation_tag";
const GROUP_STATE: &[u8] = b"group_state";
/// The whole message-secrets store in one postcard record: the encoding before
/// [`super::secrets`], still read (and then replaced) when found.
const MESSAGE_SECRETS: &[u8] = b"message_secrets";
/// The message-secrets store without its past epochs' member lists.
const MESSAGE_SECRETS_BODY: &[u8] = b"message_secrets_body";
/// Where the member lists go in that body, and their digests.
const MESSAGE_SECRETS_HOLES: &[u8] = b"message_secrets_holes";
/// One past epoch's member list, under (group, digest of its group context).
const MESSAGE_SECRETS_LIST: &[u8] = b"message_secrets_list";
const RESUMPTION_PSK_STORE: &[u8] = b"resumption_psk_store";
const OWN_LEAF_INDEX: &[u8] = b"own_leaf_index";
const EPOCH_SECRETS: &[u8] = b"epoch_secrets";
const SIGNATURE_KEY_PAIR: &[u8] = b"signature_key_pair";
const ENCRYPTION_KEY_PAIR: &[u8] = b"encryption_key_pair";
const EPOCH_KEY_PAIRS: &[u8] = b"epoch_key_pairs";
const KEY_PACKAGE: &[u8] = b"key_package";
const PSK: &[u8] = b"psk";

impl StorageProvider<CURRENT_VERSION> for MlsStore<'_, '_> {
    type Error = MlsStoreError;

    fn write_mls_join_config<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        MlsGroupJoinConfig: traits::MlsGroupJoinConfig<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        config: &MlsGroupJoinConfig,
    ) -> Result<(), Self::Error> {
        self.write(JOIN_CONFIG, group_id, config)
    }

    fn append_own_leaf_node<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        LeafNode: traits::LeafNode<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        leaf_node: &LeafNode,
    ) -> Result<(), Self::Error> {
        self.append(OWN_LEAF_NODES, group_id, leaf_node)
    }

    fn queue_proposal<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        ProposalRef: traits::ProposalRef<CURRENT_VERSION>,
        QueuedProposal: traits::QueuedProposal<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        proposal_ref: &ProposalRef,
        proposal: &QueuedProposal,
    ) -> Result<(), Self::Error> {
        self.write(QUEUED_PROPOSAL, &(group_id, proposal_ref), proposal)?;
        self.append(PROPOSAL_REFS, group_id, proposal_ref)
    }

    fn write_tree<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        TreeSync: traits::TreeSync<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        tree: &TreeSync,
    ) -> Result<(), Self::Error> {
        let (manifest_key, chunk_prefix) = Self::tree_keys(group_id)?;
        let chunked = Chunked {
            manifest_key: &manifest_key,
            chunk_prefix: &chunk_prefix,
        };
        if chunked.manifest(self.txn)?.is_none() {
            self.delete(TREE, group_id)?; // the whole-tree record of an older version
        }
        chunked.write(self.txn, &encode(TREE, tree)?)?;
        Ok(())
    }

    fn write_interim_transcript_hash<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        InterimTranscriptHash: traits::InterimTranscriptHash<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        interim_transcript_hash: &InterimTranscriptHash,
    ) -> Result<(), Self::Error> {
        self.write(INTERIM_TRANSCRIPT_HASH, group_id, interim_transcript_hash)
    }

    fn write_context<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        GroupContext: traits::GroupContext<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        group_context: &GroupContext,
    ) -> Result<(), Self::Error> {
        self.write(CONTEXT, group_id, group_context)
    }

    fn write_confirmation_tag<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        ConfirmationTag: traits::ConfirmationTag<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        confirmation_tag: &ConfirmationTag,
    ) -> Result<(), Self::Error> {
        self.write(CONFIRMATION_TAG, group_id, confirmation_tag)
    }

    fn write_group_state<
        GroupState: traits::GroupState<CURRENT_VERSION>,
        GroupId: traits::GroupId<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        group_state: &GroupState,
    ) -> Result<(), Self::Error> {
        self.write(GROUP_STATE, group_id, group_state)
    }

    fn write_message_secrets<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        MessageSecrets: traits::MessageSecrets<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        message_secrets: &MessageSecrets,
    ) -> Result<(), Self::Error> {
        if self.defer_secrets.get() {
            self.deferred.set(true);
            return Ok(());
        }
        self.wrote_secrets.set(true);
        self.write_split_secrets(group_id, message_secrets)
    }

    fn write_resumption_psk_store<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        ResumptionPskStore: traits::ResumptionPskStore<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        resumption_psk_store: &ResumptionPskStore,
    ) -> Result<(), Self::Error> {
        self.write(RESUMPTION_PSK_STORE, group_id, resumption_psk_store)
    }

    fn write_own_leaf_index<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        LeafNodeIndex: traits::LeafNodeIndex<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        own_leaf_index: &LeafNodeIndex,
    ) -> Result<(), Self::Error> {
        self.write(OWN_LEAF_INDEX, group_id, own_leaf_index)
    }

    fn write_group_epoch_secrets<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        GroupEpochSecrets: traits::GroupEpochSecrets<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        group_epoch_secrets: &GroupEpochSecrets,
    ) -> Result<(), Self::Error> {
        self.write(EPOCH_SECRETS, group_id, group_epoch_secrets)
    }

    fn write_signature_key_pair<
        SignaturePublicKey: traits::SignaturePublicKey<CURRENT_VERSION>,
        SignatureKeyPair: traits::SignatureKeyPair<CURRENT_VERSION>,
    >(
        &self,
        public_key: &SignaturePublicKey,
        signature_key_pair: &SignatureKeyPair,
    ) -> Result<(), Self::Error> {
        self.write(SIGNATURE_KEY_PAIR, public_key, signature_key_pair)
    }

    fn write_encryption_key_pair<
        EncryptionKey: traits::EncryptionKey<CURRENT_VERSION>,
        HpkeKeyPair: traits::HpkeKeyPair<CURRENT_VERSION>,
    >(
        &self,
        public_key: &EncryptionKey,
        key_pair: &HpkeKeyPair,
    ) -> Result<(), Self::Error> {
        self.write(ENCRYPTION_KEY_PAIR, public_key, key_pair)
    }

    fn write_encryption_epoch_key_pairs<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        EpochKey: traits::EpochKey<CURRENT_VERSION>,
        HpkeKeyPair: traits::HpkeKeyPair<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        epoch: &EpochKey,
        leaf_index: u32,
        key_pairs: &[HpkeKeyPair],
    ) -> Result<(), Self::Error> {
        self.write(EPOCH_KEY_PAIRS, &(group_id, epoch, leaf_index), &key_pairs)
    }

    fn write_key_package<
        HashReference: traits::HashReference<CURRENT_VERSION>,
        KeyPackage: traits::KeyPackage<CURRENT_VERSION>,
    >(
        &self,
        hash_ref: &HashReference,
        key_package: &KeyPackage,
    ) -> Result<(), Self::Error> {
        self.write(KEY_PACKAGE, hash_ref, key_package)
    }

    fn write_psk<
        PskId: traits::PskId<CURRENT_VERSION>,
        PskBundle: traits::PskBundle<CURRENT_VERSION>,
    >(
        &self,
        psk_id: &PskId,
        psk: &PskBundle,
    ) -> Result<(), Self::Error> {
        self.write(PSK, psk_id, psk)
    }

    fn mls_group_join_config<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        MlsGroupJoinConfig: traits::MlsGroupJoinConfig<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> Result<Option<MlsGroupJoinConfig>, Self::Error> {
        self.read(JOIN_CONFIG, group_id)
    }

    fn own_leaf_nodes<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        LeafNode: traits::LeafNode<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> Result<Vec<LeafNode>, Self::Error> {
        self.read_list(OWN_LEAF_NODES, group_id)
    }

    fn queued_proposal_refs<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        ProposalRef: traits::ProposalRef<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> Result<Vec<ProposalRef>, Self::Error> {
        self.read_list(PROPOSAL_REFS, group_id)
    }

    fn queued_proposals<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        ProposalRef: traits::ProposalRef<CURRENT_VERSION>,
        QueuedProposal: traits::QueuedProposal<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> Result<Vec<(ProposalRef, QueuedProposal)>, Self::Error> {
        let refs: Vec<ProposalRef> = self.read_list(PROPOSAL_REFS, group_id)?;
        let mut out = Vec::with_capacity(refs.len());
        for proposal_ref in refs {
            if let Some(proposal) = self.read(QUEUED_PROPOSAL, &(group_id, &proposal_ref))? {
                out.push((proposal_ref, proposal));
            }
        }
        Ok(out)
    }

    fn tree<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        TreeSync: traits::TreeSync<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> Result<Option<TreeSync>, Self::Error> {
        let (manifest_key, chunk_prefix) = Self::tree_keys(group_id)?;
        let chunked = Chunked {
            manifest_key: &manifest_key,
            chunk_prefix: &chunk_prefix,
        };
        match chunked.read(self.txn)? {
            Some(bytes) => decode(TREE, &bytes).map(Some),
            None => self.read(TREE, group_id),
        }
    }

    fn group_context<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        GroupContext: traits::GroupContext<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> Result<Option<GroupContext>, Self::Error> {
        self.read(CONTEXT, group_id)
    }

    fn interim_transcript_hash<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        InterimTranscriptHash: traits::InterimTranscriptHash<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> Result<Option<InterimTranscriptHash>, Self::Error> {
        self.read(INTERIM_TRANSCRIPT_HASH, group_id)
    }

    fn confirmation_tag<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        ConfirmationTag: traits::ConfirmationTag<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> Result<Option<ConfirmationTag>, Self::Error> {
        self.read(CONFIRMATION_TAG, group_id)
    }

    fn group_state<
        GroupState: traits::GroupState<CURRENT_VERSION>,
        GroupId: traits::GroupId<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> Result<Option<GroupState>, Self::Error> {
        self.read(GROUP_STATE, group_id)
    }

    fn message_secrets<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        MessageSecrets: traits::MessageSecrets<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> Result<Option<MessageSecrets>, Self::Error> {
        self.read_split_secrets(group_id)
    }

    fn resumption_psk_store<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        ResumptionPskStore: traits::ResumptionPskStore<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> Result<Option<ResumptionPskStore>, Self::Error> {
        self.read(RESUMPTION_PSK_STORE, group_id)
    }

    fn own_leaf_index<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        LeafNodeIndex: traits::LeafNodeIndex<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> Result<Option<LeafNodeIndex>, Self::Error> {
        self.read(OWN_LEAF_INDEX, group_id)
    }

    fn group_epoch_secrets<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        GroupEpochSecrets: traits::GroupEpochSecrets<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> Result<Option<GroupEpochSecrets>, Self::Error> {
        self.read(EPOCH_SECRETS, group_id)
    }

    fn signature_key_pair<
        SignaturePublicKey: traits::SignaturePublicKey<CURRENT_VERSION>,
        SignatureKeyPair: traits::SignatureKeyPair<CURRENT_VERSION>,
    >(
        &self,
        public_key: &SignaturePublicKey,
    ) -> Result<Option<SignatureKeyPair>, Self::Error> {
        self.read(SIGNATURE_KEY_PAIR, public_key)
    }

    fn encryption_key_pair<
        HpkeKeyPair: traits::HpkeKeyPair<CURRENT_VERSION>,
        EncryptionKey: traits::EncryptionKey<CURRENT_VERSION>,
    >(
        &self,
        public_key: &EncryptionKey,
    ) -> Result<Option<HpkeKeyPair>, Self::Error> {
        self.read(ENCRYPTION_KEY_PAIR, public_key)
    }

    fn encryption_epoch_key_pairs<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        EpochKey: traits::EpochKey<CURRENT_VERSION>,
        HpkeKeyPair: traits::HpkeKeyPair<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        epoch: &EpochKey,
        leaf_index: u32,
    ) -> Result<Vec<HpkeKeyPair>, Self::Error> {
        Ok(self
            .read(EPOCH_KEY_PAIRS, &(group_id, epoch, leaf_index))?
            .unwrap_or_default())
    }

    fn key_package<
        KeyPackageRef: traits::HashReference<CURRENT_VERSION>,
        KeyPackage: traits::KeyPackage<CURRENT_VERSION>,
    >(
        &self,
        hash_ref: &KeyPackageRef,
    ) -> Result<Option<KeyPackage>, Self::Error> {
        self.read(KEY_PACKAGE, hash_ref)
    }

    fn psk<PskBundle: traits::PskBundle<CURRENT_VERSION>, PskId: traits::PskId<CURRENT_VERSION>>(
        &self,
        psk_id: &PskId,
    ) -> Result<Option<PskBundle>, Self::Error> {
        self.read(PSK, psk_id)
    }

    fn remove_proposal<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        ProposalRef: traits::ProposalRef<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        proposal_ref: &ProposalRef,
    ) -> Result<(), Self::Error> {
        self.remove_item(PROPOSAL_REFS, group_id, proposal_ref)?;
        self.delete(QUEUED_PROPOSAL, &(group_id, proposal_ref))
    }

    fn delete_own_leaf_nodes<GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
    ) -> Result<(), Self::Error> {
        self.delete(OWN_LEAF_NODES, group_id)
    }

    fn delete_group_config<GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
    ) -> Result<(), Self::Error> {
        self.delete(JOIN_CONFIG, group_id)
    }

    fn delete_tree<GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
    ) -> Result<(), Self::Error> {
        let (manifest_key, chunk_prefix) = Self::tree_keys(group_id)?;
        Chunked {
            manifest_key: &manifest_key,
            chunk_prefix: &chunk_prefix,
        }
        .delete(self.txn)?;
        self.delete(TREE, group_id)
    }

    fn delete_confirmation_tag<GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
    ) -> Result<(), Self::Error> {
        self.delete(CONFIRMATION_TAG, group_id)
    }

    fn delete_group_state<GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
    ) -> Result<(), Self::Error> {
        self.delete(GROUP_STATE, group_id)
    }

    fn delete_context<GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
    ) -> Result<(), Self::Error> {
        self.delete(CONTEXT, group_id)
    }

    fn delete_interim_transcript_hash<GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
    ) -> Result<(), Self::Error> {
        self.delete(INTERIM_TRANSCRIPT_HASH, group_id)
    }

    fn delete_message_secrets<GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
    ) -> Result<(), Self::Error> {
        self.delete(MESSAGE_SECRETS, group_id)?;
        self.delete(MESSAGE_SECRETS_BODY, group_id)?;
        self.delete(MESSAGE_SECRETS_HOLES, group_id)?;
        self.txn
            .delete_prefix(Space::Mls, Self::key(MESSAGE_SECRETS_LIST, group_id)?);
        super::journal::clear(self, group_id)
    }

    fn delete_all_resumption_psk_secrets<GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
    ) -> Result<(), Self::Error> {
        self.delete(RESUMPTION_PSK_STORE, group_id)
    }

    fn delete_own_leaf_index<GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
    ) -> Result<(), Self::Error> {
        self.delete(OWN_LEAF_INDEX, group_id)
    }

    fn delete_group_epoch_secrets<GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
    ) -> Result<(), Self::Error> {
        self.delete(EPOCH_SECRETS, group_id)
    }

    fn clear_proposal_queue<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        ProposalRef: traits::ProposalRef<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> Result<(), Self::Error> {
        let refs: Vec<ProposalRef> = self.read_list(PROPOSAL_REFS, group_id)?;
        for proposal_ref in refs {
            self.delete(QUEUED_PROPOSAL, &(group_id, &proposal_ref))?;
        }
        self.delete(PROPOSAL_REFS, group_id)
    }

    fn delete_signature_key_pair<
        SignaturePublicKey: traits::SignaturePublicKey<CURRENT_VERSION>,
    >(
        &self,
        public_key: &SignaturePublicKey,
    ) -> Result<(), Self::Error> {
        self.delete(SIGNATURE_KEY_PAIR, public_key)
    }

    fn delete_encryption_key_pair<EncryptionKey: traits::EncryptionKey<CURRENT_VERSION>>(
        &self,
        public_key: &EncryptionKey,
    ) -> Result<(), Self::Error> {
        self.delete(ENCRYPTION_KEY_PAIR, public_key)
    }

    fn delete_encryption_epoch_key_pairs<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        EpochKey: traits::EpochKey<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        epoch: &EpochKey,
        leaf_index: u32,
    ) -> Result<(), Self::Error> {
        self.delete(EPOCH_KEY_PAIRS, &(group_id, epoch, leaf_index))
    }

    fn delete_key_package<KeyPackageRef: traits::HashReference<CURRENT_VERSION>>(
        &self,
        hash_ref: &KeyPackageRef,
    ) -> Result<(), Self::Error> {
        self.delete(KEY_PACKAGE, hash_ref)
    }

    fn delete_psk<PskKey: traits::PskId<CURRENT_VERSION>>(
        &self,
        psk_id: &PskKey,
    ) -> Result<(), Self::Error> {
        self.delete(PSK, psk_id)
    }
}
