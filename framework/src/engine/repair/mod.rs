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
//!
//! One file per part: [`dedup`] (envelopes already processed), [`log`] (the message log,
//! causal history and missing messages), [`outbox`] (own messages sent again), [`vouch`]
//! (messages of gone members), [`proposals`] (asking for undecided proposals, re-sending own
//! votes), [`certificates`] (proof of decided proposals), [`answers`] (answers scheduled after
//! a backoff), [`request`] (the `Repair` message, sent and answered) and [`beacon`] (status
//! beacons). This file holds the shared state and the periodic work that drives them.

mod answers;
mod beacon;
mod certificates;
mod dedup;
mod log;
pub(super) mod outbox;
mod proposals;
mod request;
pub(super) mod state;
mod vouch;

use super::group::Group;
use super::step::{Abort, Step};
use crate::types::{Epoch, Timestamp};
use crate::wire::Repair;

pub(crate) use answers::echo_commit;
pub(crate) use certificates::{CERTIFICATE_VOTES_PER_PART, certificate_key};
pub(crate) use outbox::resend_since;
pub(crate) use request::on_repair;
pub(crate) use state::RepairState;

use crate::engine::digest::digest;

/// Ids of the latest messages carried as causal history in every chat message.
pub(crate) const HISTORY: usize = 4;
/// Ids of the latest messages carried in a status beacon.
const STATUS_RECENT: usize = 16;
/// Repair attempts per missing message (or per proposal known only from votes) before giving up.
const ATTEMPTS: u32 = 8;

impl RepairState {
    /// Notes that this member just entered `epoch`.
    pub(crate) fn entered_epoch(&mut self, epoch: Epoch, now: Timestamp) {
        self.catch_up.entered_epoch(epoch, now);
    }

    /// The earliest time there is repair work.
    pub(crate) fn next_deadline(
        &self,
        params: &crate::engine::params::EngineParams,
    ) -> Option<Timestamp> {
        let answers = self.answers.iter().map(|a| a.due).min();
        let missing = self.missing.values().map(|m| m.due(params)).min();
        let forget_ahead = self.catch_up.next_deadline();
        // A message held for a vouch is asked for at once, then each `repair_retry_ms`.
        let unvouched = self.unvouched.values().map(|h| h.due(params)).min();
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

/// Periodic repair work: due answers, repair requests, status beacons, re-sends, and the
/// request for the commit that ended an epoch this member is stuck in.
pub(crate) fn tick(group: &mut Group, step: &mut Step<'_>) -> Result<(), Abort> {
    let now = step.now;
    let epoch = group.epoch();
    outbox::resend_after_restart(group, step)?;
    group.repair.publish_due_answers(step);
    let mut request = Repair::default();
    group.repair.request_missing(&mut request, now, step.params);
    vouch::request_vouches(group, step, &mut request);
    proposals::request_undecided(group, step, &mut request);
    // Stuck in an epoch others have left: ask to catch up (or rejoin) when due — unless the
    // claims of later epochs went unconfirmed for a whole window.
    super::catch_up::refute_if_due(group, step);
    super::catch_up::request_if_due(group, step)?;
    if group.rejoin.is_wanted() {
        return Ok(());
    }
    group.repair.catch_up.expire(now);
    request::send(group, step, request)?;
    beacon::send_if_due(group, step, epoch)?;
    super::leave::resend_own_if_due(group, step, epoch)
}
