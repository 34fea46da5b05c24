//! The `Consensus` plugin trait: binary (YES/NO) decisions on opaque proposals among a known
//! set of voters.
//!
//! The group engine uses it for every voting proposal and never sees how votes are formed,
//! forwarded or counted; the hashgraph-like engine (`backends/consensus-hashgraph`) is the
//! default, and another engine plugs in by implementing this trait and registering a
//! [`ConsensusFactory`]. Consensus messages travel inside MLS application messages, so a
//! plugin only ever sees bytes that a current member sent; it must still verify every vote's
//! own signature, because votes are forwarded and counted by everyone.

use std::sync::Arc;

use crate::identity::IdentitySigner;
use crate::types::{GroupId, ProposalId, Timestamp};

/// The eligible voters of a proposal: the Ed25519 signature keys of the roster of the epoch
/// in which it was opened. Cheap to clone; its `id` lets plugins cache derived structures.
#[derive(Clone, Debug)]
pub struct Electorate {
    id: [u8; 32],
    keys: Arc<[Vec<u8>]>,
}

impl Electorate {
    /// Builds a voter set; `keys` must be distinct (a roster's keys are).
    pub fn new(keys: Vec<Vec<u8>>) -> Electorate {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        for key in &keys {
            ctx.update(&(key.len() as u32).to_be_bytes());
            ctx.update(key);
        }
        let mut id = [0u8; 32];
        id.copy_from_slice(ctx.finish().as_ref());
        Electorate {
            id,
            keys: keys.into(),
        }
    }

    /// A digest identifying this exact set (same keys in the same order → same id).
    pub fn id(&self) -> &[u8; 32] {
        &self.id
    }

    /// The voters' public keys.
    pub fn keys(&self) -> &[Vec<u8>] {
        &self.keys
    }

    /// Number of eligible voters.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when nobody may vote.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// What to open.
pub struct OpenRequest<'a> {
    /// The opaque payload being decided (the engine's `GroupProposal`).
    pub payload: &'a [u8],
    /// Who may vote.
    pub voters: &'a Electorate,
    /// When voting ends; undecided proposals are resolved at this time.
    pub expires_at: Timestamp,
    /// At expiry, count silent voters as YES (`true`) or NO (`false`).
    pub liveness_yes: bool,
    /// The opener's own vote, cast together with the proposal.
    pub own_vote: Option<bool>,
}

/// A freshly opened proposal.
pub struct Opened {
    /// Its id.
    pub id: ProposalId,
    /// Messages to broadcast to the group (opaque to the engine).
    pub messages: Vec<Vec<u8>>,
}

/// How a proposal ended (defined with the rest of the proposal vocabulary in
/// [`crate::proposal`]).
pub use crate::proposal::Verdict;

/// Vote counts at a decision.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Distinct YES voters.
    pub yes: u32,
    /// Distinct NO voters.
    pub no: u32,
    /// Eligible voters.
    pub eligible: u32,
}

/// Something a consensus plugin reports to the engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConsensusEvent {
    /// A proposal opened by someone else was seen for the first time.
    ProposalReceived {
        /// Its id.
        id: ProposalId,
        /// The opener's public key (a member of the voter set).
        owner: Vec<u8>,
        /// The opaque payload.
        payload: Vec<u8>,
    },
    /// A vote accepted earlier (e.g. queued for batch verification) turned out invalid when it
    /// was checked; it was never counted.
    VoteRejected {
        /// The proposal the vote claimed.
        id: ProposalId,
        /// The claimed voter's key.
        voter: Vec<u8>,
        /// Why it was refused.
        reason: String,
    },
    /// A proposal reached its final outcome. Emitted exactly once per proposal.
    Decided {
        /// The proposal.
        id: ProposalId,
        /// The outcome.
        outcome: Verdict,
        /// The counts it was decided on.
        tally: Tally,
    },
    /// A voter signed conflicting votes; `evidence` lets anyone verify it.
    Equivocation {
        /// The proposal.
        id: ProposalId,
        /// The equivocating voter's key.
        voter: Vec<u8>,
        /// Plugin-defined encoding of both signed votes.
        evidence: Vec<u8>,
    },
}

