//! What a [`Net`] keeps of a run beyond the members' own state: a record of every publication
//! ([`Net::recorded`]), the commit-envelope key of every epoch of one group ([`Net::keys`]),
//! and [`Snapshot`]s of every member's storage to start other networks from (the fuzz targets
//! record a session once and restart from it for every input). Nothing here changes what the
//! members do.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use demls::engine::EngineParams;
use demls::internals::mls::{Crypto, MlsState};
use demls::internals::txn::Txn;
use demls::{GroupId, Storage, Timestamp, Topic};
use demls_storage_memory::MemoryStorage;

use super::{Backend, Net};

/// The commit-envelope keys of one group, by epoch (see [`Net::keys`]).
#[derive(Clone, Debug)]
pub struct EpochKeys {
    /// The group.
    pub group: GroupId,
    /// Epoch → its commit-envelope key.
    pub by_epoch: BTreeMap<u64, [u8; 16]>,
}

impl EpochKeys {
    /// No keys yet of `group`.
    pub fn of(group: &GroupId) -> EpochKeys {
        EpochKeys {
            group: group.clone(),
            by_epoch: BTreeMap::new(),
        }
    }
}

/// The epoch and commit-envelope key that `storage` holds for `group`, if it is in the group.
/// Reading leaves no trace in the storage.
pub fn epoch_key(storage: &dyn Storage, group: &GroupId) -> Option<(u64, [u8; 16])> {
    let txn = Txn::new(storage);
    let crypto = Crypto::default();
    let provider = crypto.provider(&txn);
    let state = MlsState::load(&provider, group).ok()?;
    Some((state.epoch(), state.commit_envelope_key(&crypto).ok()?))
    // `txn` is dropped uncommitted.
}

/// A copy of a memory store that shares nothing with it (clones of a `MemoryStorage` share
/// their data; the simulator's adversaries copy members the same way).
pub use demls_sim::adversary::snapshot as copy_store;

/// One member's state in a [`Snapshot`].
struct Saved {
    store: MemoryStorage,
    params: EngineParams,
    subscribed: BTreeSet<Topic>,
    online: bool,
}

/// Every member's storage, parameters and subscriptions at one instant of a memory-backed
/// [`Net`], and what the net opens engines with, to start networks from.
pub struct Snapshot {
    members: Vec<Saved>,
    entropy: Option<u64>,
    policy: Arc<dyn demls::StewardPolicyFactory>,
    /// The simulated time of the snapshot.
    pub now: Timestamp,
}

impl Net {
    /// A copy of member `i`'s memory store that shares nothing with it (memory backend only).
    pub fn store_copy(&self, i: usize) -> MemoryStorage {
        copy_store(self.memory(i))
    }

    /// Every member's state now. The network must be quiet (nothing queued) and on the memory
    /// backend.
    pub fn snapshot(&self) -> Snapshot {
        assert!(self.queue.is_empty(), "snapshot of a quiet network only");
        Snapshot {
            members: (0..self.members.len())
                .map(|i| Saved {
                    store: self.store_copy(i),
                    params: self.members[i].params.clone(),
                    subscribed: self.members[i].subscribed.clone(),
                    online: self.members[i].online,
                })
                .collect(),
            entropy: self.entropy,
            policy: self.policy.clone(),
            now: self.now,
        }
    }

    /// A network whose members restart from `snapshot`: each engine opened on a copy of its
    /// stored state, with the seeds of its index (as [`Net::restart`] does), as after a crash
    /// of every member at that instant. Nothing is queued or recorded; events start empty.
    pub fn restore(snapshot: &Snapshot) -> Net {
        let mut net = Net::empty(snapshot.now, Backend::Memory);
        net.entropy = snapshot.entropy;
        net.policy = snapshot.policy.clone();
        for (i, saved) in snapshot.members.iter().enumerate() {
            let memory = copy_store(&saved.store);
            let store: Arc<dyn Storage> = Arc::new(memory.clone());
            let engine = net.open_engine(store.clone(), i, saved.params.clone());
            net.members.push(super::Member {
                engine,
                store,
                memory: Some(memory),
                params: saved.params.clone(),
                events: Vec::new(),
                subscribed: saved.subscribed.clone(),
                online: saved.online,
            });
        }
        net
    }
}
