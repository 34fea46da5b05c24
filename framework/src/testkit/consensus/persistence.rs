//! Consensus cases about persistence: an instance resumed from the records it reported
//! through `take_changes` answers like the instance that reported them, before and after the
//! decision.

use super::support::{Kept, LIFETIME_MS, at, ballot, decisions, drain, fed, instance};
use crate::consensus::{ConsensusError, ConsensusFactory};

/// A member that read the proposal and two votes and voted itself, then restarted from its
/// persisted records, knows it voted (a second vote is refused as
/// [`ConsensusError::AlreadyVoted`]), has the same deadline, and — fed the remaining votes like
/// an instance that never restarted — reaches the same decision, reported once. Restarted again
/// after the decision, it still knows the outcome.
pub fn a_restored_instance_answers_like_the_original(factory: &dyn ConsensusFactory) {
    let ballot = ballot(factory, 7, &[true, true, false, true]);
    let mut original = instance(factory, 6, Vec::new(), at(0));
    let mut kept = Kept::default();
    for m in ballot
        .proposal
        .iter()
        .chain(ballot.votes[..2].iter().flatten())
    {
        fed(original.as_mut(), &ballot.set, m, at(3));
    }
    original
        .vote(&ballot.id, true, at(4))
        .unwrap_or_else(|e| panic!("the vote was refused: {e}"));
    original.tick(at(4));
    drain(original.as_mut());
    kept.keep(original.as_mut());

    let mut restored = instance(factory, 6, kept.entries(), at(5));
    assert!(
        restored.has_voted(&ballot.id),
        "the restored instance forgot its vote"
    );
    assert!(
        matches!(
            restored.vote(&ballot.id, false, at(5)),
            Err(ConsensusError::AlreadyVoted)
        ),
        "the restored instance voted a second time"
    );
    assert_eq!(restored.next_deadline(), original.next_deadline());
    assert_eq!(restored.outcome(&ballot.id), original.outcome(&ballot.id));
    drain(restored.as_mut());

    let mut decided = Vec::new();
    for c in [&mut original, &mut restored] {
        for m in ballot.votes[2..].iter().flatten() {
            fed(c.as_mut(), &ballot.set, m, at(6));
        }
        c.tick(at(LIFETIME_MS));
        let events = drain(c.as_mut());
        let d = decisions(&events);
        assert_eq!(d.len(), 1, "decided once: {events:?}");
        assert_eq!(c.outcome(&ballot.id), Some(d[0].1));
        decided.push(d[0]);
    }
    assert_eq!(
        decided[0], decided[1],
        "the restored instance decided differently"
    );

    restored.take_changes();
    kept.keep(original.as_mut());
    let again = instance(factory, 6, kept.entries(), at(LIFETIME_MS + 1));
    assert_eq!(
        again.outcome(&ballot.id),
        Some(decided[0].1),
        "the outcome did not survive a restart"
    );
}
