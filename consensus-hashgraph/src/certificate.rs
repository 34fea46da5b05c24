//! Decision certificates: a proposal header plus signed votes that by themselves decide it, so a
//! peer that missed the vote — offline, crashed, partitioned — can check the outcome at any later
//! time, long after the proposal expired.
//!
//! A certificate proves only outcomes the *live* rule reaches from the votes it carries: YES or
//! NO with a two-thirds quorum and a majority, or a complete tie. Such an outcome cannot be
//! changed by votes the certificate leaves out (a majority side cannot be outvoted, a complete
//! tie has every vote), so it is the outcome every honest peer holding these votes reached. An
//! outcome reached only at expiration through the liveness rule depends on which votes arrived in
//! time and cannot be proven this way; [`Consensus::certificate`] returns `None` for it.
//!
//! Wire form: a certificate travels as one or more `Proposal` messages whose vote lists are *not*
//! chains (any votes of the proposal, in any order, `round` = number of votes); the receiver feeds
//! each part to [`Certificate::add`] until [`Certificate::outcome`] answers.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::canonical::{HASH_LEN, ProposalDigest};
use crate::config::Config;
use crate::engine::Consensus;
use crate::error::Rejection;
use crate::rules::{Outcome, Tally, TiePolicy, decide_live};
use crate::scheme::SignatureScheme;
use crate::store::Store;
use crate::validate;
use crate::voters::{VoterIndex, VoterSet};
use crate::wire::{Proposal, Vote};

/// Votes of one proposal collected from certificate parts, each signature verified.
pub struct Certificate<V: SignatureScheme> {
    digest: ProposalDigest,
    header: Proposal,
    voters: Arc<VoterSet<V>>,
    /// The counted value of each voter that voted one way only.
    values: HashMap<VoterIndex, bool>,
    /// Voters seen voting both ways: never counted.
    equivocators: HashSet<VoterIndex>,
    /// Hashes of votes already verified (re-sent parts cost nothing).
    known: HashSet<[u8; HASH_LEN]>,
    tie_policy: TiePolicy,
    skew_ms: u64,
}

impl<V: SignatureScheme> Certificate<V> {
    /// Starts a certificate from a proposal header bound to `voters`. The header is checked
    /// (shape, id, voter count, owner eligibility, lifetime) but not against the current time;
    /// votes the message carries are ignored here — pass them to [`Certificate::add`].
    pub fn new(
        header: &Proposal,
        voters: Arc<VoterSet<V>>,
        config: &Config,
        scheme: &V,
    ) -> Result<Self, Rejection> {
        let mut header = header.clone();
        header.votes.clear();
        header.round = 0;
        let digest = validate::proposal_shape(&header, config, scheme)?;
        validate::proposal_voters(&header, &voters, config)?;
        Ok(Certificate {
            digest,
            header,
            voters,
            values: HashMap::new(),
            equivocators: HashSet::new(),
            known: HashSet::new(),
            tie_policy: config.tie_policy,
            skew_ms: config.allowed_clock_skew_ms,
        })
    }

    /// The proposal's digest.
    pub fn digest(&self) -> ProposalDigest {
        self.digest
    }

    /// The proposal header (no votes).
    pub fn header(&self) -> &Proposal {
        &self.header
    }

    /// The voter set the certificate is checked against.
    pub fn voters(&self) -> &Arc<VoterSet<V>> {
        &self.voters
    }

