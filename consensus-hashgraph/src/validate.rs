//! Validation of untrusted proposals and votes, in the order the specification fixes: cheap shape
//! checks first, then bindings (digest, voter set, time window), then hash chains. Signatures are
//! checked by the engine afterwards, in batches.
//!
//! This module owns the checks and nothing else: every function here is read-only and returns a
//! [`Rejection`] on the first problem, so a refused message never changes state.

use std::collections::HashMap;

use crate::canonical::{HASH_LEN, ProposalDigest, proposal_digest, vote_hash};
use crate::config::Config;
use crate::error::{HashField, Rejection};
use crate::scheme::{BatchItem, SignatureScheme};
use crate::state::ProposalState;
use crate::voters::{VoterIndex, VoterSet};
use crate::wire::{Proposal, Vote};

/// Shape checks of a proposal that need no state; returns the digest.
pub(crate) fn proposal_shape<V: SignatureScheme>(
    p: &Proposal,
    config: &Config,
    scheme: &V,
) -> Result<ProposalDigest, Rejection> {
    if p.name.len() > config.max_name_bytes {
        return Err(Rejection::FieldTooLong {
            field: "name",
            actual: p.name.len(),
            limit: config.max_name_bytes,
        });
    }
    if p.payload.len() > config.max_payload_bytes {
        return Err(Rejection::FieldTooLong {
            field: "payload",
            actual: p.payload.len(),
            limit: config.max_payload_bytes,
        });
    }
    if p.proposal_owner.len() != scheme.public_key_len() {
        return Err(Rejection::MalformedKey {
            expected: scheme.public_key_len(),
            actual: p.proposal_owner.len(),
        });
    }
    if usize::try_from(p.round).ok() != Some(p.votes.len()) {
        return Err(Rejection::RoundMismatch {
            round: p.round,
            votes: p.votes.len(),
        });
    }
    let digest = proposal_digest(p);
    if p.proposal_id != digest.proposal_id() {
        return Err(Rejection::ProposalIdMismatch {
            claimed: p.proposal_id,
            derived: digest.proposal_id(),
        });
    }
    Ok(digest)
}

/// Lifetime checks of a header (independent of the current time).
pub(crate) fn lifetime(p: &Proposal, config: &Config) -> Result<(), Rejection> {
    if p.expiration_timestamp <= p.timestamp {
        return Err(Rejection::InvalidLifetime {
            timestamp: p.timestamp,
            expiration: p.expiration_timestamp,
        });
    }
    let life = p.expiration_timestamp - p.timestamp;
    if life > config.max_lifetime_ms {
        return Err(Rejection::LifetimeTooLong {
            lifetime: life,
            max: config.max_lifetime_ms,
        });
    }
    Ok(())
}

/// `now` must lie in `[timestamp − skew, expiration_timestamp]`.
pub(crate) fn live_at(p: &Proposal, config: &Config, now: u64) -> Result<(), Rejection> {
    if now < p.timestamp.saturating_sub(config.allowed_clock_skew_ms) {
        return Err(Rejection::NotYetValid {
            timestamp: p.timestamp,
            now,
        });
    }
    if now > p.expiration_timestamp {
        return Err(Rejection::Expired {
            expiration: p.expiration_timestamp,
            now,
        });
    }
    Ok(())
}

/// Binding of a proposal to a voter set that does not depend on the time: the claimed voter
/// count, the owner's eligibility and the lifetime.
pub(crate) fn proposal_voters<V: SignatureScheme>(
    p: &Proposal,
    voters: &VoterSet<V>,
    config: &Config,
) -> Result<(), Rejection> {
    if p.expected_voters_count != voters.count() {
        return Err(Rejection::VoterCountMismatch {
            claimed: p.expected_voters_count,
            voters: voters.count(),
        });
    }
    if !voters.contains(&p.proposal_owner) {
        return Err(Rejection::NotEligible);
    }
    lifetime(p, config)
}

/// Binding of a new proposal to a voter set, plus its lifetime and time window.
pub(crate) fn proposal_binding<V: SignatureScheme>(
    p: &Proposal,
    voters: &VoterSet<V>,
    config: &Config,
    now: u64,
) -> Result<(), Rejection> {
    proposal_voters(p, voters, config)?;
    live_at(p, config, now)
}

/// Verifies, in one batch, the signature of `votes[i]` by `voter` over `hash` for every
/// `(i, voter, hash)` in `new`. The error names the index (in `votes`) of the first bad one.
pub(crate) fn signatures<V: SignatureScheme>(
    scheme: &V,
    voters: &VoterSet<V>,
    votes: &[Vote],
    new: &[(usize, VoterIndex, [u8; HASH_LEN])],
) -> Result<(), Rejection> {
    let mut batch = Vec::with_capacity(new.len());
    for &(i, voter, ref hash) in new {
        let key = voters.key(voter).ok_or(Rejection::NotEligible)?;
        batch.push(BatchItem {
            key,
            message: &hash[..],
            signature: &votes[i].signature,
        });
    }
    match scheme.verify_batch(&batch).first() {
        Some(&bad) => Err(Rejection::BadSignature.at(new.get(bad).map_or(0, |n| n.0))),
        None => Ok(()),
    }
}

