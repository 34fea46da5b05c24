//! Rebuilding an engine from its store after a restart.
//!
//! This module owns the restore procedure: proposals are re-bound to the caller's voter sets by
//! fingerprint, stored votes are re-applied in stored order without re-verifying signatures (the
//! store only ever receives verified votes), stored decisions are kept as they are, and proposals
//! whose stored votes already decide them are decided now.

use std::sync::Arc;

use super::Consensus;
use crate::canonical::vote_hash;
use crate::config::Config;
use crate::error::Error;
use crate::scheme::SignatureScheme;
use crate::state::ProposalState;
use crate::store::Store;
use crate::voters::VoterSet;

impl<S: Store, V: SignatureScheme + Default> Consensus<S, V> {
    /// Rebuilds an engine from `store` with the default scheme instance. See
    /// [`Consensus::restore_with_scheme`].
    pub fn restore(
        config: Config,
        store: S,
        voter_sets: &[Arc<VoterSet<V>>],
        now: u64,
    ) -> Result<Self, Error> {
        Self::restore_with_scheme(config, store, V::default(), voter_sets, now)
    }
}

impl<S: Store, V: SignatureScheme> Consensus<S, V> {
    /// Rebuilds an engine from `store`. Every stored proposal must find its voter set (by
    /// fingerprint) in `voter_sets`, otherwise [`Error::MissingVoterSet`]. Events are not replayed,
    /// except `Decided` for proposals the stored votes decide but whose decision was not yet stored.
    /// The verification queue and the early-vote buffer start empty.
    pub fn restore_with_scheme(
        config: Config,
        store: S,
        scheme: V,
        voter_sets: &[Arc<VoterSet<V>>],
        now: u64,
    ) -> Result<Self, Error> {
        let _span = tracing::debug_span!("restore").entered();
        let mut engine = Self::with_scheme(config, store, scheme);
        for (digest, until) in engine.store.load_replay_marks()? {
            // Capacity evictions here only drop in-memory protection; marks stay in the store.
            engine.replay.insert(digest, until);
        }
        let mut digests = engine.store.list_proposals()?;
        digests.sort_unstable();
        for digest in &digests {
            let Some(stored) = engine.store.load_proposal(digest)? else {
                continue;
            };
            let voters = voter_sets
                .iter()
                .find(|v| v.fingerprint() == stored.voter_set)
                .ok_or(Error::MissingVoterSet {
                    digest: *digest,
                    fingerprint: stored.voter_set,
                })?;
            let mut state = ProposalState::new(
                *digest,
                stored.header,
                Arc::clone(voters),
                engine.config.max_votes_per_voter,
            );
            for vote in engine.store.load_votes(digest)? {
                let Some(voter) = state.voters.index_of(&vote.vote_owner) else {
                    continue;
                };
                let hash = vote_hash(&vote);
                state.apply(voter, hash, vote);
            }
            state.decision = engine.store.load_decision(digest)?;
            engine.proposals.insert(*digest, state);
        }
        for digest in digests {
            engine.settle(digest, now)?;
        }
        tracing::debug!(proposals = engine.proposals.len(), "restored");
        Ok(engine)
    }
}
