//! Traffic for a group this node is joining: Welcomes and ratchet trees (matched by epoch),
//! group traffic held until the join completes, and completing the join (or the rejoin, which
//! replaces the frozen old state of the group in one transaction).

use super::{MAX_TREES, MAX_WELCOMES, PendingJoin};
use crate::engine::error::EngineError;
use crate::engine::event::{GroupEvent, RejectReason};
use crate::engine::group::Group;
use crate::engine::machine::Engine;
use crate::engine::output::Output;
use crate::engine::silent::Silent;
use crate::engine::step::Requeue;
use crate::mls::{MlsError, MlsState, Provider, decode_welcome};
use crate::txn::Txn;
use crate::types::{Epoch, GroupId, Timestamp, Topic};
use crate::wire::{Envelope, Kind};

impl Engine {
    /// Traffic for a group this node is joining.
    pub(crate) fn on_join_traffic(
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
        if let Some(refused) = join.topics.refuse_wrong_topic(gid, topic, kind) {
            return Ok((refused, Vec::new()));
        }
        let mut out = Output::default();
        match kind {
            Kind::Mls | Kind::Consensus | Kind::Control | Kind::Commit => {
                if join.buffered.len() < max_buffered {
                    join.buffered.push((topic.clone(), raw.to_vec()));
                    out.silent(Silent::Held);
                } else {
                    out.event(GroupEvent::Rejected {
                        group_id: Some(gid.clone()),
                        reason: RejectReason::BufferFull,
                        detail: "traffic buffered for a join in progress".into(),
                    });
                }
                return Ok((out, Vec::new()));
            }
            Kind::Welcome => {
                let Ok((_, refs)) = decode_welcome(&env.body) else {
                    out.event(GroupEvent::Rejected {
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
                    out.event(GroupEvent::Rejected {
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
                    out.event(GroupEvent::Rejected {
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
        let Some(join) = self.joins.get(gid) else {
            return Ok((Output::default(), Vec::new()));
        };
        let rejoin_since = join.rejoin_since;
        let JoinAttempt {
            joined,
            mut bad_trees,
            foreign_welcomes,
        } = self.attempt_join(gid, now)?;
        let mut out = Output::default();
        for (_, look_alike) in &foreign_welcomes {
            let detail = if *look_alike {
                "a welcome into a group under this id with another genesis than the expected one"
            } else {
                "a welcome into another group, labelled with this one's id"
            };
            out.event(GroupEvent::Rejected {
                group_id: Some(gid.clone()),
                reason: RejectReason::ForeignWelcome,
                detail: detail.into(),
            });
        }
        let Some(group) = joined else {
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
        self.install_joined(gid, group, rejoin_since, out, now)
    }

    /// Tries every Welcome with every ratchet tree of its epoch (newest tree first) until one
    /// pair joins; a rejoin replaces the old state of the group in the same transaction.
    fn attempt_join(&mut self, gid: &GroupId, now: Timestamp) -> Result<JoinAttempt, EngineError> {
        let storage = self.storage.clone();
        let Some(join) = self.joins.get(gid) else {
            return Ok(JoinAttempt::default());
        };
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
        Ok(JoinAttempt {
            joined,
            bad_trees,
            foreign_welcomes,
        })
    }

    /// Installs a group just joined: the traffic held for it is requeued, what this member
    /// owes the group from a replaced state is carried over, and after a rejoin its own
    /// messages are sent again and its deferred requests released.
    fn install_joined(
        &mut self,
        gid: &GroupId,
        mut group: Group,
        rejoin_since: Option<Epoch>,
        mut out: Output,
        now: Timestamp,
    ) -> Result<(Output, Requeue), EngineError> {
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
            let outbox = old.repair.take_outbox();
            tracing::debug!(group = %gid.display(), messages = outbox.len(), "carried over from the replaced state");
            group.repair.restore_outbox(outbox);
            group.meta.deferred_requests = std::mem::take(&mut old.meta.deferred_requests);
        }
        tracing::info!(group = %gid.display(), epoch = group.epoch(), rejoin = rejoin_since.is_some(), "joined");
        // A member receives add requests on the welcome topic, and no longer Welcomes.
        out.subscribe.push(group.topics.welcome.clone());
        out.unsubscribe.push(group.topics.join.clone());
        out.event(GroupEvent::Joined {
            group_id: gid.clone(),
            epoch: group.epoch(),
            members: group.roster().len() as u32,
        });
        self.groups.insert(gid.clone(), group);
        if let Some(since) = rejoin_since {
            let (o, r) = self.group_step(gid, now, |group, step| {
                crate::engine::repair::resend_since(group, step, since)?;
                crate::engine::freeze::release_deferred(group, step)
            })?;
            out.append(o);
            let mut requeue = requeue;
            requeue.extend(r);
            return Ok((out, requeue));
        }
        Ok((out, requeue))
    }
}

/// What trying the Welcomes and trees of a pending join gave.
#[derive(Default)]
struct JoinAttempt {
    /// The group joined, if a pair joined.
    joined: Option<Group>,
    /// Trees that failed with a Welcome of their epoch.
    bad_trees: Vec<usize>,
    /// Welcomes into another group (true: a look-alike under this id with another genesis).
    foreign_welcomes: Vec<(usize, bool)>,
}

/// True if the joined group's genesis has the expected digest (a group without a genesis
/// never matches).
fn genesis_matches(gid: &GroupId, mls: &MlsState, digest: &[u8; 32]) -> bool {
    mls.genesis()
        .is_some_and(|genesis| crate::invitation::genesis_digest(gid, &genesis) == *digest)
}
