//! Voting proposals: opening them, validating the ones others open, casting votes, and acting
//! on decisions. The consensus plugin does the counting; this module decides what a proposal
//! means for the group.

use super::event::{Event, ProposalAction, RejectReason};
use super::group::Group;
use super::records::{ProposalRecord, ProposalStatus};
use super::{Abort, Step, VotingMode, commit, reject};
use crate::consensus::{ConsensusError, ConsensusEvent, OpenRequest, Outcome, Tally, VoterSet};
use crate::mls::validate_key_package;
use crate::types::{MemberId, ProposalId};
use crate::wire::{
    self, AddMember, Envelope, Frame, GroupProposal, Kind, RemoveMember, frame, group_proposal,
};

/// Encrypts `frame` as an MLS application message of the current epoch and publishes it.
pub(crate) fn publish_frame(
    group: &mut Group,
    step: &mut Step<'_>,
    frame: &Frame,
) -> Result<(), Abort> {
    group.mls_touched = true;
    let ciphertext = group
        .mls
        .encrypt(&step.provider(), step.identity, &wire::encode(frame))?;
    let env = Envelope::new(Kind::Mls, group.id.as_bytes(), group.epoch(), ciphertext);
    step.out.publish(&group.topics.group, env.encode_to_vec());
    Ok(())
}

fn broadcast(group: &mut Group, step: &mut Step<'_>, messages: Vec<Vec<u8>>) -> Result<(), Abort> {
    for message in messages {
        let frame = Frame {
            body: Some(frame::Body::Consensus(message)),
        };
        publish_frame(group, step, &frame)?;
    }
    Ok(())
}

/// Opens a voting proposal in the current epoch, with this member's YES vote.
pub(crate) fn open_proposal(
    group: &mut Group,
    step: &mut Step<'_>,
    action: ProposalAction,
    key_package: Option<(Vec<u8>, Vec<u8>)>,
) -> Result<ProposalId, Abort> {
    let epoch = group.epoch();
    let payload = GroupProposal {
        group_id: group.id.as_bytes().to_vec(),
        epoch,
        action: Some(match action {
            ProposalAction::Add { .. } => group_proposal::Action::Add(AddMember {
                key_package: key_package
                    .as_ref()
                    .map(|(m, _)| m.clone())
                    .unwrap_or_default(),
            }),
            ProposalAction::Remove { member } => group_proposal::Action::Remove(RemoveMember {
                member_id: member.as_bytes().to_vec(),
            }),
        }),
    };
    let bytes = wire::encode(&payload);
    let voters = group.epochs[0].voters.clone();
    let opened = group.consensus.open(
        OpenRequest {
            payload: &bytes,
            voters: &voters,
            expires_at: step.now.plus_ms(step.params.vote_timeout_ms),
            liveness_yes: step.params.liveness_yes,
            own_vote: Some(true),
        },
        step.now,
    )?;
    let me = step.me();
    group.put_proposal(ProposalRecord {
        id: opened.id,
        epoch,
        owner: me,
        action,
        key_package,
        locally_valid: true,
        status: ProposalStatus::Open,
        seen_at: step.now,
        decided_at: None,
    });
    tracing::info!(group = %group.id.display(), proposal = %opened.id.short(), ?action, "proposal opened");
    step.out.event(Event::ProposalOpened {
        group_id: group.id.clone(),
        proposal: opened.id,
        owner: me,
        action,
        epoch,
    });
    broadcast(group, step, opened.messages)?;
    drain_consensus(group, step)?;
    Ok(opened.id)
}

/// Casts this member's vote.
pub(crate) fn cast_vote(
    group: &mut Group,
    step: &mut Step<'_>,
    id: ProposalId,
    yes: bool,
) -> Result<(), Abort> {
    let messages = match group.consensus.vote(&id, yes, step.now) {
        Ok(m) => m,
        Err(e) => return reject(RejectReason::InvalidRequest, e.to_string()),
    };
    step.out.event(Event::VoteCast {
        group_id: group.id.clone(),
        proposal: id,
        yes,
    });
    broadcast(group, step, messages)?;
    drain_consensus(group, step)
}

