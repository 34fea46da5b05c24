//! The sans-IO group engine: bytes and time in, publications and events out.
//!
//! [`Engine`] owns every group a node is in (or joining), the node's identity and its storage.
//! It never reads a clock, opens a socket or spawns a thread: the [`Node`](crate::Node), the
//! deterministic simulator and embedders such as ChatSDK drive it by calling
//! [`handle`](Engine::handle), [`tick`](Engine::tick) and the command methods, and carry out the
//! returned [`Output`].
//!
//! Every call is one atomic *step*: its storage writes are buffered in a [`Txn`] and applied
//! together at the end. A step that refuses its input discards the buffer and reloads any
//! in-memory state OpenMLS may have touched, so rejected input leaves no trace.

mod beyond;
mod catch_up;
mod commit;
mod epoch;
mod event;
mod fork;
mod freeze;
mod governance;
mod group;
mod history;
mod inbound;
mod join;
mod keypackages;
mod leave;
mod output;
mod params;
mod proposals;
mod publish;
mod records;
mod rejoin;
mod repair;
mod selection;
mod silent;
mod step;
mod topics;
mod validation;
mod view;

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use crate::mls::Crypto;

pub use event::{Event, ProposalAction, ProposalKind, RejectReason, Violation};
pub use freeze::Submission;
pub use history::LoggedMessage;
pub use output::{Outbound, Output};
pub use params::{APP_MESSAGE_FRAMING_BYTES, EngineParams, InvalidParam, VotingMode};
pub use records::ProposalStatus;
pub use silent::Silent;
pub use topics::GroupTopics;

pub(crate) use step::{Abort, Requeue, Step, reject};

use self::group::Group;
use self::join::PendingJoin;
use crate::consensus::{ConsensusError, ConsensusFactory};
use crate::identity::Identity;
use crate::invitation::Invitation;
use crate::mls::{MlsError, Provider};
use crate::steward::{PolicyError, StewardPolicyFactory};
use crate::storage::{Space, Storage, StorageError};
use crate::transport::Inbound;
use crate::txn::Txn;
use crate::types::{Epoch, GroupId, MemberId, ProposalId, Timestamp, Topic};

