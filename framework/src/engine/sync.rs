//! Repairing losses: duplicate suppression, causal history and status beacons that reveal
//! missed application messages, repair requests answered by any member holding the missing
//! bytes, re-sending one's own votes on undecided proposals, asking for the commit of an
//! epoch this member is stuck in, and certificates proving the outcome of proposals a parked
//! commit names but this member saw no decision for.
//!
//! Messages and commits are re-published as *original* bytes (envelopes exactly as first
//! published), so a member that already has one drops the copy by its digest before any MLS
//! processing, and a member that missed it processes it as if it had arrived the first time.
//! Certificates are built by the answerer and sealed under the asker's epoch key. Answers wait
//! a random backoff and are dropped when someone else answered first. All state is transient
//! and bounded; after a crash the member announces its epoch at once, and the protocol's own
//! resends and repair fill the gap.

use std::collections::{BTreeMap, HashMap, VecDeque};

use super::event::ProposalAction;
use super::group::Group;
use super::{Abort, Step, governance};
use crate::types::{Epoch, ProposalId, Timestamp, Topic};
use crate::wire::{Envelope, Frame, Kind, Repair, Status, frame, sealed};

/// Ids of the latest messages carried as causal history in every chat message.
pub(crate) const HISTORY: usize = 4;
/// Ids of the latest messages carried in a status beacon.
const STATUS_RECENT: usize = 16;
/// Digests of processed envelopes remembered for duplicate suppression.
const SEEN: usize = 8_192;
/// Message ids remembered as known (delivered or sent).
const KNOWN: usize = 8_192;
/// Missing message ids tracked at once.
const MISSING: usize = 512;
/// Repair attempts per missing message before giving up.
const ATTEMPTS: u32 = 8;
/// Votes per certificate part (about 200 bytes each, so a part stays near 52 KB).
const CERTIFICATE_VOTES_PER_PART: usize = 256;

fn digest(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref());
    out
}

/// A bounded insertion-ordered set.
#[derive(Default)]
struct Bounded<K: std::hash::Hash + Eq + Clone> {
    set: HashMap<K, Option<Timestamp>>,
    order: VecDeque<K>,
}

impl<K: std::hash::Hash + Eq + Clone> Bounded<K> {
    fn insert(&mut self, key: K, cap: usize) -> bool {
        if self.set.contains_key(&key) {
            return false;
        }
        self.set.insert(key.clone(), None);
        self.order.push_back(key);
        while self.order.len() > cap {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        true
    }

    fn contains(&self, key: &K) -> bool {
        self.set.contains_key(key)
    }
}

struct Missing {
    noticed: Timestamp,
    requested: Option<Timestamp>,
    attempts: u32,
}

/// An answer to a repair request, sent at `due` unless someone else answered first: `key` is
/// the digest of the one envelope re-published, or the [`certificate_key`] of a certificate.
struct Answer {
    due: Timestamp,
    key: [u8; 32],
    topic: Topic,
    envelopes: Vec<Vec<u8>>,
    scheduled: Timestamp,
}

/// What identifies the certificate of `proposal` sealed for members in `epoch`, whoever built it.
pub(crate) fn certificate_key(epoch: Epoch, proposal: &[u8; 32]) -> [u8; 32] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(b"demls/certificate-answer");
    ctx.update(&epoch.to_be_bytes());
    ctx.update(proposal);
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// Per-group repair state (transient, bounded).
#[derive(Default)]
pub(crate) struct SyncState {
    seen: Bounded<[u8; 32]>,
    /// When a duplicate of a processed envelope (or a certificate) last arrived: someone
    /// answered.
    duplicate_at: HashMap<[u8; 32], Timestamp>,
    known: Bounded<Vec<u8>>,
    recent: VecDeque<Vec<u8>>,
    log: BTreeMap<Vec<u8>, Vec<u8>>,
    log_order: VecDeque<Vec<u8>>,
    missing: BTreeMap<Vec<u8>, Missing>,
    /// This member's own consensus envelopes (proposal and votes), per proposal.
    own: BTreeMap<ProposalId, Vec<Vec<u8>>>,
    answers: Vec<Answer>,
    next_status: Option<Timestamp>,
    next_resend: Option<Timestamp>,
    commit_requested: Option<(Epoch, Timestamp)>,
    proposals_requested: BTreeMap<ProposalId, Timestamp>,
    /// Set after a restart: the next tick announces this member's epoch unconditionally.
    announce: bool,
    /// When this member entered its current epoch (unknown after a restart).
    entered_at: Option<Timestamp>,
}

impl SyncState {
    /// True (and remembered) if this exact envelope was processed before.
    pub(crate) fn is_duplicate(&mut self, payload: &[u8], now: Timestamp) -> bool {
        let d = digest(payload);
        if self.seen.contains(&d) {
            self.duplicate_at.insert(d, now);
            if self.duplicate_at.len() > SEEN {
                self.duplicate_at.clear();
            }
            return true;
        }
        false
    }