    /// Adds a part's votes. Every vote must belong to this proposal, come from an eligible voter,
    /// be timestamped within the proposal's lifetime (with the clock skew), appear once in the
    /// part and carry a valid signature (not verified again for a vote collected from an
    /// earlier part); any failure refuses the whole part and changes nothing. Returns how many
    /// votes were new.
    pub fn add(&mut self, votes: &[Vote], scheme: &V) -> Result<usize, Rejection> {
        let not_before = self.header.timestamp.saturating_sub(self.skew_ms);
        let not_after = self
            .header
            .expiration_timestamp
            .saturating_add(self.skew_ms);
        let mut fresh: Vec<(usize, VoterIndex, [u8; HASH_LEN])> = Vec::new();
        let mut in_part: HashSet<[u8; HASH_LEN]> = HashSet::new();
        for (i, v) in votes.iter().enumerate() {
            let checked = validate::vote_shape(v, scheme).and_then(|hash| {
                if v.proposal_hash != self.digest.as_bytes()
                    || v.proposal_id != self.digest.proposal_id()
                {
                    return Err(Rejection::WrongProposal);
                }
                let voter = self
                    .voters
                    .index_of(&v.vote_owner)
                    .ok_or(Rejection::NotEligible)?;
                if v.timestamp < not_before || v.timestamp > not_after {
                    return Err(Rejection::VoteOutsideWindow {
                        timestamp: v.timestamp,
                        not_before,
                        not_after,
                    });
                }
                Ok((voter, hash))
            });
            let (voter, hash) = checked.map_err(|r| r.at(i))?;
            // An honest part never carries a vote twice; a repeat's signature would go
            // unchecked, and whether the part is accepted would depend on which copy is first.
            if !in_part.insert(hash) {
                return Err(Rejection::RepeatedVote.at(i));
            }
            // A vote collected before was verified then; its copy here is not used.
            if !self.known.contains(&hash) {
                fresh.push((i, voter, hash));
            }
        }
        validate::signatures(scheme, &self.voters, votes, &fresh)?;
        for &(i, voter, hash) in &fresh {
            self.known.insert(hash);
            if self.equivocators.contains(&voter) {
                continue;
            }
            match self.values.get(&voter) {
                Some(&value) if value != votes[i].vote => {
                    self.values.remove(&voter);
                    self.equivocators.insert(voter);
                }
                Some(_) => {}
                None => {
                    self.values.insert(voter, votes[i].vote);
                }
            }
        }
        Ok(fresh.len())
    }

    /// True if a verified vote of `key` was collected (counted, or dropped as equivocation).
    pub fn has_voted(&self, key: &[u8]) -> bool {
        self.voters
            .index_of(key)
            .is_some_and(|i| self.values.contains_key(&i) || self.equivocators.contains(&i))
    }

    /// The counts of the votes collected so far.
    pub fn tally(&self) -> Tally {
        let yes = self.values.values().filter(|v| **v).count() as u32;
        Tally {
            voters: self.voters.count(),
            yes,
            no: self.values.len() as u32 - yes,
            equivocators: self.equivocators.len() as u32,
        }
    }

    /// The outcome the collected votes prove, once they prove one.
    pub fn outcome(&self) -> Option<Outcome> {
        decide_live(&self.tally(), self.tie_policy)
    }
}

