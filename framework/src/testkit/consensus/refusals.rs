//! Consensus cases about bad input: forged, ineligible, malformed and duplicate messages and
//! local requests that cannot be served are refused with a typed [`ConsensusError`], change
//! nothing, and are never counted.

use super::support::{
    LIFETIME_MS, at, ballot, decisions, drain, fed, identity, instance, lookup, voter_set,
};
use crate::consensus::{ConsensusError, ConsensusEvent, ConsensusFactory, Electorate, OpenRequest};
use crate::types::ProposalId;

/// A vote whose bytes were altered in transit is refused (at once, or reported as
/// [`ConsensusEvent::VoteRejected`] after a deferred check) and never counted; the genuine
/// vote arriving afterwards is still accepted. A vote signed by a key outside the proposal's
/// voter set is refused with [`ConsensusError::NotEligible`].
pub fn forged_and_ineligible_votes_are_never_counted(factory: &dyn ConsensusFactory) {
    let ballot = ballot(factory, 4, &[true, true]);
    let mut observer = instance(factory, 3, Vec::new(), at(0));
    for m in &ballot.proposal {
        fed(observer.as_mut(), &ballot.set, m, at(3));
    }
    let genuine = &ballot.votes[0];
    for (i, byte) in [0usize, 1, 2].into_iter().enumerate() {
        for m in genuine {
            let mut forged = m.clone();
            let at_byte = forged.len() - 1 - byte * (forged.len() / 3);
            forged[at_byte] ^= 0x01;
            let result = observer.ingest(&forged, &lookup(&ballot.set), at(4 + i as u64));
            observer.tick(at(4 + i as u64));
            let events = drain(observer.as_mut());
            assert!(
                decisions(&events).is_empty(),
                "a forged vote decided the proposal: {events:?}"
            );
            if result.is_ok() {
                assert!(
                    events
                        .iter()
                        .any(|e| matches!(e, ConsensusEvent::VoteRejected { .. }))
                        || observer.outcome(&ballot.id).is_none(),
                    "a forged vote accepted without a later rejection"
                );
            }
        }
    }
    // Voter 0 (opener) and voter 2 are counted; two YES of four is not a decision yet.
    for m in &ballot.votes[1] {
        fed(observer.as_mut(), &ballot.set, m, at(10));
    }
    assert_eq!(
        observer.outcome(&ballot.id),
        None,
        "two valid votes of four decide nothing"
    );
    for m in genuine {
        let result = observer.ingest(m, &lookup(&ballot.set), at(11));
        assert!(
            result.is_ok(),
            "the genuine vote after its forgeries was refused: {result:?}"
        );
    }
    observer.tick(at(12));
    let events = drain(observer.as_mut());
    let decided = decisions(&events);
    assert_eq!(
        decided.len(),
        1,
        "three valid YES votes of four decide: {events:?}"
    );
    assert_eq!(decided[0].2.yes, 3, "only valid votes are counted");

    // An outsider told (wrongly) that it may vote signs a vote; the group's members refuse it.
    // (Its set has the honest set's size: a plugin may refuse a proposal whose voter count
    // does not match before anyone votes.)
    let outsider = identity(200);
    let mut swapped: Vec<Vec<u8>> = ballot.set.keys().to_vec();
    swapped[2] = outsider.public_key().to_vec();
    let widened = Electorate::new(swapped);
    let fresh = self::ballot_for_outsider(factory, &widened);
    let mut member = instance(factory, 3, Vec::new(), at(0));
    for m in &fresh.0 {
        fed(member.as_mut(), &voter_set(4), m, at(3));
    }
    for m in &fresh.1 {
        match member.ingest(m, &lookup(&voter_set(4)), at(4)) {
            Err(ConsensusError::NotEligible) => {}
            other => panic!("a vote by a key outside the voter set was answered {other:?}"),
        }
    }
}

/// Voter 0 opens among the honest four; an outsider whose lookup wrongly puts it in voter
/// 2's place votes.
fn ballot_for_outsider(
    factory: &dyn ConsensusFactory,
    widened: &Electorate,
) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let honest = voter_set(4);
    let mut opener = instance(factory, 0, Vec::new(), at(0));
    let opened = opener
        .open(
            OpenRequest {
                payload: b"outsider ballot",
                voters: &honest,
                expires_at: at(LIFETIME_MS),
                liveness_yes: false,
                own_vote: Some(true),
            },
            at(0),
        )
        .unwrap_or_else(|e| panic!("open failed: {e}"));
    let mut outsider = instance(factory, 200, Vec::new(), at(0));
    for m in &opened.messages {
        outsider
            .ingest(m, &lookup(widened), at(1))
            .unwrap_or_else(|e| panic!("the outsider could not read the proposal: {e}"));
    }
    let vote = outsider
        .vote(&opened.id, true, at(2))
        .unwrap_or_else(|e| panic!("the outsider could not vote: {e}"));
    (opened.messages, vote)
}

