//! Receiving proposals: decoding a proposal another member opened, judging it here (a member
//! to add, a member to remove, a leave only its own member may claim, what the steward policy
//! says about elections and emergency proposals), recording it and voting on it.

use super::voting::{cast_own_vote, decide_own_vote};
use crate::engine::event::{GroupEvent, ProposalAction, ProposalKind, RejectReason, Violation};
use crate::engine::group::Group;
use crate::engine::leave::{refuse_forged_leave, settle_leave};
use crate::engine::records::{ProposalRecord, ProposalStatus};
use crate::engine::step::{Abort, Step, reject};
use crate::mls::validate_key_package;
use crate::types::{MemberId, ProposalId};
use crate::wire::{self, group_proposal};

/// A received proposal: its epoch, its action (when it could be decoded) with the KeyPackage
/// and evidence it carries, and the problem that makes it invalid here, if any.
struct Parsed {
    epoch: u64,
    action: Option<ProposalAction>,
    key_package: Option<(Vec<u8>, Vec<u8>)>,
    evidence: Vec<u8>,
    problem: Option<String>,
}

/// Decodes and judges a proposal `owner` opened.
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
    match p.action {
        Some(group_proposal::Action::Add(add)) => parse_add(group, step, add, &mut out),
        Some(group_proposal::Action::Remove(rm)) => {
            parse_member(group, &rm.member_id, &mut out, |member| {
                ProposalAction::Remove { member }
            })
        }
        Some(group_proposal::Action::Leave(leave)) => {
            parse_member(group, &leave.member_id, &mut out, |member| {
                ProposalAction::Leave { member }
            })
        }
        Some(group_proposal::Action::Election(e)) => parse_election(e, &mut out),
        Some(group_proposal::Action::Emergency(e)) => parse_emergency(e, &mut out),
        None => out.problem = Some("no action".into()),
    }
    check_with_policy(group, step, owner, &mut out);
    out
}

/// An add: the KeyPackage must be valid and its holder not a member yet.
fn parse_add(group: &Group, step: &Step<'_>, add: wire::AddMember, out: &mut Parsed) {
    // The KeyPackage was usually announced here first and validated then: the same bytes are
    // not checked again.
    let known = crate::mls::claimed_key_package_member(&add.key_package)
        .and_then(|m| group.key_package(&m))
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

/// A removal or a leave: the member named must be one in the proposal's epoch and now.
fn parse_member(
    group: &Group,
    member_id: &[u8],
    out: &mut Parsed,
    action: impl FnOnce(MemberId) -> ProposalAction,
) {
    match MemberId::from_slice(member_id) {
        Some(target) => {
            out.action = Some(action(target));
            let known = group
                .members_at(out.epoch)
                .is_some_and(|m| m.roster.contains(&target))
                && group.roster().contains(&target);
            out.problem = (!known).then(|| "not a member".into());
        }
        None => out.problem = Some("member id is not 20 bytes".into()),
    }
}

/// A steward election: its stewards must be member ids (the policy judges the rest).
fn parse_election(e: wire::StewardElection, out: &mut Parsed) {
    let stewards: Option<Vec<MemberId>> =
        e.stewards.iter().map(|b| MemberId::from_slice(b)).collect();
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

/// An emergency proposal: a known violation and an optional target (the policy judges the
/// evidence).
fn parse_emergency(e: wire::EmergencyCriteria, out: &mut Parsed) {
    let violation = Violation::from_code(e.violation);
    let target = if e.target.is_empty() {
        Some(None)
    } else {
        MemberId::from_slice(&e.target).map(Some)
    };
    match (violation, target) {
        (Some(violation), Some(target)) => {
            out.action = Some(ProposalAction::Emergency { violation, target });
            out.evidence = e.evidence;
        }
        _ => out.problem = Some("malformed emergency proposal".into()),
    }
}

/// Elections and emergency proposals are the steward policy's: they must be of the current
/// epoch, and the policy must accept them.
fn check_with_policy(group: &Group, step: &Step<'_>, owner: &MemberId, out: &mut Parsed) {
    let (Some(action), None) = (&out.action, &out.problem) else {
        return;
    };
    if action.kind() == ProposalKind::Membership {
        return;
    }
    if out.epoch != group.epoch() {
        out.problem = Some(format!(
            "{:?} proposal for epoch {}, current {}",
            action.kind(),
            out.epoch,
            group.epoch()
        ));
    } else if let Err(e) = group.with_view(step.me(), |policy, view| {
        policy.validate_proposal(view, owner, action, &out.evidence)
    }) {
        out.problem = Some(e.to_string());
    }
}

pub(super) fn on_proposal_received(
    group: &mut Group,
    step: &mut Step<'_>,
    id: ProposalId,
    owner: &[u8],
    payload: &[u8],
) -> Result<(), Abort> {
    group.repair.proposal_known(&id);
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
        step.out.event(GroupEvent::ProposalOpened {
            group_id: group.id.clone(),
            proposal: id,
            owner,
            action: action.clone(),
            epoch: parsed.epoch,
        });
        if let Some(member) = action.member() {
            if let (Some(mut kp), ProposalAction::Add { .. }) =
                (group.key_package(&member).cloned(), &action)
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
        step.out.event(GroupEvent::Rejected {
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