impl<S: Store, V: SignatureScheme> Consensus<S, V> {
    /// The smallest set of accepted votes that proves a decided proposal's outcome (with the
    /// proposal header), or `None` when the proposal is unknown, undecided, failed, or was decided
    /// only by the liveness rule at expiration. The winning side's votes come first; votes of
    /// voters who equivocated are left out.
    pub fn certificate(&self, digest: &ProposalDigest) -> Option<(Proposal, Vec<Vote>)> {
        let header = self.proposal(digest)?.clone();
        let outcome = self.outcome(digest)?;
        let want = match outcome {
            Outcome::Yes => Some(true),
            Outcome::No => Some(false),
            Outcome::TieRetry => None,
            Outcome::Failed(_) => return None,
        };
        let votes = self.votes(digest)?;
        let voters = self.voters(digest)?;
        let mut value_of: HashMap<VoterIndex, Option<bool>> = HashMap::new();
        for v in votes {
            let Some(voter) = voters.index_of(&v.vote_owner) else {
                continue;
            };
            let entry = value_of.entry(voter).or_insert(Some(v.vote));
            if *entry != Some(v.vote) {
                *entry = None;
            }
        }
        let mut chosen: Vec<Vote> = Vec::new();
        let mut taken: HashSet<VoterIndex> = HashSet::new();
        let mut tally = Tally {
            voters: voters.count(),
            ..Tally::default()
        };
        let sides: &[bool] = match want {
            Some(true) => &[true, false],
            Some(false) => &[false, true],
            None => &[true, false],
        };
        for &side in sides {
            for v in votes.iter().filter(|v| v.vote == side) {
                let Some(voter) = voters.index_of(&v.vote_owner) else {
                    continue;
                };
                if value_of.get(&voter) != Some(&Some(side)) || !taken.insert(voter) {
                    continue;
                }
                chosen.push(v.clone());
                if side {
                    tally.yes += 1;
                } else {
                    tally.no += 1;
                }
                if decide_live(&tally, self.config().tie_policy) == Some(outcome) {
                    return Some((header, chosen));
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ed25519::{Ed25519, Ed25519Signer};
    use crate::engine::ProposalParams;
    use crate::store::MemoryStore;
    use crate::wire::ConsensusMessage;

    struct Peers {
        signers: Vec<Ed25519Signer>,
        voters: Arc<VoterSet<Ed25519>>,
    }

    fn peers(n: u8) -> Peers {
        peers_from(1, n)
    }

    fn peers_from(first_seed: u8, n: u8) -> Peers {
        let signers: Vec<Ed25519Signer> = (first_seed..first_seed + n)
            .map(|i| Ed25519Signer::from_seed([i; 32]).unwrap())
            .collect();
        let keys: Vec<Vec<u8>> = signers
            .iter()
            .map(|s| crate::scheme::Signer::public_key(s).to_vec())
            .collect();
        Peers {
            voters: Arc::new(VoterSet::new(keys).unwrap()),
            signers,
        }
    }

    /// Opens a proposal at peer 0, has `yes` peers vote YES and `no` peers vote NO (peer 0
    /// included in `yes`), and returns peer 0's engine with every vote delivered.
    fn decided(p: &Peers, yes: usize, no: usize) -> (Consensus, ProposalDigest) {
        let mut engines: Vec<Consensus> = (0..p.signers.len())
            .map(|_| Consensus::new(Config::default(), MemoryStore::new()))
            .collect();
        let params = ProposalParams {
            name: "t".into(),
            payload: b"payload".to_vec(),
            voters: p.voters.clone(),
            expiration_timestamp: 100_000,
            liveness_criteria_yes: true,
        };
        let (digest, proposal) = engines[0]
            .open(params, Some(true), &p.signers[0], 1_000)
            .unwrap();
        let bytes = ConsensusMessage::Proposal(proposal).encode();
        let (first, rest) = engines.split_at_mut(1);
        for (k, e) in rest.iter_mut().enumerate() {
            let i = k + 1;
            e.ingest_bytes(&bytes, &p.voters, 1_001).unwrap();
            if i < yes + no {
                let cast = e.vote(&digest, i < yes, &p.signers[i], 1_002).unwrap();
                let vote = cast.message.encode();
                first[0].ingest_bytes(&vote, &p.voters, 1_003).unwrap();
            }
        }
        engines[0].flush(1_004).unwrap();
        let mut first = engines.swap_remove(0);
        first.drain_events();
        (first, digest)
    }

    #[test]
    fn a_yes_certificate_carries_a_quorum_and_proves_yes_after_expiry() {
        let p = peers(9);
        let (engine, digest) = decided(&p, 8, 1);
        assert_eq!(engine.outcome(&digest), Some(Outcome::Yes));
        let (header, votes) = engine.certificate(&digest).unwrap();
        assert_eq!(votes.len(), 6, "ceil(2·9/3) YES votes suffice");
        assert!(votes.iter().all(|v| v.vote));
        let mut cert =
            Certificate::new(&header, p.voters.clone(), &Config::default(), &Ed25519).unwrap();
        assert_eq!(cert.outcome(), None);
        let (a, b) = votes.split_at(3);
        assert_eq!(cert.add(a, &Ed25519).unwrap(), 3);
        assert_eq!(cert.outcome(), None, "three of nine prove nothing");
        assert_eq!(
            cert.add(a, &Ed25519).unwrap(),
            0,
            "a re-sent part adds nothing"
        );
        cert.add(b, &Ed25519).unwrap();
        assert_eq!(cert.outcome(), Some(Outcome::Yes));
    }

    #[test]
    fn a_no_certificate_proves_no() {
        let p = peers(7);
        let (engine, digest) = decided(&p, 1, 6);
        assert_eq!(engine.outcome(&digest), Some(Outcome::No));
        let (header, votes) = engine.certificate(&digest).unwrap();
        assert!(votes.iter().all(|v| !v.vote));
        let mut cert =
            Certificate::new(&header, p.voters.clone(), &Config::default(), &Ed25519).unwrap();
        cert.add(&votes, &Ed25519).unwrap();
        assert_eq!(cert.outcome(), Some(Outcome::No));
    }

    #[test]
    fn undecided_or_failed_proposals_have_no_certificate() {
        let p = peers(9);
        let (mut engine, digest) = decided(&p, 3, 0);
        assert_eq!(engine.certificate(&digest), None, "undecided");
        engine.tick(200_000).unwrap();
        assert!(matches!(engine.outcome(&digest), Some(Outcome::Failed(_))));
        assert_eq!(
            engine.certificate(&digest),
            None,
            "failed for lack of quorum"
        );
    }

    #[test]
    fn tampered_foreign_or_ineligible_votes_refuse_the_whole_part() {
        let p = peers(6);
        let (engine, digest) = decided(&p, 6, 0);
        let (header, votes) = engine.certificate(&digest).unwrap();
        let fresh =
            || Certificate::new(&header, p.voters.clone(), &Config::default(), &Ed25519).unwrap();

        let mut flipped = votes.clone();
        flipped[1].signature[0] ^= 1;
        let mut cert = fresh();
        assert!(matches!(
            cert.add(&flipped, &Ed25519).map_err(|r| r.root().clone()),
            Err(Rejection::BadSignature)
        ));
        assert_eq!(cert.tally().yes, 0, "nothing of a refused part counts");

        let mut forged_value = votes.clone();
        forged_value[0].vote = false;
        assert!(matches!(
            fresh()
                .add(&forged_value, &Ed25519)
                .map_err(|r| r.root().clone()),
            Err(Rejection::VoteHashMismatch)
        ));

        let other = peers_from(50, 6);
        let (other_engine, other_digest) = decided(&other, 6, 0);
        let (_, other_votes) = other_engine.certificate(&other_digest).unwrap();
        assert!(matches!(
            fresh()
                .add(&other_votes, &Ed25519)
                .map_err(|r| r.root().clone()),
            Err(Rejection::WrongProposal)
        ));

        let outsiders = peers(7);
        assert!(matches!(
            Certificate::new(
                &header,
                outsiders.voters.clone(),
                &Config::default(),
                &Ed25519
            )
            .map(|_| ()),
            Err(Rejection::VoterCountMismatch { .. })
        ));
    }

    #[test]
    fn a_voter_voting_both_ways_is_not_counted() {
        let p = peers(4);
        let (engine, digest) = decided(&p, 4, 0);
        let (header, votes) = engine.certificate(&digest).unwrap();
        let mut cert =
            Certificate::new(&header, p.voters.clone(), &Config::default(), &Ed25519).unwrap();
        cert.add(&votes, &Ed25519).unwrap();
        assert_eq!(cert.outcome(), Some(Outcome::Yes));
        // Voter 1 also signs NO: its YES no longer counts.
        let mut no = votes[1].clone();
        no.vote = false;
        no.vote_hash = crate::canonical::vote_hash(&no).to_vec();
        no.signature = crate::scheme::Signer::sign(&p.signers[1], &no.vote_hash).unwrap();
        cert.add(&[no], &Ed25519).unwrap();
        assert_eq!(cert.tally().equivocators, 1);
        assert_eq!(cert.tally().yes, 2);
        assert_eq!(cert.outcome(), None, "two of four prove nothing");
    }

    /// Found by the `certificate` fuzz target: a part carrying a valid vote and then a copy of
    /// it with a broken signature was accepted (the copy's signature was never checked), while
    /// the same votes in the other order were refused. A repeat now refuses the part either
    /// way.
    #[test]
    fn a_vote_repeated_in_a_part_refuses_the_part_in_any_order() {
        let p = peers(4);
        let (engine, digest) = decided(&p, 4, 0);
        let (header, votes) = engine.certificate(&digest).unwrap();
        let mut forged = votes[0].clone();
        forged.signature[0] ^= 1;
        let fresh =
            || Certificate::new(&header, p.voters.clone(), &Config::default(), &Ed25519).unwrap();
        for part in [
            vec![votes[0].clone(), forged.clone()],
            vec![forged.clone(), votes[0].clone()],
            vec![votes[0].clone(), votes[0].clone()],
        ] {
            let mut cert = fresh();
            let err = cert.add(&part, &Ed25519).unwrap_err();
            assert!(
                matches!(
                    err.root(),
                    Rejection::RepeatedVote | Rejection::BadSignature
                ),
                "{err:?}"
            );
            assert_eq!(cert.tally().yes, 0, "nothing was collected");
        }
        // Once collected, a vote's copy in a later part is not verified again nor counted twice.
        let mut cert = fresh();
        assert_eq!(cert.add(&votes[..1], &Ed25519).unwrap(), 1);
        assert_eq!(cert.add(&[forged], &Ed25519).unwrap(), 0);
        assert_eq!(cert.tally().yes, 1);
    }
}
