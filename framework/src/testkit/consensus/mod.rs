//! The consensus conformance suite: one public function per rule of the
//! [`Consensus`](crate::Consensus) contract, and
//! [`consensus_conformance!`](crate::consensus_conformance) to stamp them all into a plugin's
//! test file.
//!
//! A plugin supplies its [`ConsensusFactory`](crate::ConsensusFactory). The cases create
//! instances for a fixed set of Ed25519 identities and exchange the bytes the instances produce
//! by hand, so every delivery order and every tampering is under the case's control. Each voter
//! casts its vote having seen only the proposal, so any order of the votes is one an honest
//! network could deliver.
//!
//! The cases live in three files: [`decisions`] (order independence, determinism, exactly-once
//! reporting), [`refusals`] (forged, ineligible, malformed, duplicate input, impossible local
//! requests) and [`persistence`] (resuming from the records reported by `take_changes`).

pub mod decisions;
pub mod persistence;
pub mod refusals;
mod support;

pub use decisions::{
    every_decision_is_reported_exactly_once, the_decision_does_not_depend_on_vote_order,
    two_instances_fed_the_same_inputs_answer_identically,
};
pub use persistence::a_restored_instance_answers_like_the_original;
pub use refusals::{
    duplicates_are_refused_as_duplicate, forged_and_ineligible_votes_are_never_counted,
    impossible_local_requests_are_refused, malformed_messages_are_refused,
};

/// Stamps one `#[test]` per consensus conformance case into the calling module.
///
/// The argument is an expression evaluating to a factory `Fn() -> Arc<dyn ConsensusFactory>`,
/// called once per case.
///
/// ```ignore
/// demls::consensus_conformance!(|| std::sync::Arc::new(my_plugin::Factory::default()));
/// ```
#[macro_export]
macro_rules! consensus_conformance {
    ($factory:expr $(,)?) => {
        $crate::__consensus_conformance_cases! {
            $factory;
            the_decision_does_not_depend_on_vote_order,
            two_instances_fed_the_same_inputs_answer_identically,
            every_decision_is_reported_exactly_once,
            forged_and_ineligible_votes_are_never_counted,
            malformed_messages_are_refused,
            duplicates_are_refused_as_duplicate,
            impossible_local_requests_are_refused,
            a_restored_instance_answers_like_the_original,
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __consensus_conformance_cases {
    ($factory:expr; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                let make = $factory;
                let factory: ::std::sync::Arc<dyn $crate::ConsensusFactory> = make();
                $crate::testkit::consensus::$case(factory.as_ref());
            }
        )*
    };
}
