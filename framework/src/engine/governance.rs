//! Voting proposals: opening them, validating the ones others open, casting votes (held back
//! while a higher-priority proposal is open), and acting on decisions. The consensus plugin
//! does the counting; this module decides what a proposal means for the group, and asks the
//! steward policy about the kinds it owns (elections, emergency proposals).

use super::event::{Event, ProposalAction, ProposalKind, RejectReason, Violation};
use super::group::Group;
use super::records::{ProposalRecord, ProposalStatus};
use super::{Abort, Step, VotingMode, commit, reject};
use crate::consensus::{
    ConsensusError, ConsensusEvent, Described, OpenRequest, Outcome, Tally, VoterSet,
};
use crate::mls::validate_key_package;
use crate::steward::PolicyAction;
use crate::types::{MemberId, ProposalId};
use crate::wire::{
    self, AddMember, EmergencyCriteria, Envelope, Frame, GroupProposal, Kind, RemoveMember,
    StewardElection, group_proposal, sealed,
};

/// Encrypts `frame` as an MLS application message of the current epoch and publishes it.
/// Returns the published envelope bytes.
pub(crate) fn publish_frame(
    group: &mut Group,
    step: &mut Step<'_>,
    frame: &Frame,
) -> Result<Vec<u8>, Abort> {
    group.mls_touched = true;
    let ciphertext = group
        .mls
        .encrypt(&step.provider(), step.identity, &wire::encode(frame))?;
    let env = Envelope::new(Kind::Mls, group.id.as_bytes(), group.epoch(), ciphertext)
        .with_branch(&group.branch)
        .encode_to_vec();
    group.sync.mark_seen(&env);
    step.out.publish(&group.topics.group, env.clone());
    Ok(env)
}

/// Seals a consensus message under the current epoch's key and publishes it as a
/// [`Kind::Consensus`] envelope. Returns the envelope bytes.
///
/// Consensus messages do not travel inside MLS application messages: each one is signed by
/// its owner or voter already, so the MLS sender signature would be a second signature check
/// per vote at every receiver, and the sender ratchet a second piece of per-message state.
/// The epoch key keeps them unreadable to non-members, as MLS would.
pub(crate) fn publish_consensus(
    group: &mut Group,
    step: &mut Step<'_>,
    message: &[u8],
) -> Result<Vec<u8>, Abort> {
    let nonce = step
        .crypto
        .entropy()
        .array::<{ sealed::SEAL_NONCE_LEN }>()?;
    let epoch = group.epoch();
    let body = sealed::seal_consensus(
        &group.commit_key,
        group.id.as_bytes(),
        epoch,
        nonce,
        message,
    );
    let env = Envelope::new(Kind::Consensus, group.id.as_bytes(), epoch, body)
        .with_branch(&group.branch)
        .encode_to_vec();
    group.sync.mark_seen(&env);
    step.out.publish(&group.topics.group, env.clone());
    Ok(env)
}

/// Seals a control frame (status beacon or repair request) under the current epoch's key and
/// publishes it as a [`Kind::Control`] envelope.
pub(crate) fn publish_control(
    group: &mut Group,
    step: &mut Step<'_>,
    frame: &Frame,
) -> Result<(), Abort> {
    let env = seal_control(group, step, frame)?;
    step.out.publish(&group.topics.group, env);
    Ok(())
}

/// A control envelope carrying `frame`, sealed under the current epoch key (marked seen, so
/// its echo is ignored), to publish now or later.
pub(crate) fn seal_control(
    group: &mut Group,
    step: &mut Step<'_>,
    frame: &Frame,
) -> Result<Vec<u8>, Abort> {
    let nonce = step
        .crypto
        .entropy()
        .array::<{ sealed::SEAL_NONCE_LEN }>()?;
    let epoch = group.epoch();
    let body = sealed::seal_control(
        &group.commit_key,
        group.id.as_bytes(),
        epoch,
        nonce,
        &wire::encode(frame),
    );
    let env = Envelope::new(Kind::Control, group.id.as_bytes(), epoch, body)
        .with_branch(&group.branch)
        .encode_to_vec();
    group.sync.mark_seen(&env);
    Ok(env)
}