fn reason_of(e: &ConsensusError) -> RejectReason {
    match e {
        ConsensusError::NotEligible => RejectReason::IneligibleVoter,
        ConsensusError::Duplicate => RejectReason::DuplicateVote,
        ConsensusError::NoVoterSet(_) => RejectReason::InvalidProposal,
        ConsensusError::Malformed(_) => RejectReason::Malformed,
        _ => RejectReason::InvalidVote,
    }
}

/// Feeds a consensus message (from inside an MLS application message) to the plugin. A
/// refusal is reported as an event; the MLS message that carried it was valid and stays
/// consumed.
pub(crate) fn ingest(group: &mut Group, step: &mut Step<'_>, bytes: &[u8]) -> Result<(), Abort> {
    let gid = group.id.as_bytes().to_vec();
    let Group {
        consensus, epochs, ..
    } = group;
    let lookup = |payload: &[u8]| -> Result<VoterSet, String> {
        let p = wire::decode_group_proposal(payload).map_err(|e| e.to_string())?;
        if p.group_id != gid {
            return Err("proposal for another group".into());
        }
        epochs
            .iter()
            .find(|m| m.epoch == p.epoch)
            .map(|m| m.voters.clone())
            .ok_or_else(|| format!("no roster for epoch {}", p.epoch))
    };
    match consensus.ingest(bytes, &lookup, step.now) {
        Ok(forward) => {
            broadcast(group, step, forward)?;
            drain_consensus(group, step)
        }
        Err(e) => {
            step.out.event(Event::Rejected {
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
            ConsensusEvent::VoteRejected { id, voter, reason } => step.out.event(Event::Rejected {
                group_id: Some(group.id.clone()),
                reason: RejectReason::InvalidVote,
                detail: format!(
                    "vote by {} on {}: {reason}",
                    MemberId::from_signature_key(&voter).short(),
                    id.short()
                ),
            }),
            ConsensusEvent::Decided { id, outcome, tally } => {
                on_decided(group, step, id, outcome, tally)?
            }
            ConsensusEvent::Equivocation { id, voter, .. } => {
                tracing::warn!(group = %group.id.display(), proposal = %id.short(), "equivocation detected");
                step.out.event(Event::Equivocation {
                    group_id: group.id.clone(),
                    proposal: id,
                    voter: MemberId::from_signature_key(&voter),
                })
            }
        }
    }
    Ok(())
}

/// What a received proposal asks for, or why it is invalid (with the action when known).
type Parsed = (
    Option<(ProposalAction, Option<(Vec<u8>, Vec<u8>)>)>,
    Option<String>,
);

fn parse_proposal(group: &Group, step: &Step<'_>, payload: &[u8]) -> (u64, Parsed) {
    let p = match wire::decode_group_proposal(payload) {
        Ok(p) => p,
        Err(e) => return (0, (None, Some(e.to_string()))),
    };
    let epoch = p.epoch;
    let parsed = match p.action {
        Some(group_proposal::Action::Add(add)) => {
            match validate_key_package(step.crypto, &add.key_package) {
                Ok(kp) => {
                    let action = ProposalAction::Add {
                        member: kp.member_id,
                    };
                    let problem = group
                        .roster()
                        .contains(&kp.member_id)
                        .then(|| "already a member".to_string());
                    (
                        Some((action, Some((add.key_package, kp.reference)))),
                        problem,
                    )
                }
                Err(e) => (None, Some(e.to_string())),
            }
        }
        Some(group_proposal::Action::Remove(rm)) => match MemberId::from_slice(&rm.member_id) {
            Some(member) => {
                let action = ProposalAction::Remove { member };
                let known = group
                    .members_at(epoch)
                    .is_some_and(|m| m.roster.contains(&member))
                    && group.roster().contains(&member);
                (
                    Some((action, None)),
                    (!known).then(|| "not a member".to_string()),
                )
            }
            None => (None, Some("member id is not 20 bytes".into())),
        },
        None => (None, Some("no action".into())),
    };
    (epoch, parsed)
}

fn on_proposal_received(
    group: &mut Group,
    step: &mut Step<'_>,
    id: ProposalId,
    owner: &[u8],
    payload: &[u8],
) -> Result<(), Abort> {
    if group.proposals.contains_key(&id) {
        return Ok(());
    }
    let owner = MemberId::from_signature_key(owner);
    let (epoch, (action, problem)) = parse_proposal(group, step, payload);
    if let Some((action, key_package)) = action {
        group.put_proposal(ProposalRecord {
            id,
            epoch,
            owner,
            action,
            key_package,
            locally_valid: problem.is_none(),
            status: ProposalStatus::Open,
            seen_at: step.now,
            decided_at: None,
        });
        step.out.event(Event::ProposalOpened {
            group_id: group.id.clone(),
            proposal: id,
            owner,
            action,
            epoch,
        });
        if let (Some(kp), ProposalAction::Add { member }) =
            (group.key_packages.get(&action.member()).cloned(), action)
        {
            if kp.proposal.is_none() && member == kp.member {
                let mut kp = kp;
                kp.proposal = Some(id);
                group.put_key_package(kp);
            }
        }
        if problem.is_none() {
            match step.params.voting {
                VotingMode::Auto => return cast_own_vote(group, step, id, true),
                VotingMode::Manual => {
                    step.out.event(Event::VoteRequested {
                        group_id: group.id.clone(),
                        proposal: id,
                        action,
                    });
                    return Ok(());
                }
            }
        }
    }
    let detail = problem.unwrap_or_default();
    tracing::info!(group = %group.id.display(), proposal = %id.short(), %detail, "invalid proposal, voting NO");
    step.out.event(Event::Rejected {
        group_id: Some(group.id.clone()),
        reason: RejectReason::InvalidProposal,
        detail,
    });
    cast_own_vote(group, step, id, false)
}

fn cast_own_vote(
    group: &mut Group,
    step: &mut Step<'_>,
    id: ProposalId,
    yes: bool,
) -> Result<(), Abort> {
    if group.consensus.has_voted(&id) || group.consensus.outcome(&id).is_some() {
        return Ok(());
    }
    match group.consensus.vote(&id, yes, step.now) {
        Ok(messages) => {
            step.out.event(Event::VoteCast {
                group_id: group.id.clone(),
                proposal: id,
                yes,
            });
            broadcast(group, step, messages)
        }
        // Expired or decided meanwhile: nothing to vote on any more.
        Err(e) => {
            tracing::debug!(proposal = %id.short(), error = %e, "own vote not cast");
            Ok(())
        }
    }
}

fn on_decided(
    group: &mut Group,
    step: &mut Step<'_>,
    id: ProposalId,
    outcome: Outcome,
    tally: Tally,
) -> Result<(), Abort> {
    let Some(mut rec) = group.proposals.get(&id).cloned() else {
        return Ok(());
    };
    if rec.status == ProposalStatus::Open {
        rec.status = ProposalStatus::Decided(outcome);
        rec.decided_at = Some(step.now);
        group.put_proposal(rec.clone());
    }
    tracing::info!(group = %group.id.display(), proposal = %id.short(), ?outcome, yes = tally.yes, no = tally.no, "proposal decided");
    step.out.event(Event::ProposalDecided {
        group_id: group.id.clone(),
        proposal: id,
        action: rec.action,
        outcome,
        yes: tally.yes,
        no: tally.no,
        eligible: tally.eligible,
    });
    // Parked commits waiting only for decided proposals can be tried again.
    let proposals = &group.proposals;
    let (ready, waiting): (Vec<_>, Vec<_>) = group.parked.drain(..).partition(|held| {
        held.waiting.iter().all(|w| {
            proposals
                .get(w)
                .is_some_and(|r| r.status != ProposalStatus::Open)
        })
    });
    group.parked = waiting;
    step.requeue
        .extend(ready.into_iter().map(|h| (h.topic, h.payload)));
    if outcome == Outcome::Yes {
        commit::schedule(group, step);
    }
    Ok(())
}
