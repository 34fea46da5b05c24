//! Network input: proposals (with their vote lists) and single votes.
//!
//! This module owns the order in which an incoming message is checked and applied. A proposal
//! message is validated completely, including every new signature, before any of it is applied; a
//! single vote is checked cheaply and queued for batch verification. Votes for unknown proposals
//! are buffered until the proposal arrives.

use std::sync::Arc;

use super::Consensus;
use crate::buffer::Buffered;
use crate::canonical::{HASH_LEN, ProposalDigest};
use crate::config::Mode;
use crate::error::{Error, Rejection};
use crate::event::{Event, IngestReport, ProposalInfo};
use crate::pending::PendingVote;
use crate::scheme::SignatureScheme;
use crate::state::ProposalState;
use crate::store::{Store, StoredProposal};
use crate::validate::{self, ListChain};
use crate::voters::{VoterIndex, VoterSet};
use crate::wire::{Proposal, Vote};

/// What happened to a vote offered to a known proposal.
enum Queued {
    New,
    Duplicate,
    /// For a proposal already decided here: checked, neither verified nor stored.
    Late,
}

fn info_of(digest: ProposalDigest, header: &Proposal) -> ProposalInfo {
    ProposalInfo {
        digest,
        proposal_id: header.proposal_id,
        name: header.name.clone(),
        owner: header.proposal_owner.clone(),
        payload: header.payload.clone(),
        voters: header.expected_voters_count,
        timestamp: header.timestamp,
        expiration_timestamp: header.expiration_timestamp,
        liveness_criteria_yes: header.liveness_criteria_yes,
    }
}

impl<S: Store, V: SignatureScheme> Consensus<S, V> {
    /// Ingests a proposal message: a new proposal (bound to `voters_if_new`) or a known one carrying
    /// votes. The whole message is validated (header, every vote, hash chains, every new signature)
    /// before anything is applied; any failure rejects it entirely and changes nothing.
    pub fn ingest_proposal(
        &mut self,
        mut proposal: Proposal,
        voters_if_new: &Arc<VoterSet<V>>,
        now: u64,
    ) -> Result<IngestReport, Error> {
        let _span = tracing::debug_span!("ingest_proposal", round = proposal.round).entered();
        let digest = validate::proposal_shape(&proposal, &self.config, &self.scheme)?;
        let votes = std::mem::take(&mut proposal.votes);
        let round = proposal.round;
        let fresh = match self.proposals.get(&digest) {
            Some(state) => {
                validate::round_limit(round, &self.config, state.voters.count())?;
                validate::live_at(&state.header, &self.config, now)?;
                None
            }
            None => {
                if self.replay.is_replay(&digest, now) {
                    return Err(Rejection::Replay(digest).into());
                }
                if self.proposals.len() >= self.config.max_proposals {
                    let limit = self.config.max_proposals;
                    return Err(Rejection::TooManyProposals { limit }.into());
                }
                validate::round_limit(round, &self.config, voters_if_new.count())?;
                validate::proposal_binding(&proposal, voters_if_new, &self.config, now)?;
                Some(ProposalState::new(
                    digest,
                    proposal,
                    Arc::clone(voters_if_new),
                    self.config.max_votes_per_voter,
                ))
            }
        };
        let Some(state) = fresh.as_ref().or_else(|| self.proposals.get(&digest)) else {
            return Err(Error::UnknownProposal(digest));
        };

        // Every vote: shape, binding, chains. Collect the ones not yet accepted.
        let mut chain = ListChain::default();
        let mut list_hashes = Vec::with_capacity(votes.len());
        let mut new: Vec<(usize, VoterIndex, [u8; HASH_LEN])> = Vec::new();
        let (mut duplicates, mut ignored) = (0, 0);
        for (i, v) in votes.iter().enumerate() {
            let checked = validate::vote_shape(v, &self.scheme).and_then(|hash| {
                let voter = validate::vote_binding(v, state, &self.config, now)?;
                chain.next(v, voter, hash)?;
                validate::parent_against_state(v, voter, state)?;
                Ok((voter, hash))
            });
            let (voter, hash) = checked.map_err(|r| r.at(i))?;
            list_hashes.push(hash);
            if state.has_accepted(&hash) {
                duplicates += 1;
            } else if !state.accepts(voter, v.vote) {
                // An equivocator's or an over-cap vote: it cannot change anything. It still
                // anchors the chain check above, so the list is not refused because of it.
                ignored += 1;
            } else {
                new.push((i, voter, hash));
            }
        }

        // Every new signature, as one batch.
        validate::signatures(&self.scheme, &state.voters, &votes, &new)?;

        // Valid: persist, then apply.
        let mut new_votes: Vec<Vote> = Vec::with_capacity(new.len());
        let mut wanted = new.iter().map(|n| n.0).peekable();
        for (i, v) in votes.into_iter().enumerate() {
            if wanted.peek() == Some(&i) {
                wanted.next();
                new_votes.push(v);
            }
        }
        if let Some(state) = &fresh {
            self.store.save_proposal(&StoredProposal {
                digest,
                header: state.header.clone(),
                voter_set: state.voters.fingerprint(),
            })?;
        }
        if !new_votes.is_empty() {
            self.store.save_votes(&digest, &new_votes)?;
        }

        let mut report = IngestReport {
            digest: Some(digest),
            duplicates,
            ignored,
            ..Default::default()
        };
        if let Some(state) = fresh {
            let info = info_of(digest, &state.header);
            tracing::debug!(%digest, voters = state.voters.len(), "new proposal");
            self.proposals.insert(digest, state);
            self.events.push_back(Event::ProposalReceived(info.clone()));
            report.new_proposal = Some(info);
        }
        for ((_, voter, hash), vote) in new.into_iter().zip(new_votes) {
            if self.apply_verified(digest, voter, hash, vote) {
                report.accepted += 1;
            }
        }
        if self.config.mode == Mode::P2p {
            if let Some(state) = self.proposals.get_mut(&digest) {
                state.offer_chain(&list_hashes);
            }
        }
        if report.new_proposal.is_some() {
            self.release_buffered(digest, now, &mut report);
        }
        report.decided |= self.settle(digest, now)?;
        self.maybe_verify(&digest, now, &mut report)?;
        Ok(report)
    }

