//! The commits competing for the current epoch while the selection window is open, and the
//! Welcome of this member's own commit: pending while its commit competes, then kept for a
//! while once published (to publish again to a joiner that missed it).
//!
//! Who changes what: `commit.rs` enters this member's own candidate and keeps the Welcomes it
//! publishes; [`super::accept`] enters other members' candidates and [`super::close`] takes
//! them all; a new epoch ([`crate::engine::epoch`]) clears what is left. Every other file only
//! reads.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::steward::CommitRank;
use crate::types::{MemberId, ProposalId};

/// Welcomes of own commits kept to publish again, at most (one per added member).
const WELCOMES_KEPT: usize = 64;

/// A valid commit competing for the current epoch during the selection window.
#[derive(Debug)]
pub(crate) struct Candidate {
    /// Its author.
    pub author: MemberId,
    /// Its rank from the steward policy.
    pub rank: CommitRank,
    /// The voting proposals it applies.
    pub proposals: Vec<ProposalId>,
    /// The members it re-adds without a vote.
    pub rejoins: Vec<crate::wire::Rejoin>,
    /// The sealed commit (envelope body).
    pub sealed: Vec<u8>,
    /// True for this member's own commit (pending in OpenMLS).
    pub own: bool,
    /// Another member's commit as OpenMLS staged it when it arrived (staging does not change
    /// the group), kept so that the winner is merged without being processed again.
    pub staged: Option<Box<openmls::prelude::StagedCommit>>,
}

impl Candidate {
    /// The selection order: more proposals first, then the policy's rank, then the smaller
    /// author id. Lower is better.
    pub(crate) fn key(&self) -> (std::cmp::Reverse<usize>, CommitRank, MemberId) {
        (
            std::cmp::Reverse(self.proposals.len()),
            self.rank,
            self.author,
        )
    }
}

/// The Welcome and ratchet-tree envelopes of one of our commits, shared by its added members.
pub(crate) type WelcomePair = (Vec<u8>, Vec<u8>);

/// A Welcome message and the members it is for.
pub(crate) type PendingWelcome = (Vec<u8>, Vec<MemberId>);

/// Selection state of one group (transient).
#[derive(Default)]
pub(crate) struct Selection {
    /// Valid commits competing for the current epoch (selection window open).
    candidates: Vec<Candidate>,
    /// The Welcome of our own commit while it waits in the selection window.
    own_welcome: Option<PendingWelcome>,
    /// Welcome and tree envelopes of our recent commits, by added member.
    welcomes: VecDeque<(MemberId, Arc<WelcomePair>)>,
}

impl Selection {
    /// True while commits of the current epoch compete (a commit is being selected).
    pub(crate) fn is_open(&self) -> bool {
        !self.candidates.is_empty()
    }

    /// Enters another member's commit, unless the same sealed commit is in already.
    pub(crate) fn offer(&mut self, candidate: Candidate) {
        if !self.candidates.iter().any(|c| c.sealed == candidate.sealed) {
            self.candidates.push(candidate);
        }
    }

    /// Enters this member's own commit, with its Welcome (if it adds anyone).
    pub(crate) fn offer_own(&mut self, candidate: Candidate, welcome: Option<PendingWelcome>) {
        self.candidates.push(candidate);
        self.own_welcome = welcome;
    }

    /// Takes the candidates (the window closes).
    pub(crate) fn take_candidates(&mut self) -> Vec<Candidate> {
        std::mem::take(&mut self.candidates)
    }

    /// Takes the Welcome of this member's own candidate (it won).
    pub(crate) fn take_own_welcome(&mut self) -> Option<PendingWelcome> {
        self.own_welcome.take()
    }

    /// True if this member authored a candidate applying `proposal`.
    pub(crate) fn proposes(&self, me: &MemberId, proposal: &ProposalId) -> bool {
        self.candidates
            .iter()
            .any(|c| c.author == *me && c.proposals.contains(proposal))
    }

    /// Forgets the candidates and the pending Welcome (an epoch was installed).
    pub(crate) fn clear(&mut self) {
        self.candidates.clear();
        self.own_welcome = None;
    }

    /// Keeps the published Welcome of our commit that added `member` (bounded, oldest
    /// forgotten first).
    pub(crate) fn keep_welcome(&mut self, member: MemberId, welcome: Arc<WelcomePair>) {
        self.welcomes.push_back((member, welcome));
        while self.welcomes.len() > WELCOMES_KEPT {
            self.welcomes.pop_front();
        }
    }

    /// The latest kept Welcome of our commit that added `member`.
    pub(crate) fn welcome_for(&self, member: &MemberId) -> Option<Arc<WelcomePair>> {
        self.welcomes
            .iter()
            .rev()
            .find(|(m, _)| m == member)
            .map(|(_, w)| w.clone())
    }
}
