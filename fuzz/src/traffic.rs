//! The real session every stateful target starts from and every corpus is seeded from: three
//! members create a group and join it, chat, and remove one of them. Everything published is
//! recorded, with the epoch keys needed to open what was sealed.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use demls::engine::GroupEvent;
use demls::internals::mls::decode_welcome;
use demls::internals::wire::{Envelope, Kind, sealed};
use demls::{GroupId, Topic};
use demls_storage_memory::MemoryStorage;

use crate::session::{EpochKeys, Publication, Snapshot, gid, network};

/// What a joiner holds before its Welcome arrives, and the Welcome and tree it then gets.
pub struct JoinerCapture {
    /// The joiner's storage (with its KeyPackage's private keys) before the Welcome.
    pub store: MemoryStorage,
    /// The body of the Welcome envelope (an `MlsMessage`).
    pub welcome: Vec<u8>,
    /// The body of the ratchet-tree envelope.
    pub tree: Vec<u8>,
}

/// The recorded session.
pub struct Traffic {
    /// The group.
    pub group: GroupId,
    /// Every publication, in order.
    pub publications: Vec<Publication>,
    /// How many of `publications` were made before [`Traffic::start`]: the ones a live
    /// network restored from it may see replayed.
    pub before_start: usize,
    /// The three members in a converged group, before the chat and the removal.
    pub start: Snapshot,
    /// The group's epoch in [`Traffic::start`].
    pub start_epoch: u64,
    /// The commit-envelope key of every epoch the session went through.
    pub keys: BTreeMap<u64, [u8; 16]>,
    /// Member 2's join.
    pub joiner: JoinerCapture,
}

/// Member 2's Welcome (the one addressed to its KeyPackage `reference`) and the tree published
/// with it (same epoch).
fn joiner_capture(
    publications: &[Publication],
    store: MemoryStorage,
    reference: &[u8],
) -> JoinerCapture {
    let envelopes: Vec<(Envelope, Kind)> = publications
        .iter()
        .filter_map(|p| Envelope::decode_checked(&p.payload).ok())
        .collect();
    let welcome = envelopes
        .iter()
        .find(|(e, k)| {
            *k == Kind::Welcome
                && decode_welcome(&e.body)
                    .is_ok_and(|(_, refs)| refs.iter().any(|r| r.as_slice() == reference))
        })
        .map(|(e, _)| e)
        .expect("the session welcomed member 2");
    let tree = envelopes
        .iter()
        .find(|(e, k)| *k == Kind::RatchetTree && e.epoch == welcome.epoch)
        .map(|(e, _)| e.body.clone())
        .expect("the session published member 2's tree");
    JoinerCapture {
        store,
        welcome: welcome.body.clone(),
        tree,
    }
}

/// Records the session (see the module docs). Deterministic but for the wall-clock day that
/// simulated time starts at.
pub fn record() -> Traffic {
    let g = gid("fuzz");
    let mut s = network(3);
    s.recorded = Some(Vec::new());
    s.keys = Some(EpochKeys::of(&g));
    s.create(0, &g);
    s.join(1, &g);
    s.run(5_000);
    s.join(2, &g);
    let joiner_store = s.store_copy(2);
    let joiner_ref = s.members[2]
        .events
        .iter()
        .find_map(|e| match e {
            GroupEvent::JoinRequested {
                key_package_ref, ..
            } => Some(key_package_ref.clone()),
            _ => None,
        })
        .expect("member 2 announced a KeyPackage");
    s.run(5_000);
    s.assert_converged(&g, &[0, 1, 2]);
    s.clear_events();
    let start = s.snapshot();
    let start_epoch = s.members[0]
        .engine
        .group_summary(&g)
        .map_or(0, |summary| summary.epoch);
    let before_start = s.recorded.as_ref().map_or(0, Vec::len);

    let ids: Vec<Vec<u8>> = (0..3)
        .map(|i| s.send(i, &g, format!("hello from {i}").as_bytes()))
        .collect();
    s.run(1_000);
    // Quiet time: status beacons.
    s.run(30_000);
    let target = s.id(2);
    s.propose_remove(0, &g, target);
    s.run(30_000);
    s.assert_converged(&g, &[0, 1]);
    for i in 0..2 {
        for id in &ids {
            assert!(s.received(i, &g).contains_key(id) || id == &ids[i]);
        }
    }
    let publications = s.recorded.take().unwrap_or_default();
    let keys = s.keys.take().map(|k| k.by_epoch).unwrap_or_default();
    let joiner = joiner_capture(&publications, joiner_store, &joiner_ref);
    Traffic {
        group: g,
        publications,
        before_start,
        start,
        start_epoch,
        keys,
        joiner,
    }
}

/// The recorded session, recorded once per process.
pub fn recorded() -> &'static Traffic {
    static TRAFFIC: OnceLock<Traffic> = OnceLock::new();
    TRAFFIC.get_or_init(record)
}

/// A recorded envelope and, for a sealed kind whose epoch key is known, its opened content.
pub struct Opened {
    /// The decoded envelope.
    pub envelope: Envelope,
    /// Its kind.
    pub kind: Kind,
    /// Where it was published.
    pub topic: Topic,
    /// The plaintext of a sealed body.
    pub plain: Option<Vec<u8>>,
}

impl Traffic {
    /// The first `limit` recorded envelopes, opened where possible; bundles are expanded
    /// (their content follows them).
    pub fn opened(&self, limit: usize) -> Vec<Opened> {
        let mut out = Vec::new();
        let mut pending: Vec<(Topic, Vec<u8>)> = self
            .publications
            .iter()
            .take(limit)
            .map(|p| (p.topic.clone(), p.payload.clone()))
            .rev()
            .collect();
        while let Some((topic, bytes)) = pending.pop() {
            let Ok((envelope, kind)) = Envelope::decode_checked(&bytes) else {
                continue;
            };
            let gid = envelope.group_id.as_slice();
            let key = self.keys.get(&envelope.epoch);
            let plain = key.and_then(|k| {
                let (e, b) = (envelope.epoch, envelope.body.as_slice());
                match kind {
                    Kind::Commit => sealed::open(k, gid, e, b).ok(),
                    Kind::Certificate => sealed::open_certificate(k, gid, e, b).ok().map(|p| p.1),
                    Kind::Consensus => sealed::open_consensus(k, gid, e, b).ok(),
                    Kind::Control => sealed::open_control(k, gid, e, b).ok(),
                    Kind::CatchUp => sealed::open_catch_up(k, gid, e, b).ok().map(|a| vec![a]),
                    _ => None,
                }
            });
            if kind == Kind::Bundle
                && let Ok(inner) = demls::internals::wire::bundle::unpack(gid, &envelope.body)
            {
                pending.extend(inner.into_iter().rev().map(|b| (topic.clone(), b)));
            }
            out.push(Opened {
                envelope,
                kind,
                topic,
                plain,
            });
        }
        out
    }
}
