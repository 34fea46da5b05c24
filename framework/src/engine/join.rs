//! The joiner's side: announce a KeyPackage, wait for a Welcome addressed to it and for the
//! ratchet tree of the same epoch (delivered separately, never inside the Welcome), then join.
//! Group traffic that arrives before the Welcome is held and replayed after joining.
//!
//! A *rejoin* is the same with a `Rejoin` announcement, by a member whose current state of the
//! group cannot follow the others any more (§13 of the spec): the old state stays in place, but
//! frozen, until the Welcome arrives; then it is erased and replaced in one storage transaction,
//! keeping only this member's own unsent work — its recent messages (sent again in the new
//! state) and its pending membership requests.

use serde::{Deserialize, Serialize};

use super::event::{Event, RejectReason};
use super::output::Output;
use super::records::{decode, encode};
use super::silent::Silent;
use super::topics::GroupTopics;
use super::{Engine, EngineError, EngineParams, Requeue};
use crate::identity::Identity;
use crate::mls::{MlsError, MlsState, Provider, decode_welcome, new_key_package};
use crate::storage::Space;
use crate::txn::Txn;
use crate::types::{Epoch, GroupId, Timestamp, Topic};
use crate::wire::{Envelope, Kind};

const MAX_WELCOMES: usize = 4;
const MAX_TREES: usize = 8;

/// What survives a restart of a pending join.
#[derive(Serialize, Deserialize)]
struct JoinRecord {
    group_id: Vec<u8>,
    key_package: Vec<u8>,
    references: Vec<Vec<u8>>,
    rejoin_since: Option<Epoch>,
}

fn record_key(group_id: &GroupId) -> Vec<u8> {
    [b"j/".as_slice(), group_id.as_bytes()].concat()
}

/// The genesis digest a pending join must match, a record of its own beside the
/// [`JoinRecord`] (whose encoding predates it).
fn digest_key(group_id: &GroupId) -> Vec<u8> {
    [b"jd/".as_slice(), group_id.as_bytes()].concat()
}

/// What kind of join this is and what the group joined must be.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct JoinTerms {
    /// For a rejoin: the last epoch this member shares with the group.
    pub rejoin_since: Option<Epoch>,
    /// The digest of the genesis the group joined must have (from an invitation, or for a
    /// rejoin from the member's own state); `None` joins the first group under the id.
    pub genesis_digest: Option<[u8; 32]>,
}

/// A join in progress.
pub(crate) struct PendingJoin {
    pub group_id: GroupId,
    pub topics: GroupTopics,
    key_package: Vec<u8>,
    references: Vec<Vec<u8>>,
    /// For a rejoin: the last epoch this member shares with the group.
    pub rejoin_since: Option<Epoch>,
    /// The digest of the genesis the group joined must have (from an invitation, or for a
    /// rejoin from the member's own state); `None` joins the first group under the id.
    genesis_digest: Option<[u8; 32]>,
    pub next_announce: Timestamp,
    welcomes: Vec<(Epoch, Vec<u8>)>,
    trees: Vec<(Epoch, Vec<u8>)>,
    buffered: Vec<(Topic, Vec<u8>)>,
}

impl PendingJoin {
    /// Generates a KeyPackage and announces it (as a rejoin when `terms.rejoin_since` is set).
    pub(crate) fn start(
        group_id: GroupId,
        provider: &Provider<'_, '_, '_>,
        identity: &Identity,
        params: &EngineParams,
        terms: JoinTerms,
        now: Timestamp,
        out: &mut Output,
    ) -> Result<PendingJoin, EngineError> {
        let JoinTerms {
            rejoin_since,
            genesis_digest,
        } = terms;
        let kp = new_key_package(provider, identity, now)?;
        let join = PendingJoin {
            topics: GroupTopics::of(&group_id),
            group_id,
            key_package: kp.message,
            references: vec![kp.reference.clone()],
            rejoin_since,
            genesis_digest,
            next_announce: now.plus_ms(params.join_announce_interval_ms),
            welcomes: Vec::new(),
            trees: Vec::new(),
            buffered: Vec::new(),
        };
        out.subscribe.push(join.topics.join.clone());
        out.subscribe.push(join.topics.group.clone());
        join.announce(out);
        out.event(Event::JoinRequested {
            group_id: join.group_id.clone(),
            key_package_ref: kp.reference,
        });
        tracing::info!(group = %join.group_id.display(), ?rejoin_since, "join requested");
        Ok(join)
    }

