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

pub(super) mod state;

use self::state::RejoinRequest;

use super::group::Group;
use super::repair::outbox;
use super::step::{Abort, Step, reject};
use super::{commit, keypackages};
use crate::engine::event::RejectReason;
use crate::mls::validate_key_package;
use crate::types::{Epoch, MemberId};
use crate::wire;

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
    if group.rejoin.was_used(&kp.reference) || current_leaf_from(group, &kp) {
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
    group.rejoin.note_request(kp.member_id, request);
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
    for (member, request) in group.rejoin.requests() {
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
        group.rejoin.drop_request(&member);
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
            group.rejoin.drop_request(&member);
        }
        group.rejoin.note_used(r.key_package_ref.clone());
        since = Some(since.map_or(r.since_epoch, |s| s.min(r.since_epoch)));
    }
    match since {
        Some(since) => outbox::resend_since(group, step, since),
        None => Ok(()),
    }
}
