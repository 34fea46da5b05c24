//! The single place where inbound bytes are dispatched: size and envelope checks, routing by
//! group and kind (the topic each kind travels on, duplicates, traffic of another branch) and
//! epoch windows. What each kind means is handled in [`mls`] (MLS application messages and
//! commits) and [`sealed`] (envelopes sealed under an epoch key: consensus messages, control
//! frames, certificates, catch-up requests).

mod mls;
mod sealed;
pub(super) mod state;

use super::error::EngineError;
use super::event::RejectReason;
use super::group::Group;
use super::keypackages;
use super::machine::Engine;
use super::output::Output;
use super::silent::Silent;
use super::step::{Abort, Requeue, Step, reject};
use super::topics::branch_tagged;
use crate::types::{GroupId, Timestamp, Topic};
use crate::wire::{Envelope, Kind, bundle};

use self::mls::{on_commit, on_mls};
use self::sealed::{on_catch_up, on_certificate, on_consensus, on_control};
use self::state::Held;

/// Kinds whose exact copies are dropped unseen (everything a member processes on the group
/// topic but bundles, whose contents are checked one by one).
fn deduplicated(kind: Kind) -> bool {
    branch_tagged(kind) || matches!(kind, Kind::ForkNotice | Kind::Beyond)
}

impl Engine {
    /// Processes one inbound message as one step.
    pub(super) fn handle_one(
        &mut self,
        topic: &Topic,
        payload: &[u8],
        now: Timestamp,
    ) -> Result<(Output, Requeue), EngineError> {
        if payload.len() > self.params.max_inbound_bytes {
            let detail = format!(
                "{} bytes > {}",
                payload.len(),
                self.params.max_inbound_bytes
            );
            return Ok((
                Output::rejected(None, RejectReason::Oversized, detail),
                Vec::new(),
            ));
        }
        let (env, kind) = match Envelope::decode_checked(payload) {
            Ok(v) => v,
            Err(e) => {
                return Ok((
                    Output::rejected(None, RejectReason::Malformed, e.to_string()),
                    Vec::new(),
                ));
            }
        };
        let Some(gid) = GroupId::new(env.group_id.clone()) else {
            return Ok((
                Output::rejected(None, RejectReason::Malformed, "group id"),
                Vec::new(),
            ));
        };
        // A member waiting to be re-added hands everything to its pending join: the old state
        // is frozen, and traffic of the group it rejoins is held for the replacement.
        if self
            .groups
            .get(&gid)
            .is_some_and(|g| g.rejoin.is_rejoining())
            && self.joins.contains_key(&gid)
        {
            return self.on_join_traffic(&gid, topic, kind, env, payload, now);
        }
        if let Some(group) = self.groups.get_mut(&gid) {
            if let Some(refused) = group.topics.refuse_wrong_topic(&gid, topic, kind) {
                return Ok((refused, Vec::new()));
            }
            // An exact copy of something already processed (a re-published answer to someone
            // else's repair request, a transport duplicate) is dropped before any work.
            if deduplicated(kind) && group.repair.is_duplicate(payload, now) {
                return Ok((Output::only_silent(Silent::Duplicate), Vec::new()));
            }
            let mut other_branch = false;
            if branch_tagged(kind) {
                // Traffic of a branch that lost (or won against) this one: never processable.
                if group.fork.is_foreign(&env.branch) {
                    return Ok((Output::only_silent(Silent::OtherBranch), Vec::new()));
                }
                // An envelope of a known epoch with another branch tag: another branch.
                other_branch = env.branch.len() == super::fork::TAG_LEN
                    && group
                        .branch_tag(env.epoch)
                        .is_some_and(|t| t[..] != env.branch[..]);
            }
            let topic = topic.clone();
            if other_branch {
                let (mut out, _) =
                    self.group_step(&gid, now, |g, s| super::fork::check(g, s, &env))?;
                let (o, r) = self.dispatch_group(&gid, &topic, kind, env, payload, now)?;
                out.append(o);
                return Ok((out, r));
            }
            return self.dispatch_group(&gid, &topic, kind, env, payload, now);
        }
        if self.joins.contains_key(&gid) {
            return self.on_join_traffic(&gid, topic, kind, env, payload, now);
        }
        Ok((
            Output::rejected(
                Some(gid),
                RejectReason::UnknownGroup,
                "not a member or joining",
            ),
            Vec::new(),
        ))
    }