/// Publishes consensus messages about `proposal`, keeping the envelopes for re-sends.
fn broadcast(
    group: &mut Group,
    step: &mut Step<'_>,
    proposal: ProposalId,
    messages: Vec<Vec<u8>>,
) -> Result<(), Abort> {
    for message in messages {
        let envelope = publish_consensus(group, step, &message)?;
        group.sync.note_own(proposal, envelope);
    }
    Ok(())
}

/// True while a proposal of higher priority than `kind` is open here: lower-priority
/// governance traffic is held back (LIP-104 partial freeze).
pub(crate) fn frozen(group: &Group, kind: ProposalKind) -> bool {
    group
        .proposals
        .values()
        .any(|r| r.status == ProposalStatus::Open && r.action.kind() > kind)
}

fn payload(
    group: &Group,
    action: &ProposalAction,
    key_package: Option<&[u8]>,
    evidence: &[u8],
) -> GroupProposal {
    let action = match action {
        ProposalAction::Add { .. } => group_proposal::Action::Add(AddMember {
            key_package: key_package.map(<[u8]>::to_vec).unwrap_or_default(),
        }),
        ProposalAction::Remove { member } => group_proposal::Action::Remove(RemoveMember {
            member_id: member.as_bytes().to_vec(),
        }),
        ProposalAction::Leave { member } => group_proposal::Action::Leave(RemoveMember {
            member_id: member.as_bytes().to_vec(),
        }),
        ProposalAction::Election {
            retry_round,
            stewards,
        } => group_proposal::Action::Election(StewardElection {
            retry_round: *retry_round,
            stewards: stewards.iter().map(|m| m.as_bytes().to_vec()).collect(),
        }),
        ProposalAction::Emergency { violation, target } => {
            group_proposal::Action::Emergency(EmergencyCriteria {
                violation: violation.code(),
                target: target.map(|t| t.as_bytes().to_vec()).unwrap_or_default(),
                evidence: evidence.to_vec(),
            })
        }
    };
    GroupProposal {
        group_id: group.id.as_bytes().to_vec(),
        epoch: group.epoch(),
        action: Some(action),
    }
}

/// Opens a voting proposal in the current epoch, with this member's YES vote. Refused while a
/// higher-priority proposal is open, or when this member may not vote on its kind.
pub(crate) fn open_proposal(
    group: &mut Group,
    step: &mut Step<'_>,
    action: ProposalAction,
    key_package: Option<(Vec<u8>, Vec<u8>)>,
    evidence: Vec<u8>,
) -> Result<ProposalId, Abort> {
    open_attempt(group, step, action, key_package, evidence, 0)
}

/// [`open_proposal`] for the `attempt`-th time (from 0): the lifetime doubles per attempt.
pub(crate) fn open_attempt(
    group: &mut Group,
    step: &mut Step<'_>,
    action: ProposalAction,
    key_package: Option<(Vec<u8>, Vec<u8>)>,
    evidence: Vec<u8>,
    attempt: u32,
) -> Result<ProposalId, Abort> {
    let kind = action.kind();
    let leaving = matches!(action, ProposalAction::Leave { .. });
    if frozen(group, kind) {
        return reject(
            RejectReason::InvalidRequest,
            "a higher-priority proposal is being voted on; try again after it is decided",
        );
    }
    let epoch = group.epoch();
    let bytes = wire::encode(&payload(
        group,
        &action,
        key_package.as_ref().map(|(m, _)| m.as_slice()),
        &evidence,
    ));
    let voters = group.epochs[0].voters_for(kind, leaving).clone();
    let me = step.me();
    if !voters
        .keys()
        .iter()
        .any(|k| k.as_slice() == step.identity.public_key())
    {
        return reject(
            RejectReason::InvalidRequest,
            format!("only voters may open {kind:?} proposals"),
        );
    }
    let opened = group.consensus.open(
        OpenRequest {
            payload: &bytes,
            voters: &voters,
            expires_at: step
                .now
                .plus_ms(step.params.vote_timeout_for(voters.len(), attempt)),
            liveness_yes: step.params.liveness_yes,
            own_vote: Some(true),
        },
        step.now,
    )?;
    group.put_proposal(ProposalRecord {
        id: opened.id,
        epoch,
        owner: me,
        action: action.clone(),
        key_package,
        evidence,
        locally_valid: true,
        status: ProposalStatus::Open,
        seen_at: step.now,
        decided_at: None,
        attempt,
    });
    group.sync.proposal_known(&opened.id);
    tracing::info!(group = %group.id.display(), proposal = %opened.id.short(), ?action, attempt, "proposal opened");
    step.out.event(Event::ProposalOpened {
        group_id: group.id.clone(),
        proposal: opened.id,
        owner: me,
        action,
        epoch,
    });
    broadcast(group, step, opened.id, opened.messages)?;
    drain_consensus(group, step)?;
    if leaving {
        settle_leave(group, step, opened.id)?;
    }
    Ok(opened.id)
}

