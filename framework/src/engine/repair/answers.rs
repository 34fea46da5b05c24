//! Answers to repair requests: re-published envelopes and certificates wait a random backoff
//! and are dropped when someone else published the same thing first, so one request draws a
//! few answers, not one per member that could answer. Commit echoes ride on the same schedule.

use super::state::Answer;
use super::{Group, RepairState, Step, backoff, branch_of, digest};
use crate::types::{Epoch, Timestamp, Topic};
use crate::wire::{Envelope, Kind};

/// SHA-256 over a domain label and `parts`: the key an answer is known by, whoever sends it.
pub(super) fn answer_key(label: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(label);
    for part in parts {
        ctx.update(part);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

impl RepairState {
    /// Whether an answer under `key` is already scheduled here.
    pub(crate) fn is_scheduled(&self, key: &[u8; 32]) -> bool {
        self.answers.iter().any(|a| a.key == *key)
    }

    pub(super) fn schedule(
        &mut self,
        due: Timestamp,
        now: Timestamp,
        topic: Topic,
        bytes: Vec<u8>,
    ) {
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

    /// Publishes the due answers whose bytes nobody else re-published since they were
    /// scheduled.
    pub(super) fn publish_due_answers(&mut self, step: &mut Step<'_>) {
        let now = step.now;
        let (due, later): (Vec<Answer>, Vec<Answer>) = std::mem::take(&mut self.answers)
            .into_iter()
            .partition(|a| a.due <= now);
        self.answers = later;
        for answer in due {
            let answered = self
                .duplicate_at
                .get(&answer.key)
                .is_some_and(|&t| t >= answer.scheduled);
            if !answered {
                for envelope in answer.envelopes {
                    step.out.publish(&answer.topic, envelope);
                }
                // Answered, by this member: later requests within the quiet window are not.
                self.note_answered(answer.key, now);
            }
        }
    }

    /// Whether an answer is scheduled here at all (cheap check before hashing keys).
    pub(super) fn has_answers(&self) -> bool {
        !self.answers.is_empty()
    }
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
        .repair
        .schedule(due, step.now, topic, env.encode_to_vec());
}
