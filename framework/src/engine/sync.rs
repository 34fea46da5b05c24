//! Repairing losses: duplicate suppression, causal history and status beacons that reveal
//! missed application messages, repair requests answered by any member holding the missing
//! bytes, votes re-sent when a member asks for a proposal it cannot decide, and certificates
//! proving the outcome of proposals a member saw no decision for. Catching up on whole epochs
//! is in [`super::catch_up`].
//!
//! Repair is receiver-driven, so it stays quiet when nothing is missing: a member asks for a
//! proposal (a `Repair` naming it) only when it has been open here longer than the member's
//! patience plus a spread of `repair_backoff_ms`, or when votes arrived for a proposal never
//! seen; a member that sees someone else ask for the same proposal does not ask too. Each
//! member re-sends its own envelopes of a proposal at most [`MAX_RESENDS`] times, whoever
//! asks, and a decided proposal is answered with certificates by its owner, the author of a
//! commit that applied it and about `catch_up_fanout` members drawn per round — each at most
//! once per `repair_retry_ms / 2` (the first one seen also suppresses the others). Per
//! proposal that bounds re-sent votes at `MAX_RESENDS × voters` and certificates at a few per
//! round whatever the group size, and only when someone is missing something.
//!
//! Messages and commits are re-published as *original* bytes (envelopes exactly as first
//! published), so a member that already has one drops the copy by its digest before any MLS
//! processing, and a member that missed it processes it as if it had arrived the first time.
//! Certificates are built by the answerer and sealed under the asker's epoch key. Answers wait
//! a random backoff and are dropped when someone else answered first. All state is transient
//! and bounded; after a crash the member announces its epoch at once, and the protocol's own
//! resends and repair fill the gap.

use std::collections::{BTreeMap, HashMap, VecDeque};

use super::catch_up::CatchUp;
use super::event::{Event, ProposalAction, RejectReason};
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
/// Messages of gone members held at once while waiting for a current member to vouch.
const UNVOUCHED: usize = 64;
/// Vouch requests per held message before it is refused.
const VOUCH_ATTEMPTS: u32 = 4;
/// Votes per certificate part (about 200 bytes each, so a part stays near 52 KB).
pub(crate) const CERTIFICATE_VOTES_PER_PART: usize = 256;
/// Times a member re-sends its own envelopes of one proposal, whoever asks.
pub(crate) const MAX_RESENDS: u8 = 2;
/// Proposals known only from votes (their proposal message was missed), tracked at once.
const UNKNOWN_PROPOSALS: usize = 256;
/// Proposal ids one repair request names at most.
const REQUEST_PROPOSALS: usize = 64;

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

