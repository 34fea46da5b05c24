//! The backoff of peers rejected for their cluster. A peer whose metadata names another cluster
//! (or none) is disconnected and then refused for a while: 1 s after its first rejection,
//! doubling on each rejection up to 5 min, back to 1 s once it has stayed away for 10 min after
//! its last backoff ended. Without it a misconfigured node that redials at once (js-waku does,
//! ~90 times a second) makes every connection repeat the handshake and the metadata exchange.
//!
//! This module owns the table and its counters. It is pure: every call is given the time, so
//! tests run on an injected clock. It must not touch the swarm: [`Gate`](crate::gate::Gate)
//! applies it to connections and the node's task records rejections.
//!
//! The table holds at most [`Policy::capacity`] peers, so an attacker cycling peer ids cannot
//! grow it without limit (each new id also costs it a full handshake). When full, peers that
//! have been quiet long enough to be forgotten anyway go first; then the peer whose backoff
//! ends soonest, so a persistent offender on a long backoff outlives a crowd of fresh ids.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use libp2p::PeerId;

/// The backoff's parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Policy {
    /// The backoff after a first rejection (or one after a quiet period).
    pub initial: Duration,
    /// The longest backoff.
    pub max: Duration,
    /// How long a peer must stay away after its backoff ended to start again at `initial`.
    pub quiet: Duration,
    /// The most peers remembered.
    pub capacity: usize,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(5 * 60),
            quiet: Duration::from_secs(10 * 60),
            capacity: 1024,
        }
    }
}

/// One remembered peer.
#[derive(Clone, Copy, Debug)]
struct Entry {
    /// The backoff given at its last rejection.
    backoff: Duration,
    /// When that backoff ends.
    until: Instant,
}

/// Peers rejected for their cluster, and until when each is refused.
#[derive(Debug)]
pub(crate) struct ClusterBackoff {
    policy: Policy,
    peers: HashMap<PeerId, Entry>,
    rejections: u64,
    refused: u64,
}

impl ClusterBackoff {
    /// An empty table.
    pub fn new(policy: Policy) -> ClusterBackoff {
        ClusterBackoff {
            policy,
            peers: HashMap::new(),
            rejections: 0,
            refused: 0,
        }
    }

    /// Records that `peer` was found to be of another cluster at `now` and returns the backoff
    /// it starts. `None` when the peer is already under backoff (the second metadata message
    /// of the same connection, or a connection opened before the first rejection): that is
    /// the same offence, neither counted again nor lengthened.
    pub fn reject(&mut self, peer: PeerId, now: Instant) -> Option<Duration> {
        let backoff = match self.peers.get(&peer) {
            Some(e) if now < e.until => return None,
            Some(e) if self.is_forgotten(e, now) => self.policy.initial,
            Some(e) => e.backoff.saturating_mul(2).min(self.policy.max),
            None => {
                self.make_room(now);
                self.policy.initial
            }
        };
        self.peers.insert(
            peer,
            Entry {
                backoff,
                until: now + backoff,
            },
        );
        self.rejections += 1;
        Some(backoff)
    }

    /// Whether a connection with `peer` must be refused at `now`; a refusal is counted.
    pub fn refuse(&mut self, peer: &PeerId, now: Instant) -> bool {
        let refused = self.blocked_until(peer, now).is_some();
        if refused {
            self.refused += 1;
        }
        refused
    }

    /// When `peer`'s backoff ends, if it is under one at `now` (not counted as a refusal).
    pub fn blocked_until(&self, peer: &PeerId, now: Instant) -> Option<Instant> {
        self.peers
            .get(peer)
            .map(|e| e.until)
            .filter(|until| now < *until)
    }

    /// Forgets `peer` (its metadata now names our cluster).
    pub fn forgive(&mut self, peer: &PeerId) {
        self.peers.remove(peer);
    }

    /// Rejections recorded so far (one per offence, see [`reject`](Self::reject)).
    pub fn rejections(&self) -> u64 {
        self.rejections
    }

    /// Connections refused so far because the peer was under backoff.
    pub fn refused(&self) -> u64 {
        self.refused
    }

    /// Peers under backoff at `now`.
    pub fn blocked(&self, now: Instant) -> usize {
        self.peers.values().filter(|e| now < e.until).count()
    }

