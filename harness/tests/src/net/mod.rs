//! A deterministic in-process network of sans-IO engines, the one every engine test of this
//! crate and the stateful fuzz targets (`fuzz/`) run on.
//!
//! Every publication is queued and delivered in order to every other online member subscribed
//! to its topic; time advances only to the next engine deadline. Same inputs (and the same
//! [`Net::seeded`] run seed) → same run, bit for bit. Engine errors are panics: an input from
//! the network must never make a step fail.
//!
//! This module owns the network's shape ([`Net`]) and what can be asked of a group; each other
//! concept has its file:
//!
//! - [`member`]: members, their identity and entropy seeds, restarts, adversaries, and what a
//!   member does (create, join, send, propose a removal);
//! - [`storage`]: which storage backend members use (memory or SQLite) and the
//!   [`on_every_storage!`](crate::on_every_storage) macro that runs a test on both;
//! - [`delivery`]: the publication queue and how a publication reaches members;
//! - [`time`]: simulated time, which starts at [`t0`] and moves to engine deadlines;
//! - [`record`]: a record of every publication, the epoch keys of a group, and snapshots of
//!   every member's storage to start networks from.
//!
//! It changes no protocol behaviour and knows nothing of any protocol step: it only carries
//! bytes between engines and hands them time.

pub mod delivery;
pub mod member;
pub mod record;
pub mod storage;
pub mod time;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use demls::engine::{EngineParams, GroupEvent};
use demls::policy::single::{SinglePolicyConfig, SinglePolicyFactory};
use demls::{GroupId, MemberId, Timestamp};

pub use delivery::Publication;
pub use member::{Member, seed};
pub use record::{EpochKeys, Snapshot, copy_store, epoch_key};
pub use storage::{Backend, on_storage};
pub use time::t0;

/// A deterministic network of members (see the module docs).
pub struct Net {
    /// The members, by index.
    pub members: Vec<Member>,
    /// The current simulated time.
    pub now: Timestamp,
    /// Publications not delivered yet, oldest first.
    queue: VecDeque<Publication>,
    /// Messages delivered so far by [`Net::flush`] (one per recipient).
    pub delivered: u64,
    /// When set, every engine draws its randomness from a seed derived from this.
    pub entropy: Option<u64>,
    /// The steward policy of members added from now on.
    pub policy: Arc<dyn demls::StewardPolicyFactory>,
    /// The members' storage backend.
    pub backend: Backend,
    /// Holds the SQLite members' database files.
    scratch: Option<tempfile::TempDir>,
    /// When set, every publication is also recorded here, in order (what a sniffer on the
    /// relay sees).
    pub recorded: Option<Vec<Publication>>,
    /// When set, the commit-envelope key of every epoch of its group that a member went
    /// through (read from the member's storage after each of its steps).
    pub keys: Option<EpochKeys>,
}

/// The engine parameters members get unless a test says otherwise (the defaults).
pub fn params() -> EngineParams {
    EngineParams::default()
}

/// A group id from a name.
pub fn gid(name: &str) -> GroupId {
    GroupId::new(name.as_bytes().to_vec()).expect("a short non-empty group name")
}

/// Forms group "g" among the first `n` members of `net` (0 creates it, 1.. join in order, so
/// leaf i = member i), checks that they converged and clears their events.
pub fn formed(mut net: Net, n: usize) -> (Net, GroupId) {
    let g = gid("g");
    net.create(0, &g);
    for i in 1..n {
        net.join(i, &g);
        net.run(5_000);
    }
    let all: Vec<usize> = (0..n).collect();
    net.assert_converged(&g, &all);
    net.clear_events();
    (net, g)
}

impl Net {
    /// A network of `n` members with the default parameters.
    pub fn new(n: usize) -> Net {
        Net::with_params(n, params())
    }

    /// A network whose engines draw every random byte from `run_seed`.
    pub fn seeded(n: usize, run_seed: u64) -> Net {
        Net::seeded_with_params(n, params(), run_seed)
    }

