//! The rejoin requests of one group: who asked to be re-added and with which KeyPackage, and
//! the KeyPackages rejoin commits already used (a replayed request must not evict a member).

use std::collections::VecDeque;

use crate::types::{Epoch, MemberId, Timestamp};

/// KeyPackage references used by rejoin commits, remembered so a replayed request cannot
/// evict a member from its current leaf.
const USED: usize = 1_024;

/// A member's request to be re-added, waiting for a steward's commit.
#[derive(Clone, Debug)]
pub(crate) struct RejoinRequest {
    /// The KeyPackage message.
    pub message: Vec<u8>,
    /// Its reference.
    pub reference: Vec<u8>,
    /// The last epoch the member shares with the group.
    pub since: Epoch,
    /// When it arrived.
    pub received_at: Timestamp,
}

/// Rejoin state of one group (transient: a rejoiner re-announces until re-added).
#[derive(Default)]
pub(crate) struct Rejoins {
    /// Pending requests by member.
    pub requests: std::collections::BTreeMap<MemberId, RejoinRequest>,
    used: VecDeque<Vec<u8>>,
}

impl Rejoins {
    pub(super) fn was_used(&self, reference: &[u8]) -> bool {
        self.used.iter().any(|r| r == reference)
    }

    pub(super) fn note_used(&mut self, reference: Vec<u8>) {
        self.used.push_back(reference);
        while self.used.len() > USED {
            self.used.pop_front();
        }
    }

    /// When the oldest pending request arrived (it makes a commit due).
    pub(crate) fn oldest(&self) -> Option<Timestamp> {
        self.requests.values().map(|r| r.received_at).min()
    }
}
