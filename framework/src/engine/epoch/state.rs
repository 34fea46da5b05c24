//! What a group knows of its epochs: the roster, voter sets and epoch key of the current epoch
//! and a few past ones, the current epoch's branch tag, the commits it retains (each with the
//! key and branch tag of the epoch it ended), and whether this member's last epoch ended with
//! its removal.
//!
//! [`super::after_merge`] installs each new epoch ([`Epochs::push`]) and
//! [`Group::put_commit`](crate::engine::group::Group::put_commit) retains its commit (and
//! records the write); [`super::removed`] marks the removal. Everyone else only reads.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use crate::consensus::Electorate;
use crate::engine::event::ProposalKind;
use crate::engine::fork::state::{TAG_LEN, tag_of};
use crate::engine::records::CommitRecord;
use crate::roster::Roster;
use crate::types::{Epoch, MemberId};

/// The roster and voter sets of one recent epoch.
pub(crate) struct EpochMembers {
    pub epoch: Epoch,
    pub roster: Arc<Roster>,
    /// Every member.
    pub all: Electorate,
    /// Narrower voter sets the steward policy chose for some proposal kinds.
    pub by_kind: BTreeMap<ProposalKind, Electorate>,
    /// The epoch key (seals commits and certificate parts for members of this epoch).
    pub key: [u8; 16],
}

fn voter_set<'a>(entries: impl Iterator<Item = &'a crate::roster::RosterEntry>) -> Electorate {
    Electorate::new(entries.map(|e| e.signature_key.clone()).collect())
}

impl EpochMembers {
    pub(crate) fn of(roster: Roster, key: [u8; 16]) -> EpochMembers {
        EpochMembers {
            epoch: roster.epoch(),
            all: voter_set(roster.entries().iter()),
            roster: Arc::new(roster),
            by_kind: BTreeMap::new(),
            key,
        }
    }

    /// Restricts the voters of `kind` to `members` (kept in leaf order).
    pub(crate) fn restrict(&mut self, kind: ProposalKind, members: &[MemberId]) {
        let set = voter_set(
            self.roster
                .entries()
                .iter()
                .filter(|e| members.contains(&e.id)),
        );
        self.by_kind.insert(kind, set);
    }

    /// The voters of proposals of `kind` opened in this epoch.
    pub(crate) fn voters(&self, kind: ProposalKind) -> &Electorate {
        self.by_kind.get(&kind).unwrap_or(&self.all)
    }

    /// The voters of a proposal opened in this epoch: those of its kind, except for a leave,
    /// which every member may open (it is final without a vote, so a narrower electorate for
    /// adds and removals must not keep a member from leaving).
    pub(crate) fn voters_for(&self, kind: ProposalKind, leave: bool) -> &Electorate {
        if leave { &self.all } else { self.voters(kind) }
    }
}

/// The epochs of one group as this member knows them.
pub(crate) struct Epochs {
    /// Current epoch first, then older ones (bounded).
    members: VecDeque<EpochMembers>,
    /// The branch tag of the current epoch.
    branch: [u8; TAG_LEN],
    /// Accepted commits retained (durable: written by `Group::put_commit`), by the epoch they
    /// ended.
    commits: BTreeMap<Epoch, CommitRecord>,
    /// Set when a commit removed this member (or the surviving branch of a fork did): its
    /// state of the group is erased, and the engine drops the group after the step.
    removed: bool,
}

impl Epochs {
    /// The epochs of a group whose current epoch has `members`, with `authenticator`.
    pub(crate) fn new(members: EpochMembers, authenticator: &[u8]) -> Epochs {
        Epochs {
            members: VecDeque::from([members]),
            branch: tag_of(authenticator),
            commits: BTreeMap::new(),
            removed: false,
        }
    }

    /// The current epoch's roster and voter sets.
    pub(crate) fn current(&self) -> &EpochMembers {
        &self.members[0]
    }

    /// The current epoch's, to narrow its voter sets (the steward policy's choice).
    pub(crate) fn current_mut(&mut self) -> &mut EpochMembers {
        &mut self.members[0]
    }

    /// The roster and voter sets of a recent epoch.
    pub(crate) fn at(&self, epoch: Epoch) -> Option<&EpochMembers> {
        self.members.iter().find(|m| m.epoch == epoch)
    }

    /// The current epoch key (seals commits and control envelopes).
    pub(crate) fn key(&self) -> &[u8; 16] {
        &self.members[0].key
    }

    /// The current epoch's branch tag.
    pub(crate) fn branch(&self) -> &[u8; TAG_LEN] {
        &self.branch
    }

    /// Installs a new current epoch with `authenticator`, keeping `keep_past` older ones.
    pub(crate) fn push(&mut self, members: EpochMembers, authenticator: &[u8], keep_past: usize) {
        self.branch = tag_of(authenticator);
        self.members.push_front(members);
        self.members.truncate(keep_past + 1);
    }

    /// The branch tag of `epoch` as this member knows it, `current` being the current epoch:
    /// the current epoch's, or one a retained commit started.
    pub(crate) fn branch_tag(&self, epoch: Epoch, current: Epoch) -> Option<[u8; TAG_LEN]> {
        if epoch == current {
            return Some(self.branch);
        }
        if epoch > current {
            return None;
        }
        if let Some(tag) = self
            .commits
            .get(&epoch)
            .and_then(|c| <[u8; TAG_LEN]>::try_from(c.branch_before.as_slice()).ok())
        {
            return Some(tag);
        }
        let before = epoch.checked_sub(1)?;
        self.commits
            .get(&before)
            .map(|c| tag_of(&c.authenticator_after))
    }

    /// The retained commit that ended `epoch`.
    pub(crate) fn commit(&self, epoch: Epoch) -> Option<&CommitRecord> {
        self.commits.get(&epoch)
    }

    /// Every retained commit, oldest first.
    pub(crate) fn commits(&self) -> impl Iterator<Item = &CommitRecord> {
        self.commits.values()
    }

    /// The oldest epoch whose ending commit is retained.
    pub(crate) fn first_commit_epoch(&self) -> Option<Epoch> {
        self.commits.keys().next().copied()
    }

    /// Retains `rec`, then forgets the oldest commits beyond `keep` (at least one is kept);
    /// returns the epochs forgotten. Only `Group::put_commit` calls this: it records the
    /// storage writes.
    pub(crate) fn retain_commit(&mut self, rec: CommitRecord, keep: usize) -> Vec<Epoch> {
        self.commits.insert(rec.epoch, rec);
        let mut forgotten = Vec::new();
        while self.commits.len() > keep.max(1) {
            let Some((&oldest, _)) = self.commits.iter().next() else {
                break;
            };
            self.commits.remove(&oldest);
            forgotten.push(oldest);
        }
        forgotten
    }

    /// Puts back a commit loaded from storage.
    pub(crate) fn restore_commit(&mut self, rec: CommitRecord) {
        self.commits.insert(rec.epoch, rec);
    }

    /// Notes that this member was removed (its state of the group is erased).
    pub(crate) fn mark_removed(&mut self) {
        self.removed = true;
    }

    /// True once this member was removed in this instance of the group.
    pub(crate) fn is_removed(&self) -> bool {
        self.removed
    }
}
