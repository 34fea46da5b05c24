//! The steward-policy conformance suite on the two built-in policies, with their default
//! options. (The framework enables its own `testkit` feature for tests through a
//! dev-dependency on itself, so this runs under plain `cargo test`.)

mod single {
    demls::steward_conformance!(|| std::sync::Arc::new(
        demls::policy::single::SinglePolicyFactory::new(Default::default())
    ));
}

mod multi {
    demls::steward_conformance!(|| std::sync::Arc::new(
        demls::policy::multi::MultiPolicyFactory::new(Default::default())
            .expect("the default options are valid")
    ));
}
