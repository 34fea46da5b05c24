//! The simulated network between nodes: the default link, directional per-link overrides,
//! the current partition, and per-link FIFO bookkeeping. It decides the fate of one message
//! copy; it never touches engines or the event queue.

use std::collections::BTreeMap;

use demls::Timestamp;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::config::Link;
use crate::error::SimError;
use crate::latency::SizeLatency;
use crate::node::NodeId;
use crate::stats::Fate;

/// The partition side of every node not listed in a partition.
const UNLISTED: usize = usize::MAX;

/// What happens to one copy of a publication.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// It arrives at this time.
    Arrive(Timestamp),
    /// It is dropped now.
    Drop(Fate),
}

/// Links, partition and ordering state.
pub(crate) struct Network {
    default: Link,
    overrides: BTreeMap<(NodeId, NodeId), Link>,
    /// The side of each node listed in the current partition; empty when healed.
    sides: BTreeMap<NodeId, usize>,
    /// Latest scheduled arrival per FIFO link.
    fifo_last: BTreeMap<(NodeId, NodeId), Timestamp>,
    /// When set, latencies are drawn from this model instead of the links' ranges.
    size_latency: Option<SizeLatency>,
}

impl Network {
    pub(crate) fn new(default: Link) -> Network {
        Network {
            default,
            overrides: BTreeMap::new(),
            sides: BTreeMap::new(),
            fifo_last: BTreeMap::new(),
            size_latency: None,
        }
    }

    /// The size-dependent latency model in force, if any.
    pub(crate) fn size_latency(&self) -> Option<SizeLatency> {
        self.size_latency
    }

    /// Installs (or with `None` removes) a size-dependent latency model.
    pub(crate) fn set_size_latency(&mut self, model: Option<SizeLatency>) -> Result<(), SimError> {
        if let Some(m) = &model {
            m.validate()?;
        }
        self.size_latency = model;
        Ok(())
    }

    /// The link from `from` to `to`.
    pub(crate) fn link(&self, from: NodeId, to: NodeId) -> Link {
        self.overrides
            .get(&(from, to))
            .copied()
            .unwrap_or(self.default)
    }

    /// The default link.
    pub(crate) fn default_link(&self) -> Link {
        self.default
    }

    /// Replaces the default link.
    pub(crate) fn set_default(&mut self, link: Link) -> Result<(), SimError> {
        link.validate()?;
        self.default = link;
        Ok(())
    }

    /// Overrides the link from `from` to `to` (one direction only).
    pub(crate) fn set_link(
        &mut self,
        from: NodeId,
        to: NodeId,
        link: Link,
    ) -> Result<(), SimError> {
        link.validate()?;
        self.overrides.insert((from, to), link);
        Ok(())
    }

    /// Removes the override of the link from `from` to `to`.
    pub(crate) fn clear_link(&mut self, from: NodeId, to: NodeId) {
        self.overrides.remove(&(from, to));
    }

    /// Splits the nodes into `sets`; every node not listed joins one further set together.
    pub(crate) fn partition(&mut self, sets: &[Vec<NodeId>]) -> Result<(), SimError> {
        let mut sides = BTreeMap::new();
        for (side, set) in sets.iter().enumerate() {
            for &node in set {
                if sides.insert(node, side).is_some_and(|s| s != side) {
                    return Err(SimError::PartitionOverlap(node));
                }
            }
        }
        self.sides = sides;
        Ok(())
    }

    /// Removes the partition.
    pub(crate) fn heal(&mut self) {
        self.sides.clear();
    }

    /// Whether `a` and `b` are on the same side of the current partition.
    pub(crate) fn connected(&self, a: NodeId, b: NodeId) -> bool {
        let side = |n| self.sides.get(&n).copied().unwrap_or(UNLISTED);
        side(a) == side(b)
    }

    /// Whether a partition is in force.
    pub(crate) fn is_partitioned(&self) -> bool {
        !self.sides.is_empty()
    }

