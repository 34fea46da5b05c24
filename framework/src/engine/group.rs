//! One group's in-memory state and how it is loaded from and written to storage.
//!
//! [`Group`] is a handful of shared parts (MLS state, consensus, steward policy, proposals,
//! meta) and one sub-state per concept, each defined in that concept's `state.rs` with private
//! fields: [`Epochs`] (`epoch/`), [`InboundState`] (`inbound/`), [`Selection`] (`selection/`),
//! [`RepairState`] (`repair/`), [`RejoinState`] (`rejoin/`) and [`ForkState`] (`fork/`). Their
//! methods say who changes what. Record writes go through this file (`put_*`, `remove_*`),
//! which buffers them for the step's transaction.
//!
//! The durable parts (MLS state, proposal records, buffered KeyPackages, retained commits,
//! policy and consensus records) are always reloadable from storage; the transient parts
//! (messages buffered for a future epoch, parked commits) are bounded and may be lost in a
//! crash, because the network or catch-up delivers them again.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::epoch::state::{EpochMembers, Epochs};
use super::error::EngineError;
use super::fork::state::{ForkState, TAG_LEN};
use super::inbound::state::InboundState;
use super::proposals::Proposals;
use super::records::{
    BufferedKeyPackage, CommitRecord, GroupMeta, Keys, ProposalRecord, decode, encode,
};
use super::rejoin::state::RejoinState;
use super::repair::state::RepairState;
use super::selection::state::Selection;
use super::topics::GroupTopics;
use crate::consensus::{Consensus, ConsensusContext, ConsensusFactory, StateChange};
use crate::identity::Identity;
use crate::mls::{Crypto, MlsError, MlsState, Provider};
use crate::roster::Roster;
use crate::steward::{StewardPolicy, StewardPolicyFactory};
use crate::storage::{Space, StorageError};
use crate::txn::Txn;
use crate::types::{Epoch, GroupId, MemberId, ProposalId, Timestamp};

/// Own messages of the current epoch a restarted member sends again, at most.
const RESEND_AFTER_RESTART: usize = 64;

/// One group this node is a member of. Each concept's state is a field of its own whose
/// type lives with the concept and says, by its methods, who changes what.
pub(crate) struct Group {
    /// The group's id.
    pub id: GroupId,
    /// Its topics (group, welcome, join).
    pub topics: GroupTopics,
    /// Its OpenMLS state (a step that calls it says so with [`Group::touch_mls`]).
    pub mls: MlsState,
    /// Its consensus plugin instance.
    pub consensus: Box<dyn Consensus>,
    /// Its steward policy instance.
    pub policy: Box<dyn StewardPolicy>,
    /// Every proposal record (durable: changed through `put_proposal` and `remove_proposal`).
    pub proposals: Proposals,
    /// Due times, deferred votes and requests, the epoch joined in (durable: written on flush).
    pub meta: GroupMeta,
    /// Rosters, voter sets, epoch keys and branch tags of recent epochs; retained commits.
    pub epochs: Epochs,
    /// Messages held for later epochs, parked commits, recently removed members.
    pub inbound: InboundState,
    /// Commits competing for the current epoch; Welcomes of own commits.
    pub selection: Selection,
    /// Loss repair: duplicate suppression, message log, missing messages, re-sends, catch-up.
    pub repair: RepairState,
    /// Other members' rejoin requests, and this member's own rejoin.
    pub rejoin: RejoinState,
    /// Fork detection and resolution state.
    pub fork: ForkState,
    /// KeyPackages buffered for adds (durable: changed through `put_key_package` and
    /// `remove_key_package`).
    key_packages: BTreeMap<MemberId, BufferedKeyPackage>,
    /// Storage keys of the group's records.
    keys: Keys,
    /// Record writes of the current step.
    dirty: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    /// Set when OpenMLS was called in the current step (its in-memory state may have moved).
    mls_touched: bool,
}

impl Group {
    /// Wraps a freshly created or joined MLS group.
    pub(crate) fn new(
        id: GroupId,
        mls: MlsState,
        crypto: &Crypto,
        consensus: Box<dyn Consensus>,
        policy: Box<dyn StewardPolicy>,
    ) -> Result<Group, EngineError> {
        let members = EpochMembers::of(mls.roster(), mls.commit_envelope_key(crypto)?);
        let epochs = Epochs::new(members, &mls.epoch_authenticator());
        Ok(Group {
            keys: Keys::of(&id),
            topics: GroupTopics::of(&id),
            id,
            mls,
            consensus,
            policy,
            proposals: Proposals::default(),
            meta: GroupMeta::default(),
            epochs,
            inbound: InboundState::default(),
            selection: Selection::default(),
            repair: RepairState::default(),
            rejoin: RejoinState::default(),
            fork: ForkState::default(),
            key_packages: BTreeMap::new(),
            dirty: Vec::new(),
            mls_touched: false,
        })
    }

