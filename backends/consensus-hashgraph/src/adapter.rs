//! [`HashgraphConsensus`]: the framework's `Consensus` trait over the crate's engine.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use consensus_hashgraph::{
    Certificate, Config, Consensus as Engine, ConsensusMessage, Ed25519, Error, Event, Outcome,
    Proposal, ProposalDigest, ProposalParams, Rejection, VoterSet, proposal_digest,
};
use demls::consensus::{
    Consensus, ConsensusError, ConsensusEvent, Described, Electorate, OpenRequest, Opened,
    StateChange, Tally, Verdict, VoterLookup,
};
use demls::{IdentitySigner, ProposalId, Timestamp};

use crate::records::RecordStore;
use crate::signer::IdentityVoteSigner;

/// The crate's voter sets are built once per framework voter set (one per epoch) and cached;
/// building one decompresses every key (≈5 µs each).
const VOTER_SET_CACHE: usize = 8;

/// The proposal name written on the wire.
const PROPOSAL_NAME: &str = "demls";

/// Certificates being collected at once (parts of others are dropped oldest first).
const CERTIFICATES_IN_PROGRESS: usize = 16;

/// Outcomes proven by certificates, remembered so that the engine's own later decision on the
/// same proposal is not reported again.
const PROVEN_KEPT: usize = 1_024;

/// One group's hashgraph consensus.
pub struct HashgraphConsensus {
    engine: Engine<RecordStore, Ed25519>,
    signer: IdentityVoteSigner,
    voter_sets: VecDeque<([u8; 32], Arc<VoterSet<Ed25519>>)>,
    /// Certificates whose parts are arriving.
    collecting: VecDeque<Certificate<Ed25519>>,
    /// Outcomes proven by certificates (with insertion order for the bound).
    proven: HashMap<ProposalDigest, Verdict>,
    proven_order: VecDeque<ProposalDigest>,
    /// Events of proven outcomes, reported before the engine's.
    proven_events: VecDeque<ConsensusEvent>,
    /// Proposals already reported from a certificate.
    introduced: VecDeque<ProposalDigest>,
}

fn digest_of(id: &ProposalId) -> ProposalDigest {
    ProposalDigest::from_slice(id.as_bytes()).expect("proposal ids and digests are both 32 bytes")
}

fn id_of(digest: &ProposalDigest) -> ProposalId {
    ProposalId(*digest.as_bytes())
}

fn map_error(e: Error) -> ConsensusError {
    match e {
        Error::Rejected(r) => match r.root() {
            Rejection::NotEligible => ConsensusError::NotEligible,
            Rejection::BadSignature => ConsensusError::BadSignature,
            Rejection::Replay(_) => ConsensusError::Replayed,
            Rejection::NotYetValid { .. }
            | Rejection::Expired { .. }
            | Rejection::VoteOutsideWindow { .. } => ConsensusError::Expired,
            other => ConsensusError::Integrity(other.to_string()),
        },
        Error::Decode(d) => ConsensusError::Malformed(d.to_string()),
        Error::UnknownProposal(_) => ConsensusError::UnknownProposal,
        Error::AlreadyVoted(_) => ConsensusError::AlreadyVoted,
        Error::NotAVoter => {
            ConsensusError::InvalidRequest("the local member is not a voter".into())
        }
        other => ConsensusError::Internal(other.to_string()),
    }
}

fn map_rejection(r: Rejection) -> ConsensusError {
    map_error(Error::Rejected(r))
}

fn map_outcome(o: Outcome) -> Verdict {
    match o {
        Outcome::Yes => Verdict::Yes,
        Outcome::No => Verdict::No,
        Outcome::Failed(_) | Outcome::TieRetry => Verdict::Failed,
    }
}

impl HashgraphConsensus {
    /// A fresh engine.
    pub fn new(config: Config, signer: Arc<dyn IdentitySigner>) -> HashgraphConsensus {
        HashgraphConsensus {
            engine: Engine::new(config, RecordStore::default()),
            signer: IdentityVoteSigner(signer),
            voter_sets: VecDeque::new(),
            collecting: VecDeque::new(),
            proven: HashMap::new(),
            proven_order: VecDeque::new(),
            proven_events: VecDeque::new(),
            introduced: VecDeque::new(),
        }
    }

