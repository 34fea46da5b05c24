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

/// This backend's registration: submitted to `inventory` (found before `main`) and registered
/// again at run time by `link()` (for programs whose linker drops `inventory` entries).
const PLUGIN: demls::registry::ConsensusPlugin = demls::registry::ConsensusPlugin {
    name: NAME,
    description: "hashgraph-like voting: 2n/3 quorum, Ed25519 batch-verified votes",
    build,
};

inventory::submit!(PLUGIN);

/// The registration `link()` hands to the registry at run time.
static REGISTERED: demls::registry::ConsensusPlugin = PLUGIN;

/// Keeps this crate linked into a program that selects backends by name, and registers it at
/// run time too (in case the linker dropped the `inventory` entry). Call it once, e.g. at the
/// start of `main`; calling it again does nothing more.
#[inline(never)]
pub fn link() {
    demls::registry::register_consensus(&REGISTERED);
}
