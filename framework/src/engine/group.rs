//! One group's in-memory state and how it is loaded from and written to storage.
//!
//! The durable parts (MLS state, proposal records, buffered KeyPackages, retained commits,
//! policy and consensus records) are always reloadable from storage; the transient parts
//! (messages buffered for a future epoch, parked commits) are bounded and may be lost in a
//! crash, because the network or catch-up delivers them again.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use crate::mls::Crypto;

use super::event::ProposalKind;
use super::records::{
    BufferedKeyPackage, CommitRecord, GroupMeta, Keys, ProposalRecord, decode, encode,
};
use super::topics::GroupTopics;
use crate::consensus::{Consensus, ConsensusContext, ConsensusFactory, Electorate, StateChange};
use crate::identity::Identity;
use crate::mls::{MlsError, MlsState, Provider};
use crate::roster::Roster;
use crate::steward::{StewardPolicy, StewardPolicyFactory};
use crate::storage::{Space, StorageError};
use crate::txn::Txn;
use crate::types::{Epoch, GroupId, MemberId, ProposalId, Timestamp, Topic};

use super::error::EngineError;

/// Own messages of the current epoch a restarted member sends again, at most.
const RESEND_AFTER_RESTART: usize = 64;

/// A message held until its epoch is reached, or a commit held until its proposals are decided.
#[derive(Clone, Debug)]
pub(crate) struct Held {
    pub topic: Topic,
    pub payload: Vec<u8>,
    pub epoch: Epoch,
    pub since: Timestamp,
    /// For a parked commit: the proposals whose decision it waits for.
    pub waiting: Vec<ProposalId>,
    /// For a parked commit: its author.
    pub author: Option<MemberId>,
}

/// A valid commit competing for the current epoch during the selection window.
#[derive(Debug)]
pub(crate) struct Candidate {
    /// Its author.
    pub author: MemberId,
    /// Its rank from the steward policy.
    pub rank: crate::steward::CommitRank,
    /// The voting proposals it applies.
    pub proposals: Vec<ProposalId>,
    /// The members it re-adds without a vote.
    pub rejoins: Vec<crate::wire::Rejoin>,
    /// The sealed commit (envelope body).
    pub sealed: Vec<u8>,
    /// True for this member's own commit (pending in OpenMLS).
    pub own: bool,
    /// Another member's commit as OpenMLS staged it when it arrived (staging does not change
    /// the group), kept so that the winner is merged without being processed again.
    pub staged: Option<Box<openmls::prelude::StagedCommit>>,
}

impl Candidate {
    /// The selection order: more proposals first, then the policy's rank, then the smaller
    /// author id. Lower is better.
    pub(crate) fn key(
        &self,
    ) -> (
        std::cmp::Reverse<usize>,
        crate::steward::CommitRank,
        MemberId,
    ) {
        (
            std::cmp::Reverse(self.proposals.len()),
            self.rank,
            self.author,
        )
    }
}

/// The Welcome and ratchet-tree envelopes of one of our commits, shared by its added members.
pub(crate) type WelcomePair = (Vec<u8>, Vec<u8>);

/// The roster and voter sets of one recent epoch.
pub(crate) struct EpochMembers {
    pub epoch: Epoch,
    pub roster: Arc<Roster>,
    /// Every member.
    pub all: Electorate,
    /// Narrower voter sets the steward policy chose for some proposal kinds.
    pub by_kind: BTreeMap<ProposalKind, Electorate>,
    /// The epoch key (seals commits and certificate parts for members of this epoch).
    pub key: [u8; 16],
}

fn voter_set<'a>(entries: impl Iterator<Item = &'a crate::roster::RosterEntry>) -> Electorate {
    Electorate::new(entries.map(|e| e.signature_key.clone()).collect())
}

impl EpochMembers {
    pub(crate) fn of(roster: Roster, key: [u8; 16]) -> EpochMembers {
        EpochMembers {
            epoch: roster.epoch(),
            all: voter_set(roster.entries().iter()),
            roster: Arc::new(roster),
            by_kind: BTreeMap::new(),
            key,
        }
    }

    /// Restricts the voters of `kind` to `members` (kept in leaf order).
    pub(crate) fn restrict(&mut self, kind: ProposalKind, members: &[MemberId]) {
        let set = voter_set(
            self.roster
                .entries()
                .iter()
                .filter(|e| members.contains(&e.id)),
        );
        self.by_kind.insert(kind, set);
    }

    /// The voters of proposals of `kind` opened in this epoch.
    pub(crate) fn voters(&self, kind: ProposalKind) -> &Electorate {
        self.by_kind.get(&kind).unwrap_or(&self.all)
    }

    /// The voters of a proposal opened in this epoch: those of its kind, except for a leave,
    /// which every member may open (it is final without a vote, so a narrower electorate for
    /// adds and removals must not keep a member from leaving).
    pub(crate) fn voters_for(&self, kind: ProposalKind, leave: bool) -> &Electorate {
        if leave { &self.all } else { self.voters(kind) }
    }
}

