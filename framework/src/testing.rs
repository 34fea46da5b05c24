//! Test-only helpers for the framework's unit tests (integration tests use the real backends).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use crate::engine::ProposalAction;
use crate::steward::ReadyProposal;
use crate::types::{MemberId, ProposalId};

use crate::storage::{Entries, Space, Storage, StorageError, WriteBatch, WriteOp};

/// No members (an empty `pending_removals` for policy views).
pub(crate) static NO_MEMBERS: BTreeSet<MemberId> = BTreeSet::new();
/// No ready proposals (for policy views).
pub(crate) static NO_READY: BTreeMap<ProposalId, ReadyProposal> = BTreeMap::new();
/// No open proposals (for policy views).
pub(crate) static NO_OPEN: BTreeMap<ProposalId, ProposalAction> = BTreeMap::new();

type Map = BTreeMap<(Space, Vec<u8>), Vec<u8>>;

/// A minimal map-backed store for unit tests.
#[derive(Default)]
pub(crate) struct MapStorage {
    map: Mutex<Map>,
}

impl Storage for MapStorage {
    fn name(&self) -> &str {
        "unit-test-map"
    }

    fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self
            .map
            .lock()
            .unwrap()
            .get(&(space, key.to_vec()))
            .cloned())
    }

    fn scan_prefix(&self, space: Space, prefix: &[u8]) -> Result<Entries, StorageError> {
        let map = self.map.lock().unwrap();
        Ok(map
            .range((space, prefix.to_vec())..)
            .take_while(|((s, k), _)| *s == space && k.starts_with(prefix))
            .map(|((_, k), v)| (k.clone(), v.clone()))
            .collect())
    }

    fn apply(&self, batch: WriteBatch) -> Result<(), StorageError> {
        let mut map = self.map.lock().unwrap();
        for op in batch.into_ops() {
            match op {
                WriteOp::Put { space, key, value } => {
                    map.insert((space, key), value);
                }
                WriteOp::Delete { space, key } => {
                    map.remove(&(space, key));
                }
                WriteOp::DeletePrefix { space, prefix } => {
                    map.retain(|(s, k), _| !(*s == space && k.starts_with(&prefix)));
                }
            }
        }
        Ok(())
    }
}

/// A roster of `n` members at epoch 1: member `i` at leaf `i`, with id and keys made of byte `i`.
pub(crate) fn roster(n: u8) -> crate::roster::Roster {
    crate::roster::Roster::new(
        1,
        (0..n)
            .map(|i| crate::roster::RosterEntry {
                leaf: u32::from(i),
                id: crate::types::MemberId([i; 20]),
                signature_key: vec![i; 32],
                encryption_key: vec![i; 32],
            })
            .collect(),
    )
}
