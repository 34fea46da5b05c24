//! Steward cases about who commits: the first steward may, nobody outside the steward set
//! may, a steward is never the one to commit its own removal, and only stewards schedule a
//! commit.

use super::group::{Change, Group, TRACE, member, outsider};
use crate::proposal::ProposalAction;
use crate::steward::{CommitFacts, PolicyError, StewardPolicyFactory};
use crate::types::MemberId;

/// Through adds and removals, the policy always names stewards that are current members, and
/// a commit by the first of them applying every ready proposal is authorized by every member
/// (checked as the model group commits).
pub fn the_first_steward_may_commit_every_epoch(factory: &dyn StewardPolicyFactory) {
    let mut group = Group::new(4);
    let mut seats = group.everyone(factory);
    for change in &TRACE {
        group.propose(&mut seats, change);
        for seat in &seats {
            let stewards = seat.policy.stewards(&group.view(seat.me));
            assert!(
                !stewards.is_empty(),
                "a proposal is ready but no steward is named"
            );
            for s in &stewards {
                assert!(
                    group.roster.contains(s),
                    "steward {} is not a member",
                    s.short()
                );
                assert!(
                    !group.pending.contains(s),
                    "steward {} is being removed",
                    s.short()
                );
            }
        }
        let author = group.commit(factory, &mut seats);
        assert!(seats.iter().any(|s| s.me == author) || !group.roster.contains(&author));
    }
}

/// A commit by someone outside the group is refused with
/// [`PolicyError::UnauthorizedCommitter`] naming it, and so is a commit of a membership
/// proposal by any member the policy does not list among the stewards (nor among the
/// stewards an election applied by the same commit installs).
pub fn a_commit_by_a_non_steward_is_refused(factory: &dyn StewardPolicyFactory) {
    let mut group = Group::new(4);
    let mut seats = group.everyone(factory);
    let mut refused_members = 0;
    for change in &TRACE {
        group.propose(&mut seats, change);
        if !matches!(change, Change::Add(_)) {
            group.commit(factory, &mut seats);
            continue;
        }
        let (removed, proposals) = group.facts();
        let mut stewards = seats[0].policy.stewards(&group.view(seats[0].me));
        // A commit applying an election may also come from a steward it installs.
        for ready in group.ready.values() {
            if let ProposalAction::Election {
                stewards: elected, ..
            } = &ready.action
            {
                stewards.extend(elected.iter().copied());
            }
        }
        let strangers: Vec<MemberId> = group
            .roster
            .ids()
            .filter(|m| !stewards.contains(m))
            .chain([outsider()])
            .collect();
        for author in strangers {
            let facts = CommitFacts {
                author,
                removed: &removed,
                proposals: &proposals,
            };
            for seat in &seats {
                match seat.policy.authorize_commit(&group.view(seat.me), &facts) {
                    Err(PolicyError::UnauthorizedCommitter { author: named, .. }) => {
                        assert_eq!(named, author, "the refusal names the author")
                    }
                    Err(other) => panic!(
                        "a commit by non-steward {} was refused, but not as \
                         UnauthorizedCommitter: {other:?}",
                        author.short()
                    ),
                    Ok(rank) => panic!(
                        "a commit by non-steward {} was authorized at {rank:?}",
                        author.short()
                    ),
                }
            }
            refused_members += usize::from(author != outsider());
        }
        group.commit(factory, &mut seats);
    }
    assert!(
        refused_members > 0,
        "every member was a steward at every add: the case checked nothing but outsiders; \
         it needs a policy with fewer stewards than members"
    );
}

