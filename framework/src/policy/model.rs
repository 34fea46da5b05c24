//! Who votes on membership proposals: every member (the big consensus model) or a small
//! electorate the steward policy names (the small model), chosen by group size with `auto`.
//!
//! Both built-in policies use it: the multi-steward policy's electorate is its steward list,
//! the single-steward policy's is the steward and the members next in line after it
//! (`specs/de-mls.md` §7 and §10.9).

use serde::Deserialize;

/// Who votes on membership (add and removal) proposals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConsensusModel {
    /// Every member votes on every proposal (most decentralized; suits small groups).
    Big,
    /// Only a small electorate the policy names votes on adds and removals (and only it opens
    /// them); everyone still votes on steward elections and emergency proposals (suits large
    /// groups).
    Small,
    /// `Big` while the roster has at most `small_consensus_above` members, `Small` above
    /// (decided per epoch from the roster, so every member agrees).
    Auto,
}

impl ConsensusModel {
    /// Whether a roster of `members` votes in the small model, with `small_above` the size
    /// above which `Auto` switches to it.
    pub fn is_small(self, members: usize, small_above: usize) -> bool {
        match self {
            ConsensusModel::Big => false,
            ConsensusModel::Small => true,
            ConsensusModel::Auto => members > small_above,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ConsensusModel;

    #[test]
    fn auto_switches_to_the_small_model_above_the_threshold_only() {
        assert!(!ConsensusModel::Auto.is_small(100, 100));
        assert!(ConsensusModel::Auto.is_small(101, 100));
        assert!(ConsensusModel::Small.is_small(2, 100));
        assert!(!ConsensusModel::Big.is_small(10_000, 100));
    }
}
