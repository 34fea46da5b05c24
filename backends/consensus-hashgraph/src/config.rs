//! `[consensus]` options of `backend = "hashgraph"`.

use consensus_hashgraph::{Config, Mode, TiePolicy};
use serde::Deserialize;

/// Options; every field defaults to the crate's default.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct HashgraphOptions {
    /// `"gossipsub"` (default: proposal once, then each vote alone) or `"p2p"` (proposal
    /// forwarded with its accumulated vote list).
    pub mode: Option<String>,
    /// `"reject"` (default: a tie is NO) or `"retry"` (a tie fails and may be re-proposed).
    pub tie_policy: Option<String>,
    /// Tolerated clock difference between members, ms.
    pub allowed_clock_skew_ms: Option<u64>,
    /// Signatures verified together once this many are queued.
    pub batch_size: Option<usize>,
    /// Longest a queued signature waits for verification, ms.
    pub max_verify_delay_ms: Option<u64>,
    /// How long finished proposals stay in memory, ms.
    pub retention_ms: Option<u64>,
    /// Most proposals held at once.
    pub max_proposals: Option<usize>,
    /// Verify and count votes that arrive after a proposal is decided here (default `false`:
    /// they cannot change a final decision, and skipping them saves about a third of the
    /// signature checks when every member votes; see the crate's `Config`).
    pub count_after_decision: Option<bool>,
}

impl HashgraphOptions {
    /// The crate configuration these options describe.
    pub fn into_config(self) -> Result<Config, demls::ConfigError> {
        let invalid = |message: &str| demls::ConfigError::InvalidValue {
            section: "consensus".into(),
            message: message.into(),
        };
        let mode = match self.mode.as_deref() {
            None | Some("gossipsub") => Mode::Gossipsub,
            Some("p2p") => Mode::P2p,
            Some(_) => return Err(invalid("mode must be \"gossipsub\" or \"p2p\"")),
        };
        let tie_policy = match self.tie_policy.as_deref() {
            None | Some("reject") => TiePolicy::Reject,
            Some("retry") => TiePolicy::Retry,
            Some(_) => return Err(invalid("tie_policy must be \"reject\" or \"retry\"")),
        };
        let mut config = Config {
            mode,
            tie_policy,
            count_after_decision: self.count_after_decision.unwrap_or(false),
            ..Config::default()
        };
        if let Some(v) = self.allowed_clock_skew_ms {
            config.allowed_clock_skew_ms = v;
        }
        if let Some(v) = self.batch_size {
            if v == 0 {
                return Err(invalid("batch_size must be at least 1"));
            }
            config.batch_size = v;
        }
        if let Some(v) = self.max_verify_delay_ms {
            config.max_verify_delay_ms = v;
        }
        if let Some(v) = self.retention_ms {
            config.retention_ms = Some(v);
        }
        if let Some(v) = self.max_proposals {
            config.max_proposals = v.max(1);
        }
        Ok(config)
    }
}