/// Why an engine command failed. Inbound messages never fail this way: a refused message
/// becomes an [`Event::Rejected`]; only storage failures surface as errors from `handle`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The node is not in this group.
    #[error("not a member of group {0:?}")]
    UnknownGroup(GroupId),
    /// The group already exists (or a join is already under way).
    #[error("group {0:?} already exists")]
    GroupExists(GroupId),
    /// The request is invalid (bad id, unknown member, proposal not open...).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// A payload is larger than allowed.
    #[error("payload of {size} bytes exceeds the limit of {limit} bytes")]
    PayloadTooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The stored identity differs from the configured one.
    #[error("storage belongs to another identity ({stored}), not the configured one")]
    IdentityMismatch {
        /// The member id found in storage.
        stored: MemberId,
    },
    /// Storage failed; the step was not applied.
    #[error(transparent)]
    Storage(StorageError),
    /// An MLS operation failed.
    #[error(transparent)]
    Mls(#[from] MlsError),
    /// The consensus plugin refused.
    #[error(transparent)]
    Consensus(#[from] ConsensusError),
    /// The steward policy refused.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// The entropy source failed.
    #[error(transparent)]
    Entropy(#[from] crate::entropy::EntropyError),
    /// The group was created before groups had a genesis, so it has no invitation.
    #[error("group {0:?} has no genesis (created by an older version): no invitation")]
    NoGenesis(GroupId),
    /// A `[group]` setting cannot work (refused when the engine opens).
    #[error(transparent)]
    InvalidParameter(#[from] params::InvalidParam),
}

/// A snapshot of one group for the application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupSummary {
    /// The group.
    pub group_id: GroupId,
    /// Current epoch.
    pub epoch: Epoch,
    /// Members in leaf order.
    pub members: Vec<MemberId>,
    /// The epoch authenticator.
    pub authenticator: Vec<u8>,
    /// Who may commit now, most preferred first.
    pub stewards: Vec<MemberId>,
    /// Proposals known here, with their status.
    pub proposals: Vec<(ProposalId, ProposalAction, ProposalStatus)>,
}

const IDENTITY_KEY: &[u8] = b"identity";

/// The sans-IO engine of one node.
pub struct Engine {
    identity: Arc<Identity>,
    storage: Arc<dyn Storage>,
    crypto: Crypto,
    consensus: Arc<dyn ConsensusFactory>,
    policies: Arc<dyn StewardPolicyFactory>,
    params: EngineParams,
    groups: BTreeMap<GroupId, Group>,
    joins: BTreeMap<GroupId, PendingJoin>,
}

impl Engine {
    /// Opens the engine on `storage`: loads (or creates and stores) the identity and every
    /// group and pending join found there. With `seed`, the identity is that seed's; opening a
    /// storage that holds a different identity fails.
    pub fn open(
        storage: Arc<dyn Storage>,
        consensus: Arc<dyn ConsensusFactory>,
        policies: Arc<dyn StewardPolicyFactory>,
        params: EngineParams,
        seed: Option<[u8; 32]>,
        now: Timestamp,
    ) -> Result<Engine, EngineError> {
        params.validate()?;
        let crypto = Crypto::default();
        let identity = match storage.get(Space::Node, IDENTITY_KEY)? {
            Some(stored) => {
                let stored: [u8; 32] = stored
                    .try_into()
                    .map_err(|_| StorageError::Corrupt("identity record".into()))?;
                let identity = Identity::from_seed(stored)
                    .map_err(|_| StorageError::Corrupt("identity seed".into()))?;
                if let Some(seed) = seed {
                    let wanted = Identity::from_seed(seed)
                        .map_err(|e| EngineError::InvalidRequest(e.to_string()))?;
                    if wanted.member_id() != identity.member_id() {
                        return Err(EngineError::IdentityMismatch {
                            stored: identity.member_id(),
                        });
                    }
                }
                identity
            }
            None => {
                let identity = match seed {
                    Some(seed) => Identity::from_seed(seed)
                        .map_err(|e| EngineError::InvalidRequest(e.to_string()))?,
                    None => Identity::generate(),
                };
                let mut batch = crate::storage::WriteBatch::new();
                batch.put(Space::Node, IDENTITY_KEY.to_vec(), identity.seed().to_vec());
                storage.apply(batch)?;
                identity
            }
        };
        let mut engine = Engine {
            identity: Arc::new(identity),
            storage,
            crypto,
            consensus,
            policies,
            params,
            groups: BTreeMap::new(),
            joins: BTreeMap::new(),
        };
        engine.load_all(now)?;
        Ok(engine)
    }

    fn load_all(&mut self, now: Timestamp) -> Result<(), EngineError> {
        let storage = self.storage.clone();
        let txn = Txn::new(&*storage);
        for (key, _) in txn.scan_prefix(Space::Engine, b"g")? {
            if let Some(gid) = records::Keys::group_of_meta_key(&key) {
                let mut group = Group::load(
                    gid.clone(),
                    &txn,
                    &self.crypto,
                    &self.identity,
                    &*self.consensus,
                    &*self.policies,
                    now,
                )?;
                group.after_restart(&txn, self.identity.member_id(), now)?;
                self.groups.insert(gid, group);
            }
        }
        for join in PendingJoin::load_all(&txn)? {
            if let Some(group) = self.groups.get_mut(&join.group_id) {
                group.rejoining = true;
            }
            self.joins.insert(join.group_id.clone(), join);
        }
        Ok(())
    }

    /// This node's member id.
    pub fn member_id(&self) -> MemberId {
        self.identity.member_id()
    }

    /// This node's identity.
    pub fn identity(&self) -> &Arc<Identity> {
        &self.identity
    }

    /// Makes every random byte the engine draws from now on come from `seed` (for the
    /// deterministic simulator; never in production). Call right after opening.
    pub fn set_entropy_seed(&mut self, seed: [u8; 32]) {
        self.crypto = Crypto::new(crate::entropy::Entropy::seeded(seed));
    }

    /// The engine's parameters.
    pub fn params(&self) -> &EngineParams {
        &self.params
    }

    /// Lowers the inbound size limit (the node sets it to its transport's limit).
    pub fn limit_inbound(&mut self, max_bytes: usize) {
        self.params.max_inbound_bytes = self.params.max_inbound_bytes.min(max_bytes);
    }

    /// Groups this node is a member of.
    pub fn groups(&self) -> Vec<GroupId> {
        self.groups.keys().cloned().collect()
    }

    /// Groups this node is waiting to join.
    pub fn pending_joins(&self) -> Vec<GroupId> {
        self.joins.keys().cloned().collect()
    }

    /// Every topic the node must be subscribed to (used when a node restarts).
    pub fn topics(&self) -> Vec<Topic> {
        let mut topics: Vec<Topic> = self
            .groups
            .values()
            .flat_map(|g| [g.topics.group.clone(), g.topics.welcome.clone()])
            .collect();
        topics.extend(
            self.joins
                .values()
                .flat_map(|j| [j.topics.group.clone(), j.topics.join.clone()]),
        );
        topics.sort();
        topics.dedup();
        topics
    }

    /// A snapshot of a group.
    pub fn group_summary(&self, group_id: &GroupId) -> Option<GroupSummary> {
        let g = self.groups.get(group_id)?;
        Some(GroupSummary {
            group_id: group_id.clone(),
            epoch: g.epoch(),
            members: g.roster().ids().collect(),
            authenticator: g.mls.epoch_authenticator(),
            stewards: g.with_view(self.member_id(), |p, v| p.stewards(v)),
            proposals: g
                .proposals
                .values()
                .map(|r| (r.id, r.action.clone(), r.status))
                .collect(),
        })
    }

    /// Every application message this member sent or received in `group_id` (also before a
    /// restart, and after it left the group), oldest first. A message is here exactly when
    /// the step that sent or delivered it was committed to storage.
    pub fn message_history(&self, group_id: &GroupId) -> Result<Vec<LoggedMessage>, EngineError> {
        Ok(history::read(&*self.storage, group_id)?)
    }

    /// The earliest time [`tick`](Engine::tick) has work to do.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        let me = self.identity.member_id();
        let groups = self
            .groups
            .values()
            .filter_map(|g| g.next_deadline(&me, &self.params));
        let joins = self.joins.values().map(|j| j.next_announce);
        groups.chain(joins).min()
    }

    /// Creates a group with this node as its only member (and steward).
    pub fn create_group(
        &mut self,
        group_id: GroupId,
        now: Timestamp,
    ) -> Result<Output, EngineError> {
        if self.groups.contains_key(&group_id) || self.joins.contains_key(&group_id) {
            return Err(EngineError::GroupExists(group_id));
        }
        let storage = self.storage.clone();
        let txn = Txn::new(&*storage);
        let provider = Provider::new(&self.crypto, &txn);
        let genesis = self
            .crypto
            .entropy()
            .array::<{ crate::mls::GENESIS_LEN }>()?;
        let mls = crate::mls::MlsState::create(
            &provider,
            &self.identity,
            &group_id,
            &genesis,
            &self.params.mls(),
            now,
        )?;
        let mut group = self.new_group(group_id.clone(), mls, now)?;
        let me = self.identity.member_id();
        group.with_policy_mut(me, |policy, view| policy.on_epoch(view, now));
        group.refresh_voters(me);
        group.flush(&txn);
        txn.commit()?;
        let mut out = Output::default();
        out.subscribe.push(group.topics.group.clone());
        out.subscribe.push(group.topics.welcome.clone());
        out.event(Event::GroupCreated {
            group_id: group_id.clone(),
            epoch: group.epoch(),
        });
        tracing::info!(group = %group_id.display(), "group created");
        self.groups.insert(group_id, group);
        Ok(out)
    }

    fn new_group(
        &self,
        id: GroupId,
        mls: crate::mls::MlsState,
        now: Timestamp,
    ) -> Result<Group, EngineError> {
        let consensus = self.consensus.create(crate::consensus::ConsensusContext {
            group_id: id.clone(),
            signer: self.identity.clone(),
            restored: Vec::new(),
            now,
        })?;
        let policy = self.policies.create(&id, None)?;
        Group::new(id, mls, &self.crypto, consensus, policy)
    }

    /// The invitation to a group this node is a member of: hand it to a would-be member, whose
    /// [`join_by_invitation`](Engine::join_by_invitation) then lands only in this group.
    /// Fails with [`EngineError::NoGenesis`] for a group created before groups had a genesis.
    pub fn invitation(&self, group_id: &GroupId) -> Result<Invitation, EngineError> {
        let group = self
            .groups
            .get(group_id)
            .ok_or_else(|| EngineError::UnknownGroup(group_id.clone()))?;
        let genesis = group
            .mls
            .genesis()
            .ok_or_else(|| EngineError::NoGenesis(group_id.clone()))?;
        Ok(Invitation::new(group_id.clone(), &genesis))
    }

    /// Starts joining the group an invitation names, like [`request_join`](Engine::request_join),
    /// but accepts only a Welcome into a group whose genesis matches the invitation; any other
    /// Welcome is refused with `Rejected { ForeignWelcome }` and the join keeps waiting.
    pub fn join_by_invitation(
        &mut self,
        invitation: &Invitation,
        now: Timestamp,
    ) -> Result<Output, EngineError> {
        self.start_join(
            invitation.group_id.clone(),
            Some(invitation.genesis_digest),
            now,
        )
    }

    /// Starts joining a group by its id alone: announces a fresh KeyPackage on its welcome
    /// topic and waits for a Welcome. The KeyPackage is re-announced periodically until the
    /// node is added. Trust on first use: the first group under this id that adds the node is
    /// the one it joins, even a look-alike an outsider created under the same id; use
    /// [`join_by_invitation`](Engine::join_by_invitation) to rule that out.
    pub fn request_join(
        &mut self,
        group_id: GroupId,
        now: Timestamp,
    ) -> Result<Output, EngineError> {
        self.start_join(group_id, None, now)
    }

    fn start_join(
        &mut self,
        group_id: GroupId,
        genesis_digest: Option<[u8; 32]>,
        now: Timestamp,
    ) -> Result<Output, EngineError> {
        if self.groups.contains_key(&group_id) || self.joins.contains_key(&group_id) {
            return Err(EngineError::GroupExists(group_id));
        }
        let storage = self.storage.clone();
        let txn = Txn::new(&*storage);
        let mut out = Output::default();
        let join = PendingJoin::start(
            group_id.clone(),
            &Provider::new(&self.crypto, &txn),
            &self.identity,
            &self.params,
            join::JoinTerms {
                rejoin_since: None,
                genesis_digest,
            },
            now,
            &mut out,
        )?;
        join.persist(&txn);
        txn.commit()?;
        self.joins.insert(group_id, join);
        Ok(out)
    }

    /// Encrypts and publishes an application message; returns its message id.
    pub fn send_message(
        &mut self,
        group_id: &GroupId,
        payload: &[u8],
        now: Timestamp,
    ) -> Result<(Vec<u8>, Output), EngineError> {
        if payload.len() > self.params.max_app_message_bytes {
            return Err(EngineError::PayloadTooLarge {
                size: payload.len(),
                limit: self.params.max_app_message_bytes,
            });
        }
        let message_id = self.crypto.entropy().array::<16>()?.to_vec();
        let max_log = self.params.message_log;
        let id = message_id.clone();
        let out = self.group_command(group_id, now, |group, step| {
            let frame = crate::wire::Frame {
                body: Some(crate::wire::frame::Body::Chat(crate::wire::Chat {
                    message_id: id.clone(),
                    payload: payload.to_vec(),
                    sent_at: now.0,
                    history: group.sync.history(),
                    resent_from_epoch: None,
                })),
            };
            let envelope = publish::publish_frame(group, step, &frame)?;
            let epoch = group.epoch();
            group.sync.note_message(&id, epoch, &envelope, max_log);
            group.sync.note_sent(&id, payload, epoch, max_log);
            let me = step.me();
            history::record(
                step,
                &group.id,
                &LoggedMessage {
                    message_id: id.clone(),
                    sender: me,
                    payload: payload.to_vec(),
                    epoch,
                    at: now,
                },
            );
            Ok(())
        })?;
        Ok((message_id, out))
    }

    /// Opens a vote on adding the holder of `key_package` (an `MlsMessage` KeyPackage), or
    /// defers it while a higher-priority vote runs (see [`Submission`]).
    pub fn propose_add(
        &mut self,
        group_id: &GroupId,
        key_package: &[u8],
        now: Timestamp,
    ) -> Result<(Submission, Output), EngineError> {
        self.proposal_command(group_id, now, |group, step| {
            keypackages::propose_add(group, step, key_package)
        })
    }

    /// Opens a vote on removing `member`, or defers it while a higher-priority vote runs (see
    /// [`Submission`]).
    pub fn propose_remove(
        &mut self,
        group_id: &GroupId,
        member: MemberId,
        now: Timestamp,
    ) -> Result<(Submission, Output), EngineError> {
        self.proposal_command(group_id, now, |group, step| {
            if !group.roster().contains(&member) {
                return reject(
                    RejectReason::InvalidRequest,
                    format!("{member} is not a member"),
                );
            }
            freeze::submit(group, step, ProposalAction::Remove { member }, None)
        })
    }

    /// Asks to leave the group. The request is final without a vote (only this member can make
    /// it); a steward other than this member commits the removal, after which this member's
    /// state of the group is erased ([`Event::Removed`]). Deferred while a higher-priority vote
    /// runs (see [`Submission`]); asking again while the request is pending returns it.
    pub fn leave(
        &mut self,
        group_id: &GroupId,
        now: Timestamp,
    ) -> Result<(Submission, Output), EngineError> {
        self.proposal_command(group_id, now, |group, step| {
            let me = step.me();
            let action = ProposalAction::Leave { member: me };
            let pending = group
                .proposals
                .live_naming(&me)
                .find(|r| r.action == action && r.epoch == group.epoch());
            if let Some(rec) = pending {
                return Ok(Submission::Opened(rec.id));
            }
            freeze::submit(group, step, action, None)
        })
    }

    /// Casts this node's vote on an open proposal.
    pub fn vote(
        &mut self,
        group_id: &GroupId,
        proposal: ProposalId,
        yes: bool,
        now: Timestamp,
    ) -> Result<Output, EngineError> {
        self.group_command(group_id, now, |group, step| {
            governance::cast_vote(group, step, proposal, yes)
        })
    }

    /// Processes one message from the transport.
    pub fn handle(&mut self, inbound: &Inbound, now: Timestamp) -> Result<Output, EngineError> {
        let mut out = Output::default();
        let mut queue = VecDeque::from([(inbound.topic.clone(), inbound.payload.clone())]);
        // Each requeued message is one the engine buffered earlier; buffers are bounded, so
        // this loop is too.
        while let Some((topic, payload)) = queue.pop_front() {
            let (o, requeue) = self.handle_one(&topic, &payload, now)?;
            out.append(o);
            queue.extend(requeue);
        }
        Ok(out)
    }

    /// Advances time: commits that are due, consensus expiries, parked-commit timeouts,
    /// KeyPackage re-announcements.
    pub fn tick(&mut self, now: Timestamp) -> Result<Output, EngineError> {
        let mut out = Output::default();
        let ids: Vec<GroupId> = self.groups.keys().cloned().collect();
        let mut requeue = Vec::new();
        for gid in ids {
            let due = self
                .groups
                .get(&gid)
                .and_then(|g| g.next_deadline(&self.identity.member_id(), &self.params))
                .is_some_and(|d| d <= now);
            if !due {
                continue;
            }
            let (o, r) = self.group_step(&gid, now, |group, step| {
                group.consensus.tick(step.now);
                governance::drain_consensus(group, step)?;
                let me = step.me();
                let mut actions = Vec::new();
                for (offender, evidence) in validation::expire_parked(group, step) {
                    actions.extend(group.with_policy_mut(me, |policy, view| {
                        policy.on_violation(
                            view,
                            &offender,
                            Violation::BrokenCommit,
                            &evidence,
                            step.now,
                        )
                    }));
                }
                // A commit of this epoch still waiting for its proposals' votes may be the one
                // everyone else applies: the window stays open until it is judged (bounded by
                // the parking grace period).
                let epoch = group.epoch();
                let judging = group.parked.iter().any(|h| h.epoch == epoch);
                if !judging && group.meta.selection_due.is_some_and(|d| d <= step.now) {
                    selection::close(group, step)?;
                }
                // The policy's answer may have changed since the last plan (a timer, a switch).
                commit::schedule(group, step);
                if group.meta.commit_due.is_some_and(|d| d <= step.now) {
                    commit::create_commit(group, step)?;
                }
                repair::tick(group, step)?;
                actions
                    .extend(group.with_policy_mut(me, |policy, view| policy.tick(view, step.now)));
                governance::run_policy_actions(group, step, actions)
            })?;
            out.append(o);
            requeue.extend(r);
        }
        for join in self.joins.values_mut() {
            join.tick(now, &self.params, &mut out);
        }
        for (topic, payload) in requeue {
            let (o, r) = self.handle_one(&topic, &payload, now)?;
            out.append(o);
            for (t, p) in r {
                out.append(self.handle(
                    &Inbound {
                        topic: t,
                        payload: p,
                        message_id: Vec::new(),
                    },
                    now,
                )?);
            }
        }
        Ok(out)
    }
}
