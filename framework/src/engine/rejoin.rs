//! Rejoining without a vote. A member that can no longer follow the group — it fell behind
//! beyond every member's retained history, or its branch lost a fork (§13 of the spec) — asks
//! to be re-added by publishing a fresh KeyPackage of its own identity as a `Rejoin` envelope
//! on the welcome topic. If that identity is still in the roster, no vote is needed (the
//! membership does not change): a steward's next commit removes the member's old leaf and adds
//! the new KeyPackage, naming it in the commit's `rejoins` so every member can check exactly
//! that. Otherwise the request is an ordinary join, decided by vote.
//!
//! After such a commit every member sends again its own messages first sent in or after the
//! epoch the rejoiner last shared with the group (receivers drop message ids they already
//! have), so that nothing sent while the rejoiner could not read is lost to it.

use std::collections::VecDeque;

use super::group::Group;
use super::{Abort, Step, commit, keypackages, publish, reject};
use crate::engine::event::RejectReason;
use crate::mls::validate_key_package;
use crate::types::{Epoch, MemberId, Timestamp};
use crate::wire::{self, Frame, frame};

/// KeyPackage references used by rejoin commits, remembered so a replayed request cannot
/// evict a member from its current leaf.
const USED: usize = 1_024;

/// A member's request to be re-added, waiting for a steward's commit.
#[derive(Clone, Debug)]
pub(crate) struct RejoinRequest {
    /// The KeyPackage message.
    pub message: Vec<u8>,
    /// Its reference.
    pub reference: Vec<u8>,
    /// The last epoch the member shares with the group.
    pub since: Epoch,
    /// When it arrived.
    pub received_at: Timestamp,
}

/// Rejoin state of one group (transient: a rejoiner re-announces until re-added).
#[derive(Default)]
pub(crate) struct Rejoins {
    /// Pending requests by member.
    pub requests: std::collections::BTreeMap<MemberId, RejoinRequest>,
    used: VecDeque<Vec<u8>>,
}

impl Rejoins {
    fn was_used(&self, reference: &[u8]) -> bool {
        self.used.iter().any(|r| r == reference)
    }

    fn note_used(&mut self, reference: Vec<u8>) {
        self.used.push_back(reference);
        while self.used.len() > USED {
            self.used.pop_front();
        }
    }

    /// When the oldest pending request arrived (it makes a commit due).
    pub(crate) fn oldest(&self) -> Option<Timestamp> {
        self.requests.values().map(|r| r.received_at).min()
    }
}

/// A `Rejoin` announcement arrived on the welcome topic.
pub(crate) fn on_rejoin(
    group: &mut Group,
    step: &mut Step<'_>,
    since: Epoch,
    message: &[u8],
) -> Result<(), Abort> {
    let kp = match validate_key_package(step.crypto, message) {
        Ok(kp) => kp,
        Err(e) => return reject(RejectReason::InvalidKeyPackage, e.to_string()),
    };
    if kp.member_id == step.me() {
        return Ok(());
    }
    if !group.roster().contains(&kp.member_id) {
        // Not (or no longer) a member here: an ordinary join request, decided by vote.
        return keypackages::on_key_package(group, step, message);
    }
    if group.rejoins.was_used(&kp.reference) || current_leaf_from(group, &kp) {
        // Already re-added with this KeyPackage (this member may not have seen that commit, if
        // it replaced its own state since): the rejoiner missed its Welcome.
        keypackages::resend_welcome(group, step, &kp.member_id);
        return Ok(());
    }
    tracing::debug!(group = %group.id.display(), member = %kp.member_id.short(), since, "rejoin requested");
    let request = RejoinRequest {
        message: message.to_vec(),
        reference: kp.reference,
        since: since.min(group.epoch()),
        received_at: step.now,
    };
    let keep_first_arrival = group
        .rejoins
        .requests
        .get(&kp.member_id)
        .map(|r| r.received_at);
    group.rejoins.requests.insert(
        kp.member_id,
        RejoinRequest {
            received_at: keep_first_arrival.unwrap_or(request.received_at),
            ..request
        },
    );
    commit::schedule(group, step);
    Ok(())
}

/// True if the member's current leaf came from this KeyPackage (same encryption key): using
/// it again would evict the member, whose KeyPackage private key is spent.
fn current_leaf_from(group: &Group, kp: &crate::mls::ValidKeyPackage) -> bool {
    let key = crate::mls::leaf_encryption_key(&kp.key_package);
    group
        .roster()
        .get(&kp.member_id)
        .is_some_and(|e| !key.is_empty() && e.encryption_key == key)
}

/// The rejoins this member's next commit carries: members still in the roster, not removed by
/// the same commit, not this member, with a KeyPackage that is still valid. Requests whose
/// KeyPackage expired are dropped (the rejoiner announces a fresh one).
pub(crate) fn selectable(
    group: &mut Group,
    step: &Step<'_>,
    removing: &[MemberId],
) -> Vec<(MemberId, RejoinRequest, openmls::prelude::KeyPackage)> {
    let me = step.me();
    let mut out = Vec::new();
    let mut stale = Vec::new();
    for (member, request) in &group.rejoins.requests {
        if *member == me || removing.contains(member) || !group.roster().contains(member) {
            stale.push(*member);
            continue;
        }
        match validate_key_package(step.crypto, &request.message) {
            Ok(kp) if !current_leaf_from(group, &kp) => {
                out.push((*member, request.clone(), kp.key_package))
            }
            _ => stale.push(*member),
        }
    }
    for member in stale {
        group.rejoins.requests.remove(&member);
    }
    out
}

/// A commit that re-added `rejoins` was applied: the requests are done, their KeyPackages may
/// not be used again, and this member sends again what it sent since the earliest epoch a
/// rejoiner shares with the group.
pub(crate) fn after_commit(
    group: &mut Group,
    step: &mut Step<'_>,
    rejoins: &[wire::Rejoin],
) -> Result<(), Abort> {
    let mut since: Option<Epoch> = None;
    for r in rejoins {
        if let Some(member) = MemberId::from_slice(&r.member_id) {
            group.rejoins.requests.remove(&member);
        }
        group.rejoins.note_used(r.key_package_ref.clone());
        since = Some(since.map_or(r.since_epoch, |s| s.min(r.since_epoch)));
    }
    match since {
        Some(since) => resend_since(group, step, since),
        None => Ok(()),
    }
}

/// Sends again, in the current epoch and marked as re-sent, this member's own messages first
/// sent in epoch `since` or later (messages of `since` itself may have been sent after the
/// split; receivers that have one drop the copy).
pub(crate) fn resend_since(
    group: &mut Group,
    step: &mut Step<'_>,
    since: Epoch,
) -> Result<(), Abort> {
    let again = group.sync.sent_since(since);
    if !again.is_empty() {
        tracing::debug!(group = %group.id.display(), since, count = again.len(), "re-sending own messages");
    }
    for (id, payload, first_epoch) in again {
        let frame = Frame {
            body: Some(frame::Body::Chat(wire::Chat {
                message_id: id.clone(),
                payload,
                sent_at: step.now.0,
                history: Vec::new(),
                resent_from_epoch: Some(first_epoch),
            })),
        };
        let envelope = publish::publish_frame(group, step, &frame)?;
        let epoch = group.epoch();
        group
            .sync
            .replace_logged(&id, epoch, &envelope, step.params.message_log);
    }
    Ok(())
}
