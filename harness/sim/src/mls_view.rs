//! Read-only looks at a node's MLS state, taken from its storage: the roster with leaf
//! indices, and the current epoch's key (the key consensus messages and commits are sealed
//! under). Nothing is written: the state is loaded in a transaction that is dropped.
//!
//! Loading reads the whole group state (at 10,000 members a few megabytes), so callers cache
//! what they need per epoch.

use demls::internals::mls::{Crypto, MlsState};
use demls::internals::txn::Txn;
use demls::{Epoch, GroupId, Roster};
use demls_storage_memory::MemoryStorage;

use crate::node::NodeId;
use crate::sim::Sim;

/// Loads `group` from `storage` and applies `f` to it, writing nothing.
pub(crate) fn with_state<T>(
    storage: &MemoryStorage,
    group: &GroupId,
    f: impl FnOnce(&MlsState, &Crypto) -> Option<T>,
) -> Option<T> {
    let txn = Txn::new(storage);
    let crypto = Crypto::default();
    let provider = crypto.provider(&txn);
    let state = MlsState::load(&provider, group).ok()?;
    f(&state, &crypto)
    // `txn` is dropped uncommitted: loading leaves no trace.
}

/// The epoch and epoch key held in `storage` for `group`.
pub(crate) fn epoch_key(storage: &MemoryStorage, group: &GroupId) -> Option<(Epoch, [u8; 16])> {
    with_state(storage, group, |state, crypto| {
        Some((state.epoch(), state.commit_envelope_key(crypto).ok()?))
    })
}

impl Sim {
    /// The roster of `group` as `node` last stored it, with leaf indices (`None` if the node
    /// is not a member). Reads and decodes the node's whole MLS state: for experiments, not
    /// for predicates run after every step.
    pub fn roster(&self, node: NodeId, group: &GroupId) -> Option<Roster> {
        with_state(&self.node(node).storage, group, |state, _| {
            state.is_active().then(|| state.roster())
        })
    }
}