    /// Loads a group's durable state.
    pub(crate) fn load(
        id: GroupId,
        txn: &Txn<'_>,
        crypto: &Crypto,
        identity: &Arc<Identity>,
        consensus: &dyn ConsensusFactory,
        policies: &dyn StewardPolicyFactory,
        now: Timestamp,
    ) -> Result<Group, EngineError> {
        let keys = Keys::of(&id);
        let mls = MlsState::load(&Provider::new(crypto, txn), &id)?;
        let restored = txn.scan_prefix(Space::Consensus, &keys.consensus())?;
        let prefix_len = keys.consensus().len();
        let consensus = consensus.create(ConsensusContext {
            group_id: id.clone(),
            signer: identity.clone(),
            restored: restored
                .into_iter()
                .map(|(k, v)| (k[prefix_len..].to_vec(), v))
                .collect(),
            now,
        })?;
        let saved_policy = txn.get(Space::Engine, &keys.policy())?;
        let policy = policies.create(&id, saved_policy.as_deref())?;
        let mut group = Group::new(id, mls, crypto, consensus, policy)?;
        if let Some(meta) = txn.get(Space::Engine, &keys.meta())? {
            group.meta = super::records::decode_meta(&meta)?;
        }
        for (_, v) in txn.scan_prefix(Space::Engine, &keys.proposals())? {
            let rec = super::records::decode_proposal(&v)?;
            group.proposals.insert(rec);
        }
        for (_, v) in txn.scan_prefix(Space::Engine, &keys.key_packages())? {
            let rec: BufferedKeyPackage = decode("key package record", &v)?;
            group.key_packages.insert(rec.member, rec);
        }
        for (_, v) in txn.scan_prefix(Space::Engine, &keys.commits())? {
            let rec: CommitRecord = decode("commit record", &v)?;
            group.epochs.restore_commit(rec);
        }
        Ok(group)
    }

    /// Prepares a group loaded when the engine opens (not one reloaded after a refused
    /// input, which keeps its in-memory sync state): others may have moved on while this
    /// member was down, so it says where it is at once and does not commit before their
    /// answers had time to arrive; and its own messages of the current epoch are sent again,
    /// since a committed step's publications may have died with the process.
    pub(crate) fn after_restart(
        &mut self,
        txn: &Txn<'_>,
        me: MemberId,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        self.repair.announce_soon();
        self.repair.catch_up.note_restart(now);
        let own =
            super::history::own_in_epoch(txn, &self.id, me, self.epoch(), RESEND_AFTER_RESTART)?;
        self.repair.restore_sent_after_restart(
            own.into_iter()
                .map(|m| (m.message_id, m.payload, m.epoch))
                .collect(),
        );
        Ok(())
    }

    /// The current epoch.
    pub(crate) fn epoch(&self) -> Epoch {
        self.mls.epoch()
    }

    /// The current roster.
    pub(crate) fn roster(&self) -> &Arc<Roster> {
        &self.epochs.current().roster
    }

    /// The roster and voter set of a recent epoch.
    pub(crate) fn members_at(&self, epoch: Epoch) -> Option<&EpochMembers> {
        self.epochs.at(epoch)
    }

    /// The branch tag of `epoch` as this member knows it: the current epoch's, or one a
    /// retained commit started.
    pub(crate) fn branch_tag(&self, epoch: Epoch) -> Option<[u8; TAG_LEN]> {
        self.epochs.branch_tag(epoch, self.epoch())
    }

    /// The KeyPackage buffered for `member`.
    pub(crate) fn key_package(&self, member: &MemberId) -> Option<&BufferedKeyPackage> {
        self.key_packages.get(member)
    }

    /// Every buffered KeyPackage, by member id.
    pub(crate) fn key_packages(&self) -> impl Iterator<Item = &BufferedKeyPackage> {
        self.key_packages.values()
    }

    /// Notes that OpenMLS is called in this step: a refused step reloads its state.
    pub(crate) fn touch_mls(&mut self) {
        self.mls_touched = true;
    }