    /// Ingests a single vote. Cheap checks happen now; the signature is verified in a batch (when
    /// the queue is full, when queued votes could decide the proposal, or on `flush`/`tick`). A
    /// vote for an unknown proposal is buffered until the proposal arrives.
    pub fn ingest_vote(&mut self, vote: Vote, now: u64) -> Result<IngestReport, Error> {
        let hash = validate::vote_shape(&vote, &self.scheme)?;
        let digest =
            ProposalDigest::from_slice(&vote.proposal_hash).ok_or(Rejection::WrongProposal)?;
        let mut report = IngestReport {
            digest: Some(digest),
            ..Default::default()
        };
        if self.proposals.contains_key(&digest) {
            match self.queue_vote(digest, vote, hash, now)? {
                Queued::New => report.queued = 1,
                Queued::Duplicate => report.duplicates = 1,
                Queued::Late => report.late = 1,
            }
            self.maybe_verify(&digest, now, &mut report)?;
            return Ok(report);
        }
        if self.replay.is_replay(&digest, now) {
            return Err(Rejection::Replay(digest).into());
        }
        if vote.proposal_id != digest.proposal_id() {
            return Err(Rejection::WrongProposal.into());
        }
        // A vote for a live proposal is stamped at most `skew` ahead of now, and its proposal
        // expires at most `max_lifetime + skew` after the vote's timestamp.
        let skew = self.config.allowed_clock_skew_ms;
        let not_after = now.saturating_add(skew);
        let keep_until = vote
            .timestamp
            .saturating_add(skew)
            .saturating_add(self.config.max_lifetime_ms);
        if vote.timestamp > not_after || keep_until < now {
            let not_before = now.saturating_sub(skew.saturating_add(self.config.max_lifetime_ms));
            return Err(Rejection::VoteOutsideWindow {
                timestamp: vote.timestamp,
                not_before,
                not_after,
            }
            .into());
        }
        match self.buffer.push(digest, hash, vote, keep_until)? {
            Buffered::New => report.buffered = 1,
            Buffered::Duplicate => report.duplicates = 1,
        }
        Ok(report)
    }

    /// Checks a vote against its known proposal and queues it for signature verification.
    fn queue_vote(
        &mut self,
        digest: ProposalDigest,
        vote: Vote,
        hash: [u8; HASH_LEN],
        now: u64,
    ) -> Result<Queued, Rejection> {
        let Some(state) = self.proposals.get_mut(&digest) else {
            return Err(Rejection::WrongProposal);
        };
        validate::live_at(&state.header, &self.config, now)?;
        let voter = validate::vote_binding(&vote, state, &self.config, now)?;
        if state.knows_vote(&hash) {
            return Ok(Queued::Duplicate);
        }
        if !state.accepts(voter, vote.vote) {
            return Err(Rejection::VoteLimit);
        }
        validate::parent_against_state(&vote, voter, state)?;
        // Decided here, and configured not to count later votes: the vote can change nothing
        // (see `Config::count_after_decision`), so its signature is not checked.
        if state.decision.is_some() && !self.config.count_after_decision {
            return Ok(Queued::Late);
        }
        state.mark_pending(voter, vote.vote, hash);
        self.pending.push(
            PendingVote {
                digest,
                voter,
                hash,
                vote,
            },
            now,
        );
        Ok(Queued::New)
    }

    /// Moves the early votes of a proposal that just arrived into the verification queue.
    fn release_buffered(&mut self, digest: ProposalDigest, now: u64, report: &mut IngestReport) {
        let early = self.buffer.take(&digest);
        if early.is_empty() {
            return;
        }
        tracing::debug!(%digest, count = early.len(), "releasing early votes");
        for vote in early {
            let Some(hash) = <[u8; HASH_LEN]>::try_from(vote.vote_hash.as_slice()).ok() else {
                continue;
            };
            let (owner, vote_hash) = (vote.vote_owner.clone(), vote.vote_hash.clone());
            match self.queue_vote(digest, vote, hash, now) {
                Ok(Queued::New) => report.queued += 1,
                Ok(Queued::Duplicate) => report.duplicates += 1,
                Ok(Queued::Late) => report.late += 1,
                Err(reason) => {
                    report.rejected += 1;
                    self.events.push_back(Event::VoteRejected {
                        digest,
                        vote_owner: owner,
                        vote_hash,
                        reason,
                    });
                }
            }
        }
    }
}
