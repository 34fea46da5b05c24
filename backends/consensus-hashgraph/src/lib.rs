//! The hashgraph-like consensus as a demls [`Consensus`](demls::Consensus) plugin.
//!
//! Wraps the standalone [`consensus_hashgraph`] crate: proposals are bound to the framework's
//! [`Electorate`](demls::Electorate) (the epoch roster's signature keys), votes are signed with the
//! member's identity key, persistence goes through the engine's transaction as
//! [`StateChange`](demls::consensus::StateChange) records. Registered as `backend = "hashgraph"`,
//! the framework's default consensus.
#![warn(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod adapter;
mod config;
mod factory;
mod records;
mod signer;

pub use adapter::HashgraphConsensus;
pub use config::HashgraphOptions;
pub use factory::HashgraphFactory;

/// The registered backend name.
pub const NAME: &str = "hashgraph";

fn build(
    options: &toml::Table,
    _ctx: &demls::registry::BuildContext,
) -> Result<std::sync::Arc<dyn demls::ConsensusFactory>, demls::ConfigError> {
    let options: HashgraphOptions = demls::config::parse_options("consensus", options)?;
    Ok(std::sync::Arc::new(HashgraphFactory::new(
        options.into_config()?,
    )))
}

demls::register_plugin!(
    consensus,
    demls::registry::ConsensusPlugin {
        name: NAME,
        description: "hashgraph-like voting: 2n/3 quorum, Ed25519 batch-verified votes",
        build,
    }
);