/// The round bound of the mode.
pub(crate) fn round_limit(round: u32, config: &Config, voters: u32) -> Result<(), Rejection> {
    let limit = config.mode.round_limit(voters);
    if round > limit {
        return Err(Rejection::RoundLimitExceeded { round, limit });
    }
    Ok(())
}

fn hash_field(field: HashField, bytes: &[u8], may_be_empty: bool) -> Result<(), Rejection> {
    match bytes.len() {
        HASH_LEN => Ok(()),
        0 if may_be_empty => Ok(()),
        actual => Err(Rejection::MalformedHash { field, actual }),
    }
}

/// Self-contained checks of a vote (field lengths, `vote_hash`); returns the hash.
pub(crate) fn vote_shape<V: SignatureScheme>(
    v: &Vote,
    scheme: &V,
) -> Result<[u8; HASH_LEN], Rejection> {
    if v.vote_owner.len() != scheme.public_key_len() {
        return Err(Rejection::MalformedKey {
            expected: scheme.public_key_len(),
            actual: v.vote_owner.len(),
        });
    }
    if v.signature.len() != scheme.signature_len() {
        return Err(Rejection::MalformedSignature {
            expected: scheme.signature_len(),
            actual: v.signature.len(),
        });
    }
    hash_field(HashField::VoteHash, &v.vote_hash, false)?;
    hash_field(HashField::ProposalHash, &v.proposal_hash, false)?;
    hash_field(HashField::ParentHash, &v.parent_hash, true)?;
    hash_field(HashField::ReceivedHash, &v.received_hash, true)?;
    let h = vote_hash(v);
    if v.vote_hash != h {
        return Err(Rejection::VoteHashMismatch);
    }
    Ok(h)
}

/// The window a vote timestamp must fall in: `[timestamp − skew, min(expiration, now) + skew]`.
pub(crate) fn vote_window(header: &Proposal, config: &Config, now: u64) -> (u64, u64) {
    let skew = config.allowed_clock_skew_ms;
    let not_before = header.timestamp.saturating_sub(skew);
    let not_after = header.expiration_timestamp.min(now).saturating_add(skew);
    (not_before, not_after)
}

/// Binding of a vote to a known proposal: same digest, eligible owner, timestamp in the window.
pub(crate) fn vote_binding<V: SignatureScheme>(
    v: &Vote,
    state: &ProposalState<V>,
    config: &Config,
    now: u64,
) -> Result<VoterIndex, Rejection> {
    if v.proposal_hash != state.digest.as_bytes() || v.proposal_id != state.digest.proposal_id() {
        return Err(Rejection::WrongProposal);
    }
    let voter = state
        .voters
        .index_of(&v.vote_owner)
        .ok_or(Rejection::NotEligible)?;
    let (not_before, not_after) = vote_window(&state.header, config, now);
    if v.timestamp < not_before || v.timestamp > not_after {
        return Err(Rejection::VoteOutsideWindow {
            timestamp: v.timestamp,
            not_before,
            not_after,
        });
    }
    Ok(voter)
}

/// A non-empty `parent_hash` that names a known vote must name one of the same owner.
pub(crate) fn parent_against_state<V: SignatureScheme>(
    v: &Vote,
    voter: VoterIndex,
    state: &ProposalState<V>,
) -> Result<(), Rejection> {
    if v.parent_hash.is_empty() {
        return Ok(());
    }
    match state.owner_of(&v.parent_hash) {
        Some(owner) if owner != voter => Err(Rejection::ParentHashMismatch),
        _ => Ok(()),
    }
}

/// Tracks a vote list while it is checked: the received-hash chain and the per-owner parent chain.
#[derive(Default)]
pub(crate) struct ListChain {
    previous: Option<[u8; HASH_LEN]>,
    last_of_owner: HashMap<VoterIndex, [u8; HASH_LEN]>,
    owner_of: HashMap<[u8; HASH_LEN], VoterIndex>,
}

impl ListChain {
    /// Checks the next vote of the list (with hash `hash`, cast by `voter`) and records it.
    pub(crate) fn next(
        &mut self,
        v: &Vote,
        voter: VoterIndex,
        hash: [u8; HASH_LEN],
    ) -> Result<(), Rejection> {
        let linked = match &self.previous {
            None => v.received_hash.is_empty(),
            Some(prev) => v.received_hash == prev,
        };
        if !linked {
            return Err(Rejection::ReceivedHashMismatch);
        }
        match self.last_of_owner.get(&voter) {
            Some(prev_own) if v.parent_hash != prev_own => {
                return Err(Rejection::ParentHashMismatch);
            }
            Some(_) => {}
            None => {
                let other_owner = <[u8; HASH_LEN]>::try_from(v.parent_hash.as_slice())
                    .ok()
                    .and_then(|parent| self.owner_of.get(&parent))
                    .is_some_and(|&o| o != voter);
                if other_owner {
                    return Err(Rejection::ParentHashMismatch);
                }
            }
        }
        self.previous = Some(hash);
        self.last_of_owner.insert(voter, hash);
        self.owner_of.insert(hash, voter);
        Ok(())
    }
}
