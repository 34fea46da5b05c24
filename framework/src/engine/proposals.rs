//! The proposals a group tracks, indexed by what the engine and the steward policy ask of them.
//!
//! A group absorbing thousands of joiners holds thousands of proposals at once, and every
//! decision, commit plan and KeyPackage asks "which are ready?", "which are open?", "is this
//! change already being voted?". Scanning every record for each of those made a decision cost
//! O(proposals) and building a large group O(n²); the indexes here are kept up to date on each
//! insert and removal, so those questions cost O(log n) or O(answer).

use std::collections::{BTreeMap, BTreeSet};

use super::event::ProposalAction;
use super::records::{ProposalRecord, ProposalStatus};
use crate::steward::ReadyProposal;
use crate::types::{MemberId, ProposalId, Timestamp};

/// Every proposal record of a group, with indexes of the live ones (open, or decided YES and
/// not yet committed).
#[derive(Default)]
pub(crate) struct Proposals {
    all: BTreeMap<ProposalId, ProposalRecord>,
    /// Decided YES and not yet committed, as the policy sees them.
    ready: BTreeMap<ProposalId, ReadyProposal>,
    /// The keys of `ready` by decision time (then id).
    ready_by_time: BTreeSet<(Timestamp, ProposalId)>,
    /// Still being voted on.
    open: BTreeMap<ProposalId, ProposalAction>,
    /// Live proposals naming a member (adding, removing, or accusing it), by that member.
    by_member: BTreeMap<MemberId, BTreeSet<ProposalId>>,
    /// Members a ready proposal removes, with how many ready proposals do.
    removing: BTreeMap<MemberId, u32>,
    /// The keys of `removing`, for the policy's view.
    pending_removals: BTreeSet<MemberId>,
}

fn is_live(rec: &ProposalRecord) -> bool {
    rec.status == ProposalStatus::Open || rec.is_ready()
}

impl Proposals {
    /// The record of `id`.
    pub(crate) fn get(&self, id: &ProposalId) -> Option<&ProposalRecord> {
        self.all.get(id)
    }

    /// True when a record of `id` exists.
    pub(crate) fn contains_key(&self, id: &ProposalId) -> bool {
        self.all.contains_key(id)
    }

    /// Every record, in id order.
    pub(crate) fn values(&self) -> impl Iterator<Item = &ProposalRecord> {
        self.all.values()
    }

    /// Inserts or replaces a record, keeping the indexes up to date.
    pub(crate) fn insert(&mut self, rec: ProposalRecord) {
        let id = rec.id;
        self.unindex(&id);
        self.index(&rec);
        self.all.insert(id, rec);
    }

    /// Removes a record.
    pub(crate) fn remove(&mut self, id: &ProposalId) -> Option<ProposalRecord> {
        self.unindex(id);
        self.all.remove(id)
    }

    /// Proposals decided YES and not yet committed.
    pub(crate) fn ready(&self) -> &BTreeMap<ProposalId, ReadyProposal> {
        &self.ready
    }

    /// Proposals still being voted on.
    pub(crate) fn open(&self) -> &BTreeMap<ProposalId, ProposalAction> {
        &self.open
    }

    /// Members whose removal is decided YES and not yet committed.
    pub(crate) fn pending_removals(&self) -> &BTreeSet<MemberId> {
        &self.pending_removals
    }

    /// The records of ready proposals, in id order.
    pub(crate) fn ready_records(&self) -> impl Iterator<Item = &ProposalRecord> {
        self.ready.keys().filter_map(|id| self.all.get(id))
    }

    /// The records of ready proposals, earliest decided first.
    pub(crate) fn ready_by_time(&self) -> impl Iterator<Item = &ProposalRecord> {
        self.ready_by_time
            .iter()
            .filter_map(|(_, id)| self.all.get(id))
    }

    /// The records of open proposals, in id order.
    pub(crate) fn open_records(&self) -> impl Iterator<Item = &ProposalRecord> {
        self.open.keys().filter_map(|id| self.all.get(id))
    }

    /// Live proposals (open, or ready), open ones first.
    pub(crate) fn live(&self) -> impl Iterator<Item = &ProposalRecord> {
        self.open_records().chain(self.ready_records())
    }

    /// Live proposals naming `member` (see [`ProposalAction::member`]), in id order.
    pub(crate) fn live_naming(&self, member: &MemberId) -> impl Iterator<Item = &ProposalRecord> {
        self.by_member
            .get(member)
            .into_iter()
            .flatten()
            .filter_map(|id| self.all.get(id))
    }

    /// True when a live proposal asks for exactly `action`.
    pub(crate) fn in_flight(&self, action: &ProposalAction) -> bool {
        match action.member() {
            Some(m) => self.live_naming(&m).any(|r| &r.action == action),
            None => self.live().any(|r| &r.action == action),
        }
    }

    fn index(&mut self, rec: &ProposalRecord) {
        if !is_live(rec) {
            return;
        }
        if rec.is_ready() {
            let decided_at = rec.decided_at.unwrap_or(rec.seen_at);
            self.ready.insert(
                rec.id,
                ReadyProposal {
                    id: rec.id,
                    action: rec.action.clone(),
                    epoch: rec.epoch,
                    decided_at,
                },
            );
            self.ready_by_time.insert((decided_at, rec.id));
            if let Some(m) = rec.action.removes() {
                *self.removing.entry(m).or_insert(0) += 1;
                self.pending_removals.insert(m);
            }
        } else {
            self.open.insert(rec.id, rec.action.clone());
        }
        if let Some(m) = rec.action.member() {
            self.by_member.entry(m).or_default().insert(rec.id);
        }
    }

