//! Hostile and malformed input: every reject path returns a typed error and changes nothing.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use consensus_hashgraph::{
    Config, Consensus, ConsensusMessage, Error, Event, HashField, Mode, Rejection, Tally, Vote,
    proposal_digest,
};

/// Everything observable about one proposal in an engine.
fn snapshot(e: &Consensus, g: &Group) -> (Option<Tally>, usize, usize, usize, bool) {
    (
        e.tally(&g.digest),
        e.votes(&g.digest).map_or(0, <[Vote]>::len),
        e.pending_votes(),
        e.buffered_votes(),
        e.outcome(&g.digest).is_some(),
    )
}

fn member(g: &Group, config: Config) -> Consensus {
    let mut e = engine(config);
    e.ingest_proposal(g.proposal.clone(), &g.voters, T0 + 10)
        .unwrap();
    e.drain_events();
    e
}

fn rejection(result: Result<impl std::fmt::Debug, Error>) -> Rejection {
    match result {
        Err(Error::Rejected(r)) => r,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn forged_signature_on_a_queued_vote_is_rejected_at_verification_and_never_counted() {
    let g = group(5, Some(true), true);
    let mut e = member(&g, Config::default());
    let mut forged = vote(&g, 1, true);
    forged.signature = g.signers[2].sign_for_test(&forged.vote_hash);
    let report = e.ingest_vote(forged, T0 + 20).unwrap();
    assert_eq!(report.queued, 1);
    let flushed = e.flush(T0 + 20).unwrap();
    assert_eq!((flushed.accepted, flushed.rejected), (0, 1));
    let events = e.drain_events();
    assert!(matches!(
        events.as_slice(),
        [Event::VoteRejected {
            reason: Rejection::BadSignature,
            ..
        }]
    ));
    assert_eq!(
        e.tally(&g.digest).unwrap().yes,
        1,
        "only the owner's vote counts"
    );
    assert!(!e.has_voted(&g.digest, &g.voters_key(1)));
}

#[test]
fn forged_signature_inside_a_proposal_message_rejects_the_whole_message() {
    let g = group(5, Some(true), true);
    let mut message = g.proposal.clone();
    let mut forged = make_vote(
        &g.signers[1],
        &g.digest,
        true,
        T0 + 5,
        vec![],
        message.votes[0].vote_hash.clone(),
    );
    forged.signature[10] ^= 0x40;
    message.votes.push(forged);
    message.round = 2;
    let mut e = engine(Config::default());
    let r = rejection(e.ingest_proposal(message, &g.voters, T0 + 10));
    assert_eq!(
        r,
        Rejection::InVoteList {
            index: 1,
            reason: Box::new(Rejection::BadSignature)
        }
    );
    assert!(
        e.proposal(&g.digest).is_none(),
        "nothing from the bad message was applied"
    );
    assert!(e.drain_events().is_empty());
}

#[test]
fn changing_a_signed_field_breaks_the_vote_hash() {
    let g = group(5, Some(true), true);
    let mut e = member(&g, Config::default());
    let before = snapshot(&e, &g);
    let mut v = vote(&g, 1, true);
    v.vote = false;
    assert_eq!(
        rejection(e.ingest_vote(v, T0 + 20)),
        Rejection::VoteHashMismatch
    );
    assert_eq!(snapshot(&e, &g), before);
}

#[test]
fn tampered_received_hash_chain_is_rejected() {
    let g = group(6, Some(true), true);
    let p2p = Config {
        mode: Mode::P2p,
        ..Config::default()
    };
    let owner_vote = g.proposal.votes[0].clone();
    // Properly signed, but linked to something that is not the previous vote of the list.
    let bad_link = make_vote(&g.signers[1], &g.digest, true, T0 + 5, vec![], vec![7; 32]);
    let mut message = g.proposal.clone();
    message.votes.push(bad_link);
    message.round = 2;
    let mut e = engine(p2p.clone());
    let r = rejection(e.ingest_proposal(message, &g.voters, T0 + 10));
    assert_eq!(r.root(), &Rejection::ReceivedHashMismatch);
    assert!(e.proposal(&g.digest).is_none());

    // The first vote of a list must not claim a predecessor.
    let first = make_vote(
        &g.signers[1],
        &g.digest,
        true,
        T0 + 5,
        vec![],
        owner_vote.vote_hash.clone(),
    );
    let mut message = g.proposal.clone();
    message.votes = vec![first];
    let r = rejection(e.ingest_proposal(message, &g.voters, T0 + 10));
    assert_eq!(
        r,
        Rejection::InVoteList {
            index: 0,
            reason: Box::new(Rejection::ReceivedHashMismatch)
        }
    );
}

#[test]
fn tampered_parent_hash_is_rejected_in_a_list_and_against_known_votes() {
    let g = group(6, Some(true), true);
    let p2p = Config {
        mode: Mode::P2p,
        ..Config::default()
    };
    let v0 = g.proposal.votes[0].clone();
    let v1 = make_vote(
        &g.signers[1],
        &g.digest,
        true,
        T0 + 5,
        vec![],
        v0.vote_hash.clone(),
    );
    // Signer 0 votes again in the same list but does not reference its own previous vote.
    let v0_again = make_vote(
        &g.signers[0],
        &g.digest,
        true,
        T0 + 6,
        vec![],
        v1.vote_hash.clone(),
    );
    let mut message = g.proposal.clone();
    message.votes = vec![v0.clone(), v1.clone(), v0_again];
    message.round = 3;
    let mut e = engine(p2p);
    let r = rejection(e.ingest_proposal(message, &g.voters, T0 + 10));
    assert_eq!(
        r,
        Rejection::InVoteList {
            index: 2,
            reason: Box::new(Rejection::ParentHashMismatch)
        }
    );

    // A single vote whose parent is somebody else's known vote.
    let mut e = member(&g, Config::default());
    let before = snapshot(&e, &g);
    let stolen_parent = make_vote(
        &g.signers[2],
        &g.digest,
        true,
        T0 + 7,
        v0.vote_hash.clone(),
        vec![],
    );
    assert_eq!(
        rejection(e.ingest_vote(stolen_parent, T0 + 20)),
        Rejection::ParentHashMismatch
    );
    assert_eq!(snapshot(&e, &g), before);

    // A correct parent chain (a re-send) is accepted and counted once.
    let resend = make_vote(
        &g.signers[0],
        &g.digest,
        true,
        T0 + 8,
        v0.vote_hash.clone(),
        vec![],
    );
    assert_eq!(e.ingest_vote(resend, T0 + 20).unwrap().queued, 1);
    e.flush(T0 + 20).unwrap();
    assert_eq!(e.tally(&g.digest).unwrap().yes, 1);
    assert_eq!(e.votes(&g.digest).unwrap().len(), 2);
}

#[test]
fn replayed_messages_for_a_forgotten_proposal_are_refused() {
    let g = group(3, Some(true), true);
    let mut e = member(&g, Config::default());
    let v1 = vote(&g, 1, true);
    e.ingest_vote(v1.clone(), T0 + 20).unwrap();
    e.flush(T0 + 20).unwrap();
    assert!(e.outcome(&g.digest).is_some());
    assert!(e.forget(&g.digest, T0 + 30).unwrap());
    assert_eq!(
        rejection(e.ingest_vote(v1, T0 + 40)),
        Rejection::Replay(g.digest)
    );
    assert_eq!(
        rejection(e.ingest_proposal(g.proposal.clone(), &g.voters, T0 + 40)),
        Rejection::Replay(g.digest)
    );
    assert!(e.proposal(&g.digest).is_none());
}

#[test]
fn vote_bound_to_another_proposal_is_refused() {
    let g = group(4, Some(true), true);
    let other = group(4, None, false);
    let mut e = member(&g, Config::default());
    e.ingest_proposal(other.proposal.clone(), &other.voters, T0 + 10)
        .unwrap();
    let before = snapshot(&e, &g);

    // Right proposal_hash, wrong proposal_id (re-signed, so only the binding is wrong).
    let mut v = vote(&g, 1, true);
    v.proposal_id = other.digest.proposal_id();
    resign(&mut v, &g.signers[1]);
    assert_eq!(
        rejection(e.ingest_vote(v, T0 + 20)),
        Rejection::WrongProposal
    );

    // A vote for the other proposal carried inside this proposal's message.
    let foreign = make_vote(
        &g.signers[1],
        &other.digest,
        true,
        T0 + 5,
        vec![],
        g.proposal.votes[0].vote_hash.clone(),
    );
    let mut message = g.proposal.clone();
    message.votes.push(foreign);
    message.round = 2;
    let r = rejection(e.ingest_proposal(message, &g.voters, T0 + 20));
    assert_eq!(
        r,
        Rejection::InVoteList {
            index: 1,
            reason: Box::new(Rejection::WrongProposal)
        }
    );
    assert_eq!(snapshot(&e, &g), before);
}

#[test]
fn duplicate_votes_are_reported_and_counted_once() {
    let g = group(5, Some(true), true);
    let mut e = member(&g, Config::default());
    let v = vote(&g, 1, false);
    assert_eq!(e.ingest_vote(v.clone(), T0 + 20).unwrap().queued, 1);
    assert_eq!(
        e.ingest_vote(v.clone(), T0 + 21).unwrap().duplicates,
        1,
        "duplicate while queued"
    );
    e.flush(T0 + 22).unwrap();
    assert_eq!(
        e.ingest_vote(v.clone(), T0 + 23).unwrap().duplicates,
        1,
        "duplicate once accepted"
    );
    let same_bytes = e.ingest_bytes(&bytes(&v), &g.voters, T0 + 24).unwrap();
    assert_eq!(same_bytes.duplicates, 1);
    let t = e.tally(&g.digest).unwrap();
    assert_eq!((t.yes, t.no), (1, 1));
    assert_eq!(e.votes(&g.digest).unwrap().len(), 2);
    // Re-sending the proposal itself is also a harmless duplicate.
    let again = e
        .ingest_proposal(g.proposal.clone(), &g.voters, T0 + 25)
        .unwrap();
    assert_eq!((again.new_proposal.is_none(), again.duplicates), (true, 1));
}

#[test]
fn proposals_outside_their_time_window_or_lifetime_are_refused() {
    let g = group(3, Some(true), true);
    let config = Config::default();
    let mut e = engine(config.clone());
    let r = rejection(e.ingest_proposal(g.proposal.clone(), &g.voters, T0 + LIFE + 1));
    assert!(matches!(r, Rejection::Expired { .. }));
    let r = rejection(e.ingest_proposal(
        g.proposal.clone(),
        &g.voters,
        T0 - config.allowed_clock_skew_ms - 1,
    ));
    assert!(matches!(r, Rejection::NotYetValid { .. }));

    let signers = signers(3);
    let voters = voter_set(&signers);
    let mut owner = engine(config.clone());
    let mut too_long = params(&voters, true);
    too_long.expiration_timestamp = T0 + config.max_lifetime_ms + 1;
    assert!(matches!(
        owner
            .open(too_long, Some(true), &signers[0], T0)
            .map_err(|e| e.rejection().cloned()),
        Err(Some(Rejection::LifetimeTooLong { .. }))
    ));
    let mut backwards = params(&voters, true);
    backwards.expiration_timestamp = T0;
    assert!(matches!(
        owner
            .open(backwards, Some(true), &signers[0], T0)
            .map_err(|e| e.rejection().cloned()),
        Err(Some(Rejection::InvalidLifetime { .. }))
    ));
    assert!(e.proposal(&g.digest).is_none() && owner.proposals().count() == 0);
}

#[test]
fn votes_outside_the_proposal_window_or_after_expiry_are_refused() {
    let g = group(5, Some(true), true);
    let config = Config::default();
    let mut e = member(&g, config.clone());
    let before = snapshot(&e, &g);
    let early = make_vote(
        &g.signers[1],
        &g.digest,
        true,
        T0 - config.allowed_clock_skew_ms - 1,
        vec![],
        vec![],
    );
    assert!(matches!(
        rejection(e.ingest_vote(early, T0 + 20)),
        Rejection::VoteOutsideWindow { .. }
    ));
    let future = make_vote(
        &g.signers[1],
        &g.digest,
        true,
        T0 + 20 + config.allowed_clock_skew_ms + 1,
        vec![],
        vec![],
    );
    assert!(matches!(
        rejection(e.ingest_vote(future, T0 + 20)),
        Rejection::VoteOutsideWindow { .. }
    ));
    let late = vote(&g, 2, true);
    assert!(matches!(
        rejection(e.ingest_vote(late, T0 + LIFE + 1)),
        Rejection::Expired { .. }
    ));
    assert_eq!(snapshot(&e, &g), before);
}

#[test]
fn keys_outside_the_voter_set_cannot_vote_or_propose() {
    let g = group(4, Some(true), true);
    let outsider = &signers(5)[4];
    let mut e = member(&g, Config::default());
    let before = snapshot(&e, &g);
    let v = make_vote(outsider, &g.digest, true, T0 + 5, vec![], vec![]);
    assert_eq!(rejection(e.ingest_vote(v, T0 + 20)), Rejection::NotEligible);
    assert_eq!(snapshot(&e, &g), before);

    // A proposal whose owner is not in the voter set the receiver binds it to.
    let others = voter_set(&signers(5)[1..]);
    let mut fresh = engine(Config::default());
    assert_eq!(
        rejection(fresh.ingest_proposal(g.proposal.clone(), &others, T0 + 10)),
        Rejection::NotEligible
    );
    let mut owner = engine(Config::default());
    assert!(matches!(
        owner.open(params(&g.voters, true), None, outsider, T0),
        Err(Error::NotAVoter)
    ));
}

#[test]
fn expected_voters_count_must_equal_the_voter_set_size() {
    let g = group(4, Some(true), true);
    let bigger = voter_set(&signers(5));
    let mut e = engine(Config::default());
    let r = rejection(e.ingest_proposal(g.proposal.clone(), &bigger, T0 + 10));
    assert_eq!(
        r,
        Rejection::VoterCountMismatch {
            claimed: 4,
            voters: 5
        }
    );
    assert!(e.proposal(&g.digest).is_none());
}

#[test]
fn proposal_id_must_be_the_digest_prefix() {
    let g = group(4, Some(true), true);
    let mut p = g.proposal.clone();
    p.proposal_id ^= 1;
    let mut e = engine(Config::default());
    assert!(matches!(
        rejection(e.ingest_proposal(p, &g.voters, T0 + 10)),
        Rejection::ProposalIdMismatch { .. }
    ));
    // Changing a header field changes the digest, so the old id no longer matches either.
    let mut p = g.proposal.clone();
    p.payload = b"something else".to_vec();
    assert_ne!(proposal_digest(&p), g.digest);
    assert!(matches!(
        rejection(e.ingest_proposal(p, &g.voters, T0 + 10)),
        Rejection::ProposalIdMismatch { .. }
    ));
}

#[test]
fn malformed_bytes_and_fields_are_typed_errors() {
    let g = group(4, Some(true), true);
    let mut e = member(&g, Config::default());
    let before = snapshot(&e, &g);
    for garbage in [&[0xffu8, 0xff, 0xff][..], &[0x0a, 0x10, 0x01], &[]] {
        assert!(matches!(
            e.ingest_bytes(garbage, &g.voters, T0 + 20),
            Err(Error::Decode(_))
        ));
    }
    let good = vote(&g, 1, true);
    let mut short_sig = good.clone();
    short_sig.signature.truncate(63);
    assert!(matches!(
        rejection(e.ingest_vote(short_sig, T0 + 20)),
        Rejection::MalformedSignature { .. }
    ));
    let mut short_key = good.clone();
    short_key.vote_owner.pop();
    assert!(matches!(
        rejection(e.ingest_vote(short_key, T0 + 20)),
        Rejection::MalformedKey { .. }
    ));
    let mut bad_parent = good.clone();
    bad_parent.parent_hash = vec![1; 5];
    assert_eq!(
        rejection(e.ingest_vote(bad_parent, T0 + 20)),
        Rejection::MalformedHash {
            field: HashField::ParentHash,
            actual: 5
        }
    );
    let mut no_proposal_hash = good;
    no_proposal_hash.proposal_hash.clear();
    assert!(matches!(
        rejection(e.ingest_vote(no_proposal_hash, T0 + 20)),
        Rejection::MalformedHash {
            field: HashField::ProposalHash,
            ..
        }
    ));
    let mut wrong_round = g.proposal.clone();
    wrong_round.round = 5;
    let msg = ConsensusMessage::Proposal(wrong_round).encode();
    assert!(matches!(
        e.ingest_bytes(&msg, &g.voters, T0 + 20)
            .map_err(|e| e.rejection().cloned()),
        Err(Some(Rejection::RoundMismatch { .. }))
    ));
    assert_eq!(snapshot(&e, &g), before);
}

/// Test-only signing with an arbitrary key over an arbitrary hash.
trait SignForTest {
    fn sign_for_test(&self, hash: &[u8]) -> Vec<u8>;
}

impl SignForTest for consensus_hashgraph::Ed25519Signer {
    fn sign_for_test(&self, hash: &[u8]) -> Vec<u8> {
        consensus_hashgraph::Signer::sign(self, hash).unwrap()
    }
}

trait VotersKey {
    fn voters_key(&self, i: usize) -> Vec<u8>;
}

impl VotersKey for Group {
    fn voters_key(&self, i: usize) -> Vec<u8> {
        consensus_hashgraph::Signer::public_key(&self.signers[i]).to_vec()
    }
}

#[test]
fn new_proposals_beyond_the_configured_bound_are_refused_until_room_is_freed() {
    let a = group(3, Some(true), true);
    let b = group(4, Some(true), true);
    let mut e = engine(Config {
        max_proposals: 1,
        ..Config::default()
    });
    e.ingest_proposal(a.proposal.clone(), &a.voters, T0 + 10)
        .unwrap();
    assert_eq!(
        rejection(e.ingest_proposal(b.proposal.clone(), &b.voters, T0 + 10)),
        Rejection::TooManyProposals { limit: 1 }
    );
    assert!(e.proposal(&b.digest).is_none());
    e.forget(&a.digest, T0 + 20).unwrap();
    e.ingest_proposal(b.proposal.clone(), &b.voters, T0 + 30)
        .unwrap();
}
