//! KeyPackages announced on a group's welcome topic: validation, buffering for a few epochs
//! (so any steward can commit the add, not only the one that saw the announcement), and the
//! add proposals stewards open for them.

use super::event::{Event, ProposalAction, RejectReason};
use super::group::Group;
use super::records::{BufferedKeyPackage, ProposalStatus};
use super::{Abort, Step, governance, reject};
use crate::mls::validate_key_package;
use crate::types::{MemberId, ProposalId};

/// True when a proposal to add `member` is open or decided YES and uncommitted.
fn add_in_flight(group: &Group, member: &MemberId) -> bool {
    group.proposals.values().any(|r| {
        r.action == ProposalAction::Add { member: *member }
            && (r.status == ProposalStatus::Open || r.is_ready())
    })
}

/// A KeyPackage announcement arrived on the welcome topic.
pub(crate) fn on_key_package(
    group: &mut Group,
    step: &mut Step<'_>,
    message: &[u8],
) -> Result<(), Abort> {
    let kp = match validate_key_package(step.crypto, message) {
        Ok(kp) => kp,
        Err(e) => return reject(RejectReason::InvalidKeyPackage, e.to_string()),
    };
    if group.roster().contains(&kp.member_id) {
        return Ok(()); // a late re-announcement by someone already added
    }
    if let Some(existing) = group.key_packages.get(&kp.member_id) {
        if existing.reference == kp.reference {
            return Ok(()); // periodic re-announcement of the same KeyPackage
        }
    }
    group.put_key_package(BufferedKeyPackage {
        member: kp.member_id,
        message: message.to_vec(),
        reference: kp.reference.clone(),
        received_epoch: group.epoch(),
        proposal: None,
    });
    step.out.event(Event::KeyPackageReceived {
        group_id: group.id.clone(),
        member: kp.member_id,
    });
    let opens = group.with_view(step.me(), |policy, view| policy.opens_add_proposals(view));
    if opens && !add_in_flight(group, &kp.member_id) {
        let id = governance::open_proposal(
            group,
            step,
            ProposalAction::Add {
                member: kp.member_id,
            },
            Some((message.to_vec(), kp.reference)),
        )?;
        if let Some(mut buffered) = group.key_packages.get(&kp.member_id).cloned() {
            buffered.proposal = Some(id);
            group.put_key_package(buffered);
        }
    }
    Ok(())
}

/// The application proposes adding the holder of a KeyPackage it obtained itself.
pub(crate) fn propose_add(
    group: &mut Group,
    step: &mut Step<'_>,
    message: &[u8],
) -> Result<ProposalId, Abort> {
    let kp = match validate_key_package(step.crypto, message) {
        Ok(kp) => kp,
        Err(e) => return reject(RejectReason::InvalidKeyPackage, e.to_string()),
    };
    if group.roster().contains(&kp.member_id) {
        return reject(
            RejectReason::InvalidRequest,
            format!("{} is already a member", kp.member_id),
        );
    }
    if add_in_flight(group, &kp.member_id) {
        return reject(
            RejectReason::InvalidRequest,
            "an add of this member is already being voted",
        );
    }
    governance::open_proposal(
        group,
        step,
        ProposalAction::Add {
            member: kp.member_id,
        },
        Some((message.to_vec(), kp.reference)),
    )
}
