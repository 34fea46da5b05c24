//! What every steward case leans on: a model group that drives policy instances the way the
//! engine does — the same calls, in the same order — without MLS, consensus or a network.
//!
//! A [`Group`] holds one epoch's roster, the proposals decided YES and not yet committed, and
//! the members whose removal is decided. Each [`Seat`] is one policy instance with the member
//! it runs for. [`Group::settle`] lets the policies' own proposals (steward elections) be
//! decided until someone may commit; [`Group::commit`] has the first steward commit every
//! ready proposal, checks that every seat authorizes it, and moves all seats to the next epoch.

use std::collections::{BTreeMap, BTreeSet};

use crate::proposal::{ProposalAction, ProposalKind, Verdict};
use crate::roster::{Roster, RosterEntry};
use crate::steward::{
    CommitFacts, CommitRank, EpochView, PolicyAction, ReadyProposal, StewardPolicy,
    StewardPolicyFactory,
};
use crate::types::{Epoch, GroupId, MemberId, ProposalId, Timestamp};

/// The epoch a model group starts in.
pub(super) const FIRST_EPOCH: Epoch = 1;

/// When a model group starts (any fixed instant: policies read only the time they are given).
pub(super) const START: Timestamp = Timestamp(1_800_000_000_000);

/// Every kind of voting proposal, for questions asked per kind.
pub(super) const KINDS: [ProposalKind; 3] = [
    ProposalKind::Membership,
    ProposalKind::Election,
    ProposalKind::Emergency,
];

/// The id of model member `n`. Ids are scattered so that id order differs from join (leaf)
/// order: a policy that confuses the two shows it.
pub(super) fn member(n: u8) -> MemberId {
    MemberId([n.wrapping_mul(73).wrapping_add(11); 20])
}

/// A member that is never in the group.
pub(super) fn outsider() -> MemberId {
    member(200)
}

/// One policy instance and the member it decides for.
pub(super) struct Seat {
    /// The local member of this instance.
    pub me: MemberId,
    /// The instance.
    pub policy: Box<dyn StewardPolicy>,
}

/// A model group: one epoch's state as the engine would show it to a policy.
pub(super) struct Group {
    pub gid: GroupId,
    pub roster: Roster,
    pub now: Timestamp,
    pub ready: BTreeMap<ProposalId, ReadyProposal>,
    pub open: BTreeMap<ProposalId, ProposalAction>,
    pub pending: BTreeSet<MemberId>,
    next_proposal: u32,
}

impl Group {
    /// A group of members `1..=n` at leaves `0..n`, with nothing decided.
    pub(crate) fn new(n: u8) -> Group {
        let entries = (1..=n)
            .map(|i| entry(u32::from(i) - 1, member(i)))
            .collect();
        Group {
            gid: GroupId::new(b"conformance group".to_vec()).expect("a valid group id"),
            roster: Roster::new(FIRST_EPOCH, entries),
            now: START,
            ready: BTreeMap::new(),
            open: BTreeMap::new(),
            pending: BTreeSet::new(),
            next_proposal: 0,
        }
    }

    /// The epoch.
    pub(crate) fn epoch(&self) -> Epoch {
        self.roster.epoch()
    }