/// What a consensus message is, read without ingesting or verifying it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Described {
    /// A proposal (possibly with votes).
    Proposal {
        /// Its id.
        id: ProposalId,
        /// The owner's public key, as claimed (not yet verified).
        owner: Vec<u8>,
        /// The opaque payload.
        payload: Vec<u8>,
    },
    /// A vote.
    Vote {
        /// The proposal it is for.
        id: ProposalId,
        /// The voter's public key, as claimed.
        voter: Vec<u8>,
    },
}

/// A persistence record change; the engine writes it in the same transaction as the step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StateChange {
    /// Store `value` under `key`.
    Put(Vec<u8>, Vec<u8>),
    /// Remove `key`.
    Delete(Vec<u8>),
}

/// Why a consensus operation or an incoming consensus message was rejected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConsensusError {
    /// The bytes are not a valid consensus message.
    #[error("malformed consensus message: {0}")]
    Malformed(String),
    /// A vote's or proposal's signature does not verify.
    #[error("invalid signature")]
    BadSignature,
    /// The signer is not in the proposal's voter set.
    #[error("voter is not eligible for this proposal")]
    NotEligible,
    /// The proposal is unknown (never seen, or forgotten).
    #[error("unknown proposal")]
    UnknownProposal,
    /// The proposal or vote is outside its time window.
    #[error("proposal or vote expired or not yet valid")]
    Expired,
    /// A replay of something already finished.
    #[error("replayed message")]
    Replayed,
    /// An exact duplicate of something already counted; nothing changed.
    #[error("duplicate vote")]
    Duplicate,
    /// The local member already voted on this proposal.
    #[error("already voted")]
    AlreadyVoted,
    /// The proposal is already decided.
    #[error("proposal already decided")]
    AlreadyDecided,
    /// A hash chain or structural check failed.
    #[error("integrity check failed: {0}")]
    Integrity(String),
    /// The voter set could not be determined for a new proposal (the engine's lookup refused).
    #[error("no voter set for this proposal: {0}")]
    NoVoterSet(String),
    /// The local parameters make the request impossible (e.g. opener not a voter).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// A bug or broken invariant inside the plugin.
    #[error("internal consensus error: {0}")]
    Internal(String),
}

/// Maps a new proposal's payload to its voter set, or refuses it.
pub type VoterLookup<'a> = &'a dyn Fn(&[u8]) -> Result<Electorate, String>;

