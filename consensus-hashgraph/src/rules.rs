//! The decision rules: quorum, majority, unanimity for tiny sets, silent voters at expiration and
//! the tie policy.
//!
//! This module owns the pure functions from vote counts to an outcome and nothing else: it never
//! sees votes, signatures or time. Keeping the rule here, as a function of counts of distinct
//! voters, is what makes a decision independent of arrival order and batching.

/// What to do when the YES and NO counts end up equal.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TiePolicy {
    /// A tie decides NO.
    #[default]
    Reject,
    /// A tie decides [`Outcome::TieRetry`]: the application should open a new proposal.
    Retry,
}

/// Why a proposal failed without a YES/NO decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FailReason {
    /// The proposal expired before votes from a quorum (`ceil(2n/3)` distinct voters) arrived.
    NoQuorum,
}

/// The final result of a proposal. Once reached it never changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Accepted.
    Yes,
    /// Rejected (including a tie under [`TiePolicy::Reject`]).
    No,
    /// Neither: see the reason. Applications must treat this as "nothing changes".
    Failed(FailReason),
    /// YES and NO tied under [`TiePolicy::Retry`]: re-open with a new proposal.
    TieRetry,
}

/// Counts of distinct voters with a counted vote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Tally {
    /// Number of voters, `n`.
    pub voters: u32,
    /// Distinct voters with a counted YES.
    pub yes: u32,
    /// Distinct voters with a counted NO.
    pub no: u32,
    /// Voters whose votes were removed because they voted both ways.
    pub equivocators: u32,
}

impl Tally {
    /// Voters without a counted vote (never voted, or equivocated): `n − yes − no`.
    pub fn silent(&self) -> u32 {
        self.voters.saturating_sub(self.yes + self.no)
    }

    /// The quorum `ceil(2n/3)`.
    pub fn quorum(&self) -> u32 {
        quorum(self.voters)
    }
}

/// `ceil(2n/3)`, computed without overflow for any `u32`.
pub fn quorum(n: u32) -> u32 {
    ((2 * u64::from(n)).div_ceil(3)) as u32
}

fn tie(policy: TiePolicy) -> Outcome {
    match policy {
        TiePolicy::Reject => Outcome::No,
        TiePolicy::Retry => Outcome::TieRetry,
    }
}

/// The decision reachable before expiration, if any.
///
/// * `n > 2`: YES when `2·yes > n` and `yes + no ≥ ceil(2n/3)`; NO when `2·no > n` and
///   `yes + no ≥ ceil(2n/3)`; a tie (policy) when every voter has a counted vote and `yes = no`.
/// * `n ≤ 2`: YES when `yes = n`; NO as soon as `no ≥ 1`.
pub fn decide_live(t: &Tally, policy: TiePolicy) -> Option<Outcome> {
    let n = u64::from(t.voters);
    let (yes, no) = (u64::from(t.yes), u64::from(t.no));
    if n <= 2 {
        if no >= 1 {
            return Some(Outcome::No);
        }
        return (yes == n).then_some(Outcome::Yes);
    }
    let quorate = yes + no >= u64::from(quorum(t.voters));
    if quorate && 2 * yes > n {
        Some(Outcome::Yes)
    } else if quorate && 2 * no > n {
        Some(Outcome::No)
    } else if yes + no == n && yes == no {
        Some(tie(policy))
    } else {
        None
    }
}

/// The decision at expiration (always an outcome).
///
/// Without a quorum of counted votes the proposal fails. Otherwise silent voters are added to YES
/// when `liveness_yes`, else to NO, and the majority (or unanimity for `n ≤ 2`) decides; equality
/// is a tie.
pub fn decide_at_expiry(t: &Tally, liveness_yes: bool, policy: TiePolicy) -> Outcome {
    if t.yes + t.no < quorum(t.voters) {
        return Outcome::Failed(FailReason::NoQuorum);
    }
    let silent = t.silent();
    let (yes, no) = if liveness_yes {
        (t.yes + silent, t.no)
    } else {
        (t.yes, t.no + silent)
    };
    let (n, yes, no) = (u64::from(t.voters), u64::from(yes), u64::from(no));
    if n <= 2 {
        return if yes == n { Outcome::Yes } else { Outcome::No };
    }
    if 2 * yes > n {
        Outcome::Yes
    } else if 2 * no > n {
        Outcome::No
    } else {
        tie(policy)
    }
}

