//! The framework's consensus conformance suite on the hashgraph plugin with its default
//! options.

demls::consensus_conformance!(|| std::sync::Arc::new(
    demls_consensus_hashgraph::HashgraphFactory::default()
));