/// True while this member's own leave waits for a commit.
pub(crate) fn leaving(group: &Group, me: MemberId) -> bool {
    group
        .proposals
        .in_flight(&ProposalAction::Leave { member: me })
}

/// Carries out what the steward policy asked for, skipping proposals already in flight and
/// proposals the partial freeze holds back (the policy asks again later). A member waiting for
/// its own leave to be committed opens none: elections and emergency proposals are the
/// remaining members' business, and a higher-priority proposal of its own would hold back the
/// very commit that lets it go.
pub(crate) fn run_policy_actions(
    group: &mut Group,
    step: &mut Step<'_>,
    actions: Vec<PolicyAction>,
) -> Result<(), Abort> {
    if !actions.is_empty() && leaving(group, step.me()) {
        tracing::debug!(group = %group.id.display(), "leaving: policy proposals not opened");
        return Ok(());
    }
    for PolicyAction::Propose { action, evidence } in actions {
        let in_flight = group
            .proposals
            .values()
            .any(|r| r.action == action && (r.status == ProposalStatus::Open || r.is_ready()));
        if in_flight || frozen(group, action.kind()) {
            continue;
        }
        match open_proposal(group, step, action, None, evidence) {
            Ok(_) => {}
            Err(Abort::Reject(_, detail)) => tracing::debug!(%detail, "policy proposal not opened"),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Casts this member's vote (application request).
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
    group.meta.deferred_votes.retain(|d| *d != id);
    step.out.event(Event::VoteCast {
        group_id: group.id.clone(),
        proposal: id,
        yes,
    });
    broadcast(group, step, id, messages)?;
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

fn kind_of(p: &GroupProposal) -> ProposalKind {
    match p.action {
        Some(group_proposal::Action::Election(_)) => ProposalKind::Election,
        Some(group_proposal::Action::Emergency(_)) => ProposalKind::Emergency,
        _ => ProposalKind::Membership,
    }
}

/// The voter set of a proposal payload: the roster (or the policy's narrower set for its kind)
/// of the epoch it was opened in, if this member still holds that epoch.
fn voters_of(
    epochs: &std::collections::VecDeque<super::group::EpochMembers>,
    gid: &[u8],
    payload: &[u8],
) -> Result<VoterSet, String> {
    let p = wire::decode_group_proposal(payload).map_err(|e| e.to_string())?;
    if p.group_id != gid {
        return Err("proposal for another group".into());
    }
    epochs
        .iter()
        .find(|m| m.epoch == p.epoch)
        .map(|m| {
            let leave = matches!(p.action, Some(group_proposal::Action::Leave(_)));
            m.voters_for(kind_of(&p), leave).clone()
        })
        .ok_or_else(|| format!("no roster for epoch {}", p.epoch))
}

/// Refuses a forged leave and reports its sender to the steward policy.
fn refuse_forged_leave(
    group: &mut Group,
    step: &mut Step<'_>,
    offender: MemberId,
    evidence: &[u8],
) -> Result<(), Abort> {
    tracing::info!(group = %group.id.display(), offender = %offender.short(), "forged leave refused");
    step.out.event(Event::Rejected {
        group_id: Some(group.id.clone()),
        reason: RejectReason::InvalidProposal,
        detail: format!("{} claimed a leave that is not its own", offender.short()),
    });
    let me = step.me();
    let actions = group.with_policy_mut(me, |policy, view| {
        policy.on_violation(view, &offender, Violation::ForgedLeave, evidence, step.now)
    });
    run_policy_actions(group, step, actions)
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
            step.out.event(Event::Rejected {
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
        Some(Described::Vote { id, .. }) => group.sync.note_activity(id, 1, step.now),
        Some(Described::Proposal { id, .. }) => group.sync.note_activity(id, 1, step.now),
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
                group.sync.note_unknown_proposal(id, step.now);
            }
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

/// A received proposal: its epoch, its action (when it could be decoded) with the KeyPackage
/// and evidence it carries, and the problem that makes it invalid here, if any.
struct Parsed {
    epoch: u64,
    action: Option<ProposalAction>,
    key_package: Option<(Vec<u8>, Vec<u8>)>,
    evidence: Vec<u8>,
    problem: Option<String>,
}

fn parse_proposal(group: &Group, step: &Step<'_>, owner: &MemberId, payload: &[u8]) -> Parsed {
    let mut out = Parsed {
        epoch: 0,
        action: None,
        key_package: None,
        evidence: Vec::new(),
        problem: None,
    };
    let p = match wire::decode_group_proposal(payload) {
        Ok(p) => p,
        Err(e) => {
            out.problem = Some(e.to_string());
            return out;
        }
    };
    out.epoch = p.epoch;
    let member = |bytes: &[u8]| MemberId::from_slice(bytes);
    match p.action {
        Some(group_proposal::Action::Add(add)) => {
            // The KeyPackage was usually announced here first and validated then: the same
            // bytes are not checked again.
            let known = crate::mls::claimed_key_package_member(&add.key_package)
                .and_then(|m| group.key_packages.get(&m))
                .filter(|kp| kp.message == add.key_package)
                .map(|kp| (kp.member, kp.reference.clone()));
            let checked = match known {
                Some(known) => Ok(known),
                None => validate_key_package(step.crypto, &add.key_package)
                    .map(|kp| (kp.member_id, kp.reference)),
            };
            match checked {
                Ok((member, reference)) => {
                    out.action = Some(ProposalAction::Add { member });
                    out.problem = group
                        .roster()
                        .contains(&member)
                        .then(|| "already a member".into());
                    out.key_package = Some((add.key_package, reference));
                }
                Err(e) => out.problem = Some(e.to_string()),
            }
        }
        Some(group_proposal::Action::Remove(rm)) => match member(&rm.member_id) {
            Some(target) => {
                out.action = Some(ProposalAction::Remove { member: target });
                let known = group
                    .members_at(p.epoch)
                    .is_some_and(|m| m.roster.contains(&target))
                    && group.roster().contains(&target);
                out.problem = (!known).then(|| "not a member".into());
            }
            None => out.problem = Some("member id is not 20 bytes".into()),
        },
        Some(group_proposal::Action::Leave(leave)) => match member(&leave.member_id) {
            Some(target) => {
                out.action = Some(ProposalAction::Leave { member: target });
                let known = group
                    .members_at(p.epoch)
                    .is_some_and(|m| m.roster.contains(&target))
                    && group.roster().contains(&target);
                out.problem = (!known).then(|| "not a member".into());
            }
            None => out.problem = Some("member id is not 20 bytes".into()),
        },
        Some(group_proposal::Action::Election(e)) => {
            let stewards: Option<Vec<MemberId>> = e.stewards.iter().map(|b| member(b)).collect();
            match stewards {
                Some(stewards) => {
                    out.action = Some(ProposalAction::Election {
                        retry_round: e.retry_round,
                        stewards,
                    })
                }
                None => out.problem = Some("steward id is not 20 bytes".into()),
            }
        }
        Some(group_proposal::Action::Emergency(e)) => {
            let violation = Violation::from_code(e.violation);
            let target = if e.target.is_empty() {
                Some(None)
            } else {
                member(&e.target).map(Some)
            };
            match (violation, target) {
                (Some(violation), Some(target)) => {
                    out.action = Some(ProposalAction::Emergency { violation, target });
                    out.evidence = e.evidence;
                }
                _ => out.problem = Some("malformed emergency proposal".into()),
            }
        }
        None => out.problem = Some("no action".into()),
    }
    if let (Some(action), None) = (&out.action, &out.problem) {
        if action.kind() != ProposalKind::Membership {
            if p.epoch != group.epoch() {
                out.problem = Some(format!(
                    "{:?} proposal for epoch {}, current {}",
                    action.kind(),
                    p.epoch,
                    group.epoch()
                ));
            } else if let Err(e) = group.with_view(step.me(), |policy, view| {
                policy.validate_proposal(view, owner, action, &out.evidence)
            }) {
                out.problem = Some(e.to_string());
            }
        }
    }
    out
}

fn on_proposal_received(
    group: &mut Group,
    step: &mut Step<'_>,
    id: ProposalId,
    owner: &[u8],
    payload: &[u8],
) -> Result<(), Abort> {
    group.sync.proposal_known(&id);
    if group.proposals.contains_key(&id) {
        return Ok(());
    }
    let owner = MemberId::from_signature_key(owner);
    // A member removed by a commit this member applied may still seal proposals under a past
    // epoch's key: they are nobody's business any more (§9).
    if !group.roster().contains(&owner) {
        return reject(
            RejectReason::NotAMember,
            format!("proposal by {}, no longer a member", owner.short()),
        );
    }
    let mut parsed = parse_proposal(group, step, &owner, payload);
    // A leave is final without a vote, so only the leaving member may claim it: a leave whose
    // (verified) owner is not the leaving member is refused, voted NO and its owner reported.
    let mut forged_by = None;
    if let Some(ProposalAction::Leave { member }) = parsed.action {
        if member != owner {
            forged_by = Some(owner);
            parsed.problem = Some("a leave claimed for another member".into());
        }
    }
    // A proposal of an epoch this member has left can no longer be committed: recorded (its
    // decision may still arrive) but not voted on; its owner opens it again if it still applies.
    let retired = parsed.epoch < group.epoch();
    if let Some(action) = parsed.action.clone() {
        group.put_proposal(ProposalRecord {
            id,
            epoch: parsed.epoch,
            owner,
            action: action.clone(),
            key_package: parsed.key_package,
            evidence: parsed.evidence,
            locally_valid: parsed.problem.is_none(),
            status: if retired {
                ProposalStatus::Obsolete
            } else {
                ProposalStatus::Open
            },
            seen_at: step.now,
            decided_at: None,
            attempt: 0,
        });
        step.out.event(Event::ProposalOpened {
            group_id: group.id.clone(),
            proposal: id,
            owner,
            action: action.clone(),
            epoch: parsed.epoch,
        });
        if let Some(member) = action.member() {
            if let (Some(mut kp), ProposalAction::Add { .. }) =
                (group.key_packages.get(&member).cloned(), &action)
            {
                if kp.proposal.is_none() {
                    kp.proposal = Some(id);
                    group.put_key_package(kp);
                }
            }
        }
    }
    if retired {
        tracing::debug!(group = %group.id.display(), proposal = %id.short(), epoch = parsed.epoch, "proposal of a past epoch: not voted on");
        return Ok(());
    }
    if let Some(detail) = parsed.problem.clone() {
        tracing::info!(group = %group.id.display(), proposal = %id.short(), %detail, "invalid proposal, voting NO");
        step.out.event(Event::Rejected {
            group_id: Some(group.id.clone()),
            reason: RejectReason::InvalidProposal,
            detail,
        });
        if let Some(offender) = forged_by {
            refuse_forged_leave(group, step, offender, payload)?;
        }
        return cast_own_vote(group, step, id, false);
    }
    if matches!(parsed.action, Some(ProposalAction::Leave { .. })) {
        return settle_leave(group, step, id);
    }
    decide_own_vote(group, step, id)
}

/// This member's own add or removal of the current epoch ended without a decision for want
/// of votes (delivery slower than its lifetime, or a quorum out of reach): it is opened again
/// with twice the lifetime, up to `max_vote_attempts` attempts in all, each reported
/// ([`Event::ProposalRetried`]); then, or when it cannot be opened again, the application is
/// told ([`Event::ProposalAbandoned`]) and, for an add, the KeyPackage is dropped (the joiner's
/// next announcement starts over).
fn retry_failed(group: &mut Group, step: &mut Step<'_>, rec: &ProposalRecord) -> Result<(), Abort> {
    let membership = matches!(
        rec.action,
        ProposalAction::Add { .. } | ProposalAction::Remove { .. }
    );
    if rec.owner != step.me() || rec.epoch != group.epoch() || !membership {
        return Ok(());
    }
    let attempts = rec.attempt + 1;
    let abandon = |group: &mut Group, step: &mut Step<'_>, reason: String| {
        tracing::info!(group = %group.id.display(), proposal = %rec.id.short(), attempts, %reason, "proposal abandoned");
        if let ProposalAction::Add { member } = rec.action {
            group.remove_key_package(&member);
        }
        step.out.event(Event::ProposalAbandoned {
            group_id: group.id.clone(),
            proposal: rec.id,
            action: rec.action.clone(),
            attempts,
            reason,
        });
    };
    if attempts >= step.params.max_vote_attempts.max(1) {
        abandon(group, step, format!("no decision in {attempts} attempts"));
        return Ok(());
    }
    let still = match rec.action {
        ProposalAction::Add { member } => !group.roster().contains(&member),
        ProposalAction::Remove { member } => group.roster().contains(&member),
        _ => false,
    };
    // (`rec` itself ended without a decision, so it is not live.)
    let in_flight = group.proposals.in_flight(&rec.action);
    if !still || in_flight {
        return Ok(()); // moot, or someone else's proposal carries it
    }
    // During a partial freeze the retry waits with the deferred requests, as an application
    // request would, and opens (as this attempt) when the higher-priority vote ends.
    match super::requests::defer_or_open(
        group,
        step,
        rec.action.clone(),
        rec.key_package.clone(),
        attempts,
    ) {
        Ok(super::requests::Submission::Opened(retry)) => {
            if let ProposalAction::Add { member } = rec.action {
                if let Some(mut kp) = group.key_packages.get(&member).cloned() {
                    kp.proposal = Some(retry);
                    group.put_key_package(kp);
                }
            }
            let voters = group.epochs[0].voters(rec.action.kind()).len();
            step.out.event(Event::ProposalRetried {
                group_id: group.id.clone(),
                failed: rec.id,
                retry,
                action: rec.action.clone(),
                attempt: attempts,
                vote_timeout_ms: step.params.vote_timeout_for(voters, attempts),
            });
            Ok(())
        }
        Ok(super::requests::Submission::Deferred) => {
            tracing::info!(group = %group.id.display(), proposal = %rec.id.short(), attempts, "retry deferred by the partial freeze");
            Ok(())
        }
        Err(Abort::Reject(_, detail)) => {
            abandon(group, step, detail);
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// A valid leave is decided YES at once, without a vote: the member asked for its own removal.
pub(crate) fn settle_leave(
    group: &mut Group,
    step: &mut Step<'_>,
    id: ProposalId,
) -> Result<(), Abort> {
    let eligible = group.roster().len() as u32;
    on_decided(
        group,
        step,
        id,
        Outcome::Yes,
        Tally {
            yes: 1,
            no: 0,
            eligible,
        },
    )
}

/// Votes on a valid open proposal now, or holds the vote back during a partial freeze.
fn decide_own_vote(group: &mut Group, step: &mut Step<'_>, id: ProposalId) -> Result<(), Abort> {
    let Some(rec) = group.proposals.get(&id) else {
        return Ok(());
    };
    let action = rec.action.clone();
    if frozen(group, action.kind()) {
        if !group.meta.deferred_votes.contains(&id) {
            group.meta.deferred_votes.push(id);
        }
        return Ok(());
    }
    if step.params.voting == VotingMode::Manual && action.kind() == ProposalKind::Membership {
        step.out.event(Event::VoteRequested {
            group_id: group.id.clone(),
            proposal: id,
            action,
        });
        return Ok(());
    }
    cast_own_vote(group, step, id, true)
}

fn cast_own_vote(
    group: &mut Group,
    step: &mut Step<'_>,
    id: ProposalId,
    yes: bool,
) -> Result<(), Abort> {
    group.meta.deferred_votes.retain(|d| *d != id);
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
            broadcast(group, step, id, messages)
        }
        // Not a voter (small consensus), expired or decided meanwhile: nothing to vote on.
        Err(e) => {
            tracing::debug!(proposal = %id.short(), error = %e, "own vote not cast");
            Ok(())
        }
    }
}

/// Casts the votes held back by the partial freeze once nothing of higher priority is open,
/// then opens the application's requests that waited for it.
pub(crate) fn release_deferred(group: &mut Group, step: &mut Step<'_>) -> Result<(), Abort> {
    release_votes(group, step)?;
    super::requests::release(group, step)
}

fn release_votes(group: &mut Group, step: &mut Step<'_>) -> Result<(), Abort> {
    for id in group.meta.deferred_votes.clone() {
        let open = group
            .proposals
            .get(&id)
            .is_some_and(|r| r.status == ProposalStatus::Open);
        if !open {
            group.meta.deferred_votes.retain(|d| *d != id);
            continue;
        }
        let Some(kind) = group.proposals.get(&id).map(|r| r.action.kind()) else {
            continue;
        };
        if !frozen(group, kind) {
            group.meta.deferred_votes.retain(|d| *d != id);
            decide_own_vote(group, step, id)?;
        }
    }
    Ok(())
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
    match rec.status {
        ProposalStatus::Open => {}
        // Too few votes were seen here in time; a certificate now proves the real outcome.
        ProposalStatus::Decided(Outcome::Failed) if outcome != Outcome::Failed => {}
        _ => return Ok(()), // already decided, committed or moot: nothing new
    }
    // How long its votes took to come in here tells how spread out delivery is (a decision at
    // expiry says nothing about it).
    if outcome != Outcome::Failed && tally.yes + tally.no >= (2 * tally.eligible).div_ceil(3) {
        let took = step.now.since(rec.seen_at);
        let lifetime = step
            .params
            .vote_timeout_for(tally.eligible as usize, rec.attempt);
        if took < lifetime / 2 {
            group.sync.catch_up.note_spread(took);
        }
    }
    rec.status = ProposalStatus::Decided(outcome);
    rec.decided_at = Some(step.now);
    group.put_proposal(rec.clone());
    tracing::info!(group = %group.id.display(), proposal = %id.short(), ?outcome, yes = tally.yes, no = tally.no, "proposal decided");
    step.out.event(Event::ProposalDecided {
        group_id: group.id.clone(),
        proposal: id,
        action: rec.action.clone(),
        outcome,
        yes: tally.yes,
        no: tally.no,
        eligible: tally.eligible,
    });
    let me = step.me();
    let actions = group.with_policy_mut(me, |policy, view| {
        policy.on_decided(view, &rec.owner, &rec.action, outcome, step.now)
    });
    if outcome == Outcome::Failed {
        retry_failed(group, step, &rec)?;
    }
    // Parked commits waiting only for decided proposals can be tried again.
    let proposals = &group.proposals;
    let (ready, waiting): (Vec<_>, Vec<_>) = group.parked.drain(..).partition(|held| {
        held.waiting.iter().all(|w| {
            proposals.get(w).is_some_and(|r| {
                !matches!(
                    r.status,
                    ProposalStatus::Open | ProposalStatus::Decided(Outcome::Failed)
                )
            })
        })
    });
    group.parked = waiting;
    step.requeue
        .extend(ready.into_iter().map(|h| (h.topic, h.payload)));
    if outcome == Outcome::Yes {
        commit::schedule(group, step);
    }
    release_deferred(group, step)?;
    run_policy_actions(group, step, actions)?;
    super::keypackages::after_decision(group, step, &rec.action, outcome)
}