/// True if a tally with at least these counts (an upper bound on the real one) could produce a live
/// decision. Used to decide when queued signatures must be verified right away.
pub fn could_decide_live(upper: &Tally, voted_upper: u32) -> bool {
    let n = u64::from(upper.voters);
    let (yes, no) = (u64::from(upper.yes), u64::from(upper.no));
    if n <= 2 {
        return no >= 1 || yes >= n;
    }
    let quorate = yes + no >= u64::from(quorum(upper.voters));
    (quorate && (2 * yes > n || 2 * no > n)) || voted_upper >= upper.voters
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(voters: u32, yes: u32, no: u32) -> Tally {
        Tally {
            voters,
            yes,
            no,
            equivocators: 0,
        }
    }

    #[test]
    fn quorum_is_the_ceiling_of_two_thirds() {
        let expected = [
            (1, 1),
            (2, 2),
            (3, 2),
            (4, 3),
            (5, 4),
            (6, 4),
            (7, 5),
            (10_000, 6_667),
        ];
        for (n, q) in expected {
            assert_eq!(quorum(n), q, "n={n}");
        }
        assert_eq!(quorum(u32::MAX), 2_863_311_530);
    }

    #[test]
    fn majority_needs_a_quorum_of_votes() {
        // n = 10, q = 7: six YES alone are a majority but not yet a quorum.
        assert_eq!(decide_live(&t(10, 6, 0), TiePolicy::Reject), None);
        assert_eq!(
            decide_live(&t(10, 6, 1), TiePolicy::Reject),
            Some(Outcome::Yes)
        );
        assert_eq!(
            decide_live(&t(10, 1, 6), TiePolicy::Reject),
            Some(Outcome::No)
        );
        assert_eq!(decide_live(&t(10, 5, 4), TiePolicy::Reject), None);
    }

    #[test]
    fn a_full_even_split_is_a_tie_under_each_policy() {
        assert_eq!(
            decide_live(&t(4, 2, 2), TiePolicy::Reject),
            Some(Outcome::No)
        );
        assert_eq!(
            decide_live(&t(4, 2, 2), TiePolicy::Retry),
            Some(Outcome::TieRetry)
        );
        assert_eq!(decide_live(&t(4, 2, 1), TiePolicy::Retry), None);
    }

    #[test]
    fn tiny_sets_need_unanimity() {
        assert_eq!(
            decide_live(&t(1, 1, 0), TiePolicy::Reject),
            Some(Outcome::Yes)
        );
        assert_eq!(
            decide_live(&t(1, 0, 1), TiePolicy::Reject),
            Some(Outcome::No)
        );
        assert_eq!(decide_live(&t(2, 1, 0), TiePolicy::Reject), None);
        assert_eq!(
            decide_live(&t(2, 1, 1), TiePolicy::Retry),
            Some(Outcome::No)
        );
        assert_eq!(
            decide_live(&t(2, 2, 0), TiePolicy::Reject),
            Some(Outcome::Yes)
        );
    }

    #[test]
    fn expiry_without_quorum_fails_and_with_quorum_counts_silent_voters() {
        assert_eq!(
            decide_at_expiry(&t(9, 5, 0), true, TiePolicy::Reject),
            Outcome::Failed(FailReason::NoQuorum)
        );
        // n = 9, q = 6: 3 YES + 3 NO + 3 silent.
        assert_eq!(
            decide_at_expiry(&t(9, 3, 3), true, TiePolicy::Reject),
            Outcome::Yes
        );
        assert_eq!(
            decide_at_expiry(&t(9, 3, 3), false, TiePolicy::Reject),
            Outcome::No
        );
        // n = 8, q = 6: 2 YES + 4 NO + 2 silent counted YES -> 4/4 tie.
        assert_eq!(
            decide_at_expiry(&t(8, 2, 4), true, TiePolicy::Retry),
            Outcome::TieRetry
        );
    }

    #[test]
    fn upper_bound_trigger_covers_every_live_decision() {
        for n in 1..=12 {
            for yes in 0..=n {
                for no in 0..=(n - yes) {
                    let tally = t(n, yes, no);
                    if decide_live(&tally, TiePolicy::Retry).is_some() {
                        assert!(
                            could_decide_live(&tally, yes + no),
                            "n={n} yes={yes} no={no}"
                        );
                    }
                }
            }
        }
    }
}
