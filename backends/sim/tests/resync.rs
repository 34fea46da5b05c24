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
