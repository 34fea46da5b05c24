//! The link model the switch applies to each packet: per directed link a latency drawn
//! uniformly in `latency ± jitter`, a loss probability, per-link overrides, and the current
//! partition. This module owns the model's state and its random draws; it moves no packets.

use std::collections::HashMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

use crate::scenario::{LinkOverride, Network};

/// A link's parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Link {
    /// Mean one-way latency, ms.
    pub latency_ms: f64,
    /// Half-width of the uniform latency spread, ms.
    pub jitter_ms: f64,
    /// Loss probability per packet.
    pub loss: f64,
}

/// What happens to one packet.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fate {
    /// Delivered after this many microseconds.
    Deliver(u64),
    /// Dropped at random (loss).
    Lost,
    /// Dropped by the partition.
    Partitioned,
}

/// The model: the default link, overrides, the partition, the RNG.
#[derive(Debug)]
pub struct Model {
    default: Link,
    overrides: HashMap<(usize, usize), LinkOverride>,
    /// Set number of each member while partitioned.
    sides: Option<Vec<usize>>,
    members: usize,
    rng: ChaCha20Rng,
}

impl Model {
    /// The scenario's network for `members` members, drawing from a ChaCha RNG seeded with
    /// `seed`.
    pub fn new(network: &Network, members: usize, seed: u64) -> Model {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        // A stream of its own, apart from the plan's.
        rng.set_stream(7);
        Model {
            default: Link {
                latency_ms: network.latency_ms,
                jitter_ms: network.jitter_ms,
                loss: network.loss,
            },
            overrides: network
                .links
                .iter()
                .map(|l| ((l.from, l.to), l.clone()))
                .collect(),
            sides: None,
            members,
            rng,
        }
    }

    /// The link from `from` to `to` now.
    pub fn link(&self, from: usize, to: usize) -> Link {
        let d = self.default;
        match self.overrides.get(&(from, to)) {
            None => d,
            Some(o) => Link {
                latency_ms: o.latency_ms.unwrap_or(d.latency_ms),
                jitter_ms: o.jitter_ms.unwrap_or(d.jitter_ms),
                loss: o.loss.unwrap_or(d.loss),
            },
        }
    }

    /// Splits the members into `sets`; members not listed form one more set.
    pub fn partition(&mut self, sets: &[Vec<usize>]) {
        let mut sides = vec![sets.len(); self.members];
        for (n, set) in sets.iter().enumerate() {
            for &m in set {
                if let Some(s) = sides.get_mut(m) {
                    *s = n;
                }
            }
        }
        self.sides = Some(sides);
    }

    /// Removes the partition.
    pub fn heal(&mut self) {
        self.sides = None;
    }

    /// Changes the default link's loss.
    pub fn set_loss(&mut self, loss: f64) {
        self.default.loss = loss;
    }

    /// Changes the default link's latency and jitter.
    pub fn set_latency(&mut self, latency_ms: f64, jitter_ms: f64) {
        self.default.latency_ms = latency_ms;
        self.default.jitter_ms = jitter_ms;
    }

    /// Decides one packet's fate from `from` to `to`.
    pub fn fate(&mut self, from: usize, to: usize) -> Fate {
        if let Some(sides) = &self.sides
            && sides.get(from) != sides.get(to)
        {
            return Fate::Partitioned;
        }
        let link = self.link(from, to);
        if link.loss > 0.0 && self.rng.r#gen::<f64>() < link.loss {
            return Fate::Lost;
        }
        let spread = link.jitter_ms.max(0.0);
        let ms = if spread > 0.0 {
            link.latency_ms + self.rng.gen_range(-spread..=spread)
        } else {
            link.latency_ms
        };
        Fate::Deliver((ms.max(0.0) * 1000.0) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(loss: f64) -> Network {
        Network {
            latency_ms: 50.0,
            jitter_ms: 10.0,
            loss,
            links: vec![LinkOverride {
                from: 0,
                to: 1,
                latency_ms: Some(200.0),
                jitter_ms: Some(0.0),
                loss: None,
            }],
        }
    }

    #[test]
    fn latencies_stay_within_jitter_and_overrides_win() {
        let mut m = Model::new(&net(0.0), 3, 1);
        for _ in 0..1000 {
            let Fate::Deliver(us) = m.fate(1, 2) else {
                panic!("lost without loss")
            };
            assert!((40_000..=60_000).contains(&us), "{us}");
        }
        assert_eq!(m.fate(0, 1), Fate::Deliver(200_000));
    }

    #[test]
    fn loss_drops_about_its_share_and_partitions_drop_across_sets_only() {
        let mut m = Model::new(&net(0.2), 5, 2);
        let lost = (0..10_000).filter(|_| m.fate(2, 3) == Fate::Lost).count();
        assert!((1_700..2_300).contains(&lost), "{lost}");
        m.set_loss(0.0);
        m.partition(&[vec![0, 1]]);
        assert_eq!(m.fate(0, 2), Fate::Partitioned);
        assert_eq!(m.fate(4, 1), Fate::Partitioned);
        assert!(matches!(m.fate(2, 4), Fate::Deliver(_)));
        m.heal();
        assert!(matches!(m.fate(0, 2), Fate::Deliver(_)));
    }
}