    /// True when OpenMLS was called in the current step.
    pub(crate) fn mls_touched(&self) -> bool {
        self.mls_touched
    }

    /// Records a proposal change for this step.
    pub(crate) fn put_proposal(&mut self, rec: ProposalRecord) {
        self.dirty
            .push((self.keys.proposal(&rec.id), Some(encode(&rec))));
        self.proposals.insert(rec);
    }

    /// Records a buffered KeyPackage change for this step.
    pub(crate) fn put_key_package(&mut self, rec: BufferedKeyPackage) {
        self.dirty
            .push((self.keys.key_package(&rec.member), Some(encode(&rec))));
        self.key_packages.insert(rec.member, rec);
    }

    /// Drops a buffered KeyPackage.
    pub(crate) fn remove_key_package(&mut self, member: &MemberId) {
        if self.key_packages.remove(member).is_some() {
            self.dirty.push((self.keys.key_package(member), None));
        }
    }

    /// Drops a proposal record.
    pub(crate) fn remove_proposal(&mut self, id: &ProposalId) {
        if self.proposals.remove(id).is_some() {
            self.dirty.push((self.keys.proposal(id), None));
        }
    }

    /// Retains an accepted commit, trimming the history to `keep` entries.
    pub(crate) fn put_commit(&mut self, rec: CommitRecord, keep: usize) {
        self.dirty
            .push((self.keys.commit(rec.epoch), Some(encode(&rec))));
        for oldest in self.epochs.retain_commit(rec, keep) {
            self.dirty.push((self.keys.commit(oldest), None));
        }
    }

    /// Writes everything this step changed (records, meta, policy, consensus) into `txn`.
    pub(crate) fn flush(&mut self, txn: &Txn<'_>) {
        for (key, value) in self.dirty.drain(..) {
            match value {
                Some(v) => txn.put(Space::Engine, key, v),
                None => txn.delete(Space::Engine, key),
            }
        }
        txn.put(Space::Engine, self.keys.meta(), encode(&self.meta));
        txn.put(Space::Engine, self.keys.policy(), self.policy.save());
        let prefix = self.keys.consensus();
        for change in self.consensus.take_changes() {
            match change {
                StateChange::Put(k, v) => {
                    txn.put(Space::Consensus, [prefix.as_slice(), &k].concat(), v)
                }
                StateChange::Delete(k) => {
                    txn.delete(Space::Consensus, [prefix.as_slice(), &k].concat())
                }
            }
        }
        self.mls_touched = false;
    }

    /// True when the current step changed records.
    pub(crate) fn has_dirty(&self) -> bool {
        !self.dirty.is_empty()
    }

    /// Takes over the transient buffers of the instance this one replaces on a reload.
    pub(crate) fn adopt_transient(&mut self, old: Group) {
        self.inbound = old.inbound;
        self.selection = old.selection;
        self.repair = old.repair;
        self.rejoin = old.rejoin;
        self.fork = old.fork;
    }

    /// Forgets this step's unwritten record changes (the step is being rolled back).
    pub(crate) fn discard_dirty(&mut self) {
        self.dirty.clear();
        self.mls_touched = false;
    }

    /// Erases every record of the group from storage (MLS state is deleted separately).
    pub(crate) fn erase(&mut self, txn: &Txn<'_>) {
        self.dirty.clear();
        txn.delete_prefix(Space::Engine, self.keys.all());
        txn.delete_prefix(Space::Consensus, self.keys.consensus());
    }

    /// Reloads OpenMLS state from storage after a rolled-back step.
    pub(crate) fn reload_mls(&mut self, txn: &Txn<'_>, crypto: &Crypto) -> Result<(), MlsError> {
        self.mls = MlsState::load(&Provider::new(crypto, txn), &self.id)?;
        self.mls_touched = false;
        Ok(())
    }

    /// Installs the roster of a new epoch, keeping `keep_past` older ones.
    pub(crate) fn push_epoch(&mut self, crypto: &Crypto, keep_past: usize) -> Result<(), MlsError> {
        let members = EpochMembers::of(self.mls.roster(), self.mls.commit_envelope_key(crypto)?);
        self.epochs
            .push(members, &self.mls.epoch_authenticator(), keep_past);
        Ok(())
    }
}

impl From<StorageError> for EngineError {
    fn from(e: StorageError) -> Self {
        EngineError::Storage(e)
    }
}
