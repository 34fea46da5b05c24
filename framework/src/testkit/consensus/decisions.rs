//! Consensus cases about decisions: the outcome depends only on the set of valid votes, two
//! instances fed the same messages answer alike, and every decision is reported exactly once.

use super::support::{
    LIFETIME_MS, at, ballot, decisions, drain, fed, instance, observe, voter_set,
};
use crate::consensus::{ConsensusEvent, ConsensusFactory, OpenRequest, Verdict};

/// The orders the votes of a six-vote ballot are delivered in.
const ORDERS: [[usize; 5]; 4] = [
    [0, 1, 2, 3, 4],
    [4, 3, 2, 1, 0],
    [1, 3, 0, 4, 2],
    [2, 0, 4, 1, 3],
];

/// An observer's decision and [`outcome`] are the same whatever order the votes arrive in,
/// for a ballot the YES side wins and for one the NO side wins; the tally reported with it
/// never counts more votes than were cast.
///
/// [`outcome`]: crate::consensus::Consensus::outcome
pub fn the_decision_does_not_depend_on_vote_order(factory: &dyn ConsensusFactory) {
    for votes in [
        [true, false, true, true, false],
        [false, false, true, false, false],
    ] {
        let ballot = ballot(factory, 7, &votes);
        let mut seen = Vec::new();
        for order in &ORDERS {
            let mut observer = instance(factory, 6, Vec::new(), at(0));
            let events = observe(observer.as_mut(), &ballot, order);
            let decided = decisions(&events);
            assert_eq!(decided.len(), 1, "order {order:?}: {events:?}");
            assert_eq!(decided[0].0, ballot.id);
            assert_eq!(
                observer.outcome(&ballot.id),
                Some(decided[0].1),
                "outcome() agrees with the event"
            );
            seen.push((order, decided[0].1, decided[0].2));
        }
        let yes = 1 + votes.iter().filter(|v| **v).count() as u32;
        let no = votes.len() as u32 + 1 - yes;
        for (order, outcome, tally) in &seen[1..] {
            assert_eq!(
                outcome, &seen[0].1,
                "votes {votes:?} in order {order:?} against {:?}",
                seen[0].0
            );
            // The tally is the count at the moment of decision, which may come before the
            // last vote: it may differ with the order, but never exceeds the votes cast.
            assert_eq!(tally.eligible, 7, "order {order:?}");
            assert!(
                tally.yes <= yes && tally.no <= no,
                "order {order:?}: {tally:?}"
            );
        }
        let expected = if yes * 2 > 6 {
            Verdict::Yes
        } else {
            Verdict::No
        };
        assert_eq!(seen[0].1, expected, "{yes} of 6 votes YES among 7 voters");
    }
}

/// Two instances of one member, fed the same messages at the same times and casting the same
/// vote, answer every call identically: ingest results, votes, events, outcomes, deadlines and
/// persistence records. An instance may depend on nothing but its inputs.
pub fn two_instances_fed_the_same_inputs_answer_identically(factory: &dyn ConsensusFactory) {
    let ballot = ballot(factory, 7, &[true, true, false]);
    let mut twins = [
        instance(factory, 6, Vec::new(), at(0)),
        instance(factory, 6, Vec::new(), at(0)),
    ];
    let mut log: [Vec<String>; 2] = Default::default();
    for (twin, log) in twins.iter_mut().zip(log.iter_mut()) {
        let c = twin.as_mut();
        for m in &ballot.proposal {
            log.push(fed(c, &ballot.set, m, at(3)));
        }
        log.push(format!("{:?}", c.vote(&ballot.id, true, at(4))));
        for (k, vote) in ballot.votes.iter().enumerate() {
            for m in vote {
                log.push(fed(c, &ballot.set, m, at(5 + k as u64)));
            }
        }
        c.tick(at(LIFETIME_MS));
        log.push(format!("{:?}", drain(c)));
        log.push(format!(
            "{:?} {:?} {}",
            c.outcome(&ballot.id),
            c.next_deadline(),
            c.has_voted(&ballot.id)
        ));
        log.push(format!("{:?}", c.take_changes()));
    }
    assert_eq!(log[0], log[1]);
}

/// A decision is reported once: not again when its messages arrive again, nor on later ticks;
/// a proposal nobody else votes on is decided once, at its expiry, not before; and an opener
/// is never told its own proposal was received.
pub fn every_decision_is_reported_exactly_once(factory: &dyn ConsensusFactory) {
    let ballot = ballot(factory, 4, &[true, true, true]);
    let mut observer = instance(factory, 3, Vec::new(), at(0));
    let mut events = observe(observer.as_mut(), &ballot, &[0, 1, 2]);
    for m in ballot.proposal.iter().chain(ballot.votes.iter().flatten()) {
        fed(observer.as_mut(), &ballot.set, m, at(LIFETIME_MS + 1));
    }
    for later in [LIFETIME_MS * 2, LIFETIME_MS * 100] {
        observer.tick(at(later));
    }
    events.extend(drain(observer.as_mut()));
    assert_eq!(decisions(&events).len(), 1, "{events:?}");

    let set = voter_set(4);
    let mut opener = instance(factory, 0, Vec::new(), at(0));
    let opened = opener
        .open(
            OpenRequest {
                payload: b"nobody answers",
                voters: &set,
                expires_at: at(LIFETIME_MS),
                liveness_yes: false,
                own_vote: Some(true),
            },
            at(0),
        )
        .unwrap_or_else(|e| panic!("open failed: {e}"));
    opener.tick(at(LIFETIME_MS - 1));
    let early = drain(opener.as_mut());
    assert!(
        decisions(&early).is_empty(),
        "decided before expiry: {early:?}"
    );
    assert!(
        !early
            .iter()
            .any(|e| matches!(e, ConsensusEvent::ProposalReceived { .. })),
        "the opener was told of its own proposal"
    );
    assert_eq!(opener.outcome(&opened.id), None);
    for later in [LIFETIME_MS, LIFETIME_MS + 1, LIFETIME_MS * 10] {
        opener.tick(at(later));
    }
    let late = drain(opener.as_mut());
    let decided = decisions(&late);
    assert_eq!(decided.len(), 1, "decided once at expiry: {late:?}");
    assert_eq!(decided[0].0, opened.id);
    if let Some(outcome) = opener.outcome(&opened.id) {
        assert_eq!(outcome, decided[0].1, "outcome() contradicts the event");
    } else {
        assert_eq!(
            decided[0].1,
            Verdict::Failed,
            "a final outcome is not answered by outcome()"
        );
    }
}
