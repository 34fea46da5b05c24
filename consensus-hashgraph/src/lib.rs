//! Hashgraph-like binary consensus among a known set of peers.
//!
//! A member opens a [`Proposal`]; every member of the [`VoterSet`] casts one signed YES/NO [`Vote`];
//! each member counts the votes it receives and reaches the same final [`Outcome`] as soon as a
//! majority within a two-thirds quorum is visible, or at expiration (silent voters counted per the
//! proposal's liveness flag, `Failed` without a quorum).
//!
//! The crate is **sans-IO**: no clock, no socket, no thread. The caller passes `now` (milliseconds
//! since the Unix epoch — every timestamp in this crate and on the wire is in milliseconds), feeds
//! received bytes to [`Consensus::ingest_bytes`], sends what [`Consensus::open`] and
//! [`Consensus::vote`] return, calls [`Consensus::tick`] at [`Consensus::next_deadline`], and drains
//! [`Event`]s.
//!
//! Modules, one concept each: `wire` (protobuf messages), `canonical` (digests and hashes),
//! `scheme` and `ed25519` (signatures, batch verification), `voters` (voter set), `rules` (the
//! decision rule), `certificate` (proving an outcome to a peer that missed the vote), `validate` (checks of untrusted input), `state` (per-proposal counting),
//! `pending` (verification queue), `buffer` (early votes), `replay` (replay record), `store`
//! (persistence), `event` and `error` (outputs), `engine` (the [`Consensus`] engine).
//!
//! The protocol, byte layouts and decision rules are specified in `specs/consensus-hashgraph.md`
//! of the demls repository; the README has a runnable example and measured costs.

#![warn(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod buffer;
mod canonical;
mod certificate;
mod config;
mod ed25519;
mod engine;
mod error;
mod event;
mod pending;
mod replay;
mod rules;
mod scheme;
mod state;
mod store;
mod validate;
mod voters;
mod wire;

pub use canonical::{
    HASH_LEN, PROPOSAL_DOMAIN, ProposalDigest, VOTE_DOMAIN, VOTE_ID_DOMAIN, VOTER_SET_DOMAIN,
    own_vote_id, proposal_digest, vote_hash,
};
pub use certificate::Certificate;
pub use config::{Config, Mode};
pub use ed25519::{Ed25519, Ed25519Key, Ed25519Signer};
pub use engine::{CastVote, Consensus, ProposalParams};
pub use error::{BufferScope, Error, HashField, Rejection};
pub use event::{Decision, EquivocationEvidence, Event, EvidenceError, IngestReport, ProposalInfo};
pub use rules::{FailReason, Outcome, Tally, TiePolicy, decide_at_expiry, decide_live, quorum};
pub use scheme::{BatchItem, KeyError, SignatureScheme, Signer, SignerError, bisect_failures};
pub use store::{MemoryStore, Store, StoreError, StoredProposal};
pub use voters::{VoterIndex, VoterSet, VoterSetError};
pub use wire::{ConsensusMessage, DecodeError, Proposal, Vote};

/// The README's code blocks, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
