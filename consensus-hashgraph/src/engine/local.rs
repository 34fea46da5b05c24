//! Local actions: opening a proposal and casting this member's vote.
//!
//! This module owns building and signing our own messages. Our own votes are stored before they
//! are returned (so a restart cannot make us vote twice) and applied without re-verification.

use std::sync::Arc;

use super::Consensus;
use crate::canonical::{HASH_LEN, ProposalDigest, own_vote_id, proposal_digest, vote_hash};
use crate::config::Mode;
use crate::error::{Error, Rejection};
use crate::scheme::{SignatureScheme, Signer};
use crate::state::ProposalState;
use crate::store::{Store, StoredProposal};
use crate::validate;
use crate::voters::VoterSet;
use crate::wire::{ConsensusMessage, Proposal, Vote};

/// What a new proposal asks and who may vote.
#[derive(Clone, Debug)]
pub struct ProposalParams<V: SignatureScheme = crate::ed25519::Ed25519> {
    /// Proposal name.
    pub name: String,
    /// What is being decided (opaque to the engine).
    pub payload: Vec<u8>,
    /// The eligible voters; the proposal is bound to this set.
    pub voters: Arc<VoterSet<V>>,
    /// Expiration time, ms since the Unix epoch.
    pub expiration_timestamp: u64,
    /// How silent voters count at expiration.
    pub liveness_criteria_yes: bool,
}

/// A vote this member cast, and the message to send for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CastVote {
    /// The signed vote.
    pub vote: Vote,
    /// What to send: the vote alone (gossipsub mode) or the proposal with the forwarded vote list
    /// ending with this vote (P2P mode).
    pub message: ConsensusMessage,
}

/// Builds and signs one of our votes.
fn sign_vote(
    digest: &ProposalDigest,
    yes: bool,
    received_hash: Vec<u8>,
    signer: &dyn Signer,
    now: u64,
) -> Result<(Vote, [u8; HASH_LEN]), Error> {
    let owner = signer.public_key().to_vec();
    let mut vote = Vote {
        vote_id: own_vote_id(digest, &owner, now),
        vote_owner: owner,
        proposal_id: digest.proposal_id(),
        timestamp: now,
        vote: yes,
        parent_hash: Vec::new(),
        received_hash,
        vote_hash: Vec::new(),
        signature: Vec::new(),
        proposal_hash: digest.as_bytes().to_vec(),
    };
    let hash = vote_hash(&vote);
    vote.signature = signer.sign(&hash)?;
    vote.vote_hash = hash.to_vec();
    Ok((vote, hash))
}

impl<S: Store, V: SignatureScheme> Consensus<S, V> {
    /// Opens a proposal owned by `signer` (who must be a voter), optionally with the owner's vote.
    ///
    /// Returns the digest and the proposal message to broadcast (`round` = number of votes).
    pub fn open(
        &mut self,
        params: ProposalParams<V>,
        own_vote: Option<bool>,
        signer: &dyn Signer,
        now: u64,
    ) -> Result<(ProposalDigest, Proposal), Error> {
        let _span = tracing::debug_span!("open_proposal").entered();
        let voters = params.voters;
        let owner = signer.public_key().to_vec();
        let owner_index = voters.index_of(&owner).ok_or(Error::NotAVoter)?;
        let mut header = Proposal {
            name: params.name,
            payload: params.payload,
            proposal_id: 0,
            proposal_owner: owner,
            votes: Vec::new(),
            expected_voters_count: voters.count(),
            round: 0,
            timestamp: now,
            expiration_timestamp: params.expiration_timestamp,
            liveness_criteria_yes: params.liveness_criteria_yes,
        };
        let digest = proposal_digest(&header);
        header.proposal_id = digest.proposal_id();
        validate::proposal_shape(&header, &self.config, &self.scheme)?;
        validate::proposal_binding(&header, &voters, &self.config, now)?;
        if self.proposals.contains_key(&digest) {
            return Err(Error::DuplicateProposal(digest));
        }
        if self.replay.is_replay(&digest, now) {
            return Err(Rejection::Replay(digest).into());
        }
        if self.proposals.len() >= self.config.max_proposals {
            let limit = self.config.max_proposals;
            return Err(Rejection::TooManyProposals { limit }.into());
        }
        let own = own_vote
            .map(|yes| sign_vote(&digest, yes, Vec::new(), signer, now))
            .transpose()?;

        self.store.save_proposal(&StoredProposal {
            digest,
            header: header.clone(),
            voter_set: voters.fingerprint(),
        })?;
        if let Some((vote, _)) = &own {
            self.store.save_votes(&digest, std::slice::from_ref(vote))?;
        }

        let mut state = ProposalState::new(
            digest,
            header.clone(),
            voters,
            self.config.max_votes_per_voter,
        );
        let mut message = header;
        if let Some((vote, hash)) = own {
            message.votes.push(vote.clone());
            state.apply(owner_index, hash, vote);
            state.offer_chain(&[hash]);
        }
        message.round = message.votes.len() as u32;
        self.proposals.insert(digest, state);
        tracing::debug!(%digest, "proposal opened");
        self.settle(digest, now)?;
        Ok((digest, message))
    }

    /// Casts this member's vote on a known proposal. Voting twice is refused: a second vote with
    /// the other value would be equivocation.
    pub fn vote(
        &mut self,
        digest: &ProposalDigest,
        yes: bool,
        signer: &dyn Signer,
        now: u64,
    ) -> Result<CastVote, Error> {
        let _span = tracing::debug_span!("cast_vote", %digest).entered();
        let state = self
            .proposals
            .get(digest)
            .ok_or(Error::UnknownProposal(*digest))?;
        validate::live_at(&state.header, &self.config, now)?;
        let voter = state
            .voters
            .index_of(signer.public_key())
            .ok_or(Error::NotAVoter)?;
        if state.has_pending(voter) {
            // A queued vote claims our key: settle whether it is genuine before deciding.
            let mut report = crate::event::IngestReport::default();
            self.verify_pending(now, &mut report)?;
        }
        let state = self
            .proposals
            .get(digest)
            .ok_or(Error::UnknownProposal(*digest))?;
        if state.has_voted(voter) {
            return Err(Error::AlreadyVoted(*digest));
        }
        let p2p = self.config.mode == Mode::P2p;
        let limit = self.config.mode.round_limit(state.voters.count()) as usize;
        let extend_chain = p2p && state.chain_len() < limit;
        let received = if extend_chain {
            state
                .chain_votes()
                .last()
                .map(|v| v.vote_hash.clone())
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        let (vote, hash) = sign_vote(digest, yes, received, signer, now)?;
        self.store.save_votes(digest, std::slice::from_ref(&vote))?;

        let state = self
            .proposals
            .get_mut(digest)
            .ok_or(Error::UnknownProposal(*digest))?;
        state.apply(voter, hash, vote.clone());
        let message = if p2p {
            let mut list: Vec<Vote> = if extend_chain {
                state.chain_votes().cloned().collect()
            } else {
                Vec::new()
            };
            list.push(vote.clone());
            let hashes: Vec<[u8; HASH_LEN]> = list
                .iter()
                .filter_map(|v| <[u8; HASH_LEN]>::try_from(v.vote_hash.as_slice()).ok())
                .collect();
            state.offer_chain(&hashes);
            let mut p = state.header.clone();
            p.round = list.len() as u32;
            p.votes = list;
            ConsensusMessage::Proposal(p)
        } else {
            ConsensusMessage::Vote(vote.clone())
        };
        self.settle(*digest, now)?;
        Ok(CastVote { vote, message })
    }
}
