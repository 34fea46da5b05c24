//! The one place that drives OpenMLS for a group: create, join, encrypt, process, commit,
//! merge, export. The rest of the engine speaks in epochs, members and commits and never
//! touches OpenMLS types directly.
//!
//! Handshake messages (commits) are MLS `PublicMessage`s: they are signed, not encrypted by
//! MLS, so a member can re-process a retained commit after a crash or while catching up without
//! any ratchet state. The engine wraps them in an epoch-keyed AEAD envelope (see
//! [`crate::wire::sealed`]) so outsiders still cannot read them. Application messages are MLS
//! `PrivateMessage`s as usual.

use openmls::prelude::tls_codec::{Deserialize as _, Serialize as _};
use openmls::prelude::*;
use openmls_rust_crypto::RustCrypto;

use super::journal;
use super::provider::Provider;
use crate::identity::Identity;
use crate::roster::{Roster, RosterEntry};
use crate::types::{Epoch, GroupId as DemlsGroupId, MemberId, Timestamp};

/// The only ciphersuite de-MLS groups use.
pub const CIPHERSUITE: Ciphersuite = Ciphersuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519;

/// The GroupInfo extension carrying the steward policy's state to joiners (private use range).
const POLICY_STATE_EXTENSION: u16 = 0xff01;

/// The GroupContext extension carrying the group's genesis (private use range): 32 random
/// bytes drawn by the creator. Being in the GroupContext, it is covered by the key schedule of
/// every epoch, so every member agrees on it and a Welcome cannot carry another one.
const GENESIS_EXTENSION: u16 = 0xff02;

/// Length of a group's genesis.
pub const GENESIS_LEN: usize = 32;

/// What every leaf of ours declares it supports: the default versions, ciphersuites,
/// proposals and credentials, and the genesis extension (RFC 9420 §7.2: a GroupContext
/// extension must be supported by every member).
fn capabilities() -> Capabilities {
    Capabilities::new(
        None,
        None,
        Some(&[ExtensionType::Unknown(GENESIS_EXTENSION)]),
        None,
        None,
    )
}

/// Label of the exporter secret that keys the commit envelope of an epoch.
const COMMIT_ENVELOPE_LABEL: &str = "demls commit envelope";

type Boxed = Box<dyn std::error::Error + Send + Sync>;