    fn announce(&self, out: &mut Output) {
        let (kind, epoch) = match self.rejoin_since {
            Some(since) => (Kind::Rejoin, since),
            None => (Kind::KeyPackage, 0),
        };
        let env = Envelope::new(
            kind,
            self.group_id.as_bytes(),
            epoch,
            self.key_package.clone(),
        );
        out.publish(&self.topics.welcome, env.encode_to_vec());
    }

    /// Re-announces the KeyPackage when due.
    pub(crate) fn tick(&mut self, now: Timestamp, params: &EngineParams, out: &mut Output) {
        if now >= self.next_announce {
            self.announce(out);
            self.next_announce = now.plus_ms(params.join_announce_interval_ms);
        }
    }

    pub(crate) fn persist(&self, txn: &Txn<'_>) {
        let rec = JoinRecord {
            group_id: self.group_id.as_bytes().to_vec(),
            key_package: self.key_package.clone(),
            references: self.references.clone(),
            rejoin_since: self.rejoin_since,
        };
        txn.put(Space::Node, record_key(&self.group_id), encode(&rec));
        match self.genesis_digest {
            Some(digest) => txn.put(Space::Node, digest_key(&self.group_id), digest.to_vec()),
            None => txn.delete(Space::Node, digest_key(&self.group_id)),
        }
    }

    /// Erases what [`persist`](Self::persist) wrote, in `txn`.
    fn forget(group_id: &GroupId, txn: &Txn<'_>) {
        txn.delete(Space::Node, record_key(group_id));
        txn.delete(Space::Node, digest_key(group_id));
    }

    pub(crate) fn load_all(txn: &Txn<'_>) -> Result<Vec<PendingJoin>, EngineError> {
        let mut out = Vec::new();
        for (_, v) in txn.scan_prefix(Space::Node, b"j/")? {
            let rec: JoinRecord = decode("pending join", &v)?;
            let Some(group_id) = GroupId::new(rec.group_id) else {
                continue;
            };
            let genesis_digest = match txn.get(Space::Node, &digest_key(&group_id))? {
                None => None,
                Some(bytes) => Some(<[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
                    EngineError::Storage(crate::storage::StorageError::Corrupt(
                        "genesis digest of a pending join is not 32 bytes".into(),
                    ))
                })?),
            };
            out.push(PendingJoin {
                topics: GroupTopics::of(&group_id),
                group_id,
                key_package: rec.key_package,
                references: rec.references,
                rejoin_since: rec.rejoin_since,
                genesis_digest,
                next_announce: Timestamp(0),
                welcomes: Vec::new(),
                trees: Vec::new(),
                buffered: Vec::new(),
            });
        }
        Ok(out)
    }
}

