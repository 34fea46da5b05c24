//! Creates (or restores) one [`HashgraphConsensus`] per group.

use consensus_hashgraph::Config;
use demls::consensus::{Consensus, ConsensusContext, ConsensusError, ConsensusFactory};

use crate::adapter::HashgraphConsensus;

/// The `hashgraph` consensus factory.
pub struct HashgraphFactory {
    config: Config,
}

impl HashgraphFactory {
    /// A factory handing out engines with `config`.
    pub fn new(config: Config) -> HashgraphFactory {
        HashgraphFactory { config }
    }
}

impl Default for HashgraphFactory {
    /// The backend's defaults (those of an empty `[consensus]` table): the crate's, except
    /// that votes arriving after a decision are not verified (`count_after_decision = false`).
    fn default() -> Self {
        HashgraphFactory::new(Config {
            count_after_decision: false,
            ..Config::default()
        })
    }
}

impl ConsensusFactory for HashgraphFactory {
    fn name(&self) -> &str {
        crate::NAME
    }

    fn create(&self, context: ConsensusContext) -> Result<Box<dyn Consensus>, ConsensusError> {
        let engine = if context.restored.is_empty() {
            HashgraphConsensus::new(self.config.clone(), context.signer)
        } else {
            HashgraphConsensus::restore(
                self.config.clone(),
                context.signer,
                context.restored,
                context.now,
            )?
        };
        Ok(Box::new(engine))
    }
}