    fn unindex(&mut self, id: &ProposalId) {
        let Some(old) = self.all.get(id) else {
            return;
        };
        if !is_live(old) {
            return;
        }
        if let Some(ready) = self.ready.remove(id) {
            self.ready_by_time.remove(&(ready.decided_at, *id));
            if let Some(m) = old.action.removes()
                && let Some(n) = self.removing.get_mut(&m)
            {
                *n -= 1;
                if *n == 0 {
                    self.removing.remove(&m);
                    self.pending_removals.remove(&m);
                }
            }
        }
        self.open.remove(id);
        if let Some(m) = old.action.member()
            && let Some(ids) = self.by_member.get_mut(&m)
        {
            ids.remove(id);
            if ids.is_empty() {
                self.by_member.remove(&m);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consensus::Verdict;

    fn member(i: u8) -> MemberId {
        MemberId::from_signature_key(&[i; 32])
    }

    fn rec(i: u8, action: ProposalAction, status: ProposalStatus) -> ProposalRecord {
        ProposalRecord {
            id: ProposalId([i; 32]),
            epoch: 1,
            owner: member(200),
            action,
            key_package: None,
            evidence: Vec::new(),
            locally_valid: true,
            status,
            seen_at: Timestamp(u64::from(i)),
            decided_at: None,
            attempt: 0,
        }
    }

    /// The indexes computed by scanning every record, as the engine did before.
    fn scanned(p: &Proposals) -> (Vec<ProposalId>, Vec<ProposalId>, BTreeSet<MemberId>) {
        let ready = p.values().filter(|r| r.is_ready()).map(|r| r.id).collect();
        let open = p
            .values()
            .filter(|r| r.status == ProposalStatus::Open)
            .map(|r| r.id)
            .collect();
        let removals = p
            .values()
            .filter(|r| r.is_ready())
            .filter_map(|r| r.action.removes())
            .collect();
        (ready, open, removals)
    }

    fn indexed(p: &Proposals) -> (Vec<ProposalId>, Vec<ProposalId>, BTreeSet<MemberId>) {
        let mut by_time: Vec<ProposalId> = p.ready_by_time().map(|r| r.id).collect();
        by_time.sort();
        assert_eq!(by_time, p.ready().keys().copied().collect::<Vec<_>>());
        (
            p.ready().keys().copied().collect(),
            p.open().keys().copied().collect(),
            p.pending_removals().clone(),
        )
    }

    #[test]
    fn indexes_follow_every_status_change_and_removal() {
        let yes = ProposalStatus::Decided(Verdict::Yes);
        let no = ProposalStatus::Decided(Verdict::No);
        let mut p = Proposals::default();
        let (a, b) = (member(1), member(2));
        // Two removals of `a`, one add of `b`, one deadlock declaration.
        p.insert(rec(
            1,
            ProposalAction::Remove { member: a },
            ProposalStatus::Open,
        ));
        p.insert(rec(
            2,
            ProposalAction::Remove { member: a },
            ProposalStatus::Open,
        ));
        p.insert(rec(
            3,
            ProposalAction::Add { member: b },
            ProposalStatus::Open,
        ));
        let deadlock = ProposalAction::Emergency {
            violation: crate::engine::event::Violation::Deadlock,
            target: None,
        };
        p.insert(rec(4, deadlock.clone(), ProposalStatus::Open));
        assert_eq!(indexed(&p), scanned(&p));
        assert!(p.in_flight(&ProposalAction::Add { member: b }));
        assert!(p.in_flight(&deadlock));
        assert!(!p.in_flight(&ProposalAction::Remove { member: b }));

        // Both removals decided YES: `a` stays pending until neither is ready.
        p.insert(rec(1, ProposalAction::Remove { member: a }, yes));
        p.insert(rec(2, ProposalAction::Remove { member: a }, yes));
        assert_eq!(indexed(&p), scanned(&p));
        p.insert(rec(
            1,
            ProposalAction::Remove { member: a },
            ProposalStatus::Committed(2),
        ));
        assert_eq!(indexed(&p), scanned(&p));
        assert!(p.pending_removals().contains(&a));
        p.remove(&ProposalId([2; 32]));
        assert_eq!(indexed(&p), scanned(&p));
        assert!(p.pending_removals().is_empty());
        assert_eq!(p.live_naming(&a).count(), 0);

        // The add is rejected, the deadlock is obsolete: nothing is live any more.
        p.insert(rec(3, ProposalAction::Add { member: b }, no));
        p.insert(rec(4, deadlock.clone(), ProposalStatus::Obsolete));
        assert_eq!(indexed(&p), scanned(&p));
        assert!(!p.in_flight(&ProposalAction::Add { member: b }));
        assert!(!p.in_flight(&deadlock));
        assert_eq!(p.live().count(), 0);
        assert_eq!(p.values().count(), 3);
    }

    #[test]
    fn ready_view_carries_the_decision_time_or_the_arrival_time() {
        let yes = ProposalStatus::Decided(Verdict::Yes);
        let mut p = Proposals::default();
        let mut r = rec(7, ProposalAction::Add { member: member(7) }, yes);
        p.insert(r.clone());
        assert_eq!(p.ready()[&r.id].decided_at, Timestamp(7));
        r.decided_at = Some(Timestamp(99));
        p.insert(r.clone());
        assert_eq!(p.ready()[&r.id].decided_at, Timestamp(99));
        assert_eq!(p.ready_records().map(|x| x.id).collect::<Vec<_>>(), [r.id]);
        // Earliest decided first, whatever the ids.
        let mut early = rec(3, ProposalAction::Add { member: member(3) }, yes);
        early.decided_at = Some(Timestamp(50));
        p.insert(early.clone());
        let order: Vec<ProposalId> = p.ready_by_time().map(|x| x.id).collect();
        assert_eq!(order, [early.id, r.id]);
    }
}