/// One group this node is a member of.
pub(crate) struct Group {
    pub id: GroupId,
    pub keys: Keys,
    pub topics: GroupTopics,
    pub mls: MlsState,
    /// Current epoch first, then older ones (bounded).
    pub epochs: VecDeque<EpochMembers>,
    pub commit_key: [u8; 16],
    pub consensus: Box<dyn Consensus>,
    pub policy: Box<dyn StewardPolicy>,
    pub proposals: super::proposals::Proposals,
    pub key_packages: BTreeMap<MemberId, BufferedKeyPackage>,
    pub commits: BTreeMap<Epoch, CommitRecord>,
    pub meta: GroupMeta,
    /// Messages for future epochs.
    pub future: Vec<Held>,
    /// Commits waiting for their proposals' decisions.
    pub parked: Vec<Held>,
    /// Members removed by commits this member applied, and when it applied them (transient,
    /// bounded): their messages still in flight are taken for a short while (§9).
    pub removed_at: VecDeque<(MemberId, Timestamp)>,
    /// Valid commits competing for the current epoch (selection window open).
    pub candidates: Vec<Candidate>,
    /// The Welcome of our own commit while it waits in the selection window.
    pub pending_welcome: Option<(Vec<u8>, Vec<MemberId>)>,
    /// Welcome and tree envelopes of our recent commits, by added member (to publish again).
    pub welcomes: VecDeque<(MemberId, Arc<WelcomePair>)>,
    /// Loss repair: duplicate suppression, message log, missing messages, re-sends.
    pub repair: super::repair::state::RepairState,
    /// Set when OpenMLS was called in the current step (its in-memory state may have moved).
    pub mls_touched: bool,
    /// When this member loaded the group from storage after a restart.
    pub restarted_at: Option<Timestamp>,
    /// Members asking to be re-added without a vote.
    pub rejoins: super::rejoin::requests::Rejoins,
    /// Set by a step that found this member must rejoin: the last epoch it shares with the
    /// group (the engine starts the rejoin after the step).
    pub wants_rejoin: Option<Epoch>,
    /// True while this member waits to be re-added: it neither commits nor processes group
    /// traffic (it is buffered for the replacement state).
    pub rejoining: bool,
    /// Set by a step that erased this member's state of the group while its MLS group is
    /// still active: the surviving branch of a fork removed it (the engine drops the group
    /// after the step).
    pub erased: bool,
    /// Fork detection and resolution state.
    pub fork: super::fork::state::ForkState,
    /// The branch tag of the current epoch.
    pub branch: [u8; super::fork::state::TAG_LEN],
    /// Record writes of the current step.
    dirty: Vec<(Vec<u8>, Option<Vec<u8>>)>,
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
        let commit_key = mls.commit_envelope_key(crypto)?;
        let members = EpochMembers::of(mls.roster(), commit_key);
        let branch = super::fork::state::tag_of(&mls.epoch_authenticator());
        Ok(Group {
            keys: Keys::of(&id),
            topics: GroupTopics::of(&id),
            id,
            mls,
            epochs: VecDeque::from([members]),
            commit_key,
            consensus,
            policy,
            proposals: Default::default(),
            key_packages: BTreeMap::new(),
            commits: BTreeMap::new(),
            meta: GroupMeta::default(),
            future: Vec::new(),
            parked: Vec::new(),
            removed_at: VecDeque::new(),
            candidates: Vec::new(),
            pending_welcome: None,
            welcomes: VecDeque::new(),
            repair: Default::default(),
            mls_touched: false,
            restarted_at: None,
            rejoins: Default::default(),
            wants_rejoin: None,
            rejoining: false,
            erased: false,
            fork: Default::default(),
            branch,
            dirty: Vec::new(),
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
            group.commits.insert(rec.epoch, rec);
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
        self.restarted_at = Some(now);
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
        &self.epochs[0].roster
    }

    /// The roster and voter set of a recent epoch.
    pub(crate) fn members_at(&self, epoch: Epoch) -> Option<&EpochMembers> {
        self.epochs.iter().find(|m| m.epoch == epoch)
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
        self.commits.insert(rec.epoch, rec);
        while self.commits.len() > keep.max(1) {
            let Some((&oldest, _)) = self.commits.iter().next() else {
                break;
            };
            self.commits.remove(&oldest);
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
        self.future = old.future;
        self.parked = old.parked;
        self.removed_at = old.removed_at;
        self.candidates = old.candidates;
        self.pending_welcome = old.pending_welcome;
        self.welcomes = old.welcomes;
        self.repair = old.repair;
        self.restarted_at = old.restarted_at;
        self.rejoins = old.rejoins;
        self.wants_rejoin = old.wants_rejoin;
        self.rejoining = old.rejoining;
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
        self.commit_key = self.mls.commit_envelope_key(crypto)?;
        self.branch = super::fork::state::tag_of(&self.mls.epoch_authenticator());
        self.epochs
            .push_front(EpochMembers::of(self.mls.roster(), self.commit_key));
        self.epochs.truncate(keep_past + 1);
        Ok(())
    }

    /// The branch tag of `epoch` as this member knows it: the current epoch's, or one a
    /// retained commit started.
    pub(crate) fn branch_tag(&self, epoch: Epoch) -> Option<[u8; super::fork::state::TAG_LEN]> {
        if epoch == self.epoch() {
            return Some(self.branch);
        }
        if epoch > self.epoch() {
            return None;
        }
        if let Some(tag) = self.commits.get(&epoch).and_then(|c| {
            <[u8; super::fork::state::TAG_LEN]>::try_from(c.branch_before.as_slice()).ok()
        }) {
            return Some(tag);
        }
        let before = epoch.checked_sub(1)?;
        self.commits
            .get(&before)
            .map(|c| super::fork::state::tag_of(&c.authenticator_after))
    }
}

impl From<StorageError> for EngineError {
    fn from(e: StorageError) -> Self {
        EngineError::Storage(e)
    }
}
