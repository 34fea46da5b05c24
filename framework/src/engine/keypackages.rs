//! KeyPackages announced on a group's welcome topic: validation, buffering for a few epochs
//! (so any steward can commit the add, not only the one that saw the announcement), and the
//! add proposals stewards open for them.

use std::collections::BTreeSet;

use super::event::{GroupEvent, ProposalAction, ProposalKind, RejectReason};
use super::group::Group;
use super::records::{BufferedKeyPackage, ProposalStatus};
use super::step::{Abort, Step, reject};
use super::{freeze, governance};
use crate::consensus::Verdict;
use crate::mls::validate_key_package;
use crate::types::MemberId;

/// True when a proposal to add `member` is open or decided YES and uncommitted.
fn add_in_flight(group: &Group, member: &MemberId) -> bool {
    group
        .proposals
        .in_flight(&ProposalAction::Add { member: *member })
}

/// Every member [`add_in_flight`] holds for, in one pass over the proposals (a group
/// absorbing thousands of joiners has thousands of proposals and buffered KeyPackages).
fn adds_in_flight(group: &Group) -> BTreeSet<MemberId> {
    group
        .proposals
        .live()
        .filter_map(|r| match r.action {
            ProposalAction::Add { member } => Some(member),
            _ => None,
        })
        .collect()
}

/// Whether this member should (re)open the add proposal of a buffered KeyPackage now: none is
/// in flight, an earlier one was not rejected by vote, and the policy says it is this member's
/// turn (stewards first; others after the voting-inactivity delay it chooses).
fn should_open(group: &Group, step: &Step<'_>, kp: &BufferedKeyPackage, in_flight: bool) -> bool {
    if in_flight || freeze::frozen(group, ProposalKind::Membership) {
        return false;
    }
    let rejected = kp
        .proposal
        .and_then(|id| group.proposals.get(&id))
        .is_some_and(|r| r.status == ProposalStatus::Decided(Verdict::No));
    if rejected {
        return false;
    }
    let waited = step.now.since(kp.received_at);
    group.with_view(step.me(), |policy, view| {
        policy.opens_add_proposal(view, waited)
    })
}

fn open_add(group: &mut Group, step: &mut Step<'_>, kp: BufferedKeyPackage) -> Result<(), Abort> {
    let action = ProposalAction::Add { member: kp.member };
    match governance::open_proposal(
        group,
        step,
        action,
        Some((kp.message.clone(), kp.reference.clone())),
        Vec::new(),
    ) {
        Ok(id) => {
            let mut kp = kp;
            kp.proposal = Some(id);
            group.put_key_package(kp);
            Ok(())
        }
        // Not a voter of add proposals here (small consensus): stewards will open it.
        Err(Abort::Reject(_, detail)) => {
            tracing::debug!(%detail, "add proposal not opened");
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// A KeyPackage announcement arrived on the welcome topic (first time or re-announced).
pub(crate) fn on_key_package(
    group: &mut Group,
    step: &mut Step<'_>,
    message: &[u8],
) -> Result<(), Abort> {
    // A joiner re-announces its KeyPackage until it is added: the same bytes as one buffered
    // here were validated when they were buffered, and are not checked again (two signature
    // checks per member per re-announcement).
    let seen = crate::mls::claimed_key_package_member(message)
        .and_then(|m| group.key_package(&m))
        .filter(|kp| kp.message == message)
        .cloned();
    if let Some(buffered) = seen {
        let in_flight = add_in_flight(group, &buffered.member);
        if should_open(group, step, &buffered, in_flight) {
            open_add(group, step, buffered)?;
        }
        return Ok(());
    }
    let kp = match validate_key_package(step.crypto, message) {
        Ok(kp) => kp,
        Err(e) => return reject(RejectReason::InvalidKeyPackage, e.to_string()),
    };
    if group.roster().contains(&kp.member_id) {
        // A re-announcement by someone already added: it missed its Welcome.
        resend_welcome(group, step, &kp.member_id);
        return Ok(());
    }
    let buffered = match group.key_package(&kp.member_id) {
        Some(existing) if existing.reference == kp.reference => existing.clone(),
        _ => {
            let fresh = BufferedKeyPackage {
                member: kp.member_id,
                message: message.to_vec(),
                reference: kp.reference.clone(),
                received_epoch: group.epoch(),
                proposal: None,
                received_at: step.now,
            };
            group.put_key_package(fresh.clone());
            step.out.event(GroupEvent::KeyPackageReceived {
                group_id: group.id.clone(),
                member: kp.member_id,
            });
            fresh
        }
    };
    if should_open(
        group,
        step,
        &buffered,
        add_in_flight(group, &buffered.member),
    ) {
        open_add(group, step, buffered)?;
    }
    Ok(())
}

/// Publishes again the Welcome (and tree) of our commit that added `member`, if we made one
/// recently (the joiner then catches up from that epoch).
pub(crate) fn resend_welcome(group: &Group, step: &mut Step<'_>, member: &MemberId) {
    if let Some(envelopes) = group.selection.welcome_for(member) {
        let topic = group.topics.join.clone();
        step.out.publish(&topic, envelopes.0.clone());
        step.out.publish(&topic, envelopes.1.clone());
    }
}

/// Opens the add proposals of buffered KeyPackages that are due (after a freeze lifted, or
/// when stewards stayed silent for the voting-inactivity delay).
pub(crate) fn retry_pending(group: &mut Group, step: &mut Step<'_>) -> Result<(), Abort> {
    // Buffered KeyPackages are one per member, and opening one member's add changes no other
    // member's flight status: one pass over the proposals serves the whole loop, and only the
    // KeyPackages that may be opened are copied (a group absorbing thousands of joiners holds
    // thousands of them, most with their add in flight).
    let in_flight = adds_in_flight(group);
    let waiting: Vec<BufferedKeyPackage> = group
        .key_packages()
        .filter(|kp| !in_flight.contains(&kp.member) && !group.roster().contains(&kp.member))
        .cloned()
        .collect();
    for kp in waiting {
        if should_open(group, step, &kp, false) {
            open_add(group, step, kp)?;
        }
    }
    Ok(())
}

/// A proposal was decided: retries the buffered KeyPackages if the decision may have made one
/// openable. A YES on an add cannot (no freeze lifts, the steward line is unchanged), so it
/// skips the pass — a group absorbing thousands of joiners would otherwise scan all of them at
/// every decision.
pub(crate) fn after_decision(
    group: &mut Group,
    step: &mut Step<'_>,
    action: &ProposalAction,
    outcome: Verdict,
) -> Result<(), Abort> {
    if outcome == Verdict::Yes && matches!(action, ProposalAction::Add { .. }) {
        return Ok(());
    }
    retry_pending(group, step)
}

/// The application proposes adding the holder of a KeyPackage it obtained itself.
pub(crate) fn propose_add(
    group: &mut Group,
    step: &mut Step<'_>,
    message: &[u8],
) -> Result<super::freeze::Submission, Abort> {
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
    super::freeze::submit(
        group,
        step,
        ProposalAction::Add {
            member: kp.member_id,
        },
        Some((message.to_vec(), kp.reference)),
    )
}
