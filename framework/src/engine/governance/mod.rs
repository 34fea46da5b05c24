//! Governance: voted proposals from opening to decision. The consensus plugin does the
//! counting; these modules decide what a proposal means for the group, and ask the steward
//! policy about the kinds it owns (elections, emergency proposals).
//!
//! [`open`] opens this member's proposals (and those the policy asks for), [`receive`] judges
//! and records the proposals others open, [`voting`] casts this member's votes, [`consensus`]
//! feeds consensus messages and certificates to the plugin and handles its events, and
//! [`decisions`] acts on outcomes. Leaving is in [`super::leave`], the partial freeze and the
//! requests it defers in [`super::freeze`], publishing in [`super::publish`].

mod consensus;
mod decisions;
mod open;
mod receive;
mod voting;

pub(crate) use consensus::{drain_consensus, ingest, ingest_certificate};
pub(crate) use decisions::on_decided;
pub(crate) use open::{open_attempt, open_proposal, run_policy_actions};
pub(crate) use voting::{cast_vote, decide_own_vote};

use super::group::Group;
use super::publish::broadcast;
use super::step::{Abort, Step};
use crate::types::ProposalId;

/// Publishes consensus messages about `proposal` (keeping them for re-sends), then handles
/// the plugin's events they caused.
fn broadcast_and_drain(
    group: &mut Group,
    step: &mut Step<'_>,
    proposal: ProposalId,
    messages: Vec<Vec<u8>>,
) -> Result<(), Abort> {
    broadcast(group, step, proposal, messages)?;
    drain_consensus(group, step)
}
