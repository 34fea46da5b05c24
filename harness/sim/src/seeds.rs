//! Everything random or clock-derived in a run comes from here: the per-node identity and
//! entropy seeds and the network RNG, all derived from the run's seed, and the default start
//! time (the only wall-clock read in the crate).
//!
//! Derivations are domain-separated SHA-256 so that changing one node's incarnation, or adding
//! a node, never shifts the seeds of the others.

use demls::Timestamp;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::node::NodeId;

const DAY_MS: u64 = 86_400_000;

fn derive(label: &[u8], run_seed: u64, parts: &[u64]) -> [u8; 32] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(b"demls-sim/");
    ctx.update(label);
    ctx.update(&run_seed.to_be_bytes());
    for part in parts {
        ctx.update(&part.to_be_bytes());
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// The identity seed of `node`: the same in every incarnation, so a restarted node is the same
/// member.
pub(crate) fn identity_seed(run_seed: u64, node: NodeId) -> [u8; 32] {
    derive(b"identity", run_seed, &[node.0 as u64])
}

/// The entropy seed of `node`'s engine in `incarnation` (fresh for every restart, as a real
/// process would have fresh randomness).
pub(crate) fn entropy_seed(run_seed: u64, node: NodeId, incarnation: u64) -> [u8; 32] {
    derive(b"entropy", run_seed, &[node.0 as u64, incarnation])
}

/// The identity seed of the `index`-th light member (see `light.rs`).
pub(crate) fn light_seed(run_seed: u64, index: u64) -> [u8; 32] {
    derive(b"light", run_seed, &[index])
}

/// The entropy seed of the light-member pool (its KeyPackages' keys).
pub(crate) fn light_entropy_seed(run_seed: u64) -> [u8; 32] {
    derive(b"light-entropy", run_seed, &[])
}

/// The network's random number generator (loss and latency draws).
pub(crate) fn network_rng(run_seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::from_seed(derive(b"network", run_seed, &[]))
}

/// How long one default start time stays in use: 8 weeks, well inside the 12-week validity of
/// the KeyPackages and leaf nodes an engine signs at its (virtual) start.
const START_WINDOW_MS: u64 = 56 * DAY_MS;

/// The default start of a simulation: midnight UTC at the beginning of the current 8-week
/// window (counted from the Unix epoch), from the wall clock.
///
/// OpenMLS checks KeyPackage lifetimes against the real clock, so virtual time must start near
/// it; rounding down to a long window keeps a seeded run identical for weeks instead of
/// changing every midnight, so a seed that passed yesterday replays the same today.
pub fn stable_start_utc() -> Timestamp {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    Timestamp(now_ms - now_ms % START_WINDOW_MS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngCore;

    #[test]
    fn seeds_are_stable_and_distinct_per_node_incarnation_and_run() {
        assert_eq!(identity_seed(1, NodeId(2)), identity_seed(1, NodeId(2)));
        assert_ne!(identity_seed(1, NodeId(2)), identity_seed(1, NodeId(3)));
        assert_ne!(identity_seed(1, NodeId(2)), identity_seed(2, NodeId(2)));
        assert_ne!(entropy_seed(1, NodeId(2), 0), entropy_seed(1, NodeId(2), 1));
        assert_ne!(entropy_seed(1, NodeId(2), 0), identity_seed(1, NodeId(2)));
        assert_eq!(network_rng(9).next_u64(), network_rng(9).next_u64());
        assert_ne!(network_rng(9).next_u64(), network_rng(10).next_u64());
    }

    #[test]
    fn the_default_start_is_a_midnight_at_most_eight_weeks_ago() {
        let start = stable_start_utc();
        assert_eq!(start.0 % DAY_MS, 0);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        assert!(now >= start.0 && now - start.0 < START_WINDOW_MS + 1_000);
    }
}