    /// Peers remembered (under backoff or not yet forgotten).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.peers.len()
    }

    /// Whether `e`'s peer has been quiet long enough after its backoff to start afresh.
    fn is_forgotten(&self, e: &Entry, now: Instant) -> bool {
        now.saturating_duration_since(e.until) >= self.policy.quiet
    }

    /// Makes room for one more peer: drops the forgotten ones, then, if still full, the one
    /// whose backoff ends first.
    fn make_room(&mut self, now: Instant) {
        if self.peers.len() < self.policy.capacity {
            return;
        }
        let quiet = self.policy.quiet;
        self.peers
            .retain(|_, e| now.saturating_duration_since(e.until) < quiet);
        while self.peers.len() >= self.policy.capacity.max(1) {
            let Some(soonest) = self
                .peers
                .iter()
                .min_by_key(|(_, e)| e.until)
                .map(|(peer, _)| *peer)
            else {
                break;
            };
            tracing::debug!(peer = %soonest, "cluster backoff table full: forgetting a peer");
            self.peers.remove(&soonest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn policy(capacity: usize) -> Policy {
        Policy {
            initial: S,
            max: 8 * S,
            quiet: 60 * S,
            capacity,
        }
    }

    #[test]
    fn a_rejected_peer_is_refused_until_its_backoff_ends_and_each_refusal_is_counted() {
        let t0 = Instant::now();
        let mut table = ClusterBackoff::new(policy(16));
        let peer = PeerId::random();
        assert!(!table.refuse(&peer, t0), "an unknown peer is admitted");
        assert_eq!(table.reject(peer, t0), Some(S));
        assert!(table.refuse(&peer, t0));
        assert!(table.refuse(&peer, t0 + S / 2));
        assert!(
            !table.refuse(&peer, t0 + S),
            "admitted again when the backoff ends"
        );
        assert_eq!((table.rejections(), table.refused()), (1, 2));
        assert_eq!(table.blocked_until(&peer, t0), Some(t0 + S));
        assert!(
            !table.refuse(&PeerId::random(), t0),
            "others are not affected"
        );
    }

    #[test]
    fn each_new_rejection_doubles_the_backoff_up_to_the_cap() {
        let mut now = Instant::now();
        let mut table = ClusterBackoff::new(policy(16));
        let peer = PeerId::random();
        let mut given = Vec::new();
        for _ in 0..7 {
            let backoff = table.reject(peer, now).unwrap();
            given.push(backoff.as_secs());
            now += backoff;
        }
        assert_eq!(given, vec![1, 2, 4, 8, 8, 8, 8]);
        assert_eq!(table.rejections(), 7);
    }

    #[test]
    fn a_second_rejection_during_the_backoff_is_the_same_offence() {
        let t0 = Instant::now();
        let mut table = ClusterBackoff::new(policy(16));
        let peer = PeerId::random();
        assert_eq!(table.reject(peer, t0), Some(S));
        assert_eq!(table.reject(peer, t0 + S / 10), None);
        assert_eq!(
            table.blocked_until(&peer, t0),
            Some(t0 + S),
            "not lengthened"
        );
        assert_eq!(table.rejections(), 1);
        assert_eq!(table.reject(peer, t0 + S), Some(2 * S));
    }

    #[test]
    fn the_backoff_starts_again_at_the_initial_delay_after_a_long_quiet_period() {
        let t0 = Instant::now();
        let mut table = ClusterBackoff::new(policy(16));
        let peer = PeerId::random();
        table.reject(peer, t0);
        table.reject(peer, t0 + S);
        let until = t0 + 3 * S;
        assert_eq!(table.blocked_until(&peer, t0 + S), Some(until));
        assert_eq!(
            table.reject(peer, until + 59 * S),
            Some(4 * S),
            "not quiet long enough yet"
        );
        let until = until + 63 * S;
        assert_eq!(table.reject(peer, until + 60 * S), Some(S), "reset");
    }

    #[test]
    fn a_forgiven_peer_starts_afresh() {
        let t0 = Instant::now();
        let mut table = ClusterBackoff::new(policy(16));
        let peer = PeerId::random();
        table.reject(peer, t0);
        table.forgive(&peer);
        assert!(!table.refuse(&peer, t0));
        assert_eq!(table.reject(peer, t0 + S), Some(S));
    }

    #[test]
    fn the_table_is_bounded_and_evicts_the_peer_released_soonest() {
        let t0 = Instant::now();
        let mut table = ClusterBackoff::new(policy(4));
        // A persistent offender on a long backoff.
        let offender = PeerId::random();
        for i in 0..4 {
            table.reject(offender, t0 + Duration::from_secs(i * 8));
        }
        let now = t0 + 24 * S;
        assert_eq!(table.blocked_until(&offender, now), Some(now + 8 * S));
        // An attacker cycling peer ids.
        let fresh: Vec<PeerId> = (0..100).map(|_| PeerId::random()).collect();
        for (i, peer) in fresh.iter().enumerate() {
            let at = now + Duration::from_millis(i as u64);
            assert_eq!(table.reject(*peer, at), Some(S));
            assert!(table.len() <= 4, "the table grew to {}", table.len());
        }
        let end = now + Duration::from_millis(100);
        assert!(
            table.refuse(&offender, end),
            "the long offender was evicted"
        );
        assert!(table.refuse(&fresh[99], end), "the newest is remembered");
        assert!(
            !table.refuse(&fresh[0], end),
            "the oldest fresh id was evicted"
        );
        assert_eq!(table.blocked(end), 4);
        assert_eq!(table.rejections(), 104);
    }

    #[test]
    fn forgotten_peers_are_dropped_first_when_the_table_is_full() {
        let t0 = Instant::now();
        let mut table = ClusterBackoff::new(policy(3));
        let old: Vec<PeerId> = (0..2).map(|_| PeerId::random()).collect();
        for peer in &old {
            table.reject(*peer, t0);
        }
        let recent = PeerId::random();
        table.reject(recent, t0 + 100 * S);
        table.reject(PeerId::random(), t0 + 100 * S);
        assert_eq!(table.len(), 2, "both quiet peers were dropped");
        assert!(table.blocked_until(&recent, t0 + 100 * S).is_some());
    }
}