/// Why an MLS operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MlsError {
    /// Bytes did not decode as the expected MLS structure.
    #[error("malformed MLS message: {0}")]
    Malformed(String),
    /// The message is of a kind the protocol never uses here (e.g. a standalone proposal).
    #[error("unexpected MLS content: {0}")]
    Unexpected(&'static str),
    /// OpenMLS rejected an incoming message (bad signature, wrong epoch, not decryptable...).
    #[error("MLS rejected the message: {0}")]
    Rejected(#[source] Boxed),
    /// A KeyPackage failed validation.
    #[error("invalid key package: {0}")]
    InvalidKeyPackage(String),
    /// Creating a group, KeyPackage, message or commit failed.
    #[error("MLS operation failed: {0}")]
    Operation(#[source] Boxed),
    /// A Welcome into a group under the right id but with another genesis than the one the
    /// joiner's invitation names (a look-alike group).
    #[error("the welcome is for a group with another genesis than the invitation's")]
    WrongGenesis,
    /// Joining from a Welcome failed.
    #[error("cannot join from welcome: {0}")]
    Welcome(#[source] Boxed),
    /// The group was not found in storage.
    #[error("group not found in storage")]
    NotFound,
    /// A Welcome into another MLS group than the one being joined.
    #[error("the welcome is for another group")]
    WrongGroup,
}

fn boxed<E: std::error::Error + Send + Sync + 'static>(e: E) -> Boxed {
    Box::new(e)
}

/// Tunables of the MLS layer.
#[derive(Clone, Debug)]
pub struct MlsParams {
    /// How many past epochs' message secrets are kept to decrypt late application messages.
    pub max_past_epochs: usize,
    /// Sender-ratchet tolerance for out-of-order application messages.
    pub out_of_order_tolerance: u32,
    /// Sender-ratchet maximum forward distance.
    pub maximum_forward_distance: u32,
}

impl Default for MlsParams {
    fn default() -> Self {
        MlsParams {
            max_past_epochs: 3,
            out_of_order_tolerance: 64,
            maximum_forward_distance: 10_000,
        }
    }
}

fn join_config(params: &MlsParams) -> MlsGroupJoinConfig {
    MlsGroupJoinConfig::builder()
        .wire_format_policy(PURE_PLAINTEXT_WIRE_FORMAT_POLICY)
        .use_ratchet_tree_extension(false)
        .max_past_epochs(params.max_past_epochs)
        .sender_ratchet_configuration(SenderRatchetConfiguration::new(
            params.out_of_order_tolerance,
            params.maximum_forward_distance,
        ))
        .build()
}

/// Lifetime of our leaf nodes and KeyPackages: one hour of clock skew back, twelve weeks
/// forward, computed from the caller's time (the engine never reads a clock).
fn lifetime(now: Timestamp) -> Lifetime {
    const SKEW: u64 = 3_600;
    const VALIDITY: u64 = 12 * 7 * 24 * 3_600;
    let secs = now.0 / 1_000;
    Lifetime::init(secs.saturating_sub(SKEW), secs + VALIDITY)
}

fn credential_with_key(identity: &Identity) -> CredentialWithKey {
    CredentialWithKey {
        credential: BasicCredential::new(identity.member_id().as_bytes().to_vec()).into(),
        signature_key: identity.public_key().to_vec().into(),
    }
}

/// A freshly generated KeyPackage: its wire bytes (an `MlsMessage`) and its reference.
pub struct NewKeyPackage {
    /// TLS-serialized `MlsMessage` carrying the KeyPackage.
    pub message: Vec<u8>,
    /// The KeyPackage reference (hash).
    pub reference: Vec<u8>,
}

/// Generates a KeyPackage for `identity`; its private keys are written through `provider`.
pub fn new_key_package(
    provider: &Provider,
    identity: &Identity,
    now: Timestamp,
) -> Result<NewKeyPackage, MlsError> {
    let bundle = KeyPackage::builder()
        .key_package_lifetime(lifetime(now))
        .leaf_node_capabilities(capabilities())
        .build(
            CIPHERSUITE,
            provider,
            identity,
            credential_with_key(identity),
        )
        .map_err(|e| MlsError::Operation(boxed(e)))?;
    let key_package = bundle.key_package().clone();
    let reference = key_package
        .hash_ref(provider.crypto())
        .map_err(|e| MlsError::Operation(boxed(e)))?;
    let message = MlsMessageOut::from(key_package)
        .tls_serialize_detached()
        .map_err(|e| MlsError::Operation(boxed(e)))?;
    Ok(NewKeyPackage {
        message,
        reference: reference.as_slice().to_vec(),
    })
}

/// A KeyPackage received from the network that passed validation.
#[derive(Clone, Debug)]
pub struct ValidKeyPackage {
    /// The validated KeyPackage.
    pub key_package: KeyPackage,
    /// Its reference (hash).
    pub reference: Vec<u8>,
    /// The member id it would have once added.
    pub member_id: MemberId,
}

/// Validates a KeyPackage message: signature, lifetime, ciphersuite, and that the credential's
/// identity is the member id derived from its signature key.
pub fn validate_key_package(
    crypto: &RustCrypto,
    message: &[u8],
) -> Result<ValidKeyPackage, MlsError> {
    let msg = MlsMessageIn::tls_deserialize_exact(message)
        .map_err(|e| MlsError::Malformed(e.to_string()))?;
    let MlsMessageBodyIn::KeyPackage(kp_in) = msg.extract() else {
        return Err(MlsError::Unexpected("expected a KeyPackage"));
    };
    let key_package = kp_in
        .validate(crypto, ProtocolVersion::Mls10)
        .map_err(|e| MlsError::InvalidKeyPackage(e.to_string()))?;
    if key_package.ciphersuite() != CIPHERSUITE {
        return Err(MlsError::InvalidKeyPackage(
            "unsupported ciphersuite".into(),
        ));
    }
    let leaf = key_package.leaf_node();
    if !leaf
        .capabilities()
        .extensions()
        .contains(&ExtensionType::Unknown(GENESIS_EXTENSION))
    {
        return Err(MlsError::InvalidKeyPackage(
            "the leaf does not support the genesis extension".into(),
        ));
    }
    let member_id = MemberId::from_signature_key(leaf.signature_key().as_slice());
    let credential = BasicCredential::try_from(leaf.credential().clone())
        .map_err(|_| MlsError::InvalidKeyPackage("credential is not a basic credential".into()))?;
    if credential.identity() != member_id.as_bytes() {
        return Err(MlsError::InvalidKeyPackage(
            "credential identity is not derived from the signature key".into(),
        ));
    }
    let reference = key_package
        .hash_ref(crypto)
        .map_err(|e| MlsError::Operation(boxed(e)))?;
    Ok(ValidKeyPackage {
        key_package,
        reference: reference.as_slice().to_vec(),
        member_id,
    })
}

/// The member id a KeyPackage message claims (from its leaf's signature key), read without
/// checking anything: only to find out whether these exact bytes were validated before.
pub fn claimed_key_package_member(message: &[u8]) -> Option<MemberId> {
    let msg = MlsMessageIn::tls_deserialize_exact(message).ok()?;
    let MlsMessageBodyIn::KeyPackage(kp_in) = msg.extract() else {
        return None;
    };
    let claimed = kp_in.unverified_credential();
    Some(MemberId::from_signature_key(
        claimed.signature_key.as_slice(),
    ))
}

/// The raw HPKE encryption key of the leaf a KeyPackage would add (as a roster entry reports a
/// member's current leaf key). Empty if it cannot be serialized (never for a decoded package).
pub fn leaf_encryption_key(key_package: &KeyPackage) -> Vec<u8> {
    key_package
        .leaf_node()
        .encryption_key()
        .tls_serialize_detached()
        .ok()
        .and_then(|bytes| {
            openmls::prelude::tls_codec::VLBytes::tls_deserialize_exact(bytes.as_slice()).ok()
        })
        .map(|v| v.as_slice().to_vec())
        .unwrap_or_default()
}

/// What an incoming group message turned out to be.
pub enum Processed {
    /// An application message from `sender_leaf`.
    Application {
        /// The sender's leaf index.
        sender_leaf: u32,
        /// The decrypted plaintext.
        plaintext: Vec<u8>,
    },
    /// A commit from `sender_leaf`, staged but not merged.
    Commit {
        /// The committer's leaf index.
        sender_leaf: u32,
        /// The commit's authenticated data (our commit info).
        aad: Vec<u8>,
        /// The staged commit, to inspect and then merge or drop.
        staged: Box<StagedCommit>,
    },
    /// Our own application message echoed back; nothing to do.
    Own,
}

/// The result of creating a commit.
pub struct CommitOutput {
    /// TLS-serialized `MlsMessage` (a `PublicMessage` commit).
    pub commit: Vec<u8>,
    /// TLS-serialized `MlsMessage` Welcome, when members were added.
    pub welcome: Option<Vec<u8>>,
}

/// Members a staged commit adds and removes.
pub struct CommitChanges {
    /// References of the KeyPackages added.
    pub added_key_packages: Vec<Vec<u8>>,
    /// The member each added KeyPackage belongs to and its leaf encryption key, by reference.
    pub added_members: Vec<(Vec<u8>, MemberId, Vec<u8>)>,
    /// Leaf indices removed.
    pub removed_leaves: Vec<u32>,
    /// True if the commit contains proposals other than Add and Remove.
    pub has_other_proposals: bool,
}

/// One MLS group's state.
pub struct MlsState {
    group: MlsGroup,
    /// Entries in the ratchet journal (received messages not yet in the stored secrets).
    journal: usize,
}

impl MlsState {
    /// Creates a new group with `identity` as its only member and `genesis` in its
    /// GroupContext.
    pub fn create(
        provider: &Provider,
        identity: &Identity,
        group_id: &DemlsGroupId,
        genesis: &[u8; GENESIS_LEN],
        params: &MlsParams,
        now: Timestamp,
    ) -> Result<MlsState, MlsError> {
        let extensions = Extensions::single(Extension::Unknown(
            GENESIS_EXTENSION,
            UnknownExtension(genesis.to_vec()),
        ))
        .map_err(|e| MlsError::Operation(boxed(e)))?;
        let config = MlsGroupCreateConfig::builder()
            .ciphersuite(CIPHERSUITE)
            .capabilities(capabilities())
            .with_group_context_extensions(extensions)
            .lifetime(lifetime(now))
            .wire_format_policy(PURE_PLAINTEXT_WIRE_FORMAT_POLICY)
            .use_ratchet_tree_extension(false)
            .max_past_epochs(params.max_past_epochs)
            .sender_ratchet_configuration(SenderRatchetConfiguration::new(
                params.out_of_order_tolerance,
                params.maximum_forward_distance,
            ))
            .build();
        let group = MlsGroup::new_with_group_id(
            provider,
            identity,
            &config,
            GroupId::from_slice(group_id.as_bytes()),
            credential_with_key(identity),
        )
        .map_err(|e| MlsError::Operation(boxed(e)))?;
        Ok(MlsState { group, journal: 0 })
    }

    /// Loads a group from storage, replaying the ratchet journal ([`super::journal`]) on top
    /// of the stored message secrets.
    pub fn load(provider: &Provider, group_id: &DemlsGroupId) -> Result<MlsState, MlsError> {
        let gid = GroupId::from_slice(group_id.as_bytes());
        let group = MlsGroup::load(provider.storage(), &gid)
            .map_err(|e| MlsError::Operation(boxed(e)))?
            .ok_or(MlsError::NotFound)?;
        let mut state = MlsState { group, journal: 0 };
        let entries = journal::entries(provider.storage(), &gid)
            .map_err(|e| MlsError::Operation(boxed(e)))?;
        let store = provider.storage();
        store.defer_secrets(true);
        for message in entries {
            // Each entry was processed successfully from exactly this state before.
            if let Err(e) = state.group.process_message(provider, message) {
                tracing::warn!(error = %e, "ratchet journal entry did not replay");
            }
            state.journal += 1;
        }
        store.defer_secrets(false);
        store.take_deferred();
        Ok(state)
    }

    /// After an OpenMLS call that may have written the message secrets in full: the journal
    /// is then redundant and cleared in the same step.
    fn after_write(&mut self, provider: &Provider) -> Result<(), MlsError> {
        if provider.storage().take_wrote_secrets() && self.journal > 0 {
            journal::clear(provider.storage(), self.group.group_id())
                .map_err(|e| MlsError::Operation(boxed(e)))?;
            self.journal = 0;
        }
        Ok(())
    }

    /// Joins from a Welcome, given the ratchet tree that was delivered separately. Also
    /// returns the steward-policy state the committer put in the (signed) GroupInfo.
    pub fn join(
        provider: &Provider,
        welcome: Welcome,
        ratchet_tree: &[u8],
        params: &MlsParams,
        expected: &DemlsGroupId,
    ) -> Result<(MlsState, Option<Vec<u8>>), MlsError> {
        let tree = RatchetTreeIn::tls_deserialize_exact(ratchet_tree)
            .map_err(|e| MlsError::Malformed(e.to_string()))?;
        let processed = ProcessedWelcome::new_from_welcome(provider, &join_config(params), welcome)
            .map_err(|e| MlsError::Welcome(boxed(e)))?;
        // The envelope's group id is not authenticated: anyone who adds this member's public
        // KeyPackage to a group of their own could relabel the Welcome. The MLS group inside
        // must be the one asked for (checked again on the staged group below, whose GroupInfo
        // signature covers it).
        if processed.unverified_group_info().group_id().as_slice() != expected.as_bytes() {
            return Err(MlsError::WrongGroup);
        }
        // Read before staging; staging verifies the GroupInfo's signature, so once the join
        // succeeds this state is as authentic as the Welcome itself.
        let policy_state = processed
            .unverified_group_info()
            .extensions()
            .unknown(POLICY_STATE_EXTENSION)
            .map(|e| e.0.clone());
        // Every signature of the tree (one per leaf) and of the GroupInfo is checked in one
        // batch when staging is done; if the batch fails, the group is dropped (and so is
        // whatever the step wrote: the caller's transaction is not committed).
        let (group, verdict) = provider.crypto().signatures().batched(|| {
            processed
                .into_staged_welcome(provider, Some(tree))
                .and_then(|staged| staged.into_group(provider))
        });
        let group = group.map_err(|e| MlsError::Welcome(boxed(e)))?;
        verdict.map_err(|e| MlsError::Welcome(boxed(e)))?;
        if group.group_id().as_slice() != expected.as_bytes() {
            return Err(MlsError::WrongGroup);
        }
        Ok((MlsState { group, journal: 0 }, policy_state))
    }

    /// The group's genesis, from the GroupContext; `None` for a group created before groups
    /// had one.
    pub fn genesis(&self) -> Option<[u8; GENESIS_LEN]> {
        self.group
            .extensions()
            .unknown(GENESIS_EXTENSION)
            .and_then(|e| e.0.as_slice().try_into().ok())
    }

    /// The current epoch.
    pub fn epoch(&self) -> Epoch {
        self.group.epoch().as_u64()
    }

    /// Our own leaf index.
    pub fn own_leaf(&self) -> u32 {
        self.group.own_leaf_index().u32()
    }

    /// False once we have been removed from the group.
    pub fn is_active(&self) -> bool {
        self.group.is_active()
    }

    /// The epoch authenticator of the current epoch.
    pub fn epoch_authenticator(&self) -> Vec<u8> {
        self.group.epoch_authenticator().as_slice().to_vec()
    }

    /// The membership of the current epoch. Member ids are derived from the leaves' signature
    /// keys, never taken from credentials.
    pub fn roster(&self) -> Roster {
        let entries = self
            .group
            .members()
            .map(|m| RosterEntry {
                leaf: m.index.u32(),
                id: MemberId::from_signature_key(&m.signature_key),
                signature_key: m.signature_key,
                encryption_key: m.encryption_key,
            })
            .collect();
        Roster::new(self.epoch(), entries)
    }

    /// The key of this epoch's commit envelope.
    pub fn commit_envelope_key(&self, crypto: &RustCrypto) -> Result<[u8; 16], MlsError> {
        let secret = self
            .group
            .export_secret(crypto, COMMIT_ENVELOPE_LABEL, &[], 16)
            .map_err(|e| MlsError::Operation(boxed(e)))?;
        let mut key = [0u8; 16];
        key.copy_from_slice(&secret);
        Ok(key)
    }

    /// Exports the ratchet tree (TLS-serialized) for joiners.
    pub fn export_tree(&self) -> Result<Vec<u8>, MlsError> {
        self.group
            .export_ratchet_tree()
            .tls_serialize_detached()
            .map_err(|e| MlsError::Operation(boxed(e)))
    }

    /// Encrypts an application message.
    pub fn encrypt(
        &mut self,
        provider: &Provider,
        identity: &Identity,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, MlsError> {
        let msg = self
            .group
            .create_message(provider, identity, plaintext)
            .map_err(|e| MlsError::Operation(boxed(e)))?;
        self.after_write(provider)?;
        msg.tls_serialize_detached()
            .map_err(|e| MlsError::Operation(boxed(e)))
    }

    /// Decodes an MLS message and reports its group id and epoch without processing it.
    pub fn peek(bytes: &[u8]) -> Result<(ProtocolMessage, Vec<u8>, Epoch), MlsError> {
        let msg = MlsMessageIn::tls_deserialize_exact(bytes)
            .map_err(|e| MlsError::Malformed(e.to_string()))?;
        let protocol = msg
            .try_into_protocol_message()
            .map_err(|_| MlsError::Unexpected("expected a group message"))?;
        let group_id = protocol.group_id().as_slice().to_vec();
        let epoch = protocol.epoch().as_u64();
        Ok((protocol, group_id, epoch))
    }

    /// Processes an incoming group message. Nothing is merged: a commit comes back staged.
    pub fn process(
        &mut self,
        provider: &Provider,
        message: ProtocolMessage,
    ) -> Result<Processed, MlsError> {
        // An application message moves one sender ratchet: journal it instead of writing
        // the whole message-secrets store (see `super::journal`). A message that fails
        // changes nothing (OpenMLS applies the ratchet move only on success).
        let journaled = match &message {
            ProtocolMessage::PrivateMessage(m) => Some(m.clone()),
            ProtocolMessage::PublicMessage(_) => None,
        };
        let store = provider.storage();
        store.defer_secrets(journaled.is_some());
        let result = self.group.process_message(provider, message);
        store.defer_secrets(false);
        let deferred = store.take_deferred();
        let processed = result.map_err(|e| MlsError::Rejected(boxed(e)))?;
        if let (true, Some(m)) = (deferred, journaled) {
            journal::append(store, self.group.group_id(), self.journal, &m)
                .map_err(|e| MlsError::Operation(boxed(e)))?;
            self.journal += 1;
            if self.journal >= journal::CHECKPOINT_AFTER {
                self.checkpoint(provider)?;
            }
        }
        let sender_leaf = match processed.sender() {
            Sender::Member(leaf) => leaf.u32(),
            _ => return Err(MlsError::Unexpected("sender is not a member")),
        };
        let aad = processed.aad().to_vec();
        match processed.into_content() {
            ProcessedMessageContent::ApplicationMessage(app) => Ok(Processed::Application {
                sender_leaf,
                plaintext: app.into_bytes(),
            }),
            ProcessedMessageContent::StagedCommitMessage(staged) => Ok(Processed::Commit {
                sender_leaf,
                aad,
                staged,
            }),
            ProcessedMessageContent::OwnPrivateMessage => Ok(Processed::Own),
            _ => Err(MlsError::Unexpected("standalone proposals are not used")),
        }
    }

    /// Writes the message-secrets store in full (and so clears the journal).
    fn checkpoint(&mut self, provider: &Provider) -> Result<(), MlsError> {
        let policy = self.group.past_epoch_deletion_policy().clone();
        self.group
            .set_past_epoch_deletion_policy(provider, policy)
            .map_err(|e| MlsError::Operation(boxed(e)))?;
        self.after_write(provider)
    }

    /// What a staged commit changes.
    pub fn changes(crypto: &RustCrypto, staged: &StagedCommit) -> Result<CommitChanges, MlsError> {
        let mut added_key_packages = Vec::new();
        let mut added_members = Vec::new();
        for add in staged.add_proposals() {
            let key_package = add.add_proposal().key_package();
            let reference = key_package
                .hash_ref(crypto)
                .map_err(|e| MlsError::Operation(boxed(e)))?;
            let member =
                MemberId::from_signature_key(key_package.leaf_node().signature_key().as_slice());
            added_key_packages.push(reference.as_slice().to_vec());
            let encryption_key = leaf_encryption_key(key_package);
            added_members.push((reference.as_slice().to_vec(), member, encryption_key));
        }
        let removed_leaves = staged
            .remove_proposals()
            .map(|r| r.remove_proposal().removed().u32())
            .collect();
        let has_other_proposals = staged
            .queued_proposals()
            .any(|p| !matches!(p.proposal(), Proposal::Add(_) | Proposal::Remove(_)));
        Ok(CommitChanges {
            added_key_packages,
            added_members,
            removed_leaves,
            has_other_proposals,
        })
    }

    /// Merges a staged commit from another member.
    pub fn merge_staged(
        &mut self,
        provider: &Provider,
        staged: StagedCommit,
    ) -> Result<(), MlsError> {
        self.group
            .clear_pending_commit(provider.storage())
            .map_err(|e| MlsError::Operation(boxed(e)))?;
        self.group
            .merge_staged_commit(provider, staged)
            .map_err(|e| MlsError::Operation(boxed(e)))?;
        self.after_write(provider)
    }

    /// Creates a commit adding `adds` and removing `removes`, with `aad` as authenticated data.
    /// The commit stays pending until [`merge_pending`](Self::merge_pending).
    pub fn commit(
        &mut self,
        provider: &Provider,
        identity: &Identity,
        adds: Vec<KeyPackage>,
        removes: Vec<u32>,
        aad: Vec<u8>,
        policy_state: Option<Vec<u8>>,
    ) -> Result<CommitOutput, MlsError> {
        self.group
            .clear_pending_commit(provider.storage())
            .map_err(|e| MlsError::Operation(boxed(e)))?;
        self.group.set_aad(aad);
        let mut builder = self
            .group
            .commit_builder()
            .propose_adds(adds)
            .propose_removals(removes.into_iter().map(LeafNodeIndex::new))
            .load_psks(provider.storage())
            .map_err(|e| MlsError::Operation(boxed(e)))?;
        if let Some(state) = policy_state {
            builder = builder
                .create_group_info_with_extensions([Extension::Unknown(
                    POLICY_STATE_EXTENSION,
                    UnknownExtension(state),
                )])
                .map_err(|e| MlsError::Operation(boxed(e)))?;
        }
        let bundle = builder
            .build(provider.rand(), provider.crypto(), identity, |_| true)
            .map_err(|e| MlsError::Operation(boxed(e)))?
            .stage_commit(provider)
            .map_err(|e| MlsError::Operation(boxed(e)))?;
        let (commit, welcome, _group_info) = bundle.into_messages();
        let commit = commit
            .tls_serialize_detached()
            .map_err(|e| MlsError::Operation(boxed(e)))?;
        let welcome = welcome
            .map(|w| w.tls_serialize_detached())
            .transpose()
            .map_err(|e| MlsError::Operation(boxed(e)))?;
        Ok(CommitOutput { commit, welcome })
    }

    /// Merges our own pending commit.
    pub fn merge_pending(&mut self, provider: &Provider) -> Result<(), MlsError> {
        self.group
            .merge_pending_commit(provider)
            .map_err(|e| MlsError::Operation(boxed(e)))?;
        self.after_write(provider)
    }

    /// Deletes the group's state from storage: everything OpenMLS keeps for it, including the
    /// epoch key pairs (leaf private keys) its own deletion leaves behind.
    pub fn delete(&mut self, provider: &Provider) -> Result<(), MlsError> {
        let group_id = self.group.group_id().clone();
        self.group
            .delete(provider.storage())
            .map_err(|e| MlsError::Operation(boxed(e)))?;
        self.journal = 0;
        provider
            .storage()
            .forget_epoch_key_pairs(&group_id)
            .map_err(|e| MlsError::Operation(boxed(e)))
    }
}

/// What a commit (a `PublicMessage`, as we send them) says without processing it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitOutline {
    /// The committer's leaf index.
    pub sender_leaf: u32,
    /// Leaf indices its Remove proposals (carried by value) remove.
    pub removed_leaves: Vec<u32>,
}

/// Reads the committer and the removed leaves of a commit without processing it, for a commit
/// of an epoch this member can no longer process (another branch's commit ending a fork
/// epoch). Nothing is authenticated here: the caller must have authenticated the bytes (for
/// a sealed commit, by opening it under the epoch key).
pub fn commit_outline(bytes: &[u8]) -> Result<CommitOutline, MlsError> {
    use openmls::prelude::tls_codec::{Deserialize as _, VLBytes};
    let bad = |what: &str| MlsError::Malformed(format!("commit outline: {what}"));
    // Checks the whole message decodes first.
    MlsMessageIn::tls_deserialize_exact(bytes).map_err(|e| MlsError::Malformed(e.to_string()))?;
    // MLSMessage: version, wire_format = public_message; FramedContent: group_id, epoch,
    // sender, authenticated_data, content_type = commit; Commit: proposals, path (RFC 9420 §6).
    let mut r: &[u8] = bytes;
    let take = |n: usize, r: &mut &[u8]| -> Result<Vec<u8>, MlsError> {
        if r.len() < n {
            return Err(bad("truncated"));
        }
        let (head, rest) = r.split_at(n);
        *r = rest;
        Ok(head.to_vec())
    };
    if take(4, &mut r)? != [0, 1, 0, 1] {
        return Err(bad("not an MLS 1.0 public message"));
    }
    VLBytes::tls_deserialize(&mut r).map_err(|_| bad("group id"))?;
    take(8, &mut r)?;
    let sender_leaf = match take(1, &mut r)?[0] {
        1 => {
            let leaf = take(4, &mut r)?;
            u32::from_be_bytes([leaf[0], leaf[1], leaf[2], leaf[3]])
        }
        _ => return Err(bad("not sent by a member")),
    };
    VLBytes::tls_deserialize(&mut r).map_err(|_| bad("authenticated data"))?;
    if take(1, &mut r)?[0] != 3 {
        return Err(bad("not a commit"));
    }
    let proposals =
        Vec::<openmls::messages::proposals_in::ProposalOrRefIn>::tls_deserialize(&mut r)
            .map_err(|_| bad("proposals"))?;
    let removed_leaves = proposals
        .iter()
        .filter_map(|p| match p {
            openmls::messages::proposals_in::ProposalOrRefIn::Proposal(p) => match p.as_ref() {
                openmls::messages::proposals_in::ProposalIn::Remove(r) => Some(r.removed().u32()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    Ok(CommitOutline {
        sender_leaf,
        removed_leaves,
    })
}

/// Decodes a Welcome message and returns it with the KeyPackage references it is addressed to.
pub fn decode_welcome(bytes: &[u8]) -> Result<(Welcome, Vec<Vec<u8>>), MlsError> {
    let msg = MlsMessageIn::tls_deserialize_exact(bytes)
        .map_err(|e| MlsError::Malformed(e.to_string()))?;
    let MlsMessageBodyIn::Welcome(welcome) = msg.extract() else {
        return Err(MlsError::Unexpected("expected a Welcome"));
    };
    let refs = welcome
        .secrets()
        .iter()
        .map(|s| s.new_member().as_slice().to_vec())
        .collect();
    Ok((welcome, refs))
}
