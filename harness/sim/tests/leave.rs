//! F2: leaving a group on the deterministic simulator. Each scenario checks that the leave
//! needed no vote, that a steward other than the leaver committed it, that the leaver's storage
//! keeps nothing of the group, and ends with convergence and complete delivery among the rest.

mod common;

use common::check;
use demls_sim::scenarios;

#[test]
fn an_ordinary_member_leaves() {
    check(scenarios::ordinary_member_leaves(21));
}

#[test]
fn the_epoch_steward_leaves() {
    check(scenarios::epoch_steward_leaves(22));
}

#[test]
fn the_last_remaining_steward_leaves() {
    check(scenarios::last_steward_leaves(23));
}

#[test]
fn two_members_leave_in_the_same_epoch() {
    check(scenarios::two_members_leave_together(24));
}

#[test]
fn a_member_leaves_while_partitioned_away() {
    check(scenarios::leave_while_partitioned(25));
}

#[test]
fn a_leave_claimed_for_someone_else_is_refused_and_penalized() {
    check(scenarios::forged_leave(26));
}
