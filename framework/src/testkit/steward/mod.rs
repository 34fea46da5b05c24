//! The steward-policy conformance suite: one public function per rule of the
//! [`StewardPolicy`](crate::StewardPolicy) contract, and
//! [`steward_conformance!`](crate::steward_conformance) to stamp them all into a policy's
//! test file.
//!
//! A policy supplies its [`StewardPolicyFactory`]. The cases drive instances through a model
//! group (`group.rs`): the calls the engine makes, in its order, on a roster that grows and
//! shrinks over six epochs (four adds, the removal of an ordinary member, the removal of the
//! first steward), with the policy's own proposals (steward elections) decided YES. No MLS,
//! consensus or network is involved, so a failure points at the policy.
//!
//! The cases live in three files: [`authority`] (who may commit, who schedules a commit, what
//! the policy refuses), [`agreement`] (members agree; two instances fed the same inputs
//! answer identically; joiners agree) and [`persistence`] (save and restore, corrupt state).

use crate::steward::StewardPolicyFactory;

pub mod agreement;
pub mod authority;
mod group;
pub mod persistence;

pub use agreement::{
    a_joiner_agrees_with_the_members_from_its_first_epoch, every_member_judges_commits_alike,
    two_instances_fed_the_same_inputs_answer_identically,
};
pub use authority::{
    a_commit_by_a_non_steward_is_refused, a_steward_is_never_expected_to_commit_its_own_removal,
    only_stewards_schedule_a_commit, proposals_naming_outsiders_are_refused,
    the_first_steward_may_commit_every_epoch, voters_are_distinct_current_members,
};
pub use persistence::{a_restored_policy_answers_like_the_saved_one, corrupt_state_is_refused};

/// A policy and the factory that made it carry the same name (the one selected with
/// `[steward] backend = "..."`).
pub fn the_policy_is_named_like_its_factory(factory: &dyn StewardPolicyFactory) {
    let gid = crate::types::GroupId::new(b"named".to_vec()).expect("a valid group id");
    let policy = group::create(factory, &gid, None);
    assert_eq!(policy.name(), factory.name());
    assert!(!factory.name().is_empty());
}

/// Stamps one `#[test]` per steward-policy conformance case into the calling module.
///
/// The argument is an expression evaluating to a factory `Fn() -> Arc<dyn
/// StewardPolicyFactory>`, called once per case.
///
/// ```ignore
/// demls::steward_conformance!(|| std::sync::Arc::new(my_policy::Factory::default()));
/// ```
#[macro_export]
macro_rules! steward_conformance {
    ($factory:expr $(,)?) => {
        $crate::__steward_conformance_cases! {
            $factory;
            the_policy_is_named_like_its_factory,
            the_first_steward_may_commit_every_epoch,
            a_commit_by_a_non_steward_is_refused,
            a_steward_is_never_expected_to_commit_its_own_removal,
            only_stewards_schedule_a_commit,
            proposals_naming_outsiders_are_refused,
            voters_are_distinct_current_members,
            every_member_judges_commits_alike,
            two_instances_fed_the_same_inputs_answer_identically,
            a_joiner_agrees_with_the_members_from_its_first_epoch,
            a_restored_policy_answers_like_the_saved_one,
            corrupt_state_is_refused,
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __steward_conformance_cases {
    ($factory:expr; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                let make = $factory;
                let factory: ::std::sync::Arc<dyn $crate::StewardPolicyFactory> = make();
                $crate::testkit::steward::$case(factory.as_ref());
            }
        )*
    };
}
