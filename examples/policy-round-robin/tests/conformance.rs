//! The framework's steward conformance suite on the round-robin policy.

demls::steward_conformance!(|| std::sync::Arc::new(
    demls_example_policy::RoundRobinFactory::default()
));
