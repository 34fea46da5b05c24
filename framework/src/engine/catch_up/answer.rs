//! Answering a catch-up request: who answers (the committer of the epoch at once, about
//! `catch_up_fanout` others drawn by chance, nobody once someone did) and with what (per
//! epoch: certificates, application messages, the commit), bounded in epochs and bytes.

use std::collections::BTreeMap;

use super::{CATCH_UP_EPOCHS, MAX_ANSWER_BYTES};
use crate::engine::digest::digest;
use crate::engine::group::Group;
use crate::engine::repair::{backoff, branch_of};
use crate::engine::step::{Abort, Step};
use crate::types::Epoch;
use crate::wire::{Envelope, Kind, bundle, sealed};

/// A member stuck in `from` asked (its `attempt`-th request in a row, from 0). Schedules an
/// answer: for each retained epoch from `from` on (at most [`CATCH_UP_EPOCHS`]), the
/// certificates of the proposals its commit applied (sealed under that epoch's key), the
/// application messages of that epoch still in the log, and the commit itself — everything
/// re-published as this member holds it, so the asker can process each epoch as if it had been
/// there. Whether this member answers at all follows the rules in the module documentation.
pub(crate) fn answer(
    group: &mut Group,
    step: &mut Step<'_>,
    from: Epoch,
    attempt: u8,
) -> Result<(), Abort> {
    let Some(first) = group.epochs.commit(from) else {
        return Ok(());
    };
    let gid = group.id.as_bytes().to_vec();
    let first_commit = Envelope::new(Kind::Commit, &gid, from, first.sealed.clone())
        .with_branch(&branch_of(group, from))
        .encode_to_vec();
    let key = digest(&first_commit);
    if group.repair.is_scheduled(&key)
        || group
            .repair
            .answered_within(&key, step.now, step.params.repair_retry_ms / 2)
    {
        return Ok(());
    }
    let committer = first.committer == step.me();
    if !committer {
        let members = group
            .members_at(from)
            .map(|m| m.roster.len())
            .unwrap_or_else(|| group.roster().len())
            .max(1) as u64;
        let chance = u64::from(step.params.catch_up_fanout).saturating_mul(1 << attempt.min(16));
        if backoff(step, members) >= chance {
            return Ok(());
        }
    }
    let spread = if committer {
        0
    } else {
        backoff(step, step.params.repair_backoff_ms)
    };
    // (epoch, envelope, a bundle ends after it): each epoch's messages travel with, and
    // before, the commit that ends it.
    let mut items: Vec<(Epoch, Vec<u8>, bool)> = Vec::new();
    let mut message_bytes = 0usize;
    // The logged messages of the epochs served, in one pass over the log.
    let last = from.saturating_add(CATCH_UP_EPOCHS);
    let mut logged: BTreeMap<Epoch, Vec<Vec<u8>>> = BTreeMap::new();
    for (message_epoch, bytes) in group.repair.logged() {
        if (from..last).contains(&message_epoch) {
            logged
                .entry(message_epoch)
                .or_default()
                .push(bytes.to_vec());
        }
    }
    for epoch in from..last {
        let Some(rec) = group.epochs.commit(epoch) else {
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
            if message_bytes + bytes.len() <= MAX_ANSWER_BYTES {
                message_bytes += bytes.len();
                items.push((epoch, bytes, false));
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
    group
        .repair
        .schedule_under(key, step.now.plus_ms(spread), step.now, topic, envelopes);
    Ok(())
}