    /// The view `me` is shown.
    pub(crate) fn view(&self, me: MemberId) -> EpochView<'_> {
        EpochView {
            group_id: &self.gid,
            epoch: self.roster.epoch(),
            roster: &self.roster,
            me,
            pending_removals: &self.pending,
            ready: &self.ready,
            open: &self.open,
            rejoins: &[],
        }
    }

    /// Fresh instances for members `who`, told about the current epoch as the engine does
    /// when a group is created.
    pub(crate) fn seats(&self, factory: &dyn StewardPolicyFactory, who: &[MemberId]) -> Vec<Seat> {
        who.iter()
            .map(|&me| {
                let mut policy = create(factory, &self.gid, None);
                policy.on_epoch(&self.view(me), self.now);
                Seat { me, policy }
            })
            .collect()
    }

    /// Seats for every current member.
    pub(crate) fn everyone(&self, factory: &dyn StewardPolicyFactory) -> Vec<Seat> {
        let ids: Vec<MemberId> = self.roster.ids().collect();
        self.seats(factory, &ids)
    }

    /// Records `action`, opened by `owner`, as decided YES at every seat.
    pub(crate) fn decide(&mut self, seats: &mut [Seat], owner: MemberId, action: ProposalAction) {
        self.next_proposal += 1;
        let mut id = [0u8; 32];
        id[..4].copy_from_slice(&self.next_proposal.to_be_bytes());
        id[4..12].copy_from_slice(&self.roster.epoch().to_be_bytes());
        let id = ProposalId(id);
        if let Some(removed) = action.removes() {
            self.pending.insert(removed);
        }
        self.ready.insert(
            id,
            ReadyProposal {
                id,
                action: action.clone(),
                epoch: self.roster.epoch(),
                decided_at: self.now,
            },
        );
        for seat in seats.iter_mut() {
            let view = self.view(seat.me);
            let actions = seat
                .policy
                .on_decided(&view, &owner, &action, Verdict::Yes, self.now);
            drop(actions); // a policy's reaction to a decision is local planning
        }
    }

    /// Lets time pass and the seats' own proposals be decided until the policy names a
    /// steward (a policy with an elected list names nobody before its first election). The
    /// first proposal any seat asks for in a round is validated by every seat and decided YES.
    ///
    /// # Panics
    /// When no steward is named within a minute of model time, or a seat refuses another
    /// seat's proposal.
    pub(crate) fn settle(&mut self, seats: &mut [Seat]) {
        for _ in 0..120 {
            let observer = seats[0].me;
            if !seats[0].policy.stewards(&self.view(observer)).is_empty() {
                return;
            }
            let next = seats
                .iter()
                .filter_map(|s| s.policy.next_deadline())
                .filter(|t| *t > self.now)
                .min();
            self.now = next
                .unwrap_or(self.now.plus_ms(500))
                .min(self.now.plus_ms(500));
            let wanted = self.tick(seats);
            if let Some((owner, action, evidence)) = wanted.into_iter().next() {
                for seat in seats.iter() {
                    if let Err(e) = seat.policy.validate_proposal(
                        &self.view(seat.me),
                        &owner,
                        &action,
                        &evidence,
                    ) {
                        panic!(
                            "{} refused {action:?}, which {} proposed: {e}",
                            seat.me.short(),
                            owner.short()
                        );
                    }
                }
                self.decide(seats, owner, action);
            }
        }
        panic!("no steward named within a minute of model time");
    }

    /// Calls `tick` on every seat; returns what they ask to propose, with the owner.
    pub(crate) fn tick(&mut self, seats: &mut [Seat]) -> Vec<(MemberId, ProposalAction, Vec<u8>)> {
        let mut wanted = Vec::new();
        for seat in seats.iter_mut() {
            let view = self.view(seat.me);
            for action in seat.policy.tick(&view, self.now) {
                let PolicyAction::Propose { action, evidence } = action;
                wanted.push((seat.me, action, evidence));
            }
        }
        wanted
    }

    /// What a commit applying every ready proposal removes and applies.
    pub(crate) fn facts(&self) -> (Vec<MemberId>, Vec<(ProposalId, ProposalAction)>) {
        let removed = self.pending.iter().copied().collect();
        let proposals = self
            .ready
            .values()
            .map(|r| (r.id, r.action.clone()))
            .collect();
        (removed, proposals)
    }

    /// The first steward (as `seats[0]` sees it) commits every ready proposal: every seat
    /// must authorize it. Then every seat is told about the commit and the new epoch; joiners
    /// added by it get seats that adopt the Welcome's policy state, removed members lose
    /// theirs. Returns the author.
    ///
    /// # Panics
    /// When no steward is named, or a seat refuses the commit.
    pub(crate) fn commit(
        &mut self,
        factory: &dyn StewardPolicyFactory,
        seats: &mut Vec<Seat>,
    ) -> MemberId {
        self.settle(seats);
        let author = *seats[0]
            .policy
            .stewards(&self.view(seats[0].me))
            .first()
            .expect("settle names a steward");
        let (removed, proposals) = self.facts();
        let facts = CommitFacts {
            author,
            removed: &removed,
            proposals: &proposals,
        };
        for seat in seats.iter() {
            if let Err(e) = seat.policy.authorize_commit(&self.view(seat.me), &facts) {
                panic!(
                    "{} refused the commit of the first steward {}: {e}",
                    seat.me.short(),
                    author.short()
                );
            }
        }
        let joiner_state = seats[0]
            .policy
            .joiner_state(&self.view(seats[0].me), &facts);
        for seat in seats.iter_mut() {
            let view = self.view(seat.me);
            seat.policy.on_commit(&view, &facts, self.now);
        }
        let added: Vec<MemberId> = proposals
            .iter()
            .filter_map(|(_, a)| match a {
                ProposalAction::Add { member } => Some(*member),
                _ => None,
            })
            .collect();
        self.advance(&removed, &added);
        seats.retain(|s| !removed.contains(&s.me));
        for seat in seats.iter_mut() {
            let view = self.view(seat.me);
            seat.policy.on_epoch(&view, self.now);
        }
        for me in added {
            let mut policy = create(factory, &self.gid, None);
            if let Err(e) = policy.adopt_joiner_state(&joiner_state) {
                panic!("a joiner refused the Welcome's policy state: {e}");
            }
            policy.on_epoch(&self.view(me), self.now);
            seats.push(Seat { me, policy });
        }
        author
    }

    /// Moves to the next epoch: `removed` leave, `added` take the lowest free leaves, nothing
    /// is ready or pending any more.
    pub(crate) fn advance(&mut self, removed: &[MemberId], added: &[MemberId]) {
        let mut entries: Vec<RosterEntry> = self
            .roster
            .entries()
            .iter()
            .filter(|e| !removed.contains(&e.id))
            .cloned()
            .collect();
        for &id in added {
            let used: BTreeSet<u32> = entries.iter().map(|e| e.leaf).collect();
            let leaf = (0..).find(|l| !used.contains(l)).expect("a free leaf");
            entries.push(entry(leaf, id));
        }
        self.roster = Roster::new(self.roster.epoch() + 1, entries);
        self.ready.clear();
        self.open.clear();
        self.pending.clear();
        self.now = self.now.plus_ms(50);
    }
}

