//! How a simulation is set up: the run's seed and start time, the default network link, and
//! the engine plugins and parameters every node gets unless it overrides them.
//!
//! This module owns only plain configuration values; it runs nothing and draws no randomness.

use std::fmt;
use std::sync::Arc;

use demls::policy::single::SinglePolicyFactory;
use demls::{ConsensusFactory, EngineParams, StewardPolicyFactory, Timestamp};
use demls_consensus_hashgraph::HashgraphFactory;
use demls_storage_memory::MemoryStorage;

use crate::cpu::CpuMode;
use crate::error::SimError;
use crate::latency::SizeLatency;

/// The behaviour of a directed network link (or of every link, as the default).
///
/// Each message copy is lost with probability `loss`; otherwise it arrives after a latency
/// drawn uniformly from `min_ms..=max_ms`. Draws are independent per copy, so messages on the
/// same link may overtake each other (as on a gossip network) unless `fifo` is set, in which
/// case a copy never arrives before an earlier copy on the same link.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Link {
    /// Shortest latency, in milliseconds.
    pub min_ms: u64,
    /// Longest latency, in milliseconds (at least `min_ms`).
    pub max_ms: u64,
    /// Probability in `0.0..=1.0` that a copy is lost.
    pub loss: f64,
    /// Keep per-link order: a copy never arrives before an earlier one on the same link.
    pub fifo: bool,
}

impl Link {
    /// A lossless, reordering link whose latency is always `ms`.
    pub fn fixed(ms: u64) -> Link {
        Link {
            min_ms: ms,
            max_ms: ms,
            loss: 0.0,
            fifo: false,
        }
    }

    /// A lossless, reordering link with latency uniform in `min_ms..=max_ms`.
    pub fn uniform(min_ms: u64, max_ms: u64) -> Link {
        Link {
            min_ms,
            max_ms,
            loss: 0.0,
            fifo: false,
        }
    }

    /// This link with loss probability `loss`.
    pub fn with_loss(self, loss: f64) -> Link {
        Link { loss, ..self }
    }

    /// This link with FIFO order switched on or off.
    pub fn with_fifo(self, fifo: bool) -> Link {
        Link { fifo, ..self }
    }

    /// Checks that the loss is a probability and the latency range is not empty.
    pub fn validate(&self) -> Result<(), SimError> {
        if !(0.0..=1.0).contains(&self.loss) {
            return Err(SimError::InvalidLink {
                reason: "loss must be a probability in 0.0..=1.0",
            });
        }
        if self.min_ms > self.max_ms {
            return Err(SimError::InvalidLink {
                reason: "min_ms must not exceed max_ms",
            });
        }
        Ok(())
    }
}

impl Default for Link {
    /// Lossless, 10 ms, reordering allowed.
    fn default() -> Self {
        Link::fixed(10)
    }
}

/// The configuration of a whole simulation. Every field has a default
/// ([`SimConfig::new`] sets only the seed).
#[derive(Clone)]
pub struct SimConfig {
    /// The run's seed: the network's random draws, every node's identity and every engine's
    /// entropy derive from it.
    pub seed: u64,
    /// Virtual time at which the run starts. `None` means [`stable_start_utc`](crate::stable_start_utc)
    /// (midnight UTC opening the current 8-week window), read from the wall clock when the
    /// simulator is built (OpenMLS checks KeyPackage lifetimes against the
    /// real clock, so simulated time must stay near it). A replay in another window must pass the
    /// start time of the original run; [`Sim::replay_hint`](crate::Sim::replay_hint) prints it.
    pub start: Option<Timestamp>,
    /// The link every pair of nodes uses unless overridden.
    pub link: Link,
    /// Engine parameters of every node that does not override them.
    pub params: EngineParams,
    /// Consensus plugin of every node that does not override it (default: hashgraph).
    pub consensus: Arc<dyn ConsensusFactory>,
    /// Steward policy of every node that does not override it (default: single steward).
    pub policy: Arc<dyn StewardPolicyFactory>,
    /// Keep per-link counters in [`Stats::links`](crate::Stats::links). Off by default: with
    /// thousands of nodes the table grows with the square of the node count.
    pub link_stats: bool,
    /// Keep every trace line in memory ([`Sim::trace_lines`](crate::Sim::trace_lines)), to
    /// diff two runs that should have been identical. Off by default; the digest is always
    /// computed.
    pub keep_trace: bool,
    /// A size-dependent latency model replacing the links' latency ranges (loss and FIFO
    /// order still come from the links). `None` (the default): links decide.
    pub size_latency: Option<SizeLatency>,
    /// CPU metering of engine calls (default: off). [`CpuMode::Charge`] makes runs
    /// non-deterministic: never in tests.
    pub cpu: CpuMode,
}

impl SimConfig {
    /// The default configuration with `seed`.
    pub fn new(seed: u64) -> SimConfig {
        SimConfig {
            seed,
            start: None,
            link: Link::default(),
            params: EngineParams::default(),
            consensus: Arc::new(HashgraphFactory::default()),
            policy: Arc::new(SinglePolicyFactory::new(Default::default())),
            link_stats: false,
            keep_trace: false,
            size_latency: None,
            cpu: CpuMode::Off,
        }
    }

    /// This configuration starting at `start`.
    pub fn with_start(self, start: Timestamp) -> SimConfig {
        SimConfig {
            start: Some(start),
            ..self
        }
    }

    /// This configuration with `link` as the default link.
    pub fn with_link(self, link: Link) -> SimConfig {
        SimConfig { link, ..self }
    }
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig::new(0)
    }
}

impl fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimConfig")
            .field("seed", &self.seed)
            .field("start", &self.start)
            .field("link", &self.link)
            .field("params", &self.params)
            .field("consensus", &self.consensus.name())
            .field("policy", &self.policy.name())
            .field("link_stats", &self.link_stats)
            .field("keep_trace", &self.keep_trace)
            .field("size_latency", &self.size_latency)
            .field("cpu", &self.cpu)
            .finish()
    }
}

/// Per-node overrides of the simulation-wide settings; `None` keeps the default.
#[derive(Clone, Default)]
pub struct NodeOptions {
    /// Engine parameters for this node.
    pub params: Option<EngineParams>,
    /// Consensus plugin for this node.
    pub consensus: Option<Arc<dyn ConsensusFactory>>,
    /// Steward policy for this node.
    pub policy: Option<Arc<dyn StewardPolicyFactory>>,
    /// The node's storage (for instance one with a capacity, to provoke storage failures).
    /// It must be empty or hold this node's own identity.
    pub storage: Option<MemoryStorage>,
}

impl fmt::Debug for NodeOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeOptions")
            .field("params", &self.params)
            .field("consensus", &self.consensus.as_ref().map(|c| c.name()))
            .field("policy", &self.policy.as_ref().map(|p| p.name()))
            .field("storage", &self.storage.as_ref().map(|_| "custom"))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_must_have_a_probability_and_an_ordered_latency_range() {
        assert!(Link::uniform(20, 80).with_loss(0.05).validate().is_ok());
        assert!(Link::fixed(0).with_loss(1.0).validate().is_ok());
        assert!(Link::fixed(5).with_loss(1.5).validate().is_err());
        assert!(Link::fixed(5).with_loss(f64::NAN).validate().is_err());
        assert!(Link::uniform(10, 9).validate().is_err());
    }
}
