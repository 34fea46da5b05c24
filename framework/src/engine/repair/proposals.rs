//! Proposals a member cannot decide: it asks for a proposal (a `Repair` naming it) when it has
//! been open here longer than the member's patience plus a spread of `repair_backoff_ms`, when
//! a parked commit waits for it, or when votes arrived for a proposal never seen; a member that
//! sees someone else ask for the same proposal does not ask too. Each member re-sends its own
//! envelopes of a proposal at most [`MAX_RESENDS`] times, whoever asks; a decided proposal is
//! answered with a certificate instead ([`super::certificates`]).

use super::certificates::answer_certificate;
use super::{ATTEMPTS, Abort, Group, Repair, RepairState, Step, backoff};
use crate::engine::event::ProposalAction;
use crate::engine::records::{ProposalRecord, ProposalStatus};
use crate::types::{Epoch, MemberId, ProposalId, Timestamp};

/// Times a member re-sends its own envelopes of one proposal, whoever asks.
pub(crate) const MAX_RESENDS: u8 = 2;
/// Proposals known only from votes (their proposal message was missed), tracked at once.
const UNKNOWN_PROPOSALS: usize = 256;
/// Proposal ids one repair request names at most.
pub(super) const REQUEST_PROPOSALS: usize = 64;

impl RepairState {
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

    /// Whether this member should ask for `id` now: nobody asked within `repair_retry_ms`.
    /// If so, notes the request.
    fn ask(&mut self, id: ProposalId, now: Timestamp, retry_ms: u64) -> bool {
        let last = self.proposals_requested.get(&id).copied();
        if last.is_none_or(|t| t.plus_ms(retry_ms) <= now) {
            self.proposals_requested.insert(id, now);
            return true;
        }
        false
    }

    /// Whether the periodic re-send of an own leave is due; if so, the next one is planned
    /// `interval_ms` from now.
    pub(crate) fn leave_resend_due(&mut self, now: Timestamp, interval_ms: u64) -> bool {
        if self.next_resend.is_some_and(|t| t > now) {
            return false;
        }
        self.next_resend = Some(now.plus_ms(interval_ms));
        true
    }

    /// This member's own envelopes of `proposal` (all of them, without counting a re-send).
    pub(crate) fn own_envelopes(&self, proposal: &ProposalId) -> Vec<Vec<u8>> {
        self.own
            .get(proposal)
            .map(|(list, _)| list.clone())
            .unwrap_or_default()
    }
}

/// Answers a request for proposal `id`: proof of its outcome once decided here (one certificate
/// suffices for everyone), or, still being voted on, this member's own proposal and vote (a
/// bounded number of times, whoever asks).
pub(super) fn answer_proposal(
    group: &mut Group,
    step: &mut Step<'_>,
    sender_epoch: Epoch,
    id: ProposalId,
) -> Result<(), Abort> {
    // Someone asked: this member does not need to ask for it too for a while.
    group.repair.note_proposal_requested(id, step.now);
    if answer_certificate(group, step, sender_epoch, &id)? {
        return Ok(());
    }
    let max = step.params.repair_backoff_ms;
    let topic = group.topics.group.clone();
    for bytes in group.repair.take_resend(&id) {
        let due = step.now.plus_ms(backoff(step, max));
        group.repair.schedule(due, step.now, topic.clone(), bytes);
    }
    Ok(())
}

/// Puts into `request` the proposals this member waits for: those a parked commit waits for
/// (asked for at once: the commit is given up after `commit_grace_ms`, and a lost request or
/// answer must have time to be retried), then those it cannot decide.
pub(super) fn request_undecided(group: &mut Group, step: &Step<'_>, request: &mut Repair) {
    let now = step.now;
    let retry = step.params.repair_retry_ms;
    let wanted: Vec<ProposalId> = group
        .inbound
        .parked()
        .flat_map(|h| h.waiting.clone())
        .collect();
    for id in wanted {
        if group.repair.ask(id, now, retry) {
            if let Some((_, asked)) = group.repair.unknown_proposals.get_mut(&id) {
                *asked += 1;
            }
            request.proposals.push(id.as_bytes().to_vec());
        }
    }
    for id in stalled(group, step) {
        if request.proposals.len() >= REQUEST_PROPOSALS {
            break;
        }
        if group.repair.ask(id, now, retry) {
            request.proposals.push(id.as_bytes().to_vec());
        }
    }
}

/// Proposals this member cannot decide: open, short of a quorum of votes, and silent (no
/// message about them) for longer than its patience plus a spread — votes still on their way
/// keep a proposal active, however slow the network; or proposals known only from votes.
fn stalled(group: &mut Group, step: &Step<'_>) -> Vec<ProposalId> {
    let now = step.now;
    let params = step.params;
    let patience = group.repair.catch_up.patience_ms(params);
    let quiet = patience.max(params.resend_interval_ms);
    let me = step.me();
    let epoch = group.epoch();
    let open = |r: &&ProposalRecord| r.status == ProposalStatus::Open && r.epoch == epoch;
    let proposals = &group.proposals;
    group
        .repair
        .activity
        .retain(|id, _| proposals.get(id).is_some_and(|r| open(&r)));
    let mut stalled: Vec<ProposalId> = Vec::new();
    for r in group.proposals.open_records().filter(open) {
        let (last, votes) = group
            .repair
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
        .repair
        .unknown_proposals
        .retain(|_, (_, asked)| *asked < ATTEMPTS);
    stalled.extend(
        group
            .repair
            .unknown_proposals
            .iter()
            .filter(|(_, (since, _))| since.plus_ms(quiet) <= now)
            .map(|(id, _)| *id),
    );
    stalled
}

/// A delay in `[0, max)` that differs between members and proposals (so that members asking
/// for one proposal do not all ask at once) and stays the same for a pair.
fn spread_for(me: &MemberId, proposal: &ProposalId, max: u64) -> u64 {
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
    fn a_member_re_sends_its_own_envelopes_of_a_proposal_a_bounded_number_of_times() {
        let mut s = RepairState::default();
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
            .map(|i| spread_for(&MemberId([i; 20]), &id, 250))
            .collect();
        assert!(spreads.len() > 10, "{spreads:?}");
        assert!(spreads.iter().all(|&d| d < 250));
    }
}
