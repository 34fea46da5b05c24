//! Membership requests from the application (`propose_add`, `propose_remove`) and the partial
//! freeze: while a higher-priority vote (a steward election, an emergency proposal) is open,
//! LIP-104 suspends the creation of lower-priority proposals. A request made then is not
//! refused: it is kept (durably, with the group's records) and opened as soon as the freeze
//! ends, which [`GroupEvent::ProposalOpened`] reports.

use super::event::ProposalKind;
use super::event::{GroupEvent, ProposalAction, RejectReason};
use super::governance;
use super::group::Group;
pub(crate) use super::records::DeferredRequest;
use super::records::ProposalRecord;
use super::records::ProposalStatus;
use super::step::{Abort, Step, reject};
use crate::types::ProposalId;

/// What became of a membership request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Submission {
    /// The vote is open under this id.
    Opened(ProposalId),
    /// A higher-priority vote (steward election or emergency proposal) is running: the request
    /// waits and opens by itself when that vote ends ([`GroupEvent::ProposalOpened`] with this
    /// member as owner), or is dropped with [`GroupEvent::Rejected`] if it no longer applies then.
    Deferred,
}

impl Submission {
    /// The proposal id, if the vote is open already.
    pub fn proposal(&self) -> Option<ProposalId> {
        match self {
            Submission::Opened(id) => Some(*id),
            Submission::Deferred => None,
        }
    }
}

/// Most requests kept waiting per group.
const MAX_DEFERRED: usize = 256;

/// Opens the proposal now, or keeps it until the partial freeze ends.
pub(crate) fn submit(
    group: &mut Group,
    step: &mut Step<'_>,
    action: ProposalAction,
    key_package: Option<(Vec<u8>, Vec<u8>)>,
) -> Result<Submission, Abort> {
    defer_or_open(group, step, action, key_package, 0)
}

/// Opens the `attempt`-th try of a membership proposal now, or keeps it until the partial
/// freeze ends (an application request is attempt 0, a retry of a failed one later).
pub(crate) fn defer_or_open(
    group: &mut Group,
    step: &mut Step<'_>,
    action: ProposalAction,
    key_package: Option<(Vec<u8>, Vec<u8>)>,
    attempt: u32,
) -> Result<Submission, Abort> {
    if !frozen(group, action.kind()) {
        return governance::open_attempt(group, step, action, key_package, Vec::new(), attempt)
            .map(Submission::Opened);
    }
    let waiting = &mut group.meta.deferred_requests;
    if !waiting.iter().any(|r| r.action == action) {
        if waiting.len() >= MAX_DEFERRED {
            return reject(
                RejectReason::BufferFull,
                "too many requests wait for a higher-priority vote to end",
            );
        }
        waiting.push(DeferredRequest {
            action: action.clone(),
            key_package,
            attempt,
        });
    }
    tracing::info!(group = %group.id.display(), ?action, attempt, "request deferred by the partial freeze");
    Ok(Submission::Deferred)
}

/// Whether a deferred request still makes sense: its target is (still, or not yet) a member
/// and nobody proposed the same change meanwhile.
fn still_applies(group: &Group, request: &DeferredRequest) -> Result<(), String> {
    let member = request.action.member();
    let same = |r: &&ProposalRecord| {
        r.action.member() == member
            && std::mem::discriminant(&r.action) == std::mem::discriminant(&request.action)
    };
    let in_flight = match member {
        Some(m) => group.proposals.live_naming(&m).any(|r| same(&r)),
        None => group.proposals.live().any(|r| same(&r)),
    };
    if in_flight {
        return Err("the same change is already being voted".into());
    }
    match (&request.action, member) {
        (ProposalAction::Add { .. }, Some(m)) if group.roster().contains(&m) => {
            Err(format!("{m} is already a member"))
        }
        (ProposalAction::Remove { .. } | ProposalAction::Leave { .. }, Some(m))
            if !group.roster().contains(&m) =>
        {
            Err(format!("{m} is no longer a member"))
        }
        _ => Ok(()),
    }
}

/// Opens the deferred requests whose kind is no longer frozen.
pub(crate) fn release(group: &mut Group, step: &mut Step<'_>) -> Result<(), Abort> {
    if group.meta.deferred_requests.is_empty() {
        return Ok(());
    }
    let waiting = std::mem::take(&mut group.meta.deferred_requests);
    for request in waiting {
        if frozen(group, request.action.kind()) {
            group.meta.deferred_requests.push(request);
            continue;
        }
        if let Err(detail) = still_applies(group, &request) {
            step.out.event(GroupEvent::Rejected {
                group_id: Some(group.id.clone()),
                reason: RejectReason::InvalidRequest,
                detail: format!("deferred request dropped: {detail}"),
            });
            continue;
        }
        let action = request.action.clone();
        let (key_package, attempt) = (request.key_package, request.attempt);
        match governance::open_attempt(group, step, action, key_package, Vec::new(), attempt) {
            Ok(_) => {}
            Err(Abort::Reject(reason, detail)) => step.out.event(GroupEvent::Rejected {
                group_id: Some(group.id.clone()),
                reason,
                detail: format!("deferred request dropped: {detail}"),
            }),
            Err(e) => return Err(e),
        }
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

/// Casts the votes held back by the partial freeze once nothing of higher priority is open,
/// then opens the application's requests that waited for it.
pub(crate) fn release_deferred(group: &mut Group, step: &mut Step<'_>) -> Result<(), Abort> {
    release_votes(group, step)?;
    super::freeze::release(group, step)
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
            governance::decide_own_vote(group, step, id)?;
        }
    }
    Ok(())
}