impl Engine {
    /// Traffic for a group this node is joining.
    pub(super) fn on_join_traffic(
        &mut self,
        gid: &GroupId,
        topic: &Topic,
        kind: Kind,
        env: Envelope,
        raw: &[u8],
        now: Timestamp,
    ) -> Result<(Output, Requeue), EngineError> {
        let max_buffered = self.params.max_buffered_messages;
        let Some(join) = self.joins.get_mut(gid) else {
            return Ok((Output::default(), Vec::new()));
        };
        if let Some(refused) = super::inbound::wrong_topic(&join.topics, gid, topic, kind) {
            return Ok((refused, Vec::new()));
        }
        let mut out = Output::default();
        match kind {
            Kind::Mls | Kind::Consensus | Kind::Control | Kind::Commit => {
                if join.buffered.len() < max_buffered {
                    join.buffered.push((topic.clone(), raw.to_vec()));
                    out.silent(Silent::Held);
                } else {
                    out.event(Event::Rejected {
                        group_id: Some(gid.clone()),
                        reason: RejectReason::BufferFull,
                        detail: "traffic buffered for a join in progress".into(),
                    });
                }
                return Ok((out, Vec::new()));
            }
            Kind::Welcome => {
                let Ok((_, refs)) = decode_welcome(&env.body) else {
                    out.event(Event::Rejected {
                        group_id: Some(gid.clone()),
                        reason: RejectReason::Malformed,
                        detail: "undecodable welcome".into(),
                    });
                    return Ok((out, Vec::new()));
                };
                if !refs.iter().any(|r| join.references.contains(r)) {
                    tracing::debug!(group = %gid.display(), "a welcome for someone else");
                    out.silent(Silent::NotForThisMember);
                    return Ok((out, Vec::new()));
                }
                if join.welcomes.len() >= MAX_WELCOMES {
                    join.welcomes.remove(0);
                    out.event(Event::Rejected {
                        group_id: Some(gid.clone()),
                        reason: RejectReason::BufferFull,
                        detail: "oldest waiting Welcome dropped for a newer one".into(),
                    });
                }
                join.welcomes.push((env.epoch, env.body));
            }
            Kind::RatchetTree => {
                if join.trees.len() >= MAX_TREES {
                    join.trees.remove(0);
                    out.event(Event::Rejected {
                        group_id: Some(gid.clone()),
                        reason: RejectReason::BufferFull,
                        detail: "oldest waiting ratchet tree dropped for a newer one".into(),
                    });
                }
                join.trees.push((env.epoch, env.body));
                tracing::debug!(group = %gid.display(), epoch = env.epoch, "ratchet tree received");
            }
            // Certificate parts and catch-up requests serve members catching up in an epoch a
            // joiner never had.
            Kind::Certificate
            | Kind::CatchUp
            | Kind::Bundle
            | Kind::KeyPackage
            | Kind::Rejoin
            | Kind::ForkNotice
            | Kind::Beyond
            | Kind::Unspecified => {
                out.silent(Silent::NotForThisMember);
                return Ok((out, Vec::new()));
            }
        }
        let (more, requeue) = self.try_complete_join(gid, now)?;
        if more.events.is_empty() && self.joins.contains_key(gid) {
            out.silent(Silent::Held); // waits for its other half (Welcome or tree)
        }
        out.append(more);
        Ok((out, requeue))
    }