    /// An engine resumed from persisted records.
    pub fn restore(
        config: Config,
        signer: Arc<dyn IdentitySigner>,
        records: Vec<(Vec<u8>, Vec<u8>)>,
        now: Timestamp,
    ) -> Result<HashgraphConsensus, ConsensusError> {
        let (store, journaled) =
            RecordStore::restore(records).map_err(|e| ConsensusError::Internal(e.to_string()))?;
        let mut sets = Vec::new();
        for keys in store.voter_sets().values() {
            let set = VoterSet::new(keys).map_err(|e| ConsensusError::Internal(e.to_string()))?;
            sets.push(Arc::new(set));
        }
        let mut engine = Engine::restore(config, store, &sets, now.0).map_err(map_error)?;
        // Votes that were waiting for verification when the node stopped.
        for vote in journaled {
            let digest = ProposalDigest::from_slice(&vote.proposal_hash);
            let hash = vote.vote_hash.clone();
            if engine.ingest_vote(vote, now.0).is_err() {
                if let Some(digest) = digest {
                    engine.store_mut().settle(&digest, &hash);
                }
            }
        }
        Ok(HashgraphConsensus {
            engine,
            signer: IdentityVoteSigner(signer),
            voter_sets: VecDeque::new(),
            collecting: VecDeque::new(),
            proven: HashMap::new(),
            proven_order: VecDeque::new(),
            proven_events: VecDeque::new(),
            introduced: VecDeque::new(),
        })
    }

    fn voter_set(&mut self, voters: &Electorate) -> Result<Arc<VoterSet<Ed25519>>, ConsensusError> {
        if let Some((_, set)) = self.voter_sets.iter().find(|(id, _)| id == voters.id()) {
            return Ok(set.clone());
        }
        // The largest cached set is usually the previous epoch's roster (a small electorate of
        // stewards may be cached too, and newer): reuse its decoded keys.
        let set = match self.voter_sets.iter().max_by_key(|(_, set)| set.len()) {
            Some((_, earlier)) => VoterSet::reusing(&Ed25519, voters.keys(), earlier),
            None => VoterSet::new(voters.keys()),
        };
        let set = Arc::new(set.map_err(|e| ConsensusError::InvalidRequest(e.to_string()))?);
        if self.voter_sets.len() >= VOTER_SET_CACHE {
            self.voter_sets.pop_back();
        }
        self.voter_sets.push_front((*voters.id(), set.clone()));
        Ok(set)
    }

    /// The outcome known here: proven by a certificate, or decided by the engine.
    fn known_outcome(&self, digest: &ProposalDigest) -> Option<Verdict> {
        self.proven
            .get(digest)
            .copied()
            .or_else(|| self.engine.outcome(digest).map(map_outcome))
    }

    /// Reports a proposal known only from a certificate once its owner's signed vote is among
    /// the verified votes (that vote authenticates the header), so the engine can act on what it
    /// says even before — or without — a provable outcome.
    fn introduce(&mut self, cert: &Certificate<Ed25519>) {
        let digest = cert.digest();
        let header = cert.header();
        if self.engine.proposal(&digest).is_some()
            || self.introduced.contains(&digest)
            || !cert.has_voted(&header.proposal_owner)
        {
            return;
        }
        self.introduced.push_back(digest);
        while self.introduced.len() > PROVEN_KEPT {
            self.introduced.pop_front();
        }
        self.proven_events
            .push_back(ConsensusEvent::ProposalReceived {
                id: id_of(&digest),
                owner: header.proposal_owner.clone(),
                payload: header.payload.clone(),
            });
    }

    /// Records an outcome a certificate proved and queues its events.
    fn prove(&mut self, cert: &Certificate<Ed25519>, outcome: Verdict) {
        let digest = cert.digest();
        let header = cert.header();
        if self.engine.proposal(&digest).is_none() && !self.introduced.contains(&digest) {
            self.proven_events
                .push_back(ConsensusEvent::ProposalReceived {
                    id: id_of(&digest),
                    owner: header.proposal_owner.clone(),
                    payload: header.payload.clone(),
                });
        }
        let t = cert.tally();
        self.proven_events.push_back(ConsensusEvent::Decided {
            id: id_of(&digest),
            outcome,
            tally: Tally {
                yes: t.yes,
                no: t.no,
                eligible: t.voters,
            },
        });
        self.proven.insert(digest, outcome);
        self.proven_order.push_back(digest);
        while self.proven_order.len() > PROVEN_KEPT {
            if let Some(old) = self.proven_order.pop_front() {
                self.proven.remove(&old);
            }
        }
    }

    /// One certificate part as a proposal message whose votes are not a chain.
    fn part(header: &Proposal, votes: &[consensus_hashgraph::Vote]) -> Vec<u8> {
        let mut message = header.clone();
        message.votes = votes.to_vec();
        message.round = votes.len() as u32;
        ConsensusMessage::Proposal(message).encode()
    }
}

