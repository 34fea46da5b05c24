//! The rejoin state of one group (transient: a rejoiner re-announces until re-added): the
//! other members that asked to be re-added and with which KeyPackage, the KeyPackages rejoin
//! commits already used (a replayed request must not evict a member), and this member's own
//! rejoin: wanted by a step, then under way.
//!
//! Who changes what: [`super::on_rejoin`], [`super::selectable`] and [`super::after_commit`]
//! keep the requests; a step that finds this member cannot follow the group any more (catch-up
//! beyond history, a lost fork) asks for a rejoin ([`RejoinState::want`]), which the engine
//! takes after the step (`run.rs`) and marks under way ([`RejoinState::start`]). Every other
//! file only reads.

use std::collections::{BTreeMap, VecDeque};

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

/// Rejoin state of one group.
#[derive(Default)]
pub(crate) struct RejoinState {
    /// Pending requests by member.
    requests: BTreeMap<MemberId, RejoinRequest>,
    used: VecDeque<Vec<u8>>,
    /// Set by a step that found this member must rejoin: the last epoch it shares with the
    /// group (the engine starts the rejoin after the step).
    wanted: Option<Epoch>,
    /// True while this member waits to be re-added: it neither commits nor processes group
    /// traffic (it is buffered for the replacement state).
    rejoining: bool,
}

impl RejoinState {
    pub(super) fn was_used(&self, reference: &[u8]) -> bool {
        self.used.iter().any(|r| r == reference)
    }

    pub(super) fn note_used(&mut self, reference: Vec<u8>) {
        self.used.push_back(reference);
        while self.used.len() > USED {
            self.used.pop_front();
        }
    }

    /// Records `member`'s request; a repeated one keeps the first one's arrival time.
    pub(super) fn note_request(&mut self, member: MemberId, request: RejoinRequest) {
        let first_arrival = self.requests.get(&member).map(|r| r.received_at);
        self.requests.insert(
            member,
            RejoinRequest {
                received_at: first_arrival.unwrap_or(request.received_at),
                ..request
            },
        );
    }

    /// The pending requests, by member id.
    pub(super) fn requests(&self) -> impl Iterator<Item = (&MemberId, &RejoinRequest)> {
        self.requests.iter()
    }

    /// Forgets `member`'s request (done, or stale).
    pub(super) fn drop_request(&mut self, member: &MemberId) {
        self.requests.remove(member);
    }

    /// The members waiting to be re-added, ascending.
    pub(crate) fn members(&self) -> Vec<MemberId> {
        self.requests.keys().copied().collect()
    }

    /// How many members wait to be re-added.
    pub(crate) fn pending(&self) -> usize {
        self.requests.len()
    }

    /// When the oldest pending request arrived (it makes a commit due).
    pub(crate) fn oldest(&self) -> Option<Timestamp> {
        self.requests.values().map(|r| r.received_at).min()
    }

    /// Asks the engine to start this member's rejoin after the step, `since` being the last
    /// epoch it shares with the group.
    pub(crate) fn want(&mut self, since: Epoch) {
        self.wanted = Some(since);
    }

    /// True if a step asked for this member's rejoin and the engine did not start it yet.
    pub(crate) fn is_wanted(&self) -> bool {
        self.wanted.is_some()
    }

    /// Takes the request for this member's rejoin (the engine starts it).
    pub(crate) fn take_wanted(&mut self) -> Option<Epoch> {
        self.wanted.take()
    }

    /// Notes that this member's rejoin is under way.
    pub(crate) fn start(&mut self) {
        self.rejoining = true;
    }

    /// True while this member waits to be re-added.
    pub(crate) fn is_rejoining(&self) -> bool {
        self.rejoining
    }

    /// True while this member's rejoin is wanted or under way.
    pub(crate) fn in_progress(&self) -> bool {
        self.rejoining || self.wanted.is_some()
    }
}