    /// Joins if a Welcome for this node and a ratchet tree of the same epoch are both here.
    fn try_complete_join(
        &mut self,
        gid: &GroupId,
        now: Timestamp,
    ) -> Result<(Output, Requeue), EngineError> {
        let storage = self.storage.clone();
        let Some(join) = self.joins.get(gid) else {
            return Ok((Output::default(), Vec::new()));
        };
        let rejoin_since = join.rejoin_since;
        let genesis_digest = join.genesis_digest;
        let mut bad_trees = Vec::new();
        let mut foreign_welcomes: Vec<(usize, bool)> = Vec::new();
        let mut joined = None;
        let mut replaced = false;
        'outer: for (w_idx, (w_epoch, welcome_bytes)) in join.welcomes.iter().enumerate() {
            for (t_idx, (t_epoch, tree)) in join.trees.iter().enumerate().rev() {
                if t_epoch != w_epoch {
                    continue;
                }
                let Ok((welcome, _)) = decode_welcome(welcome_bytes) else {
                    continue 'outer;
                };
                let txn = Txn::new(&*storage);
                let provider = Provider::new(&self.crypto, &txn);
                // A rejoin replaces the old state of the group in the same transaction.
                if let Some(old) = self.groups.get_mut(gid) {
                    old.mls.delete(&provider)?;
                    old.erase(&txn);
                    replaced = true;
                }
                let joined_state =
                    MlsState::join(&provider, welcome, tree, &self.params.mls(), gid).and_then(
                        |joined| match genesis_digest {
                            Some(digest) if !genesis_matches(gid, &joined.0, &digest) => {
                                Err(MlsError::WrongGenesis)
                            }
                            _ => Ok(joined),
                        },
                    );
                match joined_state {
                    Ok((mls, policy_state)) => {
                        let mut group = self.new_group(gid.clone(), mls, now)?;
                        group.meta.joined_epoch = group.epoch();
                        if let Some(state) = policy_state {
                            group.policy.adopt_joiner_state(&state)?;
                        }
                        let me = self.identity.member_id();
                        group.with_policy_mut(me, |policy, view| policy.on_epoch(view, now));
                        group.refresh_voters(me);
                        group.flush(&txn);
                        PendingJoin::forget(gid, &txn);
                        txn.commit()?;
                        joined = Some(group);
                        break 'outer;
                    }
                    Err(e) => {
                        tracing::debug!(group = %gid.display(), error = %e, "welcome + tree did not join");
                        // A Welcome into another group (relabelled with this group's id) is
                        // dropped; otherwise the tree is taken for the culprit.
                        let foreign = matches!(e, MlsError::WrongGroup | MlsError::WrongGenesis);
                        if foreign {
                            let look_alike = matches!(e, MlsError::WrongGenesis);
                            foreign_welcomes.push((w_idx, look_alike));
                        } else {
                            bad_trees.push(t_idx);
                        }
                        if replaced {
                            // Nothing was written: the old state is still in storage.
                            drop(txn);
                            let reload = Txn::new(&*storage);
                            if let Some(old) = self.groups.get_mut(gid) {
                                old.reload_mls(&reload, &self.crypto)?;
                            }
                            replaced = false;
                        }
                        if foreign {
                            continue 'outer;
                        }
                    }
                }
            }
        }
        let mut out = Output::default();
        for (_, look_alike) in &foreign_welcomes {
            let detail = if *look_alike {
                "a welcome into a group under this id with another genesis than the expected one"
            } else {
                "a welcome into another group, labelled with this one's id"
            };
            out.event(Event::Rejected {
                group_id: Some(gid.clone()),
                reason: RejectReason::ForeignWelcome,
                detail: detail.into(),
            });
        }
        let Some(mut group) = joined else {
            if let Some(join) = self.joins.get_mut(gid) {
                bad_trees.sort_unstable();
                bad_trees.dedup();
                for idx in bad_trees.into_iter().rev() {
                    join.trees.remove(idx);
                }
                for (idx, _) in foreign_welcomes.into_iter().rev() {
                    join.welcomes.remove(idx);
                }
            }
            return Ok((out, Vec::new()));
        };
        // Traffic from before our epoch was not meant for us: drop it silently.
        let epoch = group.epoch();
        let requeue: Requeue = self
            .joins
            .remove(gid)
            .map(|j| j.buffered)
            .unwrap_or_default()
            .into_iter()
            .filter(|(_, raw)| {
                Envelope::decode_checked(raw).is_ok_and(|(env, _)| env.epoch >= epoch)
            })
            .collect();
        // What this member still owes the group from its replaced state: its own recent
        // messages and its pending membership requests.
        if let Some(mut old) = self.groups.remove(gid) {
            let outbox = old.sync.take_outbox();
            tracing::debug!(group = %gid.display(), messages = outbox.len(), "carried over from the replaced state");
            group.sync.restore_outbox(outbox);
            group.meta.deferred_requests = std::mem::take(&mut old.meta.deferred_requests);
        }
        tracing::info!(group = %gid.display(), epoch = group.epoch(), rejoin = rejoin_since.is_some(), "joined");
        // A member receives add requests on the welcome topic, and no longer Welcomes.
        out.subscribe.push(group.topics.welcome.clone());
        out.unsubscribe.push(group.topics.join.clone());
        out.event(Event::Joined {
            group_id: gid.clone(),
            epoch: group.epoch(),
            members: group.roster().len() as u32,
        });
        self.groups.insert(gid.clone(), group);
        if let Some(since) = rejoin_since {
            let (o, r) = self.group_step(gid, now, |group, step| {
                super::rejoin::resend_since(group, step, since)?;
                super::freeze::release_deferred(group, step)
            })?;
            out.append(o);
            let mut requeue = requeue;
            requeue.extend(r);
            return Ok((out, requeue));
        }
        Ok((out, requeue))
    }
}

/// True if the joined group's genesis has the expected digest (a group without a genesis
/// never matches).
fn genesis_matches(gid: &GroupId, mls: &MlsState, digest: &[u8; 32]) -> bool {
    mls.genesis()
        .is_some_and(|genesis| crate::invitation::genesis_digest(gid, &genesis) == *digest)
}
