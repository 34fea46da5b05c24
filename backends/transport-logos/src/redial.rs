//! When a lost or unreachable static peer is dialled again: an exponential backoff whose every
//! delay is drawn at random around its nominal value.
//!
//! The jitter matters when two nodes list each other as static peers. Started together (or
//! losing their connection together), they would otherwise fail and retry at the same instants
//! for ever; with each delay drawn uniformly from half to one and a half times the backoff,
//! from a generator seeded by the operating system, their retries drift apart.

use std::time::Duration;

use rand::Rng;

/// First redial delay after a static peer is lost (before jitter).
pub(crate) const REDIAL_INITIAL: Duration = Duration::from_millis(500);
/// Longest redial delay (before jitter).
pub(crate) const REDIAL_MAX: Duration = Duration::from_secs(30);
/// The smallest factor a backoff is multiplied by.
const JITTER_MIN: f64 = 0.5;
/// The largest factor a backoff is multiplied by.
const JITTER_MAX: f64 = 1.5;

/// The delay before the next dial: `backoff` times a factor drawn uniformly from
/// [`JITTER_MIN`, `JITTER_MAX`].
pub(crate) fn jittered(backoff: Duration, rng: &mut impl Rng) -> Duration {
    backoff.mul_f64(rng.gen_range(JITTER_MIN..=JITTER_MAX))
}

/// [`jittered`] with the thread's generator (seeded from the operating system).
pub(crate) fn delay(backoff: Duration) -> Duration {
    jittered(backoff, &mut rand::thread_rng())
}

/// The backoff after one more failure: doubled, up to [`REDIAL_MAX`].
pub(crate) fn next_backoff(backoff: Duration) -> Duration {
    (backoff * 2).min(REDIAL_MAX)
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn every_delay_lies_between_half_and_one_and_a_half_times_the_backoff() {
        let mut rng = rand::thread_rng();
        for backoff in [REDIAL_INITIAL, Duration::from_secs(4), REDIAL_MAX] {
            for _ in 0..1000 {
                let d = jittered(backoff, &mut rng);
                assert!(
                    d >= backoff / 2 && d <= backoff * 3 / 2,
                    "{d:?} for {backoff:?}"
                );
            }
        }
    }

    #[test]
    fn two_nodes_redialling_with_the_same_backoff_do_not_stay_in_step() {
        // Two independently seeded generators, as in two processes.
        let (mut a, mut b) = (rand::thread_rng(), rand::rngs::StdRng::from_entropy());
        let (mut at_a, mut at_b) = (Duration::ZERO, Duration::ZERO);
        let mut backoff = REDIAL_INITIAL;
        let mut apart = 0;
        for _ in 0..10 {
            at_a += jittered(backoff, &mut a);
            at_b += jittered(backoff, &mut b);
            if at_a.abs_diff(at_b) > Duration::from_millis(1) {
                apart += 1;
            }
            backoff = next_backoff(backoff);
        }
        assert!(
            apart >= 9,
            "the retries met within 1 ms {} times of 10",
            10 - apart
        );
    }

    #[test]
    fn the_backoff_doubles_up_to_thirty_seconds() {
        assert_eq!(next_backoff(REDIAL_INITIAL), Duration::from_secs(1));
        assert_eq!(next_backoff(Duration::from_secs(20)), REDIAL_MAX);
        assert_eq!(next_backoff(REDIAL_MAX), REDIAL_MAX);
    }
}
