//! Peer scoring (LIP-104): each member keeps its own table; violations it observes lower a
//! member's score, honest work raises it back (never above the default); a score below the
//! threshold makes this member propose the offender's removal.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::config::MultiPolicyConfig;
use crate::proposal::Violation;
use crate::types::MemberId;

/// One member's local score table.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scores {
    table: BTreeMap<MemberId, i32>,
}

impl Scores {
    /// The score of `member`.
    pub fn get(&self, config: &MultiPolicyConfig, member: &MemberId) -> i32 {
        self.table
            .get(member)
            .copied()
            .unwrap_or(config.default_score)
    }

    /// Applies `delta`, capping at the default score.
    pub fn adjust(&mut self, config: &MultiPolicyConfig, member: &MemberId, delta: i32) -> i32 {
        let score = (self.get(config, member) + delta).min(config.default_score);
        if score == config.default_score {
            self.table.remove(member);
        } else {
            self.table.insert(*member, score);
        }
        score
    }

    /// The penalty a violation costs.
    pub fn penalty(config: &MultiPolicyConfig, violation: Violation) -> i32 {
        match violation {
            Violation::BrokenCommit => config.penalty_broken_commit,
            Violation::ConflictingCommit => config.penalty_conflicting_commit,
            Violation::Inactivity => config.penalty_inactivity,
            Violation::Deadlock => 0,
            Violation::ForgedLeave => config.penalty_forged_leave,
        }
    }

    /// True when `member` is below the removal threshold.
    pub fn below_threshold(&self, config: &MultiPolicyConfig, member: &MemberId) -> bool {
        self.get(config, member) < config.threshold_score
    }

    /// True when this member has seen `member` misbehave at all.
    pub fn has_violations(&self, config: &MultiPolicyConfig, member: &MemberId) -> bool {
        self.get(config, member) < config.default_score
    }

    /// Forgets members no longer in the group.
    pub fn retain(&mut self, keep: impl Fn(&MemberId) -> bool) {
        self.table.retain(|m, _| keep(m));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_fall_with_violations_recover_with_work_and_never_exceed_the_default() {
        let c = MultiPolicyConfig::default();
        let mut s = Scores::default();
        let m = MemberId([1; 20]);
        assert_eq!(s.get(&c, &m), 100);
        s.adjust(&c, &m, -Scores::penalty(&c, Violation::BrokenCommit));
        assert!(s.below_threshold(&c, &m));
        s.adjust(&c, &m, 500);
        assert_eq!(s.get(&c, &m), 100);
        assert!(!s.has_violations(&c, &m));
    }
}