/// A steward never commits its own removal (MLS forbids it): once the first steward's removal
/// is decided, the policy names someone else first, that member may commit the removal, and
/// the removed steward schedules no commit.
pub fn a_steward_is_never_expected_to_commit_its_own_removal(factory: &dyn StewardPolicyFactory) {
    let mut group = Group::new(5);
    let mut seats = group.everyone(factory);
    group.propose(&mut seats, &Change::Add(6));
    group.commit(factory, &mut seats);
    group.settle(&mut seats);
    let doomed = seats[0].policy.stewards(&group.view(seats[0].me))[0];
    let owner = seats[0].me;
    group.decide(&mut seats, owner, ProposalAction::Remove { member: doomed });
    let next = seats[0].policy.stewards(&group.view(seats[0].me));
    assert!(
        !next.contains(&doomed),
        "the steward being removed is still named: {next:?}"
    );
    let doomed_seat = seats.iter().find(|s| s.me == doomed).expect("a seat");
    assert_eq!(
        doomed_seat.policy.commit_at(&group.view(doomed), group.now),
        None,
        "the steward being removed schedules its own removal"
    );
    let author = group.commit(factory, &mut seats);
    assert_ne!(author, doomed);
    assert!(!group.roster.contains(&doomed));
}

/// With a proposal ready, the first steward schedules a commit no earlier than the moment it
/// became ready, and members the policy does not list as stewards schedule none.
pub fn only_stewards_schedule_a_commit(factory: &dyn StewardPolicyFactory) {
    let mut group = Group::new(6);
    let mut seats = group.everyone(factory);
    for n in [7, 8] {
        group.propose(&mut seats, &Change::Add(n));
        let ready_at = group.now;
        let stewards = seats[0].policy.stewards(&group.view(seats[0].me));
        for seat in &seats {
            let at = seat.policy.commit_at(&group.view(seat.me), ready_at);
            if seat.me == stewards[0] {
                assert!(
                    at.is_some_and(|t| t >= ready_at),
                    "the first steward schedules {at:?} for proposals ready at {ready_at:?}"
                );
            } else if !stewards.contains(&seat.me) {
                assert_eq!(
                    at,
                    None,
                    "non-steward {} schedules a commit",
                    seat.me.short()
                );
            }
        }
        group.commit(factory, &mut seats);
    }
}

/// Proposals the policy judges ([`validate_proposal`]) are refused with a typed error when
/// they name someone outside the group: an election listing an outsider, an emergency
/// proposal against an outsider.
///
/// [`validate_proposal`]: crate::steward::StewardPolicy::validate_proposal
pub fn proposals_naming_outsiders_are_refused(factory: &dyn StewardPolicyFactory) {
    let mut group = Group::new(4);
    let mut seats = group.everyone(factory);
    group.propose(&mut seats, &Change::Add(5));
    group.commit(factory, &mut seats);
    let members: Vec<MemberId> = group.roster.ids().collect();
    let bad = [
        ProposalAction::Election {
            retry_round: 0,
            stewards: vec![outsider()],
        },
        ProposalAction::Election {
            retry_round: 0,
            stewards: vec![members[0], outsider(), members[1]],
        },
        ProposalAction::Emergency {
            violation: crate::proposal::Violation::Inactivity,
            target: Some(outsider()),
        },
    ];
    for seat in &seats {
        for action in &bad {
            match seat
                .policy
                .validate_proposal(&group.view(seat.me), &member(1), action, b"")
            {
                Err(PolicyError::InvalidProposal(_) | PolicyError::Unsupported(_)) => {}
                other => {
                    panic!("{action:?} was answered {other:?}, not InvalidProposal or Unsupported")
                }
            }
        }
    }
}

/// Voters the policy names for a kind of proposal ([`voters`]) are distinct current members,
/// and at least one; `None` (everyone) is always allowed.
///
/// [`voters`]: crate::steward::StewardPolicy::voters
pub fn voters_are_distinct_current_members(factory: &dyn StewardPolicyFactory) {
    let mut group = Group::new(4);
    let mut seats = group.everyone(factory);
    for change in &TRACE {
        group.propose(&mut seats, change);
        for seat in &seats {
            for kind in super::group::KINDS {
                let Some(voters) = seat.policy.voters(&group.view(seat.me), kind) else {
                    continue;
                };
                assert!(!voters.is_empty(), "{kind:?}: an empty electorate");
                let distinct: std::collections::BTreeSet<_> = voters.iter().collect();
                assert_eq!(
                    distinct.len(),
                    voters.len(),
                    "{kind:?}: a voter named twice"
                );
                assert!(
                    voters.iter().all(|v| group.roster.contains(v)),
                    "{kind:?}: a voter is not a member"
                );
            }
        }
        group.commit(factory, &mut seats);
    }
}