    /// Notes that someone answered under `key` (a certificate was sent).
    pub(crate) fn note_answered(&mut self, key: [u8; 32], now: Timestamp) {
        self.duplicate_at.insert(key, now);
        if self.duplicate_at.len() > SEEN {
            self.duplicate_at.clear();
            self.duplicate_at.insert(key, now);
        }
    }

    /// Notes that this member just entered a new epoch.
    pub(crate) fn entered_epoch(&mut self, now: Timestamp) {
        self.entered_at = Some(now);
    }

    /// True if a member announcing an older epoch now is really behind: this member left that
    /// epoch longer than `grace` ago (a beacon that crossed the commit is not a sign of trouble).
    pub(crate) fn left_long_ago(&self, now: Timestamp, grace: u64) -> bool {
        self.entered_at.is_none_or(|t| t.plus_ms(grace) <= now)
    }

    /// Makes the next tick announce this member's epoch (after a restart, when others may have
    /// moved on while it was down).
    pub(crate) fn announce_soon(&mut self) {
        self.announce = true;
        self.next_status = None;
    }

    /// Remembers an envelope as processed.
    pub(crate) fn mark_seen(&mut self, payload: &[u8]) {
        self.seen.insert(digest(payload), SEEN);
    }

    /// Forgets that an envelope was processed (it is held to be processed again).
    pub(crate) fn unmark_seen(&mut self, payload: &[u8]) {
        self.seen.set.remove(&digest(payload));
    }

    /// The causal history to put in the next chat message.
    pub(crate) fn history(&self) -> Vec<Vec<u8>> {
        self.recent.iter().rev().take(HISTORY).cloned().collect()
    }

    /// Records an application message this member sent or received, with its envelope.
    pub(crate) fn note_message(&mut self, id: &[u8], envelope: &[u8], cap: usize) {
        self.missing.remove(id);
        if !self.known.insert(id.to_vec(), KNOWN) {
            return;
        }
        self.recent.push_back(id.to_vec());
        while self.recent.len() > STATUS_RECENT {
            self.recent.pop_front();
        }
        self.log.insert(id.to_vec(), envelope.to_vec());
        self.log_order.push_back(id.to_vec());
        while self.log_order.len() > cap.max(1) {
            if let Some(old) = self.log_order.pop_front() {
                self.log.remove(&old);
            }
        }
    }

    /// Notes ids someone else has seen; the unknown ones are missing here.
    pub(crate) fn note_references(&mut self, ids: &[Vec<u8>], now: Timestamp) {
        for id in ids {
            if id.len() == 16 && !self.known.contains(id) && self.missing.len() < MISSING {
                self.missing.entry(id.clone()).or_insert(Missing {
                    noticed: now,
                    requested: None,
                    attempts: 0,
                });
            }
        }
    }

    /// Remembers an envelope this member published for `proposal` (to re-send it).
    pub(crate) fn note_own(&mut self, proposal: ProposalId, envelope: Vec<u8>) {
        let list = self.own.entry(proposal).or_default();
        if list.len() < 4 {
            list.push(envelope);
        }
    }

    /// Forgets the own envelopes of a proposal (finished).
    pub(crate) fn forget_own(&mut self, proposal: &ProposalId) {
        self.own.remove(proposal);
    }

    fn schedule(&mut self, due: Timestamp, now: Timestamp, topic: Topic, bytes: Vec<u8>) {
        self.schedule_under(digest(&bytes), due, now, topic, vec![bytes]);
    }

    fn schedule_under(
        &mut self,
        key: [u8; 32],
        due: Timestamp,
        now: Timestamp,
        topic: Topic,
        envelopes: Vec<Vec<u8>>,
    ) {
        if self.answers.iter().any(|a| a.key == key) {
            return;
        }
        self.answers.push(Answer {
            due,
            key,
            topic,
            envelopes,
            scheduled: now,
        });
    }

    /// When the next request for a missing commit may go out, given that the oldest held
    /// future message becomes overdue at `overdue`.
    pub(crate) fn commit_request_due(
        &self,
        overdue: Timestamp,
        params: &super::EngineParams,
    ) -> Timestamp {
        match self.commit_requested {
            Some((_, t)) => overdue.max(t.plus_ms(params.repair_retry_ms)),
            None => overdue,
        }
    }

