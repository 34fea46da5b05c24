//! F1: multi-steward scenarios on the deterministic simulator (8–30 members). Each scenario
//! ends by requiring that all honest members share epoch, roster and epoch authenticator and
//! that no application message among connected members was lost. Seeds are fixed; a failure
//! prints how to replay it.

mod common;

use common::check;
use demls_sim::scenarios;

#[test]
fn a_silent_epoch_steward_is_replaced_by_the_backup() {
    check(scenarios::silent_epoch_steward(1));
}

#[test]
fn a_steward_committing_an_unvoted_proposal_is_rejected_penalized_and_removed() {
    check(scenarios::malicious_steward(2));
}

#[test]
fn two_stewards_committing_the_same_epoch_converge_on_one_commit() {
    check(scenarios::concurrent_stewards(3));
}

#[test]
fn a_silent_steward_list_is_replaced_by_re_election() {
    check(scenarios::silent_steward_list(4));
}

#[test]
fn failing_re_elections_lead_to_deadlock_recovery_and_back_to_normal() {
    check(scenarios::deadlock_recovery(5));
}

#[test]
fn an_open_emergency_proposal_holds_back_a_commit_proposal() {
    check(scenarios::emergency_holds_back_commit_proposal(6));
}

#[test]
fn twenty_percent_message_loss_still_converges() {
    check(scenarios::lossy_network(7, 0.2));
}

#[test]
fn in_the_small_consensus_model_only_stewards_vote_on_membership() {
    check(scenarios::small_consensus(8));
}
