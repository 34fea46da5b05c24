//! Repairing losses: duplicate suppression, causal history and status beacons that reveal
//! missed application messages, repair requests answered by any member holding the missing
//! bytes, re-sending one's own votes on undecided proposals, catching up on the commits of
//! epochs this member missed (with the messages and certificates each needs), and
//! certificates proving the outcome of proposals a parked commit names but this member saw no
//! decision for.
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
use crate::wire::{Envelope, Frame, Kind, Repair, Status, bundle, frame, sealed};

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
pub(crate) const CERTIFICATE_VOTES_PER_PART: usize = 256;
/// Epochs of history one catch-up answer covers (a member far behind asks again from where
/// the answer left it; answers stay within a receiver's default future-epoch window).
pub(crate) const CATCH_UP_EPOCHS: u64 = 8;
/// Unanswered catch-up requests (in one epoch) after which a member rejoins.
const REJOIN_AFTER_ATTEMPTS: u32 = 4;
/// Application messages one catch-up answer carries at most.
const CATCH_UP_MESSAGES: usize = 512;
/// How long unconfirmed evidence of being behind is believed: envelope epochs are not
/// authenticated, so a made-up far-future epoch must not silence this member for good.
const AHEAD_BELIEF_MS: u64 = 20_000;

pub(crate) fn digest(bytes: &[u8]) -> [u8; 32] {
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
    /// Application message envelopes by message id, with the epoch they were sent in.
    log: BTreeMap<Vec<u8>, (Epoch, Vec<u8>)>,
    /// This member's own recent messages (id, payload, epoch first sent in), to send again
    /// to members that could not read them (after a rejoin or a fork).
    outbox: VecDeque<(Vec<u8>, Vec<u8>, Epoch)>,
    log_order: VecDeque<Vec<u8>>,
    missing: BTreeMap<Vec<u8>, Missing>,
    /// This member's own consensus envelopes (proposal and votes), per proposal.
    own: BTreeMap<ProposalId, Vec<Vec<u8>>>,
    answers: Vec<Answer>,
    next_status: Option<Timestamp>,
    next_resend: Option<Timestamp>,
    /// The latest epoch heard of beyond this member's, and since when (it is behind).
    ahead: Option<(Epoch, Timestamp)>,
    /// When this member last asked to catch up, and from which epoch.
    catch_up_requested: Option<(Epoch, Timestamp)>,
    /// Catch-up requests made in a row without reaching a later epoch.
    catch_up_attempts: u32,
    /// The first epoch this member asked to catch up from since it was last up to date: what it
    /// sent from then on, the others (already past that epoch) may not be able to read.
    behind_from: Option<Epoch>,
    proposals_requested: BTreeMap<ProposalId, Timestamp>,
    /// Set after a restart: the next tick announces this member's epoch unconditionally.
    announce: bool,
    /// Set after a restart that found own messages of the current epoch in the history: the
    /// next tick sends them again (their publications may have died with the process).
    resend_after_restart: bool,
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

    /// Notes that this member just entered `epoch`.
    pub(crate) fn entered_epoch(&mut self, epoch: Epoch, now: Timestamp) {
        self.entered_at = Some(now);
        if self.ahead.is_some_and(|(e, _)| e <= epoch) {
            self.ahead = None;
        }
    }

    /// Notes traffic of `epoch`, later than this member's: it is behind. (The epoch of an
    /// envelope is not authenticated; a claim nobody confirms is dropped after a while.)
    pub(crate) fn note_ahead(&mut self, epoch: Epoch, now: Timestamp) {
        match self.ahead {
            Some((e, _)) if e >= epoch => {}
            _ => self.ahead = Some((epoch, now)),
        }
    }

    /// If this member has just caught up (it had asked to, and now hears of no later epoch and
    /// holds nothing for one), the epoch it fell behind in: its own messages since then should
    /// be sent again, in the current epoch.
    pub(crate) fn take_caught_up(&mut self, holding_future: bool) -> Option<Epoch> {
        if self.ahead.is_some() || holding_future {
            return None;
        }
        self.behind_from.take()
    }

    /// Forgets that later epochs were heard of (they were another branch's).
    pub(crate) fn forget_ahead(&mut self) {
        self.ahead = None;
    }

    /// True while recent traffic shows later epochs than this member's.
    pub(crate) fn is_behind(&self, now: Timestamp) -> bool {
        self.ahead
            .is_some_and(|(_, since)| since.plus_ms(AHEAD_BELIEF_MS) > now)
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

    /// Records an application message of `epoch` this member sent or received, with its
    /// envelope.
    pub(crate) fn note_message(&mut self, id: &[u8], epoch: Epoch, envelope: &[u8], cap: usize) {
        self.missing.remove(id);
        if !self.known.insert(id.to_vec(), KNOWN) {
            return;
        }
        self.recent.push_back(id.to_vec());
        while self.recent.len() > STATUS_RECENT {
            self.recent.pop_front();
        }
        self.log.insert(id.to_vec(), (epoch, envelope.to_vec()));
        self.log_order.push_back(id.to_vec());
        while self.log_order.len() > cap.max(1) {
            if let Some(old) = self.log_order.pop_front() {
                self.log.remove(&old);
            }
        }
    }

    /// Replaces the logged envelope of message `id` by a re-send of it in `epoch` (the copy
    /// members that could not read the original can read), or logs it if it had aged out.
    pub(crate) fn replace_logged(&mut self, id: &[u8], epoch: Epoch, envelope: &[u8], cap: usize) {
        match self.log.get_mut(id) {
            Some(entry) => *entry = (epoch, envelope.to_vec()),
            None => {
                self.known.set.remove(id);
                self.note_message(id, epoch, envelope, cap);
            }
        }
    }

    /// Whether the application message `id` was delivered or sent here (within memory).
    pub(crate) fn knows_message(&self, id: &[u8]) -> bool {
        self.known.contains(&id.to_vec())
    }

    /// Records an application message this member sent (keeping at most `cap`).
    pub(crate) fn note_sent(&mut self, id: &[u8], payload: &[u8], epoch: Epoch, cap: usize) {
        if self.outbox.iter().any(|(i, _, _)| i == id) {
            return;
        }
        self.outbox
            .push_back((id.to_vec(), payload.to_vec(), epoch));
        while self.outbox.len() > cap.max(1) {
            self.outbox.pop_front();
        }
    }

    /// After a restart: restores this member's own recent messages (from the durable history)
    /// and makes the next tick send them again.
    pub(crate) fn restore_sent_after_restart(&mut self, sent: Vec<(Vec<u8>, Vec<u8>, Epoch)>) {
        if sent.is_empty() {
            return;
        }
        for (id, _, _) in &sent {
            self.known.insert(id.clone(), KNOWN);
        }
        self.outbox.extend(sent);
        self.resend_after_restart = true;
    }

    /// This member's own messages first sent in `epoch` or later, oldest first.
    pub(crate) fn sent_since(&self, epoch: Epoch) -> Vec<(Vec<u8>, Vec<u8>, Epoch)> {
        self.outbox
            .iter()
            .filter(|(_, _, e)| *e >= epoch)
            .cloned()
            .collect()
    }

    /// Takes the outbox (to carry it into a replacement of this group after a rejoin).
    pub(crate) fn take_outbox(&mut self) -> VecDeque<(Vec<u8>, Vec<u8>, Epoch)> {
        std::mem::take(&mut self.outbox)
    }

    /// Installs an outbox carried over from a replaced instance of the group.
    pub(crate) fn restore_outbox(&mut self, outbox: VecDeque<(Vec<u8>, Vec<u8>, Epoch)>) {
        self.outbox = outbox;
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

    /// Schedules `envelopes` for publication after a random backoff within
    /// `repair_backoff_ms`, unless something under `key` is seen first or already scheduled.
    pub(crate) fn schedule_answer(
        &mut self,
        key: [u8; 32],
        step: &mut Step<'_>,
        topic: Topic,
        envelopes: Vec<Vec<u8>>,
    ) {
        let due = step
            .now
            .plus_ms(backoff(step, step.params.repair_backoff_ms));
        self.schedule_under(key, due, step.now, topic, envelopes);
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

    /// When this member, in `epoch`, should next ask to catch up, given that the oldest held
    /// future message (if any) becomes overdue at `held_overdue`. A request from an earlier
    /// epoch was answered (at least in part): the next one may go at once.
    pub(crate) fn catch_up_due(
        &self,
        epoch: Epoch,
        held_overdue: Option<Timestamp>,
        params: &super::EngineParams,
    ) -> Option<Timestamp> {
        let ahead = self
            .ahead
            .map(|(_, since)| since.plus_ms(params.repair_delay_ms));
        let overdue = [held_overdue, ahead].into_iter().flatten().min()?;
        Some(match self.catch_up_requested {
            Some((e, t)) if e == epoch => overdue.max(t.plus_ms(params.repair_retry_ms)),
            _ => overdue,
        })
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
        let forget_ahead = self.ahead.map(|(_, since)| since.plus_ms(AHEAD_BELIEF_MS));
        // Own messages to send again after a restart: due at once.
        let resend = self.resend_after_restart.then_some(Timestamp(0));
        [
            resend,
            answers,
            missing,
            self.next_status,
            self.next_resend,
            forget_ahead,
        ]
        .into_iter()
        .flatten()
        .min()
    }
}

/// The branch tag of `epoch` here (empty if unknown).
fn branch_of(group: &Group, epoch: Epoch) -> Vec<u8> {
    group
        .branch_tag(epoch)
        .map(|t| t.to_vec())
        .unwrap_or_default()
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
        if let Some((_, bytes)) = group.sync.log.get(id).cloned() {
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
    Ok(())
}

/// Schedules a catch-up answer for a member stuck in `from`: for each retained epoch from
/// `from` on (at most [`CATCH_UP_EPOCHS`]), the certificates of the proposals its commit
/// applied (sealed under that epoch's key), the application messages of that epoch still in
/// the log, and the commit itself — everything re-published as this member holds it, so the
/// asker can process each epoch as if it had been there. Sent after `delay` plus a random
/// backoff (none for the commit's own author, who answers first), unless someone else
/// re-published the first commit meanwhile.
pub(crate) fn answer_catch_up(
    group: &mut Group,
    step: &mut Step<'_>,
    from: Epoch,
    delay: u64,
) -> Result<(), Abort> {
    let Some(first) = group.commits.get(&from) else {
        return Ok(());
    };
    let gid = group.id.as_bytes().to_vec();
    let first_commit = Envelope::new(Kind::Commit, &gid, from, first.sealed.clone())
        .with_branch(&branch_of(group, from))
        .encode_to_vec();
    let key = digest(&first_commit);
    if group.sync.answers.iter().any(|a| a.key == key) {
        return Ok(());
    }
    let spread = if first.committer == step.me() {
        0
    } else {
        backoff(step, step.params.repair_backoff_ms)
    };
    // (epoch, envelope, a bundle ends after it): each epoch's messages travel with, and
    // before, the commit that ends it.
    let mut items: Vec<(Epoch, Vec<u8>, bool)> = Vec::new();
    let mut messages = 0usize;
    // The logged messages of the epochs served, in one pass over the log.
    let last = from.saturating_add(CATCH_UP_EPOCHS);
    let mut logged: BTreeMap<Epoch, Vec<Vec<u8>>> = BTreeMap::new();
    for (message_epoch, bytes) in group.sync.log.values() {
        if (from..last).contains(message_epoch) {
            logged
                .entry(*message_epoch)
                .or_default()
                .push(bytes.clone());
        }
    }
    for epoch in from..last {
        let Some(rec) = group.commits.get(&epoch) else {
            break;
        };
        for (id, parts) in &rec.certificates {
            for part in parts {
                let nonce = step
                    .crypto
                    .entropy()
                    .array::<{ sealed::SEAL_NONCE_LEN }>()?;
                let body = sealed::seal_certificate(&rec.key, &gid, epoch, &id.0, nonce, part);
                let env = Envelope::new(Kind::Certificate, &gid, epoch, body)
                    .with_branch(&branch_of(group, epoch));
                items.push((epoch, env.encode_to_vec(), false));
            }
        }
        for bytes in logged.remove(&epoch).unwrap_or_default() {
            if messages < CATCH_UP_MESSAGES {
                items.push((epoch, bytes, false));
                messages += 1;
            }
        }
        let commit = Envelope::new(Kind::Commit, &gid, epoch, rec.sealed.clone())
            .with_branch(&branch_of(group, epoch));
        items.push((epoch, commit.encode_to_vec(), true));
    }
    let count = items.len();
    let envelopes = bundle::pack(&gid, items, step.params.max_inbound_bytes);
    tracing::debug!(group = %group.id.display(), from, count, bundles = envelopes.len(), "catch-up answer scheduled");
    let topic = group.topics.group.clone();
    group.sync.schedule_under(
        key,
        step.now.plus_ms(delay + spread),
        step.now,
        topic,
        envelopes,
    );
    Ok(())
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
    let env = Envelope::new(Kind::Commit, group.id.as_bytes(), epoch, sealed.to_vec())
        .with_branch(&branch_of(group, epoch));
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
    let key = group
        .members_at(epoch)
        .map(|m| m.key)
        .or_else(|| group.commits.get(&epoch).map(|c| c.key));
    let Some(key) = key else {
        return Ok(());
    };
    let answer_key = certificate_key(epoch, &id.0);
    if group.sync.answers.iter().any(|a| a.key == answer_key) {
        return Ok(());
    }
    let mut parts = group.consensus.certificate(id, CERTIFICATE_VOTES_PER_PART);
    if parts.is_empty() {
        // Forgotten by the consensus plugin: perhaps kept with the commit that applied it.
        parts = group
            .commits
            .values()
            .flat_map(|c| c.certificates.iter())
            .find(|(p, _)| p == id)
            .map(|(_, parts)| parts.clone())
            .unwrap_or_default();
    }
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
        envelopes.push(
            Envelope::new(Kind::Certificate, &gid, epoch, body)
                .with_branch(&branch_of(group, epoch))
                .encode_to_vec(),
        );
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
    // Restarted: what this member sent in its current epoch just before it died may never have
    // left it (a member that is behind or rejoining sends it again once it is back instead).
    if std::mem::take(&mut group.sync.resend_after_restart)
        && group.sync.ahead.is_none()
        && !group.rejoining
    {
        let epoch = group.epoch();
        super::rejoin::resend_since(group, step, epoch)?;
    }
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
    // Stuck in an epoch others have left: their traffic is held as "future", or was too far
    // ahead to hold.
    let epoch = group.epoch();
    let held_overdue = group
        .future
        .iter()
        .map(|h| h.since.plus_ms(params.repair_delay_ms))
        .min();
    let due = group.sync.catch_up_due(epoch, held_overdue, params);
    if due.is_some_and(|t| t <= now) {
        group.sync.behind_from = Some(group.sync.behind_from.map_or(epoch, |e| e.min(epoch)));
        let same_epoch = group
            .sync
            .catch_up_requested
            .is_some_and(|(e, _)| e == epoch);
        group.sync.catch_up_attempts = if same_epoch {
            group.sync.catch_up_attempts + 1
        } else {
            1
        };
        // Nobody answered several requests and no other branch was heard of: this member is
        // behind every member's retained history. It rejoins (re-added without a vote).
        let fork_window = AHEAD_BELIEF_MS;
        if group.sync.catch_up_attempts > REJOIN_AFTER_ATTEMPTS
            && !group.fork.recently_seen(now, fork_window)
        {
            tracing::info!(group = %group.id.display(), epoch, "beyond retained history: rejoining");
            group.wants_rejoin = Some(epoch);
            return Ok(());
        }
        group.sync.catch_up_requested = Some((epoch, now));
        let nonce = step
            .crypto
            .entropy()
            .array::<{ sealed::SEAL_NONCE_LEN }>()?;
        let gid = group.id.as_bytes().to_vec();
        let body = sealed::seal_catch_up(&group.commit_key, &gid, epoch, nonce);
        tracing::debug!(group = %group.id.display(), epoch, "asking to catch up");
        step.out.publish(
            &group.topics.group,
            Envelope::new(Kind::CatchUp, &gid, epoch, body)
                .with_branch(&group.branch)
                .encode_to_vec(),
        );
    }
    if group
        .sync
        .ahead
        .is_some_and(|(_, since)| since.plus_ms(AHEAD_BELIEF_MS) <= now)
    {
        group.sync.ahead = None;
    }
    if !request.messages.is_empty() || !request.proposals.is_empty() {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn being_behind_ends_on_reaching_the_epoch_or_when_nobody_confirms_it() {
        let mut s = SyncState::default();
        let t = Timestamp(1_000);
        assert!(!s.is_behind(t));
        s.note_ahead(9, t);
        assert!(s.is_behind(t.plus_ms(AHEAD_BELIEF_MS - 1)));
        assert!(
            !s.is_behind(t.plus_ms(AHEAD_BELIEF_MS)),
            "unconfirmed claims expire"
        );
        s.note_ahead(7, t.plus_ms(5)); // an older claim does not refresh a newer one
        assert_eq!(s.ahead, Some((9, t)));
        s.entered_epoch(8, t);
        assert!(s.is_behind(t), "still short of epoch 9");
        s.entered_epoch(9, t);
        assert!(!s.is_behind(t));
    }

    #[test]
    fn a_catch_up_request_waits_for_the_retry_interval_only_within_one_epoch() {
        let params = crate::engine::EngineParams::default();
        let mut s = SyncState::default();
        let t = Timestamp(10_000);
        assert_eq!(s.catch_up_due(3, None, &params), None, "not behind");
        s.note_ahead(6, t);
        let first = t.plus_ms(params.repair_delay_ms);
        assert_eq!(s.catch_up_due(3, None, &params), Some(first));
        s.catch_up_requested = Some((3, first));
        assert_eq!(
            s.catch_up_due(3, None, &params),
            Some(first.plus_ms(params.repair_retry_ms))
        );
        assert_eq!(
            s.catch_up_due(4, None, &params),
            Some(first),
            "progress: ask again at once"
        );
    }
}