    /// Processes an envelope of a group this node is a member of, by kind.
    fn dispatch_group(
        &mut self,
        gid: &GroupId,
        topic: &Topic,
        kind: Kind,
        env: Envelope,
        payload: &[u8],
        now: Timestamp,
    ) -> Result<(Output, Requeue), EngineError> {
        let gid = gid.clone();
        let topic = topic.clone();
        match kind {
            Kind::Mls => self.group_step(&gid, now, |g, s| on_mls(g, s, &topic, env, payload)),
            Kind::Consensus => {
                self.group_step(&gid, now, |g, s| on_consensus(g, s, &topic, env, payload))
            }
            Kind::Control => {
                self.group_step(&gid, now, |g, s| on_control(g, s, &topic, env, payload))
            }
            Kind::Commit => {
                self.group_step(&gid, now, |g, s| on_commit(g, s, &topic, env, payload))
            }
            Kind::Certificate => {
                self.group_step(&gid, now, |g, s| on_certificate(g, s, &topic, env, payload))
            }
            Kind::CatchUp => self.group_step(&gid, now, |g, s| on_catch_up(g, s, env, payload)),
            // Each bundled envelope is processed as if it had arrived alone, in order.
            Kind::Bundle => match bundle::unpack(&env.group_id, &env.body) {
                Ok(inner) => Ok((
                    Output::default(),
                    inner.into_iter().map(|e| (topic.clone(), e)).collect(),
                )),
                Err(e) => Ok((
                    Output::rejected(Some(gid), RejectReason::Malformed, e.to_string()),
                    Vec::new(),
                )),
            },
            Kind::KeyPackage => self.group_step(&gid, now, |g, s| {
                keypackages::on_key_package(g, s, &env.body)
            }),
            Kind::Rejoin => self.group_step(&gid, now, |g, s| {
                super::rejoin::on_rejoin(g, s, env.epoch, &env.body)
            }),
            // Welcomes and trees for joiners (on the join topic, which members do not follow):
            // nothing for a member to do.
            Kind::Welcome | Kind::RatchetTree | Kind::Unspecified => {
                Ok((Output::only_silent(Silent::NotForThisMember), Vec::new()))
            }
            Kind::ForkNotice => {
                self.group_step(&gid, now, |g, s| super::fork::on_notice(g, s, env))
            }
            Kind::Beyond => self.group_step(&gid, now, |g, s| {
                super::beyond::on_statement(g, s, &env, payload)
            }),
        }
    }
}

/// Decides what to do with a message of `epoch` given the group's current epoch: process it
/// now (`Ok(true)`), hold it for later or ignore it (`Ok(false)`), or refuse it.
pub(super) fn epoch_window(
    group: &mut Group,
    step: &mut Step<'_>,
    topic: &Topic,
    payload: Vec<u8>,
    epoch: u64,
    oldest_ok: u64,
) -> Result<bool, Abort> {
    let current = group.epoch();
    if epoch < group.meta.joined_epoch {
        step.out.silent(Silent::BeforeJoined); // re-published history for others
        return Ok(false);
    }
    if epoch > current {
        group.repair.catch_up.note_ahead(epoch, step.now);
        if epoch - current > step.params.max_future_epochs {
            return reject(
                RejectReason::FutureEpoch,
                format!("epoch {epoch}, current {current}"),
            );
        }
        if group.inbound.is_full(step.params.max_buffered_messages) {
            return reject(RejectReason::BufferFull, "future-epoch buffer full");
        }
        group.inbound.hold(Held {
            topic: topic.clone(),
            payload,
            epoch,
            since: step.now,
            waiting: Vec::new(),
            author: None,
        });
        step.out.silent(Silent::Held);
        return Ok(false);
    }
    if epoch < oldest_ok {
        return reject(
            RejectReason::StaleEpoch,
            format!("epoch {epoch}, current {current}"),
        );
    }
    Ok(true)
}
