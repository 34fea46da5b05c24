//! Steward cases about agreement: members fed the same commits answer the agreement-critical
//! questions alike whoever they are, two instances of one member fed the same inputs answer
//! every question alike, and a member that joined through a Welcome agrees with the members
//! that were already there.

use super::group::{Group, KINDS, Seat, TRACE, judged, outsider};
use crate::steward::{CommitFacts, EpochView, StewardPolicy, StewardPolicyFactory};
use crate::types::{MemberId, Timestamp};

/// The agreement-critical answers of one instance in one view: the stewards, the judgement of
/// a commit of every ready proposal by every member and by an outsider, and the voters of
/// every kind of proposal.
#[derive(Debug, PartialEq)]
pub(super) struct Verdicts {
    stewards: Vec<MemberId>,
    commits: Vec<(MemberId, String)>,
    voters: Vec<Option<Vec<MemberId>>>,
}

pub(super) fn verdicts(group: &Group, policy: &dyn StewardPolicy, me: MemberId) -> Verdicts {
    let view = group.view(me);
    let (removed, proposals) = group.facts();
    let commits = group
        .roster
        .ids()
        .chain([outsider()])
        .map(|author| {
            let facts = CommitFacts {
                author,
                removed: &removed,
                proposals: &proposals,
            };
            (author, judged(policy.authorize_commit(&view, &facts)))
        })
        .collect();
    Verdicts {
        stewards: policy.stewards(&view),
        commits,
        voters: KINDS.iter().map(|&k| policy.voters(&view, k)).collect(),
    }
}

/// Everything one instance answers without changing, local planning included.
#[derive(Debug, PartialEq)]
pub(super) struct Answers {
    verdicts: Verdicts,
    commit_at: Option<Timestamp>,
    opens_add: [bool; 2],
    selection_window_ms: u64,
    next_deadline: Option<Timestamp>,
    saved: Vec<u8>,
}

pub(super) fn answers(group: &Group, policy: &dyn StewardPolicy, me: MemberId) -> Answers {
    let view: EpochView<'_> = group.view(me);
    Answers {
        verdicts: verdicts(group, policy, me),
        commit_at: policy.commit_at(&view, group.now),
        opens_add: [
            policy.opens_add_proposal(&view, 0),
            policy.opens_add_proposal(&view, 60_000),
        ],
        selection_window_ms: policy.selection_window_ms(),
        next_deadline: policy.next_deadline(),
        saved: policy.save(),
    }
}

/// Every member, whoever it is, judges commits alike, names the same stewards and the same
/// voters at every step of a run with adds and removals: these answers may depend only on
/// the view and on earlier commits, so all honest members accept or reject alike.
pub fn every_member_judges_commits_alike(factory: &dyn StewardPolicyFactory) {
    let mut group = Group::new(4);
    let mut seats = group.everyone(factory);
    for change in &TRACE {
        check_alike(&group, &seats);
        group.propose(&mut seats, change);
        check_alike(&group, &seats);
        group.commit(factory, &mut seats);
    }
    check_alike(&group, &seats);
}

fn check_alike(group: &Group, seats: &[Seat]) {
    let first = verdicts(group, seats[0].policy.as_ref(), seats[0].me);
    for seat in &seats[1..] {
        assert_eq!(
            verdicts(group, seat.policy.as_ref(), seat.me),
            first,
            "{} and {} disagree in epoch {}",
            seat.me.short(),
            seats[0].me.short(),
            group.epoch()
        );
    }
}

/// Two instances for the same member, fed the same calls with the same times, answer every
/// question identically — local planning (commit times, deadlines, the proposals `tick` asks
/// for) included: a policy may not depend on anything but its inputs (no clock, no
/// randomness, no iteration order of a hash map).
pub fn two_instances_fed_the_same_inputs_answer_identically(factory: &dyn StewardPolicyFactory) {
    let mut group = Group::new(4);
    let mut seats = group.everyone(factory);
    let twin_of = seats[1].me;
    seats.extend(group.seats(factory, &[twin_of]));
    for change in &TRACE {
        group.propose(&mut seats, change);
        check_twins(&group, &seats);
        group.now = group.now.plus_ms(10);
        let asked = group.tick(&mut seats);
        let by = |who: MemberId| -> Vec<_> {
            asked
                .iter()
                .filter(|(owner, ..)| *owner == who)
                .map(|(_, a, e)| (a.clone(), e.clone()))
                .collect()
        };
        if seats.iter().filter(|s| s.me == twin_of).count() == 2 {
            let mine = by(twin_of);
            assert!(
                mine.len() % 2 == 0 && mine[..mine.len() / 2] == mine[mine.len() / 2..],
                "the twins asked for different proposals: {mine:?}"
            );
        }
        group.commit(factory, &mut seats);
        check_twins(&group, &seats);
    }
}

fn check_twins(group: &Group, seats: &[Seat]) {
    for (i, a) in seats.iter().enumerate() {
        for b in seats[i + 1..].iter().filter(|b| b.me == a.me) {
            assert_eq!(
                answers(group, a.policy.as_ref(), a.me),
                answers(group, b.policy.as_ref(), b.me),
                "two instances of {} answer differently in epoch {}",
                a.me.short(),
                group.epoch()
            );
        }
    }
}

/// A member that joined through a Welcome (a fresh instance that adopted
/// [`joiner_state`](StewardPolicy::joiner_state) of the commit that added it) judges commits
/// alike with the members that applied that commit, from its first epoch on.
pub fn a_joiner_agrees_with_the_members_from_its_first_epoch(factory: &dyn StewardPolicyFactory) {
    let mut group = Group::new(4);
    let mut seats = group.everyone(factory);
    for change in &TRACE {
        group.propose(&mut seats, change);
        let before: Vec<MemberId> = seats.iter().map(|s| s.me).collect();
        group.commit(factory, &mut seats);
        let old = seats
            .iter()
            .find(|s| before.contains(&s.me))
            .expect("a member stays");
        let expected = verdicts(&group, old.policy.as_ref(), old.me);
        for joiner in seats.iter().filter(|s| !before.contains(&s.me)) {
            assert_eq!(
                verdicts(&group, joiner.policy.as_ref(), joiner.me),
                expected,
                "joiner {} disagrees with {} in epoch {}",
                joiner.me.short(),
                old.me.short(),
                group.epoch()
            );
        }
    }
}
