//! F3: catching up after missing votes, commits and whole epochs, on the deterministic
//! simulator. Each scenario ends by requiring convergence (epoch, roster, epoch authenticator)
//! and complete delivery among the honest members.

mod common;

use common::check;
use demls_sim::scenarios;

#[test]
fn a_member_that_missed_a_whole_vote_catches_up_by_certificate() {
    check(scenarios::missed_vote_catch_up(11));
}

#[test]
fn a_member_offline_for_one_epoch_catches_up() {
    check(scenarios::offline_catch_up(12, 1));
}

#[test]
fn a_member_offline_for_five_epochs_catches_up() {
    check(scenarios::offline_catch_up(13, 5));
}

#[test]
fn a_member_offline_for_fifty_epochs_catches_up() {
    check(scenarios::offline_catch_up(14, 50));
}

#[test]
fn a_member_behind_every_retained_history_rejoins_without_a_vote_and_misses_nothing() {
    check(scenarios::beyond_history_rejoin(15));
}

#[test]
fn a_steward_crashing_right_after_creating_a_commit_leaves_one_group() {
    check(scenarios::crash_during_commit(16));
}
