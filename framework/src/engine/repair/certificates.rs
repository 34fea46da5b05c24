//! Certificates: proof of a proposal's outcome, built by a member that decided it and sealed
//! under the asker's epoch key. A request for a decided proposal is answered by its owner, the
//! author of a commit that applied it and about `catch_up_fanout` members drawn per round, each
//! at most once per `repair_retry_ms / 2` (the first one seen also suppresses the others).

use super::answers::answer_key;
use super::{Abort, Group, Step, backoff, branch_of};
use crate::types::{Epoch, ProposalId, Timestamp};
use crate::wire::{Envelope, Kind, sealed};

/// Votes per certificate part (about 200 bytes each, so a part stays near 52 KB).
pub(crate) const CERTIFICATE_VOTES_PER_PART: usize = 256;

/// What identifies the certificate of `proposal` sealed for members in `epoch`, whoever built it.
pub(crate) fn certificate_key(epoch: Epoch, proposal: &[u8; 32]) -> [u8; 32] {
    answer_key(
        b"demls/certificate-answer",
        &[&epoch.to_be_bytes(), proposal],
    )
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
pub(super) fn answer_certificate(
    group: &mut Group,
    step: &mut Step<'_>,
    epoch: Epoch,
    id: &ProposalId,
) -> Result<bool, Abort> {
    let key = group
        .members_at(epoch)
        .map(|m| m.key)
        .or_else(|| group.epochs.commit(epoch).map(|c| c.key));
    let Some(key) = key else {
        return Ok(false);
    };
    let answer_key = certificate_key(epoch, &id.0);
    // Scheduled already, or answered (by anyone, as far as this member saw) within the last
    // `repair_retry_ms / 2`: an asker that still lacks it asks again after `repair_retry_ms`.
    if group.repair.is_scheduled(&answer_key)
        || group
            .repair
            .answered_within(&answer_key, step.now, step.params.repair_retry_ms / 2)
    {
        return Ok(true);
    }
    let mut parts = group.consensus.certificate(id, CERTIFICATE_VOTES_PER_PART);
    if parts.is_empty() {
        // Forgotten by the consensus plugin: perhaps kept with the commit that applied it.
        parts = group
            .epochs
            .commits()
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
            .epochs
            .commits()
            .any(|c| c.committer == me && c.certificates.iter().any(|(p, _)| p == id))
        || group.selection.proposes(&me, id);
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
        .repair
        .schedule_under(answer_key, due, step.now, topic, envelopes);
    Ok(true)
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
}
