//! `[steward]` options of `backend = "multi"`, with the defaults and what each one costs.

use serde::Deserialize;

pub use crate::policy::ConsensusModel;

/// Multi-steward policy options. Every field has a default.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct MultiPolicyConfig {
    /// Smallest steward list when the group has at least this many eligible members.
    pub sn_min: usize,
    /// Largest steward list.
    pub sn_max: usize,
    /// The freeze window Δ in milliseconds: how long the epoch steward waits after a proposal
    /// is decided before committing.
    pub commit_delay_ms: u64,
    /// How long each steward in line gets to commit before the next one may (Layer 1
    /// rotation), in milliseconds.
    pub commit_timeout_ms: u64,
    /// How long members collect competing commits for an epoch before applying the best.
    pub selection_window_ms: u64,
    /// Re-elections tried before a deadlock emergency proposal (Layer 3).
    pub max_reelection_attempts: u32,
    /// The shorter inactivity timer used during re-elections and recovery, in milliseconds.
    pub recovery_timeout_ms: u64,
    /// Who votes on membership proposals.
    pub consensus_model: ConsensusModel,
    /// With `consensus_model = "auto"`: the roster size above which only stewards vote on adds
    /// and removals.
    pub small_consensus_above: usize,
    /// Score every member starts with.
    pub default_score: i32,
    /// A member scoring below this is proposed for removal by an emergency proposal.
    pub threshold_score: i32,
    /// Penalty for a commit that applies unapproved or mismatched changes, or is unauthorized.
    pub penalty_broken_commit: i32,
    /// Penalty for a commit that lost selection with a different proposal sequence.
    pub penalty_conflicting_commit: i32,
    /// Penalty for a steward that let its turn pass with proposals ready.
    pub penalty_inactivity: i32,
    /// Penalty for the owner of an emergency proposal the group rejected.
    pub penalty_false_emergency: i32,
    /// Penalty for claiming another member's leave (a removal without a vote).
    pub penalty_forged_leave: i32,
    /// Reward for a steward whose commit is applied.
    pub reward_commit: i32,
    /// Reward for the owner of an emergency proposal the group accepted.
    pub reward_emergency: i32,
}

impl Default for MultiPolicyConfig {
    fn default() -> Self {
        MultiPolicyConfig {
            sn_min: 3,
            sn_max: 7,
            commit_delay_ms: 200,
            commit_timeout_ms: 2_000,
            selection_window_ms: 300,
            max_reelection_attempts: 3,
            recovery_timeout_ms: 1_000,
            consensus_model: ConsensusModel::Auto,
            small_consensus_above: 100,
            default_score: 100,
            threshold_score: 50,
            penalty_broken_commit: 60,
            penalty_conflicting_commit: 20,
            penalty_inactivity: 15,
            penalty_false_emergency: 20,
            penalty_forged_leave: 60,
            reward_commit: 5,
            reward_emergency: 10,
        }
    }
}

impl MultiPolicyConfig {
    /// The delay between members' turns to open a proposal that every member would open (a
    /// re-election, an emergency proposal): a quarter of the recovery timer, so the first
    /// member's proposal normally reaches the others before their turn.
    pub fn stagger_ms(&self) -> u64 {
        self.recovery_timeout_ms / 4
    }

    /// Checks the options' consistency.
    pub fn validate(&self) -> Result<(), crate::steward::PolicyError> {
        let bad = |m: &str| Err(crate::steward::PolicyError::Config(m.into()));
        if self.sn_min == 0 || self.sn_max < self.sn_min {
            return bad("`sn_min` and `sn_max` need 1 <= sn_min <= sn_max");
        }
        if self.commit_timeout_ms == 0 {
            return bad("`commit_timeout_ms` must be at least 1");
        }
        if self.recovery_timeout_ms == 0 {
            return bad("`recovery_timeout_ms` must be at least 1");
        }
        if self.threshold_score >= self.default_score {
            return bad("`threshold_score` must be below `default_score`");
        }
        Ok(())
    }
}