/// One group's consensus instance.
///
/// # Note for implementers
/// - Time is always the caller's `now`; never read a clock.
/// - Any method that returns `Err` must leave the instance exactly as it was.
/// - `ingest` receives untrusted bytes. For a proposal not seen before it calls `voters` with
///   the payload and binds the returned set to the proposal for its whole life; votes from keys
///   outside that set are rejected and never counted.
/// - Messages returned by `open`, `vote` and `ingest` are broadcast by the engine to the group.
/// - Every decision is reported exactly once as [`ConsensusEvent::Decided`] through
///   `poll_event`, whether it was reached by votes or by `tick` at expiry; decisions are final,
///   with one exception: a proposal that ended [`Verdict::Failed`] here (too few votes seen in
///   time) may later be reported again as `Yes` or `No` when a certificate proves that outcome.
///   The plugin must not report `ProposalReceived` for proposals it opened itself.
/// - Certificates (optional): `certificate` exports self-verifying proof of a decided outcome
///   (the proposal and enough signed votes) in parts; `ingest_certificate` accepts such parts at
///   any time — also long after the proposal expired, and for proposals never seen — and, once
///   the parts received prove an outcome the plugin had not reached, reports
///   `ProposalReceived` (if the proposal is new here) and `Decided`. Only outcomes the votes
///   alone determine may be proven; a plugin that cannot prove outcomes keeps the defaults.
/// - The decision must depend only on the set of valid votes, never on their arrival order
///   (the [`Tally`] reported with it is the count at the moment of decision, which may come
///   before the last vote and so may differ). Two instances of one member fed the same calls
///   at the same times answer identically: no clock, no randomness.
/// - Bad input is refused with the variant naming it, and never counted: bytes that are no
///   consensus message → [`ConsensusError::Malformed`]; a signature that does not verify →
///   [`ConsensusError::BadSignature`] (or, for votes verified later in a batch, a
///   [`ConsensusEvent::VoteRejected`]); a key outside the proposal's voter set →
///   [`ConsensusError::NotEligible`]; a message already ingested →
///   [`ConsensusError::Duplicate`]. A forged copy of a vote must not block the genuine vote.
/// - Local requests that cannot be served are refused likewise: `vote` on an unknown or
///   forgotten proposal → [`ConsensusError::UnknownProposal`], a second `vote` →
///   [`ConsensusError::AlreadyVoted`], `open` with an own vote by a non-voter →
///   [`ConsensusError::InvalidRequest`].
/// - `outcome` answers the outcome reported by `Decided` (a proposal that ended
///   [`Verdict::Failed`] may answer `None`: that outcome is not final).
/// - Everything needed to resume after a restart is reported through `take_changes`; the
///   factory receives those records back (see [`ConsensusContext::restored`]) and the resumed
///   instance answers like the one that reported them: it knows its votes and the outcomes.
///
/// The conformance suite `demls::consensus_conformance!` (feature `testkit`) checks these
/// rules; every plugin runs it from its own `tests/conformance.rs`.
pub trait Consensus: Send {
    /// Opens a proposal (with the opener's vote when `own_vote` is set).
    fn open(&mut self, request: OpenRequest<'_>, now: Timestamp) -> Result<Opened, ConsensusError>;

    /// Casts the local member's vote; returns the messages to broadcast.
    fn vote(
        &mut self,
        id: &ProposalId,
        yes: bool,
        now: Timestamp,
    ) -> Result<Vec<Vec<u8>>, ConsensusError>;

    /// Ingests a message from the network; returns messages to forward (may be empty).
    fn ingest(
        &mut self,
        message: &[u8],
        voters: VoterLookup<'_>,
        now: Timestamp,
    ) -> Result<Vec<Vec<u8>>, ConsensusError>;

    /// Advances time: resolves expired proposals, flushes pending work.
    fn tick(&mut self, now: Timestamp);

    /// The earliest time `tick` has work to do.
    fn next_deadline(&self) -> Option<Timestamp>;

    /// The next pending event.
    fn poll_event(&mut self) -> Option<ConsensusEvent>;

    /// The outcome of a decided proposal.
    fn outcome(&self, id: &ProposalId) -> Option<Verdict>;

    /// Whether the local member has voted on `id`.
    fn has_voted(&self, id: &ProposalId) -> bool;

    /// Drops a finished proposal's state (the engine no longer needs it).
    fn forget(&mut self, id: &ProposalId, now: Timestamp);

    /// Persistence records changed since the last call.
    fn take_changes(&mut self) -> Vec<StateChange>;

    /// Reads what `message` is without ingesting or verifying it (used to refuse some
    /// messages by their payload before they reach the plugin); `None` when unsupported or
    /// undecodable.
    fn describe(&self, message: &[u8]) -> Option<Described> {
        let _ = message;
        None
    }

    /// Proof of a decided proposal's outcome, as parts of at most `votes_per_part` votes each
    /// (opaque to the engine, which seals and sends them to members catching up). When the
    /// outcome cannot be proven (undecided, or decided only at expiry), a part that introduces
    /// the proposal (authenticated by its owner's signed vote) if the plugin can; empty when
    /// the proposal is unknown.
    fn certificate(&self, id: &ProposalId, votes_per_part: usize) -> Vec<Vec<u8>> {
        let _ = (id, votes_per_part);
        Vec::new()
    }

    /// Ingests one certificate part from the network (untrusted). `voters` is consulted for a
    /// proposal not seen before, as in [`Consensus::ingest`].
    fn ingest_certificate(
        &mut self,
        part: &[u8],
        voters: VoterLookup<'_>,
        now: Timestamp,
    ) -> Result<(), ConsensusError> {
        let _ = (part, voters, now);
        Err(ConsensusError::InvalidRequest(
            "this consensus plugin does not support certificates".into(),
        ))
    }
}

/// What a factory needs to create a group's consensus instance.
pub struct ConsensusContext {
    /// The group.
    pub group_id: GroupId,
    /// Signs the local member's votes with its identity key.
    pub signer: Arc<dyn IdentitySigner>,
    /// Records previously reported through [`Consensus::take_changes`], to resume from.
    pub restored: crate::storage::Entries,
    /// The current time.
    pub now: Timestamp,
}

/// Creates consensus instances; one factory per node, built from the `[consensus]` config.
pub trait ConsensusFactory: Send + Sync {
    /// The backend name (e.g. `"hashgraph"`).
    fn name(&self) -> &str;

    /// Creates (or restores) the instance of one group.
    fn create(&self, context: ConsensusContext) -> Result<Box<dyn Consensus>, ConsensusError>;
}
