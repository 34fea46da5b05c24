//! Opening proposals: the wire payload of a proposal this member opens, the checks before it
//! opens (the partial freeze, voter eligibility), and the proposals the steward policy asks
//! for (elections, emergency proposals).

use super::broadcast_and_drain;
use crate::consensus::OpenRequest;
use crate::engine::event::{GroupEvent, ProposalAction, RejectReason};
use crate::engine::freeze::frozen;
use crate::engine::group::Group;
use crate::engine::leave::{leaving, settle_leave};
use crate::engine::records::{ProposalRecord, ProposalStatus};
use crate::engine::step::{Abort, Step, reject};
use crate::steward::PolicyAction;
use crate::types::ProposalId;
use crate::wire::{
    self, AddMember, EmergencyCriteria, GroupProposal, RemoveMember, StewardElection,
    group_proposal,
};

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
    let voters = group.epochs.current().voters_for(kind, leaving).clone();
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
    group.repair.proposal_known(&opened.id);
    tracing::info!(group = %group.id.display(), proposal = %opened.id.short(), ?action, attempt, "proposal opened");
    step.out.event(GroupEvent::ProposalOpened {
        group_id: group.id.clone(),
        proposal: opened.id,
        owner: me,
        action,
        epoch,
    });
    broadcast_and_drain(group, step, opened.id, opened.messages)?;
    if leaving {
        settle_leave(group, step, opened.id)?;
    }
    Ok(opened.id)
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
