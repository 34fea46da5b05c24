//! Beyond-history statements: the authenticated evidence on which a member stuck in an epoch
//! rejoins (§11 of the spec).
//!
//! A member stuck in epoch *e* asks to catch up; members that still retain *e*'s commit answer
//! with it (`catch_up`). When nobody retains it any more, the request goes unanswered — and so
//! does a request of a member that only *believes* it is behind because an outsider published
//! made-up later-epoch traffic. To tell the two apart, a member that moved past *e* and no
//! longer retains it answers a request from *e* with a statement signed by its identity key:
//! "I was a member in *e* and I am in epoch *E* > *e*". The stuck member checks the signature
//! against its own roster of *e*; only then does it rejoin. Unauthenticated traffic can make it
//! ask, never rejoin.
//!
//! The request from *e* cannot be checked by the signer (it no longer holds *e*'s key), so
//! statements are bounded the way catch-up answers are: each member sends at most one per
//! `repair_retry_ms` whatever epochs are asked about, with probability
//! `(1 + catch_up_fanout) / members`, after a random backoff, and not at all if another
//! member's statement for the same epoch was seen within `repair_retry_ms / 2`.

use prost::Message;

use super::digest::digest;
use super::event::RejectReason;
use super::group::Group;
use super::repair::backoff;
use super::silent::Silent;
use super::step::{Abort, Step, reject};
use crate::identity::{IdentitySigner, verify_ed25519};
use crate::types::Epoch;
use crate::wire::{BeyondHistory, Envelope, Kind, beyond_signed_bytes};

/// What identifies the statements answering requests from `epoch`, whoever sends them.
fn key(epoch: Epoch) -> [u8; 32] {
    let mut input = b"demls/beyond-history".to_vec();
    input.extend_from_slice(&epoch.to_be_bytes());
    digest(&input)
}

/// A request from `stuck`, an epoch this member was in but no longer retains: maybe state so.
pub(crate) fn answer(group: &mut Group, step: &mut Step<'_>, stuck: Epoch) {
    let now = step.now;
    let params = step.params;
    let key = key(stuck);
    if group.repair.is_scheduled(&key)
        || group
            .repair
            .answered_within(&key, now, params.repair_retry_ms / 2)
    {
        return;
    }
    let members = group.roster().len().max(1) as u64;
    let chance = 1 + u64::from(params.catch_up_fanout);
    if backoff(step, members) >= chance {
        return;
    }
    if !group
        .repair
        .catch_up
        .may_state_beyond(now, params.repair_retry_ms)
    {
        return;
    }
    let gid = group.id.as_bytes().to_vec();
    let epoch = group.epoch();
    let signature = step.identity.sign(&beyond_signed_bytes(&gid, stuck, epoch));
    let statement = BeyondHistory {
        epoch,
        signer: step.me().as_bytes().to_vec(),
        signature,
    };
    let env = Envelope::new(Kind::Beyond, &gid, stuck, statement.encode_to_vec());
    tracing::debug!(group = %group.id.display(), stuck, epoch, "stating that a request is beyond retained history");
    let due = now.plus_ms(backoff(step, params.repair_backoff_ms));
    let topic = group.topics.group.clone();
    group
        .repair
        .schedule_under(key, due, now, topic, vec![env.encode_to_vec()]);
}

/// A statement for members stuck in `env.epoch`. For this member's own epoch it is checked
/// against the roster and, if a member of this epoch signed it, confirms that the group moved
/// beyond what anyone retains. For an earlier epoch it only tells this member that the request
/// was answered. Statements for later epochs are not for this member.
pub(crate) fn on_statement(
    group: &mut Group,
    step: &mut Step<'_>,
    env: &Envelope,
    raw: &[u8],
) -> Result<(), Abort> {
    group.repair.mark_seen(raw);
    let current = group.epoch();
    if env.epoch != current {
        if env.epoch < current {
            group.repair.note_answered(key(env.epoch), step.now);
        }
        step.out.silent(Silent::NotForThisMember);
        return Ok(());
    }
    let statement = match BeyondHistory::decode_checked(&env.body) {
        Ok(s) => s,
        Err(e) => return reject(RejectReason::Malformed, e.to_string()),
    };
    if statement.epoch <= current {
        return reject(
            RejectReason::Malformed,
            format!(
                "beyond-history statement for epoch {} from epoch {}",
                current, statement.epoch
            ),
        );
    }
    let Some(signer) = statement.signer_id() else {
        return reject(RejectReason::Malformed, "beyond-history signer id");
    };
    let Some(entry) = group.roster().get(&signer) else {
        return reject(
            RejectReason::NotAMember,
            "beyond-history statement signed by a non-member of this epoch",
        );
    };
    let signed = beyond_signed_bytes(&env.group_id, current, statement.epoch);
    if !verify_ed25519(&entry.signature_key, &signed, &statement.signature) {
        return reject(
            RejectReason::NotAMember,
            "beyond-history statement with a bad signature",
        );
    }
    tracing::info!(group = %group.id.display(), epoch = current, signer_epoch = statement.epoch, "a member confirmed this epoch is beyond retained history");
    group.repair.catch_up.confirm_beyond(current);
    Ok(())
}
