//! Engine configuration: dissemination mode, tie policy, time windows and every bound.
//!
//! This module owns the knobs and their defaults; it does not interpret them (the engine and the
//! validation code do). All durations are milliseconds, like every timestamp in this crate.

use crate::rules::{TiePolicy, quorum};

/// How proposals and votes are disseminated; fixes the largest acceptable `round`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Everyone hears every broadcast: the proposal is sent once, then each member sends its own vote
    /// alone (or the proposal with at most two votes). `round ≤ 2`.
    #[default]
    Gossipsub,
    /// The proposal is forwarded peer to peer with the accumulated vote list; `round` = number of
    /// votes, at most `ceil(2n/3)`. Receivers check the hash chains over the list.
    P2p,
}

impl Mode {
    /// Largest `round` (= number of votes in one proposal message) accepted for `n` voters.
    pub fn round_limit(self, voters: u32) -> u32 {
        match self {
            Mode::Gossipsub => 2,
            Mode::P2p => quorum(voters).max(1),
        }
    }
}

/// Configuration of a [`crate::Consensus`] engine. Every field has a sensible default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Dissemination mode (default: gossipsub).
    pub mode: Mode,
    /// Tie policy (default: reject). Must be the same at every peer.
    pub tie_policy: TiePolicy,
    /// Tolerated clock difference between peers, ms (default 30 s). A proposal is accepted from
    /// `timestamp − skew`; a vote may be stamped up to `skew` before the proposal or after `now`.
    pub allowed_clock_skew_ms: u64,
    /// Longest accepted `expiration_timestamp − timestamp`, ms (default 24 h).
    pub max_lifetime_ms: u64,
    /// How long a forgotten proposal's digest is still refused as a replay, ms (default 24 h). The
    /// digest is in any case remembered until its proposal's expiration.
    pub replay_window_ms: u64,
    /// Most digests remembered for replay protection (default 65 536). When full, the entry whose
    /// protection ends first is dropped.
    pub replay_capacity: usize,
    /// How long a finished proposal stays in memory before [`crate::Consensus::tick`] forgets it,
    /// ms (default 5 min). `None` keeps finished proposals until [`crate::Consensus::forget`].
    pub retention_ms: Option<u64>,
    /// Queued signatures are verified as soon as this many are waiting (default 4096). Smaller
    /// batches verify sooner but cost more per signature (ed25519-dalek's multiscalar multiplication gets
    /// cheaper per point up to a few thousand points). Decisions never depend on it.
    pub batch_size: usize,
    /// Queued signatures wait at most this long before `tick` verifies them, ms (default 200).
    pub max_verify_delay_ms: u64,
    /// Most proposals held in memory at once, live or finished (default 1 024). A new proposal
    /// beyond it is refused until `tick` or `forget` frees room.
    pub max_proposals: usize,
    /// Most votes stored per voter and proposal (default 4, at least 2): further re-sends of the
    /// same value are refused, so one voter cannot grow a proposal's state without bound. A vote
    /// with the other value is always taken (it proves equivocation); after that the voter's votes
    /// are refused.
    pub max_votes_per_voter: usize,
    /// Most early votes (whose proposal has not arrived) held per proposal digest (default 16 384).
    pub buffer_per_proposal: usize,
    /// Most early votes held in total (default 65 536).
    pub buffer_total: usize,
    /// Largest accepted `payload`, bytes (default 1 MiB).
    pub max_payload_bytes: usize,
    /// Largest accepted `name`, bytes (default 1 KiB).
    pub max_name_bytes: usize,
    /// Whether votes that arrive after a proposal is decided here are still verified and
    /// counted (default `true`: the tally keeps growing and an equivocation after the
    /// decision is detected). With `false` they are checked for shape and voter binding only,
    /// neither verified nor stored: they cannot change a final decision, and a certificate is
    /// made of the verified votes that reached it. When every member votes, about a third of
    /// the votes arrive after the decision, so this saves that third of the verification.
    pub count_after_decision: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            mode: Mode::Gossipsub,
            tie_policy: TiePolicy::Reject,
            allowed_clock_skew_ms: 30_000,
            max_lifetime_ms: 24 * 3_600_000,
            replay_window_ms: 24 * 3_600_000,
            replay_capacity: 65_536,
            retention_ms: Some(5 * 60_000),
            batch_size: 4096,
            max_votes_per_voter: 4,
            max_proposals: 1024,
            max_verify_delay_ms: 200,
            buffer_per_proposal: 16_384,
            buffer_total: 65_536,
            max_payload_bytes: 1 << 20,
            max_name_bytes: 1024,
            count_after_decision: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_limits_follow_the_mode() {
        assert_eq!(Mode::Gossipsub.round_limit(100), 2);
        assert_eq!(Mode::P2p.round_limit(100), 67);
        assert_eq!(Mode::P2p.round_limit(1), 1);
    }
}
