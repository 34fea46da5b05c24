//! A steward policy written outside the framework: **round-robin stewards**. Copy this crate
//! to write your own.
//!
//! The steward of epoch `e` is the member at position `e mod n` of the epoch's roster ordered
//! by member id (skipping members whose removal is decided: a steward never commits its own
//! removal, so the next member in that order does). Only the steward commits; everyone else
//! refuses anyone else's commit. Every member computes the same steward from the roster and
//! the epoch alone, so the policy keeps no state. Like the built-in `single` policy, a silent
//! steward stalls the group until it comes back; unlike it, the work rotates.
//!
//! # Writing a policy
//! 1. Implement [`demls::StewardPolicy`] ([`RoundRobinPolicy`]). Read the trait's "note for
//!    implementers": the answers every member must agree on (`authorize_commit`, `voters`,
//!    `validate_proposal`, the effect of `on_commit`) may depend only on the view and on earlier
//!    commits; timing and planning (`commit_at`, `tick`) are local. The proposal vocabulary
//!    (`ProposalAction`, `ProposalKind`, `Violation`, `Verdict`) lives in [`demls::proposal`].
//! 2. Implement [`demls::StewardPolicyFactory`] ([`RoundRobinFactory`]): one per node, it
//!    creates (or restores from [`StewardPolicy::save`]) the policy of each group.
//! 3. Give the policy its `[steward]` options as a serde struct with defaults
//!    ([`RoundRobinConfig`]); parse them with [`demls::config::parse_options`], which refuses
//!    keys the struct does not know.
//!
//! # Registering it
//! Hand a [`demls::registry::StewardPlugin`] to `demls::register_plugin!(steward, ...)` (see
//! the bottom of this file) — exactly what the built-in `single` and `multi` policies do. It
//! registers the policy before `main` and defines [`link`]: registration only holds for crates
//! the linker keeps, so a program that selects the policy by name calls [`link`] once (which
//! also registers it at run time, should the linker have dropped the `inventory` entry).
//!
//! # Selecting it
//! ```toml
//! [steward]
//! backend = "round-robin"
//! commit_delay_ms = 100
//! ```
//! [`demls::registry::build_steward`] (called by the node for `[steward]`) then builds a
//! [`RoundRobinFactory`] with those options.
//!
//! # Testing it
//! `tests/conformance.rs` runs the framework's steward conformance suite
//! (`demls::steward_conformance!`, with the framework's `testkit` feature as a dev-dependency)
//! and `tests/simulated_group.rs` runs a group on the deterministic simulator (`demls-sim`)
//! with the policy selected from TOML.
#![warn(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]

use std::sync::Arc;

use demls::config::{ConfigError, parse_options};
use demls::registry::{BuildContext, StewardPlugin};
use demls::steward::{
    CommitFacts, CommitRank, EpochView, PolicyError, StewardPolicy, StewardPolicyFactory,
};
use demls::{GroupId, MemberId, Timestamp};
use serde::Deserialize;

/// The name `[steward] backend = "round-robin"` selects.
pub const NAME: &str = "round-robin";

/// `[steward]` options of `backend = "round-robin"`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct RoundRobinConfig {
    /// The freeze window in milliseconds: how long the steward waits after a proposal is
    /// decided before committing, so that several decided proposals share one commit.
    pub commit_delay_ms: u64,
}

impl Default for RoundRobinConfig {
    fn default() -> Self {
        RoundRobinConfig {
            commit_delay_ms: 200,
        }
    }
}

/// The round-robin policy of one group (stateless: everything follows from the view).
#[derive(Clone, Debug)]
pub struct RoundRobinPolicy {
    config: RoundRobinConfig,
}

impl RoundRobinPolicy {
    /// The steward of `view`'s epoch: the member at `epoch mod n` in id order, or the next
    /// one in that order that `skip` does not name.
    fn steward(view: &EpochView<'_>, skip: &[MemberId]) -> Option<MemberId> {
        let mut ids: Vec<MemberId> = view.roster.ids().collect();
        ids.sort();
        let n = ids.len() as u64;
        if n == 0 {
            return None;
        }
        let first = (view.epoch % n) as usize;
        ids.iter()
            .cycle()
            .skip(first)
            .take(ids.len())
            .find(|id| !skip.contains(id))
            .copied()
    }

    fn pending(view: &EpochView<'_>) -> Vec<MemberId> {
        view.pending_removals.iter().copied().collect()
    }
}

impl StewardPolicy for RoundRobinPolicy {
    fn name(&self) -> &str {
        NAME
    }

    fn stewards(&self, view: &EpochView<'_>) -> Vec<MemberId> {
        Self::steward(view, &Self::pending(view))
            .into_iter()
            .collect()
    }

    fn authorize_commit(
        &self,
        view: &EpochView<'_>,
        commit: &CommitFacts<'_>,
    ) -> Result<CommitRank, PolicyError> {
        // Judged from the commit's own removals, not from local pending ones: every member
        // sees the same commit, but not necessarily the same decisions yet.
        match Self::steward(view, commit.removed) {
            Some(steward) if steward == commit.author => Ok(CommitRank { position: 0 }),
            expected => Err(PolicyError::UnauthorizedCommitter {
                author: commit.author,
                expected: expected.into_iter().collect(),
            }),
        }
    }

    fn commit_at(&self, view: &EpochView<'_>, ready_at: Timestamp) -> Option<Timestamp> {
        (Self::steward(view, &Self::pending(view)) == Some(view.me))
            .then(|| ready_at.plus_ms(self.config.commit_delay_ms))
    }

    fn opens_add_proposal(&self, view: &EpochView<'_>, _waited_ms: u64) -> bool {
        Self::steward(view, &Self::pending(view)) == Some(view.me)
    }

    fn on_commit(&mut self, _view: &EpochView<'_>, _commit: &CommitFacts<'_>, _now: Timestamp) {}

    fn on_epoch(&mut self, _view: &EpochView<'_>, _now: Timestamp) {}

    fn save(&self) -> Vec<u8> {
        Vec::new()
    }
}

/// Creates [`RoundRobinPolicy`] instances.
#[derive(Clone, Debug, Default)]
pub struct RoundRobinFactory {
    config: RoundRobinConfig,
}

impl RoundRobinFactory {
    /// A factory handing out policies with `config`.
    pub fn new(config: RoundRobinConfig) -> RoundRobinFactory {
        RoundRobinFactory { config }
    }
}

impl StewardPolicyFactory for RoundRobinFactory {
    fn name(&self) -> &str {
        NAME
    }

    fn create(
        &self,
        _group_id: &GroupId,
        _saved: Option<&[u8]>,
    ) -> Result<Box<dyn StewardPolicy>, PolicyError> {
        Ok(Box::new(RoundRobinPolicy {
            config: self.config.clone(),
        }))
    }
}

/// Builds the factory from the `[steward]` table (without `backend`).
fn build(
    options: &toml::Table,
    _ctx: &BuildContext,
) -> Result<Arc<dyn StewardPolicyFactory>, ConfigError> {
    let config: RoundRobinConfig = parse_options("steward", options)?;
    Ok(Arc::new(RoundRobinFactory::new(config)))
}

demls::register_plugin!(
    steward,
    StewardPlugin {
        name: NAME,
        description: "round-robin: the member at epoch mod n in id order commits",
        build,
    }
);
