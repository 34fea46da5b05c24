//! The membership of one epoch: who is in the group, at which leaf, with which signature key.
//!
//! Built once per epoch from the MLS tree and shared (`Arc`) by the steward policy, the
//! consensus voter set and the engine's checks, so nothing scans the tree per message.

use std::collections::HashMap;

use crate::types::{Epoch, MemberId};

/// One member of an epoch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RosterEntry {
    /// Leaf index in the MLS ratchet tree.
    pub leaf: u32,
    /// The member id derived from `signature_key`.
    pub id: MemberId,
    /// The member's Ed25519 signature public key (also its consensus voting key).
    pub signature_key: Vec<u8>,
    /// The HPKE encryption key of the member's current leaf (a KeyPackage that would add a leaf
    /// with this key is the one the member already joined with).
    pub encryption_key: Vec<u8>,
}

/// The members of one epoch, indexed by leaf order and by id.
#[derive(Clone, Debug, Default)]
pub struct Roster {
    epoch: Epoch,
    entries: Vec<RosterEntry>,
    by_id: HashMap<MemberId, usize>,
}

impl Roster {
    /// Builds a roster; `entries` may come in any order and are sorted by leaf index.
    pub fn new(epoch: Epoch, mut entries: Vec<RosterEntry>) -> Roster {
        entries.sort_by_key(|e| e.leaf);
        let by_id = entries.iter().enumerate().map(|(i, e)| (e.id, i)).collect();
        Roster {
            epoch,
            entries,
            by_id,
        }
    }

    /// The epoch this roster belongs to.
    pub fn epoch(&self) -> Epoch {
        self.epoch
    }

    /// Members in leaf order.
    pub fn entries(&self) -> &[RosterEntry] {
        &self.entries
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True for an empty roster.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry of `id`, if a member.
    pub fn get(&self, id: &MemberId) -> Option<&RosterEntry> {
        self.by_id.get(id).map(|&i| &self.entries[i])
    }

    /// True when `id` is a member.
    pub fn contains(&self, id: &MemberId) -> bool {
        self.by_id.contains_key(id)
    }

    /// The member at `leaf`, if occupied.
    pub fn at_leaf(&self, leaf: u32) -> Option<&RosterEntry> {
        self.entries
            .binary_search_by_key(&leaf, |e| e.leaf)
            .ok()
            .map(|i| &self.entries[i])
    }

    /// Member ids in leaf order.
    pub fn ids(&self) -> impl Iterator<Item = MemberId> + '_ {
        self.entries.iter().map(|e| e.id)
    }
}
