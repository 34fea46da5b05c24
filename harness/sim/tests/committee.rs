//! The single-steward policy's small consensus model on the deterministic simulator: a
//! committee votes on membership, leaves need no vote, everyone converges with no message lost.

mod common;

use common::check;
use demls_sim::scenarios;

#[test]
fn above_the_threshold_only_the_committee_votes_on_and_opens_membership_changes() {
    check(scenarios::single_committee(9));
}
