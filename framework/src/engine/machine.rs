//! The [`Engine`]: one node's groups, pending joins, identity, storage and plugins, how it is
//! opened from storage, what it tells the application about its groups, and the two calls
//! that drive it, [`handle`](Engine::handle) and [`tick`](Engine::tick). The application's
//! commands are in [`super::commands`]; the step machinery in [`super::run`].

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use super::error::EngineError;
use super::event::ProposalAction;
use super::group::Group;
use super::history::{self, LoggedMessage};
use super::join::PendingJoin;
use super::output::Output;
use super::params::EngineParams;
use super::records::{self, ProposalStatus};
use super::tick;
use crate::consensus::ConsensusFactory;
use crate::identity::Identity;
use crate::mls::Crypto;
use crate::steward::StewardPolicyFactory;
use crate::storage::{Space, Storage, StorageError};
use crate::transport::Inbound;
use crate::txn::Txn;
use crate::types::{Epoch, GroupId, MemberId, ProposalId, Timestamp, Topic};

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
    pub(super) identity: Arc<Identity>,
    pub(super) storage: Arc<dyn Storage>,
    pub(super) crypto: Crypto,
    pub(super) consensus: Arc<dyn ConsensusFactory>,
    pub(super) policies: Arc<dyn StewardPolicyFactory>,
    pub(super) params: EngineParams,
    pub(super) groups: BTreeMap<GroupId, Group>,
    pub(super) joins: BTreeMap<GroupId, PendingJoin>,
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
                let mut group = self.load_group(gid.clone(), &txn, now)?;
                group.after_restart(&txn, self.identity.member_id(), now)?;
                self.groups.insert(gid, group);
            }
        }
        for join in PendingJoin::load_all(&txn)? {
            if let Some(group) = self.groups.get_mut(&join.group_id) {
                group.rejoin.start();
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

    /// A group's current epoch, if this node is a member.
    pub fn epoch(&self, group_id: &GroupId) -> Option<Epoch> {
        self.groups.get(group_id).map(|g| g.epoch())
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
            .filter_map(|g| tick::next_deadline(g, &me, &self.params));
        let joins = self.joins.values().map(|j| j.next_announce);
        groups.chain(joins).min()
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
                .and_then(|g| tick::next_deadline(g, &self.identity.member_id(), &self.params))
                .is_some_and(|d| d <= now);
            if !due {
                continue;
            }
            let (o, r) = self.group_step(&gid, now, tick::tick_group)?;
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
