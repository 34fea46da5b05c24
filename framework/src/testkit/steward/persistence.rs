//! Steward cases about persistence: an instance restored from what [`save`] returned answers
//! like the one that saved it and goes on agreeing with the group, and state the policy did
//! not write is refused with [`PolicyError::CorruptState`].
//!
//! [`save`]: crate::steward::StewardPolicy::save

use super::agreement::{answers, verdicts};
use super::group::{Group, TRACE, create};
use crate::steward::{PolicyError, StewardPolicyFactory};

/// At every step of a run, an instance created from the saved state of another (as the engine
/// does when it loads a group after a restart) answers every question like it; the restored
/// instance then replaces the original and the group goes on agreeing.
pub fn a_restored_policy_answers_like_the_saved_one(factory: &dyn StewardPolicyFactory) {
    let mut group = Group::new(4);
    let mut seats = group.everyone(factory);
    for change in &TRACE {
        for step in 0..2 {
            if step == 1 {
                group.propose(&mut seats, change);
            }
            let seat = &mut seats[1];
            let saved = seat.policy.save();
            let restored = create(factory, &group.gid, Some(&saved));
            assert_eq!(
                answers(&group, restored.as_ref(), seat.me),
                answers(&group, seat.policy.as_ref(), seat.me),
                "restored from {} bytes in epoch {}, {} answers differently",
                saved.len(),
                group.epoch(),
                seat.me.short()
            );
            seat.policy = restored;
        }
        group.commit(factory, &mut seats);
        let reference = verdicts(&group, seats[0].policy.as_ref(), seats[0].me);
        for seat in &seats[1..] {
            assert_eq!(verdicts(&group, seat.policy.as_ref(), seat.me), reference);
        }
    }
}

/// Bytes the policy did not write — truncated or garbled saved state, a garbled Welcome
/// state — are refused with [`PolicyError::CorruptState`] rather than restored into a policy
/// that disagrees with the group. (A policy whose `save` and `joiner_state` are always empty
/// keeps no state and may ignore what it is handed.)
pub fn corrupt_state_is_refused(factory: &dyn StewardPolicyFactory) {
    let mut group = Group::new(4);
    let mut seats = group.everyone(factory);
    for change in &TRACE[..3] {
        group.propose(&mut seats, change);
        group.commit(factory, &mut seats);
    }
    let saved = seats[0].policy.save();
    if !saved.is_empty() {
        let mut garbled = saved.clone();
        garbled.iter_mut().for_each(|b| *b = !*b);
        for bad in [&saved[..saved.len() / 2], &garbled[..], &[0xff; 3][..]] {
            match factory.create(&group.gid, Some(bad)) {
                Err(PolicyError::CorruptState(_)) => {}
                Err(other) => panic!("corrupt saved state refused, but as {other:?}"),
                Ok(_) => panic!("corrupt saved state of {} bytes was restored", bad.len()),
            }
        }
    }
    group.propose(&mut seats, &super::group::Change::Add(9));
    let (removed, proposals) = group.facts();
    let author = seats[0].policy.stewards(&group.view(seats[0].me))[0];
    let facts = crate::steward::CommitFacts {
        author,
        removed: &removed,
        proposals: &proposals,
    };
    let welcome = seats[0]
        .policy
        .joiner_state(&group.view(seats[0].me), &facts);
    if !welcome.is_empty() {
        let mut fresh = create(factory, &group.gid, None);
        for bad in [&welcome[..welcome.len() / 2], &[0xff; 3][..]] {
            match fresh.adopt_joiner_state(bad) {
                Err(PolicyError::CorruptState(_)) => {}
                Err(other) => panic!("a corrupt Welcome state refused, but as {other:?}"),
                Ok(()) => panic!("a corrupt Welcome state of {} bytes was adopted", bad.len()),
            }
        }
    }
}