    /// The earliest time there is repair work.
    pub(crate) fn next_deadline(&self, params: &super::EngineParams) -> Option<Timestamp> {
        let answers = self.answers.iter().map(|a| a.due).min();
        let missing = self
            .missing
            .values()
            .map(|m| match m.requested {
                Some(t) => t.plus_ms(params.repair_retry_ms),
                None => m.noticed.plus_ms(params.repair_delay_ms),
            })
            .min();
        [answers, missing, self.next_status, self.next_resend]
            .into_iter()
            .flatten()
            .min()
    }
}

/// A delay in `[0, max)` that differs between members (so answers spread out), derived from
/// the entropy source (deterministic in simulations).
fn backoff(step: &Step<'_>, max: u64) -> u64 {
    match step.crypto.entropy().array::<8>() {
        Ok(b) if max > 0 => u64::from_be_bytes(b) % max,
        _ => 0,
    }
}

/// Answers a repair request: schedules re-publication of what this member holds.
pub(crate) fn on_repair(
    group: &mut Group,
    step: &mut Step<'_>,
    sender_epoch: Epoch,
    repair: Repair,
) -> Result<(), Abort> {
    let max = step.params.repair_backoff_ms;
    let topic = group.topics.group.clone();
    for id in repair.messages.iter().take(64) {
        if let Some(bytes) = group.sync.log.get(id).cloned() {
            let due = step.now.plus_ms(backoff(step, max));
            group.sync.schedule(due, step.now, topic.clone(), bytes);
        }
    }
    for raw in repair.proposals.iter().take(64) {
        let Some(id) = ProposalId::from_slice(raw) else {
            continue;
        };
        // Own proposal and vote of a proposal still being voted on ...
        for bytes in group.sync.own.get(&id).cloned().unwrap_or_default() {
            let due = step.now.plus_ms(backoff(step, max));
            group.sync.schedule(due, step.now, topic.clone(), bytes);
        }
        // ... and proof of its outcome once decided here.
        answer_certificate(group, step, sender_epoch, &id)?;
    }
    if repair.wants_commit && repair.commit_for_epoch >= sender_epoch {
        answer_commit(group, step, repair.commit_for_epoch, 0);
    }
    Ok(())
}

/// Schedules re-publication of the commit that ended `epoch` (held here), after `delay` plus a
/// random backoff (none for its own author, who answers first).
pub(crate) fn answer_commit(group: &mut Group, step: &mut Step<'_>, epoch: Epoch, delay: u64) {
    let Some(rec) = group.commits.get(&epoch) else {
        return;
    };
    let env = Envelope::new(
        Kind::Commit,
        group.id.as_bytes(),
        rec.epoch,
        rec.sealed.clone(),
    );
    let spread = if rec.committer == step.me() {
        0
    } else {
        backoff(step, step.params.repair_backoff_ms)
    };
    let topic = group.topics.group.clone();
    group.sync.schedule(
        step.now.plus_ms(delay + spread),
        step.now,
        topic,
        env.encode_to_vec(),
    );
}

/// A commit for `epoch` just arrived: publishes it once more with probability
/// `commit_echo_fanout / members`, after a random backoff within `within` ms, unless someone
/// else did first — so that every member, and every backup steward waiting for its turn, sees
/// it before its selection window closes even if the first copy was lost on its link.
pub(crate) fn echo_commit(
    group: &mut Group,
    step: &mut Step<'_>,
    epoch: Epoch,
    sealed: &[u8],
    within: u64,
) {
    let members = group.roster().len().max(1) as u64;
    if backoff(step, members) >= u64::from(step.params.commit_echo_fanout) {
        return;
    }
    let env = Envelope::new(Kind::Commit, group.id.as_bytes(), epoch, sealed.to_vec());
    let due = step.now.plus_ms(backoff(step, within.max(1)));
    let topic = group.topics.group.clone();
    group
        .sync
        .schedule(due, step.now, topic, env.encode_to_vec());
}

/// Schedules the certificate of proposal `id`, sealed for members in `epoch`, if this member
/// has decided it with an outcome the consensus plugin can prove and still holds that epoch's
/// key.
fn answer_certificate(
    group: &mut Group,
    step: &mut Step<'_>,
    epoch: Epoch,
    id: &ProposalId,
) -> Result<(), Abort> {
    let Some(key) = group.members_at(epoch).map(|m| m.key) else {
        return Ok(());
    };
    let answer_key = certificate_key(epoch, &id.0);
    if group.sync.answers.iter().any(|a| a.key == answer_key) {
        return Ok(());
    }
    let parts = group.consensus.certificate(id, CERTIFICATE_VOTES_PER_PART);
    if parts.is_empty() {
        return Ok(());
    }
    let gid = group.id.as_bytes().to_vec();
    let mut envelopes = Vec::with_capacity(parts.len());
    for part in parts {
        let nonce = step
            .crypto
            .entropy()
            .array::<{ sealed::SEAL_NONCE_LEN }>()?;
        let body = sealed::seal_certificate(&key, &gid, epoch, &id.0, nonce, &part);
        envelopes.push(Envelope::new(Kind::Certificate, &gid, epoch, body).encode_to_vec());
    }
    let due = step
        .now
        .plus_ms(backoff(step, step.params.repair_backoff_ms));
    let topic = group.topics.group.clone();
    group
        .sync
        .schedule_under(answer_key, due, step.now, topic, envelopes);
    Ok(())
}

/// Periodic repair work: due answers, repair requests, status beacons, re-sends, and the
/// request for the commit that ended an epoch this member is stuck in.
pub(crate) fn tick(group: &mut Group, step: &mut Step<'_>) -> Result<(), Abort> {
    let now = step.now;
    let params = step.params;
    // Answers whose bytes nobody else re-published since they were scheduled.
    let (due, later): (Vec<Answer>, Vec<Answer>) = std::mem::take(&mut group.sync.answers)
        .into_iter()
        .partition(|a| a.due <= now);
    group.sync.answers = later;
    for answer in due {
        let answered = group
            .sync
            .duplicate_at
            .get(&answer.key)
            .is_some_and(|&t| t >= answer.scheduled);
        if !answered {
            for envelope in answer.envelopes {
                step.out.publish(&answer.topic, envelope);
            }
        }
    }
    let mut request = Repair::default();
    // Missing application messages.
    for (id, m) in group.sync.missing.iter_mut() {
        let due = match m.requested {
            Some(t) => t.plus_ms(params.repair_retry_ms),
            None => m.noticed.plus_ms(params.repair_delay_ms),
        };
        if due <= now && request.messages.len() < 64 {
            m.requested = Some(now);
            m.attempts += 1;
            request.messages.push(id.clone());
        }
    }
    group.sync.missing.retain(|_, m| m.attempts <= ATTEMPTS);
    // Proposals a parked commit waits for.
    let wanted: Vec<ProposalId> = group
        .parked
        .iter()
        .flat_map(|h| h.waiting.clone())
        .collect();
    for id in wanted {
        let last = group.sync.proposals_requested.get(&id).copied();
        if last.is_none_or(|t| t.plus_ms(params.repair_retry_ms) <= now) {
            group.sync.proposals_requested.insert(id, now);
            request.proposals.push(id.as_bytes().to_vec());
        }
    }
    // Stuck in an epoch others have left: their traffic is held as "future".
    let epoch = group.epoch();
    let stuck = group
        .future
        .iter()
        .any(|h| h.since.plus_ms(params.repair_delay_ms) <= now);
    if stuck {
        let again = match group.sync.commit_requested {
            Some((e, t)) => e != epoch || t.plus_ms(params.repair_retry_ms) <= now,
            None => true,
        };
        if again {
            group.sync.commit_requested = Some((epoch, now));
            request.wants_commit = true;
            request.commit_for_epoch = epoch;
        }
    }
    if !request.messages.is_empty() || !request.proposals.is_empty() || request.wants_commit {
        governance::publish_frame(
            group,
            step,
            &Frame {
                body: Some(frame::Body::Repair(request)),
            },
        )?;
    }
    // Status beacon: each member sends with probability fanout / members (and always right
    // after a restart).
    if group.sync.next_status.is_none_or(|t| t <= now) {
        group.sync.next_status = Some(now.plus_ms(params.status_interval_ms));
        let members = group.roster().len().max(1) as u64;
        let roll = backoff(step, members);
        let announce = std::mem::take(&mut group.sync.announce);
        if (announce || roll < u64::from(params.status_fanout)) && group.roster().len() > 1 {
            let recent = group
                .sync
                .recent
                .iter()
                .rev()
                .take(STATUS_RECENT)
                .cloned()
                .collect();
            governance::publish_frame(
                group,
                step,
                &Frame {
                    body: Some(frame::Body::Status(Status { epoch, recent })),
                },
            )?;
        }
    }
    // Own votes and proposals on proposals still open here, and an own leave until committed
    // (it needs no votes, only a steward that heard it).
    if group.sync.next_resend.is_none_or(|t| t <= now) {
        group.sync.next_resend = Some(now.plus_ms(params.resend_interval_ms));
        let me = step.me();
        let open: Vec<ProposalId> = group
            .proposals
            .values()
            .filter(|r| {
                r.status == super::records::ProposalStatus::Open
                    || (r.is_ready()
                        && r.owner == me
                        && matches!(r.action, ProposalAction::Leave { .. }))
            })
            .filter(|r| r.epoch + params.max_past_epochs as u64 >= epoch)
            .map(|r| r.id)
            .collect();
        let topic = group.topics.group.clone();
        for id in open {
            for bytes in group.sync.own.get(&id).cloned().unwrap_or_default() {
                step.out.publish(&topic, bytes);
            }
        }
    }
    Ok(())
}