impl Consensus for HashgraphConsensus {
    fn open(&mut self, request: OpenRequest<'_>, now: Timestamp) -> Result<Opened, ConsensusError> {
        let voters = self.voter_set(request.voters)?;
        self.engine
            .store_mut()
            .remember_voter_set(voters.fingerprint(), request.voters.keys());
        let params = ProposalParams {
            name: PROPOSAL_NAME.into(),
            payload: request.payload.to_vec(),
            voters,
            expiration_timestamp: request.expires_at.0,
            liveness_criteria_yes: request.liveness_yes,
        };
        let (digest, proposal) = self
            .engine
            .open(params, request.own_vote, &self.signer, now.0)
            .map_err(map_error)?;
        Ok(Opened {
            id: id_of(&digest),
            messages: vec![ConsensusMessage::Proposal(proposal).encode()],
        })
    }

    fn vote(
        &mut self,
        id: &ProposalId,
        yes: bool,
        now: Timestamp,
    ) -> Result<Vec<Vec<u8>>, ConsensusError> {
        let cast = self
            .engine
            .vote(&digest_of(id), yes, &self.signer, now.0)
            .map_err(map_error)?;
        Ok(vec![cast.message.encode()])
    }

    fn ingest(
        &mut self,
        message: &[u8],
        voters: VoterLookup<'_>,
        now: Timestamp,
    ) -> Result<Vec<Vec<u8>>, ConsensusError> {
        let message = ConsensusMessage::decode(message)
            .map_err(|e| ConsensusError::Malformed(e.to_string()))?;
        let report = match message {
            ConsensusMessage::Proposal(proposal) => {
                let digest = proposal_digest(&proposal);
                let (set, new_set) = match self.engine.voters(&digest) {
                    Some(set) => (set.clone(), None),
                    None => {
                        let framework_set =
                            voters(&proposal.payload).map_err(ConsensusError::NoVoterSet)?;
                        (self.voter_set(&framework_set)?, Some(framework_set))
                    }
                };
                let votes = proposal.votes.clone();
                let report = self
                    .engine
                    .ingest(ConsensusMessage::Proposal(proposal), &set, now.0)
                    .map_err(map_error)?;
                let store = self.engine.store_mut();
                if let Some(framework_set) = new_set {
                    store.remember_voter_set(set.fingerprint(), framework_set.keys());
                }
                if report.queued + report.buffered > 0 {
                    votes.iter().for_each(|v| store.journal(v));
                }
                report
            }
            ConsensusMessage::Vote(vote) => {
                let journal = vote.clone();
                let report = self.engine.ingest_vote(vote, now.0).map_err(map_error)?;
                if report.queued + report.buffered > 0 {
                    self.engine.store_mut().journal(&journal);
                }
                report
            }
        };
        if report.duplicates > 0
            && report.accepted == 0
            && report.queued == 0
            && report.buffered == 0
            && report.new_proposal.is_none()
        {
            return Err(ConsensusError::Duplicate);
        }
        // Gossipsub mode never forwards; P2P mode would forward the grown proposal, which the
        // group's broadcast topic makes unnecessary.
        Ok(Vec::new())
    }

    fn tick(&mut self, now: Timestamp) {
        if let Err(e) = self.engine.tick(now.0) {
            tracing::error!(error = %e, "consensus tick failed");
        }
    }

    fn next_deadline(&self) -> Option<Timestamp> {
        self.engine.next_deadline().map(Timestamp)
    }

    fn poll_event(&mut self) -> Option<ConsensusEvent> {
        if let Some(event) = self.proven_events.pop_front() {
            return Some(event);
        }
        let mut event = self.engine.poll_event()?;
        // A decision a certificate already reported is not reported again.
        while let Event::Decided { digest, .. } = &event {
            if !self.proven.contains_key(digest) {
                break;
            }
            event = self.engine.poll_event()?;
        }
        Some(match event {
            Event::ProposalReceived(info) => ConsensusEvent::ProposalReceived {
                id: id_of(&info.digest),
                owner: info.owner,
                payload: info.payload,
            },
            Event::Decided {
                digest,
                outcome,
                yes,
                no,
                silent,
                ..
            } => ConsensusEvent::Decided {
                id: id_of(&digest),
                outcome: map_outcome(outcome),
                tally: Tally {
                    yes,
                    no,
                    eligible: yes + no + silent,
                },
            },
            Event::Equivocation { evidence } => {
                // Two length-prefixed vote messages.
                let mut bytes = Vec::new();
                for vote in [&evidence.first, &evidence.second] {
                    let encoded = ConsensusMessage::Vote(vote.clone()).encode();
                    bytes.extend_from_slice(&(encoded.len() as u32).to_be_bytes());
                    bytes.extend(encoded);
                }
                ConsensusEvent::Equivocation {
                    id: id_of(&evidence.digest),
                    voter: evidence.first.vote_owner.clone(),
                    evidence: bytes,
                }
            }
            Event::VoteRejected {
                digest,
                vote_owner,
                reason,
                ..
            } => ConsensusEvent::VoteRejected {
                id: id_of(&digest),
                voter: vote_owner,
                reason: reason.to_string(),
            },
        })
    }

