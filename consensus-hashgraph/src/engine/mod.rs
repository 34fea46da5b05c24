//! The sans-IO consensus engine: [`Consensus`] holds every live proposal, the verification queue,
//! the early-vote buffer and the replay record, and turns calls (with the caller's `now`) into
//! events.
//!
//! This module owns the engine struct, its accessors, events, time-driven work (`tick`, `flush`,
//! `next_deadline`) and forgetting. Local actions (`open`, `vote`) are in `local`, network input
//! in `ingest`, rebuilding from a store in `restore`. It never reads a clock, opens a socket or
//! spawns a thread.

mod ingest;
mod local;
mod restore;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use crate::buffer::EarlyVotes;
use crate::canonical::{HASH_LEN, ProposalDigest};
use crate::config::Config;
use crate::ed25519::Ed25519;
use crate::error::{Error, Rejection};
use crate::event::{Decision, Event, IngestReport};
use crate::pending::{PendingQueue, PendingVote, verify_all};
use crate::replay::ReplayGuard;
use crate::rules::{Outcome, Tally};
use crate::scheme::SignatureScheme;
use crate::state::{Applied, ProposalState};
use crate::store::{MemoryStore, Store};
use crate::voters::{VoterIndex, VoterSet};
use crate::wire::{ConsensusMessage, Proposal, Vote};

pub use local::{CastVote, ProposalParams};

/// Verified votes of one proposal, waiting to be stored and applied.
struct VerifiedGroup {
    digest: ProposalDigest,
    meta: Vec<(VoterIndex, [u8; HASH_LEN])>,
    votes: Vec<Vote>,
}

/// The consensus engine for one member. See the crate documentation for the flow.
///
/// All methods take the current time `now` (milliseconds since the Unix epoch) where time matters.
/// Events accumulate until drained with [`Consensus::poll_event`] or [`Consensus::drain_events`];
/// drain them after every call.
pub struct Consensus<S: Store = MemoryStore, V: SignatureScheme = Ed25519> {
    config: Config,
    store: S,
    scheme: V,
    proposals: HashMap<ProposalDigest, ProposalState<V>>,
    pending: PendingQueue,
    buffer: EarlyVotes,
    replay: ReplayGuard,
    events: VecDeque<Event>,
}

impl<S: Store, V: SignatureScheme + Default> Consensus<S, V> {
    /// A new engine with the default instance of the signature scheme.
    pub fn new(config: Config, store: S) -> Self {
        Self::with_scheme(config, store, V::default())
    }
}

