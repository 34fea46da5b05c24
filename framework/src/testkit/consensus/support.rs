//! What every consensus case leans on: a fixed set of voter identities, fresh instances from
//! the factory, a ballot (a proposal and the signed votes of chosen members, each voter having
//! seen only the proposal), an observer that is fed messages, and a map that keeps what
//! `take_changes` reports the way a store would.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::consensus::{
    Consensus, ConsensusContext, ConsensusEvent, ConsensusFactory, Electorate, OpenRequest,
    StateChange, Tally, Verdict,
};
use crate::identity::{Identity, IdentitySigner};
use crate::storage::Entries;
use crate::types::{GroupId, ProposalId, Timestamp};

/// When every case starts.
pub(super) const START: Timestamp = Timestamp(1_800_000_000_000);

/// How long a ballot's proposal is open.
pub(super) const LIFETIME_MS: u64 = 60_000;

/// The time `ms` after [`START`].
pub(super) fn at(ms: u64) -> Timestamp {
    START.plus_ms(ms)
}

/// The identity of voter `i` (and of the outsider, `i = 200`).
pub(super) fn identity(i: u8) -> Arc<Identity> {
    Arc::new(Identity::from_seed([i.wrapping_add(1); 32]).expect("a valid seed"))
}

/// The voter set of identities `0..n`.
pub(super) fn voter_set(n: u8) -> Electorate {
    Electorate::new((0..n).map(|i| identity(i).public_key().to_vec()).collect())
}

/// A lookup answering `set` for every proposal.
pub(super) fn lookup(set: &Electorate) -> impl Fn(&[u8]) -> Result<Electorate, String> + use<> {
    let set = set.clone();
    move |_: &[u8]| Ok(set.clone())
}

/// A fresh (or, with `restored`, resumed) instance for identity `i`.
pub(super) fn instance(
    factory: &dyn ConsensusFactory,
    i: u8,
    restored: Entries,
    now: Timestamp,
) -> Box<dyn Consensus> {
    let signer: Arc<dyn IdentitySigner> = identity(i);
    factory
        .create(ConsensusContext {
            group_id: GroupId::new(b"conformance group".to_vec()).expect("a valid group id"),
            signer,
            restored,
            now,
        })
        .unwrap_or_else(|e| panic!("the factory refused to create an instance: {e}"))
}

/// Every pending event.
pub(super) fn drain(c: &mut dyn Consensus) -> Vec<ConsensusEvent> {
    std::iter::from_fn(|| c.poll_event()).collect()
}

/// The decisions among `events`.
pub(super) fn decisions(events: &[ConsensusEvent]) -> Vec<(ProposalId, Verdict, Tally)> {
    events
        .iter()
        .filter_map(|e| match e {
            ConsensusEvent::Decided { id, outcome, tally } => Some((*id, *outcome, *tally)),
            _ => None,
        })
        .collect()
}

/// A proposal opened by voter 0 (voting YES) among voters `0..n`, and the votes of voters
/// `1..=votes.len()` (`votes[k]` is voter `k + 1`'s), each cast having seen the proposal only.
pub(super) struct Ballot {
    pub id: ProposalId,
    pub set: Electorate,
    pub proposal: Vec<Vec<u8>>,
    pub votes: Vec<Vec<Vec<u8>>>,
}

pub(super) fn ballot(factory: &dyn ConsensusFactory, n: u8, votes: &[bool]) -> Ballot {
    let set = voter_set(n);
    let mut opener = instance(factory, 0, Vec::new(), at(0));
    let opened = opener
        .open(
            OpenRequest {
                payload: b"conformance proposal",
                voters: &set,
                expires_at: at(LIFETIME_MS),
                liveness_yes: false,
                own_vote: Some(true),
            },
            at(0),
        )
        .unwrap_or_else(|e| panic!("open failed: {e}"));
    let mut cast = Vec::new();
    for (k, &yes) in votes.iter().enumerate() {
        let mut voter = instance(factory, k as u8 + 1, Vec::new(), at(1));
        for m in &opened.messages {
            voter
                .ingest(m, &lookup(&set), at(1))
                .unwrap_or_else(|e| panic!("voter {} refused the proposal: {e}", k + 1));
        }
        voter.tick(at(1));
        cast.push(
            voter
                .vote(&opened.id, yes, at(2))
                .unwrap_or_else(|e| panic!("voter {} could not vote: {e}", k + 1)),
        );
    }
    Ballot {
        id: opened.id,
        set,
        proposal: opened.messages,
        votes: cast,
    }
}

/// What feeding one message did, comparable across instances.
pub(super) fn fed(
    c: &mut dyn Consensus,
    set: &Electorate,
    message: &[u8],
    now: Timestamp,
) -> String {
    let result = c.ingest(message, &lookup(set), now);
    c.tick(now);
    match result {
        Ok(forward) => format!("accepted, forwarding {forward:?}"),
        Err(e) => format!("refused: {e:?}"),
    }
}

/// Feeds the proposal, then the votes in `order`, then ticks at expiry; returns the events.
pub(super) fn observe(
    c: &mut dyn Consensus,
    ballot: &Ballot,
    order: &[usize],
) -> Vec<ConsensusEvent> {
    for m in &ballot.proposal {
        fed(c, &ballot.set, m, at(3));
    }
    for (step, &k) in order.iter().enumerate() {
        for m in &ballot.votes[k] {
            fed(c, &ballot.set, m, at(4 + step as u64));
        }
    }
    c.tick(at(LIFETIME_MS));
    drain(c)
}

/// What a store would hold after applying every change reported so far.
#[derive(Default)]
pub(super) struct Kept(BTreeMap<Vec<u8>, Vec<u8>>);

impl Kept {
    /// Applies what `c` reports through `take_changes`.
    pub(crate) fn keep(&mut self, c: &mut dyn Consensus) {
        for change in c.take_changes() {
            match change {
                StateChange::Put(k, v) => {
                    self.0.insert(k, v);
                }
                StateChange::Delete(k) => {
                    self.0.remove(&k);
                }
            }
        }
    }

    /// The records, in key order (as a store's prefix scan returns them).
    pub(crate) fn entries(&self) -> Entries {
        self.0.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }
}