/// A message of a member that is gone, held until a current member vouches for it.
struct Unvouched {
    topic: Topic,
    raw: Vec<u8>,
    /// When it was last asked for a vouch, and how often.
    asked: Option<Timestamp>,
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

/// SHA-256 over a domain label and `parts`: the key an answer is known by, whoever sends it.
fn answer_key(label: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(label);
    for part in parts {
        ctx.update(part);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// What identifies the certificate of `proposal` sealed for members in `epoch`, whoever built it.
pub(crate) fn certificate_key(epoch: Epoch, proposal: &[u8; 32]) -> [u8; 32] {
    answer_key(
        b"demls/certificate-answer",
        &[&epoch.to_be_bytes(), proposal],
    )
}

/// What identifies a vouch for message `id` (a status beacon naming it), whoever sends it.
fn vouch_key(id: &[u8]) -> [u8; 32] {
    answer_key(b"demls/vouch-answer", &[id])
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
    /// Messages of members that are gone (removed since their epoch), held until a current
    /// member vouches for them: by message id.
    unvouched: BTreeMap<Vec<u8>, Unvouched>,
    /// This member's own consensus envelopes (proposal and votes) per proposal, with how many
    /// times they were re-sent.
    own: BTreeMap<ProposalId, (Vec<Vec<u8>>, u8)>,
    answers: Vec<Answer>,
    next_status: Option<Timestamp>,
    next_resend: Option<Timestamp>,
    /// Whether this member is behind, and its catch-up requests.
    pub(crate) catch_up: CatchUp,
    /// When a proposal was last asked for (by this member or another one).
    proposals_requested: BTreeMap<ProposalId, Timestamp>,
    /// Proposals known only from votes for them: since when, and how often asked for.
    unknown_proposals: BTreeMap<ProposalId, (Timestamp, u32)>,
    /// Open proposals: when their last consensus message arrived, and how many votes did.
    activity: BTreeMap<ProposalId, (Timestamp, u32)>,
    /// Set after a restart: the next tick announces this member's epoch unconditionally.
    announce: bool,
    /// Set after a restart that found own messages of the current epoch in the history: the
    /// next tick sends them again (their publications may have died with the process).
    resend_after_restart: bool,
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
        self.catch_up.entered_epoch(epoch, now);
    }

    /// Whether an answer under `key` is already scheduled here.
    pub(crate) fn is_scheduled(&self, key: &[u8; 32]) -> bool {
        self.answers.iter().any(|a| a.key == *key)
    }

    /// Whether something under `key` was published (by anyone) within `window` ms before now.
    pub(crate) fn answered_within(&self, key: &[u8; 32], now: Timestamp, window: u64) -> bool {
        self.duplicate_at
            .get(key)
            .is_some_and(|&t| t.plus_ms(window) > now)
    }

    /// The logged application message envelopes with their epochs.
    pub(crate) fn logged(&self) -> impl Iterator<Item = (Epoch, &[u8])> {
        self.log.values().map(|(e, bytes)| (*e, bytes.as_slice()))
    }

    /// Notes that someone asked for `proposal` (this member need not ask again soon).
    pub(crate) fn note_proposal_requested(&mut self, proposal: ProposalId, now: Timestamp) {
        self.proposals_requested.insert(proposal, now);
    }

    /// When `proposal` was last asked for (by this member or, as far as it saw, anyone).
    pub(crate) fn requested_at(&self, proposal: &ProposalId) -> Option<Timestamp> {
        self.proposals_requested.get(proposal).copied()
    }

    /// Notes a vote for a proposal this member never saw (it missed the proposal message).
    pub(crate) fn note_unknown_proposal(&mut self, proposal: ProposalId, now: Timestamp) {
        if self.unknown_proposals.len() < UNKNOWN_PROPOSALS {
            self.unknown_proposals.entry(proposal).or_insert((now, 0));
        }
    }

    /// The proposal is known here now.
    pub(crate) fn proposal_known(&mut self, proposal: &ProposalId) {
        self.unknown_proposals.remove(proposal);
    }

    /// Notes a consensus message about `proposal` (carrying `votes` votes).
    pub(crate) fn note_activity(&mut self, proposal: ProposalId, votes: u32, now: Timestamp) {
        let entry = self.activity.entry(proposal).or_insert((now, 0));
        entry.0 = now;
        entry.1 = entry.1.saturating_add(votes);
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

    /// Whether the application message `id` is missing here: referenced by a message or
    /// beacon this member received, and not delivered yet.
    pub(crate) fn is_missing(&self, id: &[u8]) -> bool {
        self.missing.contains_key(id)
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
    /// Returns the held messages of gone members this vouches for, to be processed again (a
    /// reference in a chat message's history or a status beacon is a current member's vouch).
    pub(crate) fn note_references(
        &mut self,
        ids: &[Vec<u8>],
        now: Timestamp,
    ) -> Vec<(Topic, Vec<u8>)> {
        let mut released = Vec::new();
        for id in ids {
            if id.len() != 16 {
                continue;
            }
            // Someone vouched: a vouch this member has scheduled for it is not needed (hashed
            // only while answers are pending, which is rare).
            if !self.answers.is_empty() {
                let key = vouch_key(id);
                if self.answers.iter().any(|a| a.key == key) {
                    self.note_answered(key, now);
                }
            }
            if self.known.contains(id) {
                continue;
            }
            let held = self.unvouched.remove(id);
            // A released message must find itself missing when it is processed again.
            if held.is_some() || self.missing.len() < MISSING {
                self.missing.entry(id.clone()).or_insert(Missing {
                    noticed: now,
                    requested: None,
                    attempts: 0,
                });
            }
            if let Some(held) = held {
                released.push((held.topic, held.raw));
            }
        }
        released
    }

    /// Holds a message of a member that is gone until a current member vouches for it (it is
    /// asked for a vouch at the next tick). True if it is held (also from an earlier copy),
    /// false if no room is left.
    pub(crate) fn hold_unvouched(&mut self, id: &[u8], topic: &Topic, raw: &[u8]) -> bool {
        if self.unvouched.contains_key(id) {
            return true;
        }
        if self.unvouched.len() >= UNVOUCHED {
            return false;
        }
        self.unvouched.insert(
            id.to_vec(),
            Unvouched {
                topic: topic.clone(),
                raw: raw.to_vec(),
                asked: None,
                attempts: 0,
            },
        );
        true
    }

    /// Remembers an envelope this member published for `proposal` (to re-send it).
    pub(crate) fn note_own(&mut self, proposal: ProposalId, envelope: Vec<u8>) {
        let (list, _) = self.own.entry(proposal).or_default();
        if list.len() < 4 {
            list.push(envelope);
        }
    }

    /// This member's own envelopes of `proposal`, if it may re-send them once more (counted).
    fn take_resend(&mut self, proposal: &ProposalId) -> Vec<Vec<u8>> {
        match self.own.get_mut(proposal) {
            Some((list, sent)) if *sent < MAX_RESENDS => {
                *sent += 1;
                list.clone()
            }
            _ => Vec::new(),
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

    pub(crate) fn schedule_under(
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
        let forget_ahead = self.catch_up.next_deadline();
        // A message held for a vouch is asked for at once, then each `repair_retry_ms`.
        let unvouched = self
            .unvouched
            .values()
            .map(|h| {
                h.asked
                    .map_or(Timestamp(0), |t| t.plus_ms(params.repair_retry_ms))
            })
            .min();
        // Own messages to send again after a restart: due at once.
        let resend = self.resend_after_restart.then_some(Timestamp(0));
        [
            resend,
            answers,
            missing,
            self.next_status,
            self.next_resend,
            forget_ahead,
            unvouched,
        ]
        .into_iter()
        .flatten()
        .min()
    }
}

/// The branch tag of `epoch` here (empty if unknown).
pub(crate) fn branch_of(group: &Group, epoch: Epoch) -> Vec<u8> {
    group
        .branch_tag(epoch)
        .map(|t| t.to_vec())
        .unwrap_or_default()
}

/// A delay in `[0, max)` that differs between members (so answers spread out), derived from
/// the entropy source (deterministic in simulations).
pub(crate) fn backoff(step: &Step<'_>, max: u64) -> u64 {
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
    // Vouching for messages of a member that is gone: only those this member took itself,
    // each in a status beacon of its own after a random backoff, unless another member's
    // beacon named it first (so one vouch answers, not every member holding the message).
    let vouched: Vec<Vec<u8>> = repair
        .vouch
        .iter()
        .take(STATUS_RECENT)
        .filter(|id| group.sync.log.contains_key(*id))
        .cloned()
        .collect();
    let epoch = group.epoch();
    for id in vouched {
        let key = vouch_key(&id);
        if group.sync.answers.iter().any(|a| a.key == key) {
            continue;
        }
        let env = governance::seal_control(
            group,
            step,
            &Frame {
                body: Some(frame::Body::Status(Status {
                    epoch,
                    recent: vec![id],
                })),
            },
        )?;
        group
            .sync
            .schedule_answer(key, step, topic.clone(), vec![env]);
    }
    for id in repair.messages.iter().take(64) {
        if let Some((_, bytes)) = group.sync.log.get(id).cloned() {
            let due = step.now.plus_ms(backoff(step, max));
            group.sync.schedule(due, step.now, topic.clone(), bytes);
        }
    }
    for raw in repair.proposals.iter().take(REQUEST_PROPOSALS) {
        let Some(id) = ProposalId::from_slice(raw) else {
            continue;
        };
        // Someone asked: this member does not need to ask for it too for a while.
        group.sync.note_proposal_requested(id, step.now);
        // Proof of its outcome once decided here (one certificate suffices for everyone) ...
        if answer_certificate(group, step, sender_epoch, &id)? {
            continue;
        }
        // ... or, still being voted on, this member's own proposal and vote (a bounded number
        // of times, whoever asks).
        for bytes in group.sync.take_resend(&id) {
            let due = step.now.plus_ms(backoff(step, max));
            group.sync.schedule(due, step.now, topic.clone(), bytes);
        }
    }
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

/// Whether this member is one of the few that answer requests for `proposal`'s certificate in
/// the current round of `round_ms`: about `fanout` of `members`, a different draw each round,
/// the same for every request within one (so however many members ask, and however slowly
/// answers travel, a round draws about `fanout` certificates).
fn certificate_answerer(
    me: &crate::types::MemberId,
    proposal: &ProposalId,
    now: Timestamp,
    round_ms: u64,
    fanout: u32,
    members: u64,
) -> bool {
    let round = now.0 / round_ms.max(1);
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(b"demls/certificate-answerer");
    ctx.update(me.as_bytes());
    ctx.update(proposal.as_bytes());
    ctx.update(&round.to_be_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&ctx.finish().as_ref()[..8]);
    u64::from_be_bytes(bytes) % members.max(1) < u64::from(fanout)
}

/// Schedules the certificate of proposal `id`, sealed for members in `epoch`, if this member
/// has decided it with an outcome the consensus plugin can prove, still holds that epoch's key
/// and is one of this round's answerers (the proposal's owner and the author of a commit that
/// applied it always are). Returns whether the
/// request is taken care of: a certificate is (or was already) scheduled here, or it is
/// decided here and left to this round's answerers.
fn answer_certificate(
    group: &mut Group,
    step: &mut Step<'_>,
    epoch: Epoch,
    id: &ProposalId,
) -> Result<bool, Abort> {
    let key = group
        .members_at(epoch)
        .map(|m| m.key)
        .or_else(|| group.commits.get(&epoch).map(|c| c.key));
    let Some(key) = key else {
        return Ok(false);
    };
    let answer_key = certificate_key(epoch, &id.0);
    // Scheduled already, or answered (by anyone, as far as this member saw) within the last
    // `repair_retry_ms / 2`: an asker that still lacks it asks again after `repair_retry_ms`.
    if group.sync.answers.iter().any(|a| a.key == answer_key)
        || group
            .sync
            .answered_within(&answer_key, step.now, step.params.repair_retry_ms / 2)
    {
        return Ok(true);
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
        return Ok(false);
    }
    let me = step.me();
    // The proposal's owner and the author of a commit that applied it always answer: they
    // surely decided it, while a round's drawn answerers may not have.
    let owner = group.proposals.get(id).is_some_and(|r| r.owner == me)
        || group
            .commits
            .values()
            .any(|c| c.committer == me && c.certificates.iter().any(|(p, _)| p == id))
        || group
            .candidates
            .iter()
            .any(|c| c.author == me && c.proposals.contains(id));
    let members = group
        .members_at(epoch)
        .map_or_else(|| group.roster().len(), |m| m.roster.len()) as u64;
    if !owner
        && !certificate_answerer(
            &me,
            id,
            step.now,
            step.params.repair_retry_ms,
            step.params.catch_up_fanout,
            members,
        )
    {
        return Ok(true);
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
    Ok(true)
}

/// Periodic repair work: due answers, repair requests, status beacons, re-sends, and the
/// request for the commit that ended an epoch this member is stuck in.
pub(crate) fn tick(group: &mut Group, step: &mut Step<'_>) -> Result<(), Abort> {
    let now = step.now;
    let params = step.params;
    // Restarted: what this member sent in its current epoch just before it died may never have
    // left it (a member that is behind or rejoining sends it again once it is back instead).
    if std::mem::take(&mut group.sync.resend_after_restart)
        && !group.sync.catch_up.is_ahead_known()
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
            // Answered, by this member: later requests within the quiet window are not.
            group.sync.note_answered(answer.key, now);
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
    // Messages of gone members waiting for a vouch: asked for each `repair_retry_ms`, refused
    // once nobody vouched after the last request.
    let mut unvouched = Vec::new();
    for (id, held) in group.sync.unvouched.iter_mut() {
        let due = held
            .asked
            .map_or(now, |t| t.plus_ms(params.repair_retry_ms));
        if due > now {
            continue;
        }
        if held.attempts >= VOUCH_ATTEMPTS {
            unvouched.push(id.clone());
        } else if request.vouch.len() < STATUS_RECENT {
            held.asked = Some(now);
            held.attempts += 1;
            request.vouch.push(id.clone());
        }
    }
    for id in unvouched {
        group.sync.unvouched.remove(&id);
        step.out.event(Event::Rejected {
            group_id: Some(group.id.clone()),
            reason: RejectReason::NotAMember,
            detail: "message of a member removed since its epoch: no current member vouched for it"
                .into(),
        });
    }
    // Proposals a parked commit waits for (asked for at once: the commit is given up after
    // `commit_grace_ms`, and a lost request or answer must have time to be retried).
    let wanted: Vec<ProposalId> = group
        .parked
        .iter()
        .flat_map(|h| h.waiting.clone())
        .collect();
    for id in wanted {
        let last = group.sync.proposals_requested.get(&id).copied();
        if last.is_none_or(|t| t.plus_ms(params.repair_retry_ms) <= now) {
            group.sync.proposals_requested.insert(id, now);
            if let Some((_, asked)) = group.sync.unknown_proposals.get_mut(&id) {
                *asked += 1;
            }
            request.proposals.push(id.as_bytes().to_vec());
        }
    }
    // Proposals this member cannot decide: open, short of a quorum of votes, and silent (no
    // message about them) for longer than its patience plus a spread — votes still on their
    // way keep a proposal active, however slow the network; or proposals known only from
    // votes. Unless someone asked for them recently.
    let patience = group.sync.catch_up.patience_ms(params);
    let quiet = patience.max(params.resend_interval_ms);
    let me = step.me();
    let epoch = group.epoch();
    let open = |r: &&super::records::ProposalRecord| {
        r.status == super::records::ProposalStatus::Open && r.epoch == epoch
    };
    let proposals = &group.proposals;
    group
        .sync
        .activity
        .retain(|id, _| proposals.get(id).is_some_and(|r| open(&r)));
    let mut stalled: Vec<ProposalId> = Vec::new();
    for r in group.proposals.open_records().filter(open) {
        let (last, votes) = group
            .sync
            .activity
            .get(&r.id)
            .copied()
            .unwrap_or((r.seen_at, 0));
        let voters = group.members_at(r.epoch).map_or(0, |m| {
            let leave = matches!(r.action, ProposalAction::Leave { .. });
            m.voters_for(r.action.kind(), leave).len()
        });
        let own = u32::from(group.consensus.has_voted(&r.id));
        let quorum = (2 * voters).div_ceil(3) as u32;
        let spread = spread_for(&me, &r.id, params.repair_backoff_ms);
        if votes + own < quorum && last.plus_ms(quiet + spread) <= now {
            stalled.push(r.id);
        }
    }
    // (A proposal only ever heard of through votes is asked for at most `ATTEMPTS` times: the
    // votes may be a member's invention.)
    group
        .sync
        .unknown_proposals
        .retain(|_, (_, asked)| *asked < ATTEMPTS);
    stalled.extend(
        group
            .sync
            .unknown_proposals
            .iter()
            .filter(|(_, (since, _))| since.plus_ms(quiet) <= now)
            .map(|(id, _)| *id),
    );
    for id in stalled {
        if request.proposals.len() >= REQUEST_PROPOSALS {
            break;
        }
        let last = group.sync.proposals_requested.get(&id).copied();
        if last.is_none_or(|t| t.plus_ms(params.repair_retry_ms) <= now) {
            group.sync.proposals_requested.insert(id, now);
            request.proposals.push(id.as_bytes().to_vec());
        }
    }
    // Stuck in an epoch others have left: ask to catch up (or rejoin) when due — unless the
    // claims of later epochs went unconfirmed for a whole window.
    super::catch_up::refute_if_due(group, step);
    super::catch_up::request_if_due(group, step)?;
    if group.wants_rejoin.is_some() {
        return Ok(());
    }
    group.sync.catch_up.expire(now);
    if !request.messages.is_empty() || !request.proposals.is_empty() || !request.vouch.is_empty() {
        governance::publish_control(
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
            governance::publish_control(
                group,
                step,
                &Frame {
                    body: Some(frame::Body::Status(Status { epoch, recent })),
                },
            )?;
        }
    }
    // An own leave until committed: it needs no votes, only a steward that heard it, and only
    // the leaver can send it. Once its proposal's lifetime has passed (nobody would take it any
    // more: a long partition), a fresh leave replaces it. (Votes are re-sent when someone asks,
    // above.)
    if group.sync.next_resend.is_none_or(|t| t <= now) {
        group.sync.next_resend = Some(now.plus_ms(params.resend_interval_ms));
        let members = group.roster().len();
        let mut leaves: Vec<ProposalId> = Vec::new();
        let mut expired: Vec<super::records::ProposalRecord> = Vec::new();
        for r in group.proposals.live_naming(&me) {
            let own_leave =
                r.is_ready() && r.owner == me && matches!(r.action, ProposalAction::Leave { .. });
            if !own_leave || r.epoch + (params.max_past_epochs as u64) < epoch {
                continue;
            }
            if r.seen_at
                .plus_ms(params.vote_timeout_for(members, r.attempt))
                <= now
            {
                expired.push(r.clone());
            } else {
                leaves.push(r.id);
            }
        }
        for mut old in expired {
            match governance::open_proposal(group, step, old.action.clone(), None, Vec::new()) {
                Ok(_) => {
                    old.status = super::records::ProposalStatus::Obsolete;
                    group.put_proposal(old);
                }
                // Held back by a higher-priority vote: try again at the next round.
                Err(Abort::Reject(_, detail)) => {
                    tracing::debug!(%detail, "leave not renewed yet")
                }
                Err(e) => return Err(e),
            }
        }
        let topic = group.topics.group.clone();
        for id in leaves {
            let envelopes = group
                .sync
                .own
                .get(&id)
                .map(|(list, _)| list.clone())
                .unwrap_or_default();
            for bytes in envelopes {
                step.out.publish(&topic, bytes);
            }
        }
    }
    Ok(())
}

/// A delay in `[0, max)` that differs between members and proposals (so that members asking
/// for one proposal do not all ask at once) and stays the same for a pair.
fn spread_for(me: &crate::types::MemberId, proposal: &ProposalId, max: u64) -> u64 {
    if max == 0 {
        return 0;
    }
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(me.as_bytes());
    ctx.update(proposal.as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&ctx.finish().as_ref()[..8]);
    u64::from_be_bytes(bytes) % max
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn about_fanout_members_are_drawn_to_answer_each_round_the_same_for_every_request() {
        let members: Vec<crate::types::MemberId> = (0..512u32)
            .map(|i| crate::types::MemberId::from_signature_key(&i.to_be_bytes()))
            .collect();
        let id = ProposalId([9; 32]);
        let drawn = |now: u64| -> Vec<usize> {
            (0..members.len())
                .filter(|&i| certificate_answerer(&members[i], &id, Timestamp(now), 2_000, 3, 512))
                .collect()
        };
        let mut total = 0;
        let mut rounds_with_someone = 0;
        for round in 0..200u64 {
            let now = round * 2_000;
            let these = drawn(now);
            // Within a round every request sees the same answerers.
            assert_eq!(these, drawn(now + 1_999));
            total += these.len();
            rounds_with_someone += usize::from(!these.is_empty());
        }
        // 3 of 512 in expectation: 600 over 200 rounds; most rounds draw someone.
        assert!(
            (450..=750).contains(&total),
            "{total} answerers in 200 rounds"
        );
        assert!(
            rounds_with_someone >= 180,
            "{rounds_with_someone} rounds drew someone"
        );
        assert_ne!(drawn(0), drawn(2_000), "a new draw each round");
    }

    #[test]
    fn a_member_re_sends_its_own_envelopes_of_a_proposal_a_bounded_number_of_times() {
        let mut s = SyncState::default();
        let id = ProposalId([3; 32]);
        assert!(s.take_resend(&id).is_empty(), "nothing of its own");
        s.note_own(id, vec![1]);
        s.note_own(id, vec![2]);
        for _ in 0..MAX_RESENDS {
            assert_eq!(s.take_resend(&id), vec![vec![1], vec![2]]);
        }
        assert!(s.take_resend(&id).is_empty(), "whoever asks, no more");
    }

    #[test]
    fn members_ask_for_one_proposal_at_different_times() {
        let id = ProposalId([9; 32]);
        let spreads: std::collections::BTreeSet<u64> = (0..20u8)
            .map(|i| spread_for(&crate::types::MemberId([i; 20]), &id, 250))
            .collect();
        assert!(spreads.len() > 10, "{spreads:?}");
        assert!(spreads.iter().all(|&d| d < 250));
    }
}
