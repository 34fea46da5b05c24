//! Size-dependent latency: a per-copy delay that grows with the message, shaped after
//! measurements of Waku relay (libp2p gossipsub) networks.
//!
//! The default network draws each copy's latency uniformly from its [`Link`](crate::Link)'s
//! range, whatever the size. With a [`SizeLatency`] installed
//! ([`SimConfig::size_latency`](crate::SimConfig::size_latency) or
//! [`Sim::set_size_latency`](crate::Sim::set_size_latency)), the latency of every copy is drawn
//! from this model instead; the link still decides loss and FIFO order, and partitions, muting
//! and crashes apply as before.
//!
//! ## The model
//!
//! A copy of a message of `b` bytes is delayed by a log-normal draw with
//!
//! - mean `m(b) = base_mean_ms × max(1, b / base_bytes)` — flat for small messages, then
//!   proportional to the size (store-and-forward over a few gossip hops is bandwidth-bound);
//! - shape `σ = sigma` (so the median is `m(b) / e^(σ²/2)`);
//! - clipped to `floor_ms ..= cap_factor × m(b)`.
//!
//! [`SizeLatency::waku`] anchors it on the published Waku relay figures: 1,000 relay nodes,
//! 1 KB messages, average 0.05 s and maximum 1.6 s; 10 KB messages, mean ≈ 0.5 s. That gives
//! `base_mean_ms = 50`, `base_bytes = 1024`, `cap_factor = 32` (1.6 s at 1 KB), `σ = 1`
//! (≈ 4 in 100,000 copies of a 1 KB message would exceed 1.6 s without the cap) and a 10 ms
//! floor (one network hop). Above 10 KB the size proportionality is an extrapolation: a
//! 100 KB message gets a 5 s mean.

use rand::Rng;

use crate::error::SimError;
use crate::sim::Sim;

/// A per-copy latency model whose mean grows with the message size (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SizeLatency {
    /// Mean latency, in milliseconds, of a message of at most `base_bytes` bytes.
    pub base_mean_ms: f64,
    /// Size in bytes above which the mean grows in proportion to the size.
    pub base_bytes: usize,
    /// Shape of the log-normal distribution (standard deviation of the log).
    pub sigma: f64,
    /// Shortest latency, in milliseconds.
    pub floor_ms: u64,
    /// Longest latency, as a multiple of the mean for the message's size.
    pub cap_factor: f64,
}

impl SizeLatency {
    /// The model anchored on Waku relay measurements: mean 50 ms up to 1 KiB, 50 ms more per
    /// KiB above it (≈ 0.5 s at 10 KB), log-normal with σ = 1, at least 10 ms, at most 32 times
    /// the mean (1.6 s at 1 KiB).
    pub fn waku() -> SizeLatency {
        SizeLatency {
            base_mean_ms: 50.0,
            base_bytes: 1024,
            sigma: 1.0,
            floor_ms: 10,
            cap_factor: 32.0,
        }
    }

    /// The mean latency (before clipping) of a message of `bytes` bytes, in milliseconds.
    pub fn mean_ms(&self, bytes: usize) -> f64 {
        let scale = (bytes as f64 / self.base_bytes.max(1) as f64).max(1.0);
        self.base_mean_ms * scale
    }

    /// The longest latency of a message of `bytes` bytes, in milliseconds.
    pub fn cap_ms(&self, bytes: usize) -> u64 {
        (self.mean_ms(bytes) * self.cap_factor).round() as u64
    }

    /// Draws the latency of one copy of a message of `bytes` bytes, in milliseconds.
    pub fn draw(&self, bytes: usize, rng: &mut impl Rng) -> u64 {
        let mean = self.mean_ms(bytes);
        let mu = mean.ln() - self.sigma * self.sigma / 2.0;
        let x = (mu + self.sigma * standard_normal(rng)).exp();
        (x.round() as u64).clamp(self.floor_ms, self.cap_ms(bytes).max(self.floor_ms))
    }

    /// Checks that every parameter is finite and in range.
    pub fn validate(&self) -> Result<(), SimError> {
        let ok = self.base_mean_ms.is_finite()
            && self.base_mean_ms > 0.0
            && self.base_bytes > 0
            && self.sigma.is_finite()
            && self.sigma >= 0.0
            && self.cap_factor.is_finite()
            && self.cap_factor >= 1.0;
        if ok {
            Ok(())
        } else {
            Err(SimError::InvalidLink {
                reason: "size latency: positive finite mean and size, sigma ≥ 0, cap factor ≥ 1",
            })
        }
    }
}

impl Sim {
    /// Installs (or with `None` removes) a size-dependent latency model for copies sent from
    /// now on (see [`SizeLatency`]).
    pub fn set_size_latency(&mut self, model: Option<SizeLatency>) -> Result<(), SimError> {
        self.network.set_size_latency(model)
    }

    /// The size-dependent latency model in force, if any.
    pub fn size_latency(&self) -> Option<SizeLatency> {
        self.network.size_latency()
    }
}

/// One standard normal draw (Box–Muller; two uniform draws).
fn standard_normal(rng: &mut impl Rng) -> f64 {
    // 1 - u lies in (0, 1], so its logarithm is finite.
    let u1: f64 = 1.0 - rng.r#gen::<f64>();
    let u2: f64 = rng.r#gen::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn sample_mean(model: &SizeLatency, bytes: usize) -> (f64, u64, u64) {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let draws: Vec<u64> = (0..20_000).map(|_| model.draw(bytes, &mut rng)).collect();
        let mean = draws.iter().sum::<u64>() as f64 / draws.len() as f64;
        let min = draws.iter().copied().min().unwrap_or(0);
        let max = draws.iter().copied().max().unwrap_or(0);
        (mean, min, max)
    }

    #[test]
    fn the_waku_model_meets_its_anchors() {
        let waku = SizeLatency::waku();
        assert!(waku.validate().is_ok());
        let (mean, min, max) = sample_mean(&waku, 300);
        assert!((45.0..60.0).contains(&mean), "1 KB mean {mean}");
        assert!(min >= 10 && max <= 1_600, "{min}..{max}");
        let (mean10, _, _) = sample_mean(&waku, 10 * 1024);
        assert!((450.0..560.0).contains(&mean10), "10 KB mean {mean10}");
        assert_eq!(waku.mean_ms(100), waku.mean_ms(1024));
    }

    #[test]
    fn invalid_models_are_refused() {
        let bad = SizeLatency {
            sigma: f64::NAN,
            ..SizeLatency::waku()
        };
        assert!(bad.validate().is_err());
        let bad = SizeLatency {
            cap_factor: 0.5,
            ..SizeLatency::waku()
        };
        assert!(bad.validate().is_err());
    }
}
