//! The single place where inbound bytes are dispatched: size and envelope checks, routing by
//! group and kind, epoch windows, and the processing of MLS application messages and commits.

use super::event::{Event, RejectReason};
use super::group::{Group, Held};
use super::history::{self, LoggedMessage};
use super::output::Output;
use super::silent::Silent;
use super::{
    Abort, Engine, EngineError, Requeue, Step, catch_up, governance, keypackages, reject, repair,
    selection, validation,
};
use openmls::prelude::ProtocolMessage;

use crate::mls::{MlsState, Processed};
use crate::types::{GroupId, Timestamp, Topic};
use crate::wire::{Envelope, Frame, Kind, bundle, frame, sealed};

fn rejected(group_id: Option<GroupId>, reason: RejectReason, detail: impl Into<String>) -> Output {
    let detail = detail.into();
    tracing::debug!(?reason, %detail, "inbound message rejected");
    let mut out = Output::default();
    out.event(Event::Rejected {
        group_id,
        reason,
        detail,
    });
    out
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
            return Ok((rejected(None, RejectReason::Oversized, detail), Vec::new()));
        }
        let (env, kind) = match Envelope::decode_checked(payload) {
            Ok(v) => v,
            Err(e) => {
                return Ok((
                    rejected(None, RejectReason::Malformed, e.to_string()),
                    Vec::new(),
                ));
            }
        };
        let Some(gid) = GroupId::new(env.group_id.clone()) else {
            return Ok((
                rejected(None, RejectReason::Malformed, "group id"),
                Vec::new(),
            ));
        };
        // A member waiting to be re-added hands everything to its pending join: the old state
        // is frozen, and traffic of the group it rejoins is held for the replacement.
        if self.groups.get(&gid).is_some_and(|g| g.rejoining) && self.joins.contains_key(&gid) {
            return self.on_join_traffic(&gid, topic, kind, env, payload, now);
        }
        if let Some(group) = self.groups.get(&gid) {
            let expected = group.topics.for_kind(kind);
            if topic != expected {
                return Ok((
                    rejected(Some(gid), RejectReason::WrongTopic, topic.as_str()),
                    Vec::new(),
                ));
            }
            let topic = topic.clone();
            return match kind {
                // An exact copy of something already processed (a re-published answer to someone
                // else's repair request, a transport duplicate) is dropped before any work.
                Kind::Mls
                | Kind::Consensus
                | Kind::Control
                | Kind::Commit
                | Kind::Certificate
                | Kind::CatchUp
                | Kind::ForkNotice
                | Kind::Beyond
                    if group_mut(&mut self.groups, &gid)
                        .sync
                        .is_duplicate(payload, now) =>
                {
                    Ok((Output::only_silent(Silent::Duplicate), Vec::new()))
                }
                // Traffic of a branch that lost (or won against) this one: never processable.
                Kind::Mls
                | Kind::Consensus
                | Kind::Control
                | Kind::Commit
                | Kind::Certificate
                | Kind::CatchUp
                    if group_mut(&mut self.groups, &gid)
                        .fork
                        .is_foreign(&env.branch) =>
                {
                    Ok((Output::only_silent(Silent::OtherBranch), Vec::new()))
                }
                // An envelope of a known epoch with another branch tag: another branch.
                Kind::Mls
                | Kind::Consensus
                | Kind::Control
                | Kind::Commit
                | Kind::Certificate
                | Kind::CatchUp
                    if env.branch.len() == super::fork::TAG_LEN
                        && group_mut(&mut self.groups, &gid)
                            .branch_tag(env.epoch)
                            .is_some_and(|t| t[..] != env.branch[..]) =>
                {
                    let (mut out, _) =
                        self.group_step(&gid, now, |g, s| super::fork::check(g, s, &env))?;
                    let (o, r) = self.dispatch_group(&gid, &topic, kind, env, payload, now)?;
                    out.append(o);
                    Ok((out, r))
                }
                _ => self.dispatch_group(&gid, &topic, kind, env, payload, now),
            };
        }
        if self.joins.contains_key(&gid) {
            return self.on_join_traffic(&gid, topic, kind, env, payload, now);
        }
        Ok((
            rejected(
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
                    rejected(Some(gid), RejectReason::Malformed, e.to_string()),
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
fn epoch_window(
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
        group.sync.catch_up.note_ahead(epoch, step.now);
        if epoch - current > step.params.max_future_epochs {
            return reject(
                RejectReason::FutureEpoch,
                format!("epoch {epoch}, current {current}"),
            );
        }
        if group.future.len() + group.parked.len() >= step.params.max_buffered_messages {
            return reject(RejectReason::BufferFull, "future-epoch buffer full");
        }
        group.future.push(Held {
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

/// Decodes an MLS message whose header must name the envelope's group and epoch.
fn peek_matching(bytes: &[u8], group_id: &[u8], epoch: u64) -> Result<ProtocolMessage, Abort> {
    let (message, mls_gid, mls_epoch) = match MlsState::peek(bytes) {
        Ok(v) => v,
        Err(e) => return reject(RejectReason::Malformed, e.to_string()),
    };
    if mls_gid != group_id || mls_epoch != epoch {
        return reject(
            RejectReason::Malformed,
            "MLS header does not match the envelope",
        );
    }
    Ok(message)
}

/// An MLS application message: a chat message or a consensus message.
fn on_mls(
    group: &mut Group,
    step: &mut Step<'_>,
    topic: &Topic,
    env: Envelope,
    raw: &[u8],
) -> Result<(), Abort> {
    let oldest = group
        .epoch()
        .saturating_sub(step.params.max_past_epochs as u64);
    let epoch = env.epoch;
    if !epoch_window(group, step, topic, raw.to_vec(), epoch, oldest)? {
        return Ok(());
    }
    group.sync.mark_seen(raw);
    let message = peek_matching(&env.body, &env.group_id, epoch)?;
    let Some(sender_roster) = group.members_at(epoch).map(|m| m.roster.clone()) else {
        return reject(
            RejectReason::StaleEpoch,
            format!("no roster for epoch {epoch}"),
        );
    };
    // A message OpenMLS refuses changes nothing in it (a ratchet moves only on success), so
    // only a processed one can need undoing if this step is refused later.
    let processed = match group.mls.process(&step.provider(), message) {
        Ok(p) => {
            group.mls_touched = true;
            p
        }
        Err(e) => return reject(RejectReason::MlsRejected, e.to_string()),
    };
    let (sender_leaf, plaintext) = match processed {
        Processed::Own => {
            step.out.silent(Silent::OwnEcho);
            return Ok(());
        }
        Processed::Commit { .. } => {
            return reject(RejectReason::Malformed, "commit outside a commit envelope");
        }
        Processed::Application {
            sender_leaf,
            plaintext,
        } => (sender_leaf, plaintext),
    };
    let Some(sender) = sender_roster.at_leaf(sender_leaf).map(|e| e.id) else {
        return reject(
            RejectReason::NotAMember,
            format!("no member at leaf {sender_leaf}"),
        );
    };
    // A member removed by a commit this member applied keeps its old epochs' keys for a
    // while; what it sends under them after its removal looks like what it sent before. Of a
    // member that is gone, only messages a current member vouched for are taken (§9).
    let removed_since = epoch < group.epoch() && !group.roster().contains(&sender);
    let frame: Frame = match crate::wire::decode_frame(&plaintext) {
        Ok(f) => f,
        Err(e) => return reject(RejectReason::Malformed, e.to_string()),
    };
    match frame.body {
        Some(frame::Body::Chat(chat)) => {
            if chat.payload.len() > step.params.max_app_message_bytes {
                return reject(RejectReason::Oversized, "application payload");
            }
            if removed_since
                && !group.sync.is_missing(&chat.message_id)
                && !in_flight(group, step, &sender)
            {
                // Held (rolled back, so that it can be processed again) until a current
                // member vouches for it.
                if group.sync.hold_unvouched(&chat.message_id, topic, raw) {
                    group.sync.unmark_seen(raw);
                    return Err(Abort::Hold);
                }
                return reject(
                    RejectReason::NotAMember,
                    format!(
                        "sender removed since epoch {epoch}, message referenced by nobody \
                         (no room to hold it for a vouch)"
                    ),
                );
            }
            let released = group.sync.note_references(&chat.history, step.now);
            step.requeue.extend(released);
            // A re-send of a message delivered here before (in another envelope, maybe before
            // a restart): keep quiet.
            if group.sync.knows_message(&chat.message_id)
                || history::contains(step, &group.id, &chat.message_id)?
            {
                step.out.silent(Silent::Duplicate);
                return Ok(());
            }
            group
                .sync
                .note_message(&chat.message_id, epoch, raw, step.params.message_log);
            history::record(
                step,
                &group.id,
                &LoggedMessage {
                    message_id: chat.message_id.clone(),
                    sender,
                    payload: chat.payload.clone(),
                    epoch,
                    at: step.now,
                },
            );
            step.out.event(Event::MessageReceived {
                group_id: group.id.clone(),
                sender,
                message_id: chat.message_id,
                payload: chat.payload,
                epoch,
                resent: chat.resent_from_epoch.is_some(),
            });
            Ok(())
        }
        Some(frame::Body::Consensus(_)) => reject(
            RejectReason::Malformed,
            "consensus traffic travels in consensus envelopes",
        ),
        // A beacon is evidence of nothing but the messages it names: one from an earlier epoch
        // may simply have crossed the commit (members that are behind ask, see `catch_up`).
        _ if removed_since => reject(
            RejectReason::NotAMember,
            format!("sender removed since epoch {epoch}"),
        ),
        Some(frame::Body::Status(status)) => {
            let released = group.sync.note_references(&status.recent, step.now);
            step.requeue.extend(released);
            Ok(())
        }
        Some(frame::Body::Repair(repair)) => repair::on_repair(group, step, epoch, repair),
        None => reject(RejectReason::Malformed, "empty frame"),
    }
}

/// Whether a message from `sender`, removed by a commit this member applied, may still be on
/// its way from before the removal: within this member's patience (its delivery spread, at
/// most 30 s) of applying that commit.
fn in_flight(group: &Group, step: &Step<'_>, sender: &crate::types::MemberId) -> bool {
    let patience = group.sync.catch_up.patience_ms(step.params);
    group
        .removed_at
        .iter()
        .rev()
        .find(|(m, _)| m == sender)
        .is_some_and(|(_, at)| at.plus_ms(patience) > step.now)
}

/// One of the `sealed::open_*` functions: (epoch key, group id, epoch, body) to plaintext.
type Opener = fn(&[u8; 16], &[u8], u64, &[u8]) -> Result<Vec<u8>, crate::wire::WireError>;

/// Opens an envelope sealed under the key of its epoch (only that epoch's members hold it):
/// `None` when it was buffered for a later epoch; `what` names it in the refusal.
fn open_epoch_sealed(
    group: &mut Group,
    step: &mut Step<'_>,
    topic: &Topic,
    env: &Envelope,
    raw: &[u8],
    open: Opener,
    what: &str,
) -> Result<Option<Vec<u8>>, Abort> {
    let oldest = group
        .epoch()
        .saturating_sub(step.params.max_past_epochs as u64);
    let epoch = env.epoch;
    if !epoch_window(group, step, topic, raw.to_vec(), epoch, oldest)? {
        return Ok(None);
    }
    let Some(key) = group.members_at(epoch).map(|m| m.key) else {
        return reject(
            RejectReason::StaleEpoch,
            format!("no key for epoch {epoch}"),
        );
    };
    let Ok(plain) = open(&key, &env.group_id, epoch, &env.body) else {
        return reject(
            RejectReason::NotAMember,
            format!("{what} does not open with its epoch's key"),
        );
    };
    group.sync.mark_seen(raw);
    Ok(Some(plain))
}

/// A sealed consensus message (a proposal or a vote), handed to the consensus plugin, which
/// checks signatures.
fn on_consensus(
    group: &mut Group,
    step: &mut Step<'_>,
    topic: &Topic,
    env: Envelope,
    raw: &[u8],
) -> Result<(), Abort> {
    let open = sealed::open_consensus;
    match open_epoch_sealed(group, step, topic, &env, raw, open, "consensus message")? {
        Some(message) => governance::ingest(group, step, &message),
        None => Ok(()),
    }
}

/// A sealed control frame: a status beacon or a repair request. Nothing depends on who sent
/// it.
fn on_control(
    group: &mut Group,
    step: &mut Step<'_>,
    topic: &Topic,
    env: Envelope,
    raw: &[u8],
) -> Result<(), Abort> {
    let open = sealed::open_control;
    let Some(plain) = open_epoch_sealed(group, step, topic, &env, raw, open, "control frame")?
    else {
        return Ok(());
    };
    let frame: Frame = match crate::wire::decode_frame(&plain) {
        Ok(f) => f,
        Err(e) => return reject(RejectReason::Malformed, e.to_string()),
    };
    match frame.body {
        Some(frame::Body::Status(status)) => {
            let released = group.sync.note_references(&status.recent, step.now);
            step.requeue.extend(released);
            Ok(())
        }
        Some(frame::Body::Repair(repair)) => repair::on_repair(group, step, env.epoch, repair),
        _ => reject(
            RejectReason::Malformed,
            "a control frame carries a status or a repair request",
        ),
    }
}

/// A sealed commit.
fn on_commit(
    group: &mut Group,
    step: &mut Step<'_>,
    topic: &Topic,
    env: Envelope,
    raw_bytes: &[u8],
) -> Result<(), Abort> {
    let epoch = env.epoch;
    let current = group.epoch();
    if epoch < current {
        let known = group
            .commits
            .get(&epoch)
            .is_some_and(|c| c.sealed == env.body);
        if known || epoch < group.meta.joined_epoch {
            // The commit we applied, or one from before we joined, sent again for a member
            // catching up: nothing to do.
            step.out.silent(if known {
                Silent::AlreadyApplied
            } else {
                Silent::BeforeJoined
            });
            return Ok(());
        }
        return reject(
            RejectReason::StaleEpoch,
            format!("commit for epoch {epoch}, current {current}"),
        );
    }
    let raw = raw_bytes.to_vec();
    if !epoch_window(group, step, topic, raw.clone(), epoch, current)? {
        return Ok(());
    }
    // Seen from now on (a parked commit is un-seen below: it will be processed again).
    group.sync.mark_seen(&raw);
    let Ok(commit_bytes) = sealed::open(&group.commit_key, &env.group_id, epoch, &env.body) else {
        return reject(
            RejectReason::NotAMember,
            "sealed commit does not open with this epoch's key",
        );
    };
    let message = peek_matching(&commit_bytes, &env.group_id, epoch)?;
    let (sender_leaf, aad, staged) = match group.mls.process(&step.provider(), message) {
        Ok(Processed::Commit {
            sender_leaf,
            aad,
            staged,
        }) => {
            group.mls_touched = true;
            (sender_leaf, aad, staged)
        }
        Ok(_) => return reject(RejectReason::Malformed, "not a commit"),
        Err(e) => return reject(RejectReason::MlsRejected, e.to_string()),
    };
    match validation::validate(group, step, sender_leaf, &aad, &staged, &env.body)? {
        validation::Verdict::Accept(plan, rank) => {
            selection::accept(group, step, plan, rank, env.body, *staged)
        }
        validation::Verdict::Park {
            detail,
            waiting,
            author,
        } => {
            validation::make_room(group, step, author, epoch);
            group.sync.catch_up.confirm_ending(epoch);
            if group.future.len() + group.parked.len() >= step.params.max_buffered_messages {
                return reject(RejectReason::BufferFull, "parked-commit buffer full");
            }
            tracing::debug!(group = %group.id.display(), %detail, "commit parked");
            step.out.silent(Silent::Held);
            group.sync.unmark_seen(&raw);
            group.parked.push(Held {
                topic: topic.clone(),
                payload: raw,
                epoch,
                since: step.now,
                waiting,
                author: Some(author),
            });
            // Nothing was merged, and staging changed nothing in the group: the staged commit
            // is simply dropped.
            Ok(())
        }
    }
}

/// A sealed certificate part: proof of a proposal's outcome for members catching up in
/// `env.epoch`. Parts for a later epoch are held until this member gets there (a catch-up
/// answer sends them ahead of the commit that needs them); members past that epoch only note
/// that it was sent (their own answer to the same request is then unnecessary).
fn on_certificate(
    group: &mut Group,
    step: &mut Step<'_>,
    topic: &Topic,
    env: Envelope,
    raw: &[u8],
) -> Result<(), Abort> {
    let Ok(id) = sealed::certificate_proposal(&env.body) else {
        group.sync.mark_seen(raw);
        return reject(
            RejectReason::Malformed,
            "certificate part without a proposal id",
        );
    };
    let current = group.epoch();
    if env.epoch > current {
        epoch_window(group, step, topic, raw.to_vec(), env.epoch, current)?;
        return Ok(());
    }
    group.sync.mark_seen(raw);
    group
        .sync
        .note_answered(repair::certificate_key(env.epoch, &id), step.now);
    if env.epoch != current {
        step.out.silent(Silent::NotForThisMember);
        return Ok(());
    }
    let Ok((_, part)) =
        sealed::open_certificate(&group.commit_key, &env.group_id, env.epoch, &env.body)
    else {
        return reject(
            RejectReason::NotAMember,
            "certificate part does not open with this epoch's key",
        );
    };
    governance::ingest_certificate(group, step, &part)
}

/// A member stuck in `env.epoch` asks to catch up. Members that left that epoch and still
/// retain its commit check that the request opens under that epoch's key (only its members
/// can ask) and may answer (see [`catch_up::answer`]); a request from this member's own epoch
/// will be answered for everyone, so this member need not ask too; one from a later epoch
/// shows this member is behind.
fn on_catch_up(
    group: &mut Group,
    step: &mut Step<'_>,
    env: Envelope,
    raw: &[u8],
) -> Result<(), Abort> {
    group.sync.mark_seen(raw);
    let current = group.epoch();
    if env.epoch > current {
        // (A claim of a later epoch: it may make this member ask, nothing more — §11.)
        group.sync.catch_up.note_ahead(env.epoch, step.now);
        step.out.silent(Silent::NotForThisMember);
        return Ok(());
    }
    if env.epoch == current {
        if sealed::open_catch_up(&group.commit_key, &env.group_id, env.epoch, &env.body).is_err() {
            return reject(
                RejectReason::NotAMember,
                "catch-up request does not open with its epoch's key",
            );
        }
        group.sync.catch_up.note_request_seen(current, step.now);
        step.out.silent(Silent::NotForThisMember);
        return Ok(());
    }
    if env.epoch < group.meta.joined_epoch {
        step.out.silent(Silent::BeforeJoined);
        return Ok(());
    }
    let Some(key) = group.commits.get(&env.epoch).map(|c| c.key) else {
        tracing::debug!(group = %group.id.display(), epoch = env.epoch, "catch-up request beyond retained history");
        super::beyond::answer(group, step, env.epoch);
        return Ok(());
    };
    let Ok(attempt) = sealed::open_catch_up(&key, &env.group_id, env.epoch, &env.body) else {
        return reject(
            RejectReason::NotAMember,
            "catch-up request does not open with its epoch's key",
        );
    };
    catch_up::answer(group, step, env.epoch, attempt)
}

fn group_mut<'a>(
    groups: &'a mut std::collections::BTreeMap<GroupId, Group>,
    gid: &GroupId,
) -> &'a mut Group {
    groups.get_mut(gid).expect("checked by the caller")
}