impl<S: Store, V: SignatureScheme> Consensus<S, V> {
    /// A new engine with an explicit signature scheme instance.
    pub fn with_scheme(config: Config, store: S, scheme: V) -> Self {
        let buffer = EarlyVotes::new(config.buffer_per_proposal, config.buffer_total);
        let replay = ReplayGuard::new(config.replay_capacity);
        Consensus {
            config,
            store,
            scheme,
            proposals: HashMap::new(),
            pending: PendingQueue::default(),
            buffer,
            replay,
            events: VecDeque::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Mutable access to the store, for stores that also serve their owner (e.g. a store that
    /// logs its writes for the caller to persist). Callers must not remove or alter records the
    /// engine wrote.
    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }

    /// Consumes the engine and returns its store (e.g. to restore another engine from it).
    pub fn into_store(self) -> S {
        self.store
    }

    /// The signature scheme.
    pub fn scheme(&self) -> &V {
        &self.scheme
    }

    /// Digests of every proposal in memory (live or finished but not yet forgotten).
    pub fn proposals(&self) -> impl Iterator<Item = &ProposalDigest> {
        self.proposals.keys()
    }

    /// The outcome of a proposal, once decided.
    pub fn outcome(&self, digest: &ProposalDigest) -> Option<Outcome> {
        self.proposals.get(digest)?.decision.map(|d| d.outcome)
    }

    /// The decision of a proposal with its counts, once decided.
    pub fn decision(&self, digest: &ProposalDigest) -> Option<Decision> {
        self.proposals.get(digest)?.decision
    }

    /// The proposal header (with `votes` empty and `round` 0).
    pub fn proposal(&self, digest: &ProposalDigest) -> Option<&Proposal> {
        self.proposals.get(digest).map(|s| &s.header)
    }

    /// A proposal message to (re)send: in gossipsub mode the header with the owner's vote if known;
    /// in P2P mode the header with the vote list this engine forwards.
    pub fn proposal_message(&self, digest: &ProposalDigest) -> Option<Proposal> {
        let state = self.proposals.get(digest)?;
        let mut message = state.header.clone();
        message.votes = match self.config.mode {
            crate::config::Mode::Gossipsub => state.owner_vote().cloned().into_iter().collect(),
            crate::config::Mode::P2p => state.chain_votes().cloned().collect(),
        };
        message.round = message.votes.len() as u32;
        Some(message)
    }

    /// The current counts (verified votes only).
    pub fn tally(&self, digest: &ProposalDigest) -> Option<Tally> {
        self.proposals.get(digest).map(|s| s.tally())
    }

    /// Every accepted vote of a proposal, in acceptance order.
    pub fn votes(&self, digest: &ProposalDigest) -> Option<&[Vote]> {
        self.proposals.get(digest).map(|s| s.votes())
    }

    /// The voter set a proposal is bound to.
    pub fn voters(&self, digest: &ProposalDigest) -> Option<&Arc<VoterSet<V>>> {
        self.proposals.get(digest).map(|s| &s.voters)
    }

    /// True if `key` has a counted, queued or equivocating vote on the proposal.
    pub fn has_voted(&self, digest: &ProposalDigest, key: &[u8]) -> bool {
        self.proposals
            .get(digest)
            .and_then(|s| s.voters.index_of(key).map(|i| s.has_voted(i)))
            .unwrap_or(false)
    }

    /// Votes waiting for signature verification.
    pub fn pending_votes(&self) -> usize {
        self.pending.len()
    }

    /// Votes held until their proposal arrives.
    pub fn buffered_votes(&self) -> usize {
        self.buffer.len()
    }

    /// Takes the next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Takes every pending event.
    pub fn drain_events(&mut self) -> Vec<Event> {
        self.events.drain(..).collect()
    }

    /// Verifies every queued signature now and applies the results.
    pub fn flush(&mut self, now: u64) -> Result<IngestReport, Error> {
        let mut report = IngestReport::default();
        self.verify_pending(now, &mut report)?;
        Ok(report)
    }

    /// Time-driven work: verifies queued votes, decides expired proposals (silent voters per
    /// liveness, `Failed` without quorum), forgets finished proposals after the retention period
    /// and prunes the replay record and the early-vote buffer.
    pub fn tick(&mut self, now: u64) -> Result<(), Error> {
        let _span = tracing::debug_span!("tick", now).entered();
        let mut report = IngestReport::default();
        self.verify_pending(now, &mut report)?;

        // Retry live decisions whose store write failed earlier (a no-op otherwise).
        let mut undecided: Vec<ProposalDigest> = self
            .proposals
            .values()
            .filter(|s| s.decision.is_none())
            .map(|s| s.digest)
            .collect();
        undecided.sort_unstable();
        for digest in undecided {
            self.settle(digest, now)?;
        }

        let mut expired: Vec<(u64, ProposalDigest)> = self
            .proposals
            .values()
            .filter(|s| s.decision.is_none() && now >= s.header.expiration_timestamp)
            .map(|s| (s.header.expiration_timestamp, s.digest))
            .collect();
        expired.sort_unstable();
        for (_, digest) in expired {
            if let Some(state) = self.proposals.get(&digest) {
                let decision = state.expiry_decision(self.config.tie_policy, now);
                self.record_decision(digest, decision)?;
            }
        }

        if let Some(retention) = self.config.retention_ms {
            let mut done: Vec<ProposalDigest> = self
                .proposals
                .values()
                .filter(|s| {
                    s.decision
                        .is_some_and(|d| now >= d.at.saturating_add(retention))
                })
                .map(|s| s.digest)
                .collect();
            done.sort_unstable();
            for digest in done {
                self.forget(&digest, now)?;
            }
        }

        for digest in self.replay.prune(now) {
            self.store.remove_replay_mark(&digest)?;
        }
        let dropped = self.buffer.prune(now);
        if dropped > 0 {
            tracing::debug!(dropped, "stale early votes dropped");
        }
        Ok(())
    }

    /// The next time [`Consensus::tick`] has work: an expiration, the end of a retention period or
    /// the verification deadline of queued votes.
    pub fn next_deadline(&self) -> Option<u64> {
        let expirations =
            self.proposals
                .values()
                .filter_map(|s| match (s.decision, self.config.retention_ms) {
                    (None, _) => Some(s.header.expiration_timestamp),
                    (Some(d), Some(retention)) => Some(d.at.saturating_add(retention)),
                    (Some(_), None) => None,
                });
        let verify = self
            .pending
            .oldest()
            .map(|t| t.saturating_add(self.config.max_verify_delay_ms));
        expirations.chain(verify).min()
    }

    /// Removes a proposal from memory and the store. Its digest is then refused as a replay until
    /// its expiration or `now + replay_window_ms`, whichever is later. Returns false if unknown.
    pub fn forget(&mut self, digest: &ProposalDigest, now: u64) -> Result<bool, Error> {
        let Some(state) = self.proposals.get(digest) else {
            return Ok(false);
        };
        let until = state
            .header
            .expiration_timestamp
            .max(now.saturating_add(self.config.replay_window_ms));
        self.store.save_replay_mark(digest, until)?;
        self.store.remove_proposal(digest)?;
        self.proposals.remove(digest);
        self.pending.remove_digest(digest);
        self.buffer.take(digest);
        for evicted in self.replay.insert(*digest, until) {
            self.store.remove_replay_mark(&evicted)?;
        }
        tracing::debug!(%digest, until, "proposal forgotten");
        Ok(true)
    }

    /// Persists and announces a decision (once per proposal).
    fn record_decision(&mut self, digest: ProposalDigest, decision: Decision) -> Result<(), Error> {
        let Some(state) = self.proposals.get_mut(&digest) else {
            return Ok(());
        };
        if state.decision.is_some() {
            return Ok(());
        }
        self.store.save_decision(&digest, &decision)?;
        state.decision = Some(decision);
        tracing::info!(%digest, outcome = ?decision.outcome, yes = decision.yes, no = decision.no, "decided");
        self.events.push_back(Event::Decided {
            digest,
            outcome: decision.outcome,
            yes: decision.yes,
            no: decision.no,
            silent: decision.silent,
            at: decision.at,
        });
        Ok(())
    }

    /// Decides the proposal now if the live rule allows.
    fn settle(&mut self, digest: ProposalDigest, now: u64) -> Result<bool, Error> {
        let policy = self.config.tie_policy;
        let Some(decision) = self
            .proposals
            .get_mut(&digest)
            .and_then(|s| s.try_decide_live(policy, now))
        else {
            return Ok(false);
        };
        self.record_decision(digest, decision)?;
        Ok(true)
    }

    /// Applies one vote already verified and stored; turns what it did into events.
    fn apply_verified(
        &mut self,
        digest: ProposalDigest,
        voter: VoterIndex,
        hash: [u8; HASH_LEN],
        vote: Vote,
    ) -> bool {
        let Some(state) = self.proposals.get_mut(&digest) else {
            return false;
        };
        match state.apply(voter, hash, vote) {
            Applied::Counted | Applied::Resent | Applied::Ignored => true,
            Applied::Duplicate => false,
            Applied::Equivocation(evidence) => {
                tracing::warn!(%digest, voter, "equivocation: voter signed both YES and NO");
                self.events.push_back(Event::Equivocation { evidence });
                true
            }
        }
    }

    /// Verifies the queue in one batch and applies the verdicts (in queue order per proposal).
    fn verify_pending(&mut self, now: u64, report: &mut IngestReport) -> Result<(), Error> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let oldest = self.pending.oldest().unwrap_or(now);
        let items = self.pending.take();
        let _span = tracing::debug_span!("verify_batch", size = items.len()).entered();
        let verdicts = verify_all(&self.scheme, &self.proposals, &items);

        // Sort verdicts: valid new votes grouped by proposal (moved, not copied), bad signatures
        // aside; votes of forgotten proposals and votes accepted meanwhile are dropped.
        let mut groups: Vec<VerifiedGroup> = Vec::new();
        let mut group_of: HashMap<ProposalDigest, usize> = HashMap::new();
        let mut rejected = Vec::new();
        let mut touched: HashSet<ProposalDigest> = HashSet::new();
        for (item, ok) in items.into_iter().zip(verdicts) {
            let Some(state) = self.proposals.get(&item.digest) else {
                continue;
            };
            touched.insert(item.digest);
            if !ok {
                rejected.push(item);
                continue;
            }
            // Accepted meanwhile (e.g. via a vote list), or no longer storable (the voter
            // equivocated or reached the cap since the vote was queued): nothing to apply.
            if state.has_accepted(&item.hash) || !state.accepts(item.voter, item.vote.vote) {
                continue;
            }
            let g = *group_of.entry(item.digest).or_insert_with(|| {
                groups.push(VerifiedGroup {
                    digest: item.digest,
                    meta: Vec::new(),
                    votes: Vec::new(),
                });
                groups.len() - 1
            });
            groups[g].meta.push((item.voter, item.hash));
            groups[g].votes.push(item.vote);
        }

        // Store every verified vote before touching memory; on failure re-queue everything.
        let failure = groups
            .iter()
            .find_map(|g| self.store.save_votes(&g.digest, &g.votes).err());
        if let Some(e) = failure {
            let mut back: Vec<PendingVote> = Vec::new();
            for g in groups {
                for ((voter, hash), vote) in g.meta.into_iter().zip(g.votes) {
                    back.push(PendingVote {
                        digest: g.digest,
                        voter,
                        hash,
                        vote,
                    });
                }
            }
            back.extend(rejected);
            self.pending.put_back(back, oldest);
            return Err(e.into());
        }

        for g in groups {
            for ((voter, hash), vote) in g.meta.into_iter().zip(g.votes) {
                if self.apply_verified(g.digest, voter, hash, vote) {
                    report.accepted += 1;
                }
            }
        }
        for item in rejected {
            report.rejected += 1;
            tracing::debug!(digest = %item.digest, "queued vote has a bad signature");
            self.events.push_back(Event::VoteRejected {
                digest: item.digest,
                vote_owner: item.vote.vote_owner,
                vote_hash: item.vote.vote_hash,
                reason: Rejection::BadSignature,
            });
        }
        let mut touched: Vec<ProposalDigest> = touched.into_iter().collect();
        touched.sort_unstable();
        for digest in touched {
            if let Some(state) = self.proposals.get_mut(&digest) {
                state.clear_pending();
            }
            report.decided |= self.settle(digest, now)?;
        }
        Ok(())
    }

    /// Verifies the queue if it is full or if queued votes could decide `digest`.
    fn maybe_verify(
        &mut self,
        digest: &ProposalDigest,
        now: u64,
        report: &mut IngestReport,
    ) -> Result<(), Error> {
        let could_decide = self
            .proposals
            .get(digest)
            .is_some_and(|s| s.pending_could_decide());
        if could_decide || self.pending.len() >= self.config.batch_size.max(1) {
            self.verify_pending(now, report)?;
        }
        Ok(())
    }

    /// Convenience: decodes bytes and ingests the message.
    pub fn ingest_bytes(
        &mut self,
        bytes: &[u8],
        voters_if_new: &Arc<VoterSet<V>>,
        now: u64,
    ) -> Result<IngestReport, Error> {
        let message = ConsensusMessage::decode(bytes)?;
        self.ingest(message, voters_if_new, now)
    }

    /// Ingests a decoded message (`voters_if_new` is used only by a proposal seen for the first
    /// time).
    pub fn ingest(
        &mut self,
        message: ConsensusMessage,
        voters_if_new: &Arc<VoterSet<V>>,
        now: u64,
    ) -> Result<IngestReport, Error> {
        match message {
            ConsensusMessage::Proposal(p) => self.ingest_proposal(p, voters_if_new, now),
            ConsensusMessage::Vote(v) => self.ingest_vote(v, now),
        }
    }
}

impl<S: Store, V: SignatureScheme> std::fmt::Debug for Consensus<S, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consensus")
            .field("proposals", &self.proposals.len())
            .field("pending", &self.pending.len())
            .field("buffered", &self.buffer.len())
            .field("replay_record", &self.replay.len())
            .finish_non_exhaustive()
    }
}
