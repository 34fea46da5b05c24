//! Feeding the consensus plugin: consensus messages and certificate parts in (with the voter
//! set of the epoch each proposal was opened in), and the plugin's events out to the engine
//! (a proposal received, a vote refused, a decision, an equivocation).

use super::decisions::on_decided;
use super::receive::on_proposal_received;
use crate::consensus::{ConsensusError, ConsensusEvent, Described, Electorate};
use crate::engine::epoch::state::Epochs;
use crate::engine::event::{GroupEvent, ProposalKind, RejectReason};
use crate::engine::group::Group;
use crate::engine::publish::publish_consensus;
use crate::engine::step::{Abort, Step};
use crate::types::MemberId;
use crate::wire::{self, GroupProposal, group_proposal};

fn reason_of(e: &ConsensusError) -> RejectReason {
    match e {
        ConsensusError::NotEligible => RejectReason::IneligibleVoter,
        ConsensusError::Duplicate => RejectReason::DuplicateVote,
        ConsensusError::NoVoterSet(_) => RejectReason::InvalidProposal,
        ConsensusError::Malformed(_) => RejectReason::Malformed,
        _ => RejectReason::InvalidVote,
    }
}

fn kind_of(p: &GroupProposal) -> ProposalKind {
    match p.action {
        Some(group_proposal::Action::Election(_)) => ProposalKind::Election,
        Some(group_proposal::Action::Emergency(_)) => ProposalKind::Emergency,
        _ => ProposalKind::Membership,
    }
}

/// The voter set of a proposal payload: the roster (or the policy's narrower set for its kind)
/// of the epoch it was opened in, if this member still holds that epoch.
fn voters_of(epochs: &Epochs, gid: &[u8], payload: &[u8]) -> Result<Electorate, String> {
    let p = wire::decode_group_proposal(payload).map_err(|e| e.to_string())?;
    if p.group_id != gid {
        return Err("proposal for another group".into());
    }
    epochs
        .at(p.epoch)
        .map(|m| {
            let leave = matches!(p.action, Some(group_proposal::Action::Leave(_)));
            m.voters_for(kind_of(&p), leave).clone()
        })
        .ok_or_else(|| format!("no roster for epoch {}", p.epoch))
}

/// Feeds a certificate part (proof of an outcome this member missed) to the plugin. A refusal
/// is reported as an event; nothing already decided changes.
pub(crate) fn ingest_certificate(
    group: &mut Group,
    step: &mut Step<'_>,
    part: &[u8],
) -> Result<(), Abort> {
    let gid = group.id.as_bytes().to_vec();
    let Group {
        consensus, epochs, ..
    } = group;
    let lookup = |payload: &[u8]| voters_of(epochs, &gid, payload);
    match consensus.ingest_certificate(part, &lookup, step.now) {
        Ok(()) => drain_consensus(group, step),
        Err(ConsensusError::Duplicate) => Ok(()),
        Err(e) => {
            step.out.event(GroupEvent::Rejected {
                group_id: Some(group.id.clone()),
                reason: reason_of(&e),
                detail: format!("certificate: {e}"),
            });
            Ok(())
        }
    }
}

/// Feeds a consensus message (opened from a [`Kind::Consensus`] envelope) to the plugin, which
/// checks its signatures. A refusal is reported as an event. (A leave claimed for another
/// member is refused once the plugin has verified who signed it, in `on_proposal_received`.)
pub(crate) fn ingest(group: &mut Group, step: &mut Step<'_>, bytes: &[u8]) -> Result<(), Abort> {
    // A vote for a proposal never seen here: its proposal message was missed (asked for later).
    let described = group.consensus.describe(bytes);
    let unseen = match &described {
        Some(Described::Vote { id, .. }) if !group.proposals.contains_key(id) => Some(*id),
        _ => None,
    };
    match described {
        Some(Described::Vote { id, .. }) => group.repair.note_activity(id, 1, step.now),
        Some(Described::Proposal { id, .. }) => group.repair.note_activity(id, 1, step.now),
        None => {}
    }
    let gid = group.id.as_bytes().to_vec();
    let Group {
        consensus, epochs, ..
    } = group;
    let lookup = |payload: &[u8]| voters_of(epochs, &gid, payload);
    match consensus.ingest(bytes, &lookup, step.now) {
        Ok(forward) => {
            for message in forward {
                publish_consensus(group, step, &message)?;
            }
            if let Some(id) = unseen.filter(|id| !group.proposals.contains_key(id)) {
                group.repair.note_unknown_proposal(id, step.now);
            }
            drain_consensus(group, step)
        }
        Err(e) => {
            step.out.event(GroupEvent::Rejected {
                group_id: Some(group.id.clone()),
                reason: reason_of(&e),
                detail: e.to_string(),
            });
            Ok(())
        }
    }
}

/// Handles every pending consensus event.
pub(crate) fn drain_consensus(group: &mut Group, step: &mut Step<'_>) -> Result<(), Abort> {
    while let Some(event) = group.consensus.poll_event() {
        match event {
            ConsensusEvent::ProposalReceived { id, owner, payload } => {
                on_proposal_received(group, step, id, &owner, &payload)?
            }
            ConsensusEvent::VoteRejected { id, voter, reason } => {
                step.out.event(GroupEvent::Rejected {
                    group_id: Some(group.id.clone()),
                    reason: RejectReason::InvalidVote,
                    detail: format!(
                        "vote by {} on {}: {reason}",
                        MemberId::from_signature_key(&voter).short(),
                        id.short()
                    ),
                })
            }
            ConsensusEvent::Decided { id, outcome, tally } => {
                on_decided(group, step, id, outcome, tally)?
            }
            ConsensusEvent::Equivocation { id, voter, .. } => {
                tracing::warn!(group = %group.id.display(), proposal = %id.short(), "equivocation detected");
                step.out.event(GroupEvent::Equivocation {
                    group_id: group.id.clone(),
                    proposal: id,
                    voter: MemberId::from_signature_key(&voter),
                })
            }
        }
    }
    Ok(())
}
