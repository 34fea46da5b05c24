//! The step machinery: every engine call runs as one atomic step over storage. A step's writes
//! are buffered in a [`Txn`] and applied together; a refused input drops them and reloads any
//! OpenMLS state the step touched, so it leaves no trace. Also here: loading and reloading a
//! group, starting a rejoin after a step asked for one, and reporting a violation a refused
//! input proved.

use super::error::EngineError;
use super::event::{GroupEvent, Violation};
use super::freeze::Submission;
use super::group::Group;
use super::machine::Engine;
use super::output::Output;
use super::silent::Silent;
use super::step::{Abort, Requeue, Step};
use crate::transport::Inbound;
use crate::txn::Txn;
use crate::types::{GroupId, MemberId, Timestamp};

impl Engine {
    /// Runs a command that opens a proposal; returns its id.
    pub(super) fn proposal_command(
        &mut self,
        group_id: &GroupId,
        now: Timestamp,
        f: impl FnOnce(&mut Group, &mut Step<'_>) -> Result<Submission, Abort>,
    ) -> Result<(Submission, Output), EngineError> {
        let mut id = None;
        let out = self.group_command(group_id, now, |group, step| {
            id = Some(f(group, step)?);
            Ok(())
        })?;
        id.map(|id| (id, out))
            .ok_or_else(|| EngineError::InvalidRequest("no proposal opened".into()))
    }

    /// Runs a command step on a group; a refusal becomes an error.
    pub(super) fn group_command(
        &mut self,
        group_id: &GroupId,
        now: Timestamp,
        f: impl FnOnce(&mut Group, &mut Step<'_>) -> Result<(), Abort>,
    ) -> Result<Output, EngineError> {
        // (An unknown group is refused by `group_step` before `f` runs.)
        let mut refused = None;
        let (mut out, requeue) =
            self.group_step(group_id, now, |group, step| match f(group, step) {
                Err(Abort::Reject(reason, detail)) => {
                    refused = Some((reason, detail.clone()));
                    Err(Abort::Reject(reason, detail))
                }
                Err(Abort::Violation { reason, detail, .. }) => {
                    refused = Some((reason, detail.clone()));
                    Err(Abort::Reject(reason, detail))
                }
                other => other,
            })?;
        if let Some((_, detail)) = refused {
            return Err(EngineError::InvalidRequest(detail));
        }
        for (topic, payload) in requeue {
            out.append(self.handle(
                &Inbound {
                    topic,
                    payload,
                    message_id: Vec::new(),
                },
                now,
            )?);
        }
        Ok(out)
    }

    /// Runs one atomic step on a group. On refusal the step's writes are dropped, touched
    /// OpenMLS state is reloaded, and a [`GroupEvent::Rejected`] is the step's only output.
    pub(super) fn group_step(
        &mut self,
        group_id: &GroupId,
        now: Timestamp,
        f: impl FnOnce(&mut Group, &mut Step<'_>) -> Result<(), Abort>,
    ) -> Result<(Output, Requeue), EngineError> {
        let storage = self.storage.clone();
        let Some(group) = self.groups.get_mut(group_id) else {
            return Err(EngineError::UnknownGroup(group_id.clone()));
        };
        let txn = Txn::new(&*storage);
        let mut step = Step {
            txn: &txn,
            crypto: &self.crypto,
            identity: &self.identity,
            params: &self.params,
            now,
            out: Output::default(),
            requeue: Vec::new(),
        };
        let result = f(group, &mut step);
        let Step {
            mut out, requeue, ..
        } = step;
        match result {
            Ok(()) => {
                let erased = !group.mls.is_active() || group.epochs.is_removed();
                if !erased {
                    group.flush(&txn);
                }
                let rejoin = group.rejoin.take_wanted();
                if let Err(e) = txn.commit() {
                    self.reload_group(group_id, now)?;
                    return Err(e.into());
                }
                if erased {
                    self.groups.remove(group_id);
                } else if let Some(since) = rejoin {
                    out.append(self.start_rejoin(group_id, since, now)?);
                }
                Ok((out, requeue))
            }
            Err(abort @ (Abort::Reject(..) | Abort::Violation { .. } | Abort::Hold)) => {
                drop(txn);
                // Undo whatever the step changed in memory: OpenMLS state it touched, and any
                // record it wrote (a full reload keeps the transient buffers).
                if group.has_dirty() {
                    self.reload_group(group_id, now)?;
                } else if group.mls_touched() {
                    group.discard_dirty();
                    let reload = Txn::new(&*storage);
                    group.reload_mls(&reload, &self.crypto)?;
                }
                let (reason, detail, blame) = match abort {
                    Abort::Hold => return Ok((Output::only_silent(Silent::Held), Vec::new())),
                    Abort::Reject(reason, detail) => (reason, detail, None),
                    Abort::Violation {
                        reason,
                        detail,
                        offender,
                        violation,
                        evidence,
                    } => (reason, detail, Some((offender, violation, evidence))),
                    Abort::Fatal(_) => unreachable!("matched above"),
                };
                tracing::debug!(group = %group_id.display(), ?reason, %detail, "input rejected");
                let mut out = Output::default();
                out.event(GroupEvent::Rejected {
                    group_id: Some(group_id.clone()),
                    reason,
                    detail,
                });
                let mut requeue = Vec::new();
                if let Some((offender, violation, evidence)) = blame {
                    let (o, r) =
                        self.report_violation(group_id, now, offender, violation, evidence)?;
                    out.append(o);
                    requeue = r;
                }
                Ok((out, requeue))
            }
            Err(Abort::Fatal(e)) => {
                drop(txn);
                self.reload_group(group_id, now)?;
                Err(e)
            }
        }
    }

    /// Starts re-joining a group whose state here cannot follow the others any more: freezes
    /// the old state and announces a fresh KeyPackage as a `Rejoin` (§13).
    pub(super) fn start_rejoin(
        &mut self,
        group_id: &GroupId,
        since: crate::types::Epoch,
        now: Timestamp,
    ) -> Result<Output, EngineError> {
        let mut out = Output::default();
        if self.joins.contains_key(group_id) {
            return Ok(out);
        }
        // The group rejoined is the one this member was in: a Welcome must carry its genesis.
        let genesis_digest = self
            .groups
            .get(group_id)
            .and_then(|g| g.mls.genesis())
            .map(|genesis| crate::invitation::genesis_digest(group_id, &genesis));
        let terms = super::join::JoinTerms {
            rejoin_since: Some(since),
            genesis_digest,
        };
        out = self.begin_join(group_id, terms, now)?;
        if let Some(group) = self.groups.get_mut(group_id) {
            group.rejoin.start();
        }
        tracing::info!(group = %group_id.display(), since, "rejoining");
        Ok(out)
    }

    /// Starts a pending join of `group_id` on `terms` (announcing a fresh KeyPackage) and
    /// stores it.
    pub(super) fn begin_join(
        &mut self,
        group_id: &GroupId,
        terms: super::join::JoinTerms,
        now: Timestamp,
    ) -> Result<Output, EngineError> {
        let storage = self.storage.clone();
        let txn = Txn::new(&*storage);
        let mut out = Output::default();
        let join = super::join::PendingJoin::start(
            group_id.clone(),
            &crate::mls::Provider::new(&self.crypto, &txn),
            &self.identity,
            &self.params,
            terms,
            now,
            &mut out,
        )?;
        join.persist(&txn);
        txn.commit()?;
        self.joins.insert(group_id.clone(), join);
        Ok(out)
    }

    /// Tells the steward policy about a misbehaviour proven by refused input, in a step of its
    /// own so that the consequences (scores, emergency proposals) are kept.
    fn report_violation(
        &mut self,
        group_id: &GroupId,
        now: Timestamp,
        offender: MemberId,
        violation: Violation,
        evidence: Vec<u8>,
    ) -> Result<(Output, Requeue), EngineError> {
        self.group_step(group_id, now, |group, step| {
            let me = step.me();
            let actions = group.with_policy_mut(me, |policy, view| {
                policy.on_violation(view, &offender, violation, &evidence, step.now)
            });
            super::governance::run_policy_actions(group, step, actions)
        })
    }

    /// Loads a group's durable state from storage with this engine's plugins.
    pub(super) fn load_group(
        &self,
        group_id: GroupId,
        txn: &Txn<'_>,
        now: Timestamp,
    ) -> Result<Group, EngineError> {
        Group::load(
            group_id,
            txn,
            &self.crypto,
            &self.identity,
            &*self.consensus,
            &*self.policies,
            now,
        )
    }

    /// Replaces a group's in-memory state with what storage holds.
    pub(super) fn reload_group(
        &mut self,
        group_id: &GroupId,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        let storage = self.storage.clone();
        let txn = Txn::new(&*storage);
        let mut group = self.load_group(group_id.clone(), &txn, now)?;
        if let Some(old) = self.groups.remove(group_id) {
            group.adopt_transient(old);
        }
        self.groups.insert(group_id.clone(), group);
        Ok(())
    }
}