    /// Decides the fate of one copy of `bytes` bytes published by `from` for `to` at `now`.
    /// Checks, in order: partition, a muted sender, a down or deaf receiver, then loss (one
    /// draw when the link is lossy) and latency (one draw when the range is not a single value,
    /// or from the size-dependent model when one is installed).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn route(
        &mut self,
        from: NodeId,
        to: NodeId,
        now: Timestamp,
        sender_muted: bool,
        receiver_listens: bool,
        bytes: usize,
        rng: &mut ChaCha8Rng,
    ) -> Verdict {
        if !self.connected(from, to) {
            return Verdict::Drop(Fate::Partitioned);
        }
        if sender_muted {
            return Verdict::Drop(Fate::Muted);
        }
        if !receiver_listens {
            return Verdict::Drop(Fate::Down);
        }
        let link = self.link(from, to);
        if link.loss > 0.0 && rng.gen_bool(link.loss) {
            return Verdict::Drop(Fate::Lost);
        }
        let latency = if let Some(model) = &self.size_latency {
            model.draw(bytes, rng)
        } else if link.min_ms == link.max_ms {
            link.min_ms
        } else {
            rng.gen_range(link.min_ms..=link.max_ms)
        };
        let mut at = now.plus_ms(latency);
        if link.fifo {
            let last = self.fifo_last.entry((from, to)).or_insert(at);
            at = at.max(*last);
            *last = at;
        }
        Verdict::Arrive(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn rng() -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(1)
    }

    #[test]
    fn unlisted_nodes_share_a_side_of_their_own() {
        let mut net = Network::new(Link::default());
        net.partition(&[vec![NodeId(0), NodeId(1)], vec![NodeId(2)]])
            .expect("disjoint sets");
        assert!(net.connected(NodeId(0), NodeId(1)));
        assert!(!net.connected(NodeId(0), NodeId(2)));
        assert!(net.connected(NodeId(3), NodeId(4)));
        assert!(!net.connected(NodeId(3), NodeId(0)));
        assert!(!net.connected(NodeId(3), NodeId(2)));
        net.heal();
        assert!(!net.is_partitioned());
        assert!(net.connected(NodeId(0), NodeId(2)));
    }

    #[test]
    fn a_node_listed_in_two_sets_is_refused() {
        let mut net = Network::new(Link::default());
        let err = net.partition(&[vec![NodeId(0)], vec![NodeId(1), NodeId(0)]]);
        assert!(matches!(err, Err(SimError::PartitionOverlap(NodeId(0)))));
        assert!(!net.is_partitioned(), "a refused partition changes nothing");
    }

    #[test]
    fn drops_are_decided_partition_first_then_mute_then_receiver() {
        let mut net = Network::new(Link::fixed(5));
        let mut rng = rng();
        let (a, b) = (NodeId(0), NodeId(1));
        assert_eq!(
            net.route(a, b, Timestamp(0), false, true, 0, &mut rng),
            Verdict::Arrive(Timestamp(5))
        );
        assert_eq!(
            net.route(a, b, Timestamp(0), true, false, 0, &mut rng),
            Verdict::Drop(Fate::Muted)
        );
        assert_eq!(
            net.route(a, b, Timestamp(0), false, false, 0, &mut rng),
            Verdict::Drop(Fate::Down)
        );
        net.partition(&[vec![a]]).expect("one set");
        assert_eq!(
            net.route(a, b, Timestamp(0), true, false, 0, &mut rng),
            Verdict::Drop(Fate::Partitioned)
        );
    }

    #[test]
    fn overrides_apply_in_one_direction_only() {
        let mut net = Network::new(Link::fixed(5));
        net.set_link(NodeId(0), NodeId(1), Link::fixed(100))
            .expect("valid link");
        assert_eq!(net.link(NodeId(0), NodeId(1)), Link::fixed(100));
        assert_eq!(net.link(NodeId(1), NodeId(0)), Link::fixed(5));
        net.clear_link(NodeId(0), NodeId(1));
        assert_eq!(net.link(NodeId(0), NodeId(1)), Link::fixed(5));
        assert!(
            net.set_link(NodeId(0), NodeId(1), Link::uniform(9, 1))
                .is_err()
        );
    }

    #[test]
    fn a_fifo_link_never_schedules_a_copy_before_an_earlier_one() {
        let mut net = Network::new(Link::uniform(0, 100).with_fifo(true));
        let mut rng = rng();
        let mut last = Timestamp(0);
        for t in 0..200 {
            match net.route(NodeId(0), NodeId(1), Timestamp(t), false, true, 0, &mut rng) {
                Verdict::Arrive(at) => {
                    assert!(at >= last && at >= Timestamp(t));
                    last = at;
                }
                Verdict::Drop(f) => panic!("lossless link dropped a copy: {f:?}"),
            }
        }
    }
}