/// A roster entry for `id` at `leaf` (keys derived from the id).
fn entry(leaf: u32, id: MemberId) -> RosterEntry {
    RosterEntry {
        leaf,
        id,
        signature_key: id.0.repeat(2)[..32].to_vec(),
        encryption_key: id.0.iter().map(|b| !b).cycle().take(32).collect(),
    }
}

/// A policy instance from `factory`, failing the case on a factory error.
pub(super) fn create(
    factory: &dyn StewardPolicyFactory,
    gid: &GroupId,
    saved: Option<&[u8]>,
) -> Box<dyn StewardPolicy> {
    factory
        .create(gid, saved)
        .unwrap_or_else(|e| panic!("the factory refused to create a policy: {e}"))
}

/// The membership changes the model trace makes, one per epoch: adds, the removal of an
/// ordinary member, and the removal of the current first steward.
pub(super) enum Change {
    /// Member `n` is added.
    Add(u8),
    /// The member at this roster position (leaf order) is removed.
    RemoveAt(usize),
    /// The first steward is removed.
    RemoveSteward,
}

/// The model trace: six epochs from a group of four.
pub(super) const TRACE: [Change; 6] = [
    Change::Add(5),
    Change::Add(6),
    Change::RemoveAt(2),
    Change::Add(7),
    Change::RemoveSteward,
    Change::Add(8),
];

impl Group {
    /// Decides `change` (opened by the first seat's member) at every seat.
    pub(crate) fn propose(&mut self, seats: &mut [Seat], change: &Change) {
        self.settle(seats);
        let owner = seats[0].me;
        let action = match *change {
            Change::Add(n) => ProposalAction::Add { member: member(n) },
            Change::RemoveAt(i) => ProposalAction::Remove {
                member: self.roster.entries()[i].id,
            },
            Change::RemoveSteward => ProposalAction::Remove {
                member: seats[0].policy.stewards(&self.view(owner))[0],
            },
        };
        self.decide(seats, owner, action);
    }
}

/// How a policy judged a commit, comparable across instances.
pub(super) fn judged(result: Result<CommitRank, crate::steward::PolicyError>) -> String {
    match result {
        Ok(rank) => format!("authorized at position {}", rank.position),
        Err(e) => format!("refused: {e:?}"),
    }
}