    fn outcome(&self, id: &ProposalId) -> Option<Verdict> {
        self.known_outcome(&digest_of(id))
    }

    fn has_voted(&self, id: &ProposalId) -> bool {
        self.engine
            .has_voted(&digest_of(id), self.signer.0.public_key())
    }

    fn forget(&mut self, id: &ProposalId, now: Timestamp) {
        if let Err(e) = self.engine.forget(&digest_of(id), now.0) {
            tracing::warn!(error = %e, "consensus forget failed");
        }
    }

    fn take_changes(&mut self) -> Vec<StateChange> {
        self.engine.store_mut().take_changes()
    }

    fn describe(&self, message: &[u8]) -> Option<Described> {
        match ConsensusMessage::decode(message).ok()? {
            ConsensusMessage::Proposal(mut p) => {
                p.votes.clear();
                p.round = 0;
                Some(Described::Proposal {
                    id: id_of(&proposal_digest(&p)),
                    owner: p.proposal_owner,
                    payload: p.payload,
                })
            }
            ConsensusMessage::Vote(v) => Some(Described::Vote {
                id: ProposalId::from_slice(&v.proposal_hash)?,
                voter: v.vote_owner,
            }),
        }
    }

    fn certificate(&self, id: &ProposalId, votes_per_part: usize) -> Vec<Vec<u8>> {
        let digest = digest_of(id);
        let Some((header, votes)) = self.engine.certificate(&digest) else {
            // No provable outcome: still introduce the proposal (its header with the owner's
            // signed vote), which is all a proof-free decision such as a leave needs.
            return self
                .engine
                .proposal_message(&digest)
                .filter(|m| !m.votes.is_empty())
                .map(|m| vec![ConsensusMessage::Proposal(m).encode()])
                .unwrap_or_default();
        };
        votes
            .chunks(votes_per_part.max(1))
            .map(|chunk| Self::part(&header, chunk))
            .collect()
    }

    fn ingest_certificate(
        &mut self,
        part: &[u8],
        voters: VoterLookup<'_>,
        _now: Timestamp,
    ) -> Result<(), ConsensusError> {
        let ConsensusMessage::Proposal(message) =
            ConsensusMessage::decode(part).map_err(|e| ConsensusError::Malformed(e.to_string()))?
        else {
            return Err(ConsensusError::Malformed(
                "a certificate part is a proposal message".into(),
            ));
        };
        let mut header = message.clone();
        header.votes.clear();
        header.round = 0;
        let digest = proposal_digest(&header);
        if matches!(
            self.known_outcome(&digest),
            Some(Verdict::Yes | Verdict::No)
        ) {
            return Err(ConsensusError::Duplicate); // nothing left to prove here
        }
        let at = self.collecting.iter().position(|c| c.digest() == digest);
        let mut cert = match at.and_then(|i| self.collecting.remove(i)) {
            Some(cert) => cert,
            None => {
                let set = match self.engine.voters(&digest) {
                    Some(set) => set.clone(),
                    None => {
                        let framework_set =
                            voters(&header.payload).map_err(ConsensusError::NoVoterSet)?;
                        self.voter_set(&framework_set)?
                    }
                };
                Certificate::new(&header, set, self.engine.config(), &Ed25519)
                    .map_err(map_rejection)?
            }
        };
        let added = cert.add(&message.votes, &Ed25519);
        match (added, cert.outcome()) {
            (Err(e), _) => {
                // A bad part changes nothing: the certificate keeps what it had.
                if cert.tally().yes + cert.tally().no > 0 {
                    self.collecting.push_front(cert);
                }
                Err(map_rejection(e))
            }
            (Ok(_), Some(outcome)) => {
                let outcome = map_outcome(outcome);
                if outcome == Verdict::Failed {
                    return Ok(()); // a proven tie: nothing to apply
                }
                tracing::debug!(%digest, ?outcome, "outcome proven by certificate");
                self.prove(&cert, outcome);
                Ok(())
            }
            (Ok(_), None) => {
                self.introduce(&cert);
                self.collecting.push_front(cert);
                self.collecting.truncate(CERTIFICATES_IN_PROGRESS);
                Ok(())
            }
        }
    }
}