/// Bytes that are no consensus message are refused with [`ConsensusError::Malformed`], and a
/// truncated vote is refused with a typed error; neither leaves a trace (no event, no
/// persistence record).
pub fn malformed_messages_are_refused(factory: &dyn ConsensusFactory) {
    let ballot = ballot(factory, 4, &[true]);
    let mut observer = instance(factory, 3, Vec::new(), at(0));
    observer.take_changes();
    let set = ballot.set.clone();
    for junk in [
        &b""[..],
        &[0xff; 7][..],
        &[0x00; 64][..],
        b"not a consensus message",
    ] {
        match observer.ingest(junk, &lookup(&set), at(3)) {
            Err(ConsensusError::Malformed(_)) => {}
            other => panic!("{} junk bytes were answered {other:?}", junk.len()),
        }
    }
    for m in &ballot.votes[0] {
        let truncated = &m[..m.len() / 2];
        let result = observer.ingest(truncated, &lookup(&set), at(3));
        assert!(
            matches!(
                result,
                Err(ConsensusError::Malformed(_) | ConsensusError::Integrity(_))
            ),
            "a truncated vote was answered {result:?}"
        );
    }
    observer.tick(at(4));
    assert_eq!(drain(observer.as_mut()), vec![], "refusals reported events");
    assert_eq!(
        observer.take_changes(),
        vec![],
        "refusals changed persisted state"
    );
}

/// A message already ingested — the proposal or a vote — is refused as
/// [`ConsensusError::Duplicate`] and changes nothing.
pub fn duplicates_are_refused_as_duplicate(factory: &dyn ConsensusFactory) {
    let ballot = ballot(factory, 7, &[true, false]);
    let mut observer = instance(factory, 6, Vec::new(), at(0));
    for m in ballot.proposal.iter().chain(ballot.votes.iter().flatten()) {
        fed(observer.as_mut(), &ballot.set, m, at(3));
    }
    drain(observer.as_mut());
    observer.take_changes();
    for m in ballot.proposal.iter().chain(ballot.votes.iter().flatten()) {
        match observer.ingest(m, &lookup(&ballot.set), at(4)) {
            Err(ConsensusError::Duplicate) => {}
            other => panic!("a message ingested twice was answered {other:?}"),
        }
    }
    observer.tick(at(5));
    assert_eq!(
        drain(observer.as_mut()),
        vec![],
        "duplicates reported events"
    );
    assert_eq!(
        observer.take_changes(),
        vec![],
        "duplicates changed persisted state"
    );
}

/// Local requests that cannot be served are refused with their own error: voting on an
/// unknown or forgotten proposal ([`ConsensusError::UnknownProposal`]), voting twice
/// ([`ConsensusError::AlreadyVoted`]), opening a proposal the opener may not vote on
/// ([`ConsensusError::InvalidRequest`]). Unknown proposals have no outcome and no
/// certificate.
pub fn impossible_local_requests_are_refused(factory: &dyn ConsensusFactory) {
    let ballot = ballot(factory, 4, &[true]);
    let mut member = instance(factory, 3, Vec::new(), at(0));
    let unknown = ProposalId([0x5a; 32]);
    assert!(matches!(
        member.vote(&unknown, true, at(1)),
        Err(ConsensusError::UnknownProposal)
    ));
    assert_eq!(member.outcome(&unknown), None);
    assert!(!member.has_voted(&unknown));
    assert!(member.certificate(&unknown, 10).is_empty());
    for m in &ballot.proposal {
        fed(member.as_mut(), &ballot.set, m, at(2));
    }
    member
        .vote(&ballot.id, false, at(3))
        .unwrap_or_else(|e| panic!("the first vote was refused: {e}"));
    assert!(member.has_voted(&ballot.id));
    for yes in [false, true] {
        assert!(
            matches!(
                member.vote(&ballot.id, yes, at(4)),
                Err(ConsensusError::AlreadyVoted)
            ),
            "a second vote ({yes}) was not refused as AlreadyVoted"
        );
    }
    member.forget(&ballot.id, at(LIFETIME_MS * 2));
    member.tick(at(LIFETIME_MS * 2));
    drain(member.as_mut());
    assert!(matches!(
        member.vote(&ballot.id, true, at(LIFETIME_MS * 2)),
        Err(ConsensusError::UnknownProposal | ConsensusError::AlreadyVoted)
    ));
    let others = Electorate::new(vec![
        identity(1).public_key().to_vec(),
        identity(2).public_key().to_vec(),
    ]);
    let opened = member.open(
        OpenRequest {
            payload: b"not my vote",
            voters: &others,
            expires_at: at(LIFETIME_MS * 3),
            liveness_yes: false,
            own_vote: Some(true),
        },
        at(LIFETIME_MS * 2),
    );
    assert!(
        matches!(opened, Err(ConsensusError::InvalidRequest(_))),
        "opening with a vote by a non-voter was answered {:?}",
        opened.as_ref().map(|o| o.id)
    );
}