    /// A network whose members use the multi-steward policy with `config`.
    pub fn multi(n: usize, config: demls::policy::MultiPolicyConfig) -> Net {
        let mut net = Net::with_params(0, params());
        net.policy = Arc::new(
            demls::policy::multi::MultiPolicyFactory::new(config)
                .expect("a valid multi-steward configuration"),
        );
        for i in 0..n {
            net.add_member(i, params());
        }
        net
    }

    /// A network with `params` whose engines draw every random byte from `run_seed`, so
    /// randomised timings (answer back-offs, jitter) repeat from run to run.
    pub fn seeded_with_params(n: usize, params: EngineParams, run_seed: u64) -> Net {
        let mut net = Net::with_params(0, params.clone());
        net.entropy = Some(run_seed);
        for i in 0..n {
            net.add_member(i, params.clone());
        }
        net
    }

    /// A network of `n` members with `params`, at [`t0`], on the storage backend of the
    /// current [`on_storage`] (memory otherwise).
    pub fn with_params(n: usize, params: EngineParams) -> Net {
        let mut net = Net::empty(Timestamp(t0()), storage::current());
        for i in 0..n {
            net.add_member(i, params.clone());
        }
        net
    }

    /// A network of no members at `now` on `backend`, with the single-steward policy.
    fn empty(now: Timestamp, backend: Backend) -> Net {
        Net {
            members: Vec::new(),
            now,
            queue: VecDeque::new(),
            delivered: 0,
            entropy: None,
            policy: Arc::new(SinglePolicyFactory::new(SinglePolicyConfig::default())),
            backend,
            scratch: None,
            recorded: None,
            keys: None,
        }
    }

    /// Members (indices) of group `g`.
    pub fn in_group(&self, g: &GroupId) -> Vec<usize> {
        (0..self.members.len())
            .filter(|&i| self.members[i].engine.group_summary(g).is_some())
            .collect()
    }

    /// Asserts that the listed members, and only they, are in group `g`, with the same epoch,
    /// roster and epoch authenticator everywhere; returns the epoch.
    pub fn assert_converged(&self, g: &GroupId, who: &[usize]) -> u64 {
        let first = self.members[who[0]]
            .engine
            .group_summary(g)
            .unwrap_or_else(|| panic!("member {} is not in the group", who[0]));
        let roster: BTreeSet<MemberId> = first.members.iter().copied().collect();
        let expected: BTreeSet<MemberId> = who.iter().map(|&i| self.id(i)).collect();
        assert_eq!(
            roster, expected,
            "roster differs from the expected member set"
        );
        for &i in who {
            let s = self.members[i]
                .engine
                .group_summary(g)
                .unwrap_or_else(|| panic!("member {i} is not in the group"));
            assert_eq!(s.epoch, first.epoch, "member {i} epoch");
            assert_eq!(s.members, first.members, "member {i} roster");
            assert_eq!(
                s.authenticator, first.authenticator,
                "member {i} epoch authenticator"
            );
        }
        first.epoch
    }

    /// Application messages member `i` received in group `g`: id → payload.
    pub fn received(&self, i: usize, g: &GroupId) -> BTreeMap<Vec<u8>, Vec<u8>> {
        self.members[i]
            .events
            .iter()
            .filter_map(|e| match e {
                GroupEvent::MessageReceived {
                    group_id,
                    message_id,
                    payload,
                    ..
                } if group_id == g => Some((message_id.clone(), payload.clone())),
                _ => None,
            })
            .collect()
    }

    /// Every event member `i` reported since its events were last cleared.
    pub fn events_of(&self, i: usize) -> &[GroupEvent] {
        &self.members[i].events
    }

    /// Forgets every member's events.
    pub fn clear_events(&mut self) {
        for m in &mut self.members {
            m.events.clear();
        }
    }

    /// Rejection reasons member `i` reported.
    pub fn rejections(&self, i: usize) -> Vec<demls::RejectReason> {
        self.members[i]
            .events
            .iter()
            .filter_map(|e| match e {
                GroupEvent::Rejected { reason, .. } => Some(*reason),
                _ => None,
            })
            .collect()
    }
}
