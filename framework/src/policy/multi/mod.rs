//! The multi-steward policy (LIP-104 "multi steward"): an elected, ordered steward list whose
//! members commit in turn, with the three-layer protection against silent or malicious
//! stewards and peer scoring.
//!
//! - **Steward list** ([`list`]): the first `sn` eligible members in
//!   `SHA-256(epoch ‖ retry ‖ member ‖ group)` order, installed by a Steward Election Proposal
//!   that every member validates against the real roster. The list is installed *by the commit
//!   that applies the election*, so every member switches lists at the same epoch.
//! - **Turns**: in each epoch the member at `position` is the epoch steward; the next ones are
//!   backups. A commit by the member at index `j` moves `position` to `j + 1`; the list is used
//!   up when `position` passes its end, and a new election is held (proactively, in the last
//!   steward's epoch).
//! - **Layer 1**: steward `k` places after the epoch steward may commit once
//!   `commit_delay_ms + k × commit_timeout_ms` have passed since proposals became ready; skipped
//!   stewards are penalized for inactivity.
//! - **Layer 2**: when the whole remaining list stayed silent, members hold a re-election in the
//!   same epoch with `retry_round + 1`, up to `max_reelection_attempts`.
//! - **Layer 3**: then any member proposes a deadlock emergency; once it is accepted, any member
//!   may commit (the commit that applies the emergency proposal), and the first valid commit
//!   ends recovery.
//! - **Scoring** ([`scores`]): violations lower a member's local score; below the threshold the
//!   member proposes the offender's removal by an emergency proposal; members vote YES on such a
//!   proposal when they too have seen the offender misbehave.
//!
//! Agreement-critical answers (authorization, validation, voters, the effect of commits) depend
//! only on the roster, the commit and the list state, which changes only by commits.

pub mod config;
pub mod list;
pub mod scores;
mod state;

use std::sync::Arc;

pub use config::{ConsensusModel, MultiPolicyConfig};
use state::State;

use crate::config::ConfigError;
use crate::proposal::{ProposalAction, ProposalKind, Verdict, Violation};
use crate::registry::{BuildContext, StewardPlugin};
use crate::steward::{
    CommitFacts, CommitRank, EpochView, PolicyAction, PolicyError, StewardPolicy,
    StewardPolicyFactory,
};
use crate::types::{GroupId, MemberId, Timestamp};

/// The multi-steward policy of one group.
pub struct MultiPolicy {
    config: Arc<MultiPolicyConfig>,
    state: State,
}

impl MultiPolicy {
    /// A fresh policy (no list yet: the first commit installs the first election).
    pub fn new(config: Arc<MultiPolicyConfig>) -> MultiPolicy {
        MultiPolicy {
            config,
            state: State::default(),
        }
    }

    /// Who may commit a commit that only re-adds members, in order: the installed list (its
    /// members whose turn has passed included — after a fork the surviving branch may hold no
    /// steward whose turn is still to come), or every member by id when there is no list.
    fn rejoin_committers(&self, view: &EpochView<'_>) -> Vec<MemberId> {
        let list: Vec<MemberId> = self
            .state
            .list
            .iter()
            .copied()
            .filter(|m| view.roster.contains(m))
            .collect();
        if !list.is_empty() {
            return list;
        }
        let mut everyone: Vec<MemberId> = view.roster.ids().collect();
        everyone.sort();
        everyone
    }

    fn recovery_ready(view: &EpochView<'_>) -> bool {
        view.ready.values().any(|r| {
            matches!(
                r.action,
                ProposalAction::Emergency {
                    violation: Violation::Deadlock,
                    ..
                }
            )
        })
    }

    fn in_flight(view: &EpochView<'_>, pred: impl Fn(&ProposalAction) -> bool) -> bool {
        view.open.values().any(&pred) || view.ready.values().any(|r| pred(&r.action))
    }

    /// Lowers `member`'s score; below the threshold, plans an emergency proposal to remove it.
    fn penalize(
        &mut self,
        view: &EpochView<'_>,
        member: &MemberId,
        violation: Violation,
        evidence: &[u8],
    ) {
        let score = self.state.scores.adjust(
            &self.config,
            member,
            -scores::Scores::penalty(&self.config, violation),
        );
        tracing::info!(group = %view.group_id.display(), offender = %member.short(), ?violation, score, "steward violation");
        self.state
            .offenses
            .insert(*member, (violation, evidence.to_vec()));
        self.plan_removal(view, member);
    }

    /// Plans an emergency proposal to remove `member` if its score is below the threshold.
    /// Every member that saw the violations plans one, so they are staggered: members open
    /// theirs in election order, each only if nobody's is in flight by then.
    fn plan_removal(&mut self, view: &EpochView<'_>, member: &MemberId) {
        if !self.state.scores.below_threshold(&self.config, member)
            || !view.roster.contains(member)
            || *member == view.me
        {
            return;
        }
        let (violation, evidence) = self
            .state
            .offenses
            .get(member)
            .cloned()
            .unwrap_or((Violation::Inactivity, Vec::new()));
        let rank = list::turn_of(
            view.roster,
            &[*member],
            view.epoch,
            0,
            view.group_id,
            &view.me,
        ) as u64;
        let due = self.state.now.plus_ms(rank * self.config.stagger_ms());
        self.state.plan_emergency(*member, violation, evidence, due);
    }

    /// Emergency proposals whose time has come and that nobody opened meanwhile.
    fn due_emergencies(&mut self, view: &EpochView<'_>, now: Timestamp) -> Vec<PolicyAction> {
        let mut actions = Vec::new();
        for (target, violation, evidence) in self.state.take_due_emergencies(now) {
            let in_flight = Self::in_flight(
                view,
                |a| matches!(a, ProposalAction::Emergency { target: Some(t), .. } if *t == target),
            );
            if !in_flight && view.roster.contains(&target) {
                actions.push(PolicyAction::Propose {
                    action: ProposalAction::Emergency {
                        violation,
                        target: Some(target),
                    },
                    evidence,
                });
            }
        }
        actions
    }
}

impl StewardPolicy for MultiPolicy {
    fn name(&self) -> &str {
        NAME
    }

    fn stewards(&self, view: &EpochView<'_>) -> Vec<MemberId> {
        self.state.line(view).0
    }

    fn authorize_commit(
        &self,
        view: &EpochView<'_>,
        commit: &CommitFacts<'_>,
    ) -> Result<CommitRank, PolicyError> {
        let deadlock = commit.proposals.iter().any(|(_, a)| {
            matches!(
                a,
                ProposalAction::Emergency {
                    violation: Violation::Deadlock,
                    ..
                }
            )
        });
        if deadlock && view.roster.contains(&commit.author) {
            // Recovery mode: any member; competing recovery commits fall to the smallest id.
            return Ok(CommitRank { position: u32::MAX });
        }
        if let Some(j) = self
            .state
            .remaining()
            .iter()
            .position(|m| *m == commit.author)
        {
            return Ok(CommitRank { position: j as u32 });
        }
        // A commit that only re-adds members (no decided proposal): any steward of the list.
        let only_rejoins = commit
            .proposals
            .iter()
            .all(|(_, a)| matches!(a, ProposalAction::Election { .. }))
            && commit.removed.is_empty();
        if only_rejoins
            && let Some(j) = self
                .rejoin_committers(view)
                .iter()
                .position(|m| *m == commit.author)
        {
            return Ok(CommitRank {
                position: (self.state.remaining().len() + j) as u32,
            });
        }
        let election = commit.proposals.iter().find_map(|(_, a)| match a {
            ProposalAction::Election { stewards, .. } => Some(stewards),
            _ => None,
        });
        if let Some(k) = election.and_then(|l| l.iter().position(|m| *m == commit.author)) {
            return Ok(CommitRank { position: k as u32 });
        }
        let mut expected = self.state.remaining().to_vec();
        expected.extend(election.cloned().unwrap_or_default());
        Err(PolicyError::UnauthorizedCommitter {
            author: commit.author,
            expected,
        })
    }

    fn selection_window_ms(&self) -> u64 {
        self.config.selection_window_ms
    }

    fn commit_at(&self, view: &EpochView<'_>, ready_at: Timestamp) -> Option<Timestamp> {
        let c = &self.config;
        if state::latest_ready_election(view).is_some()
            && view.ready.len() == 1
            && view.rejoins.is_empty()
        {
            return None; // an election alone rides along with the next commit
        }
        let emergency = view
            .ready
            .values()
            .any(|r| r.action.kind() == ProposalKind::Emergency);
        // An accepted emergency proposal is committed without the freeze window.
        let base = if emergency {
            ready_at
        } else {
            ready_at.plus_ms(c.commit_delay_ms)
        };
        // Only members asking to rejoin (no vote needed): the installed list commits in its
        // order, whatever elections are under way — the rejoiners may be exactly the voters
        // those elections are missing.
        let only_rejoins = !view.rejoins.is_empty()
            && view
                .ready
                .values()
                .all(|r| matches!(r.action, ProposalAction::Election { .. }));
        if only_rejoins {
            let slot = self
                .rejoin_committers(view)
                .iter()
                .position(|m| *m == view.me)?;
            return Some(base.plus_ms(slot as u64 * c.commit_timeout_ms));
        }
        if Self::recovery_ready(view) {
            let mut everyone: Vec<MemberId> = view.roster.ids().collect();
            everyone.sort();
            let rank = everyone.iter().position(|m| *m == view.me)? as u64;
            return Some(base.plus_ms(rank * c.recovery_timeout_ms));
        }
        // The rest of the list, or the list of a ready (re-)election that replaces it; a list
        // elected after the proposals became ready starts its turns when it was elected.
        let (line, since) = self.state.line(view);
        let slot = line.iter().position(|m| *m == view.me)?;
        let base = since.map_or(base, |t| base.max(t));
        Some(base.plus_ms(slot as u64 * c.commit_timeout_ms))
    }

    fn opens_add_proposal(&self, view: &EpochView<'_>, waited_ms: u64) -> bool {
        let c = &self.config;
        let stewards = self.stewards(view);
        match stewards.iter().position(|m| *m == view.me) {
            Some(slot) => waited_ms >= slot as u64 * c.commit_timeout_ms,
            None if stewards.is_empty() => true,
            None => waited_ms >= (stewards.len() as u64 + 1) * c.commit_timeout_ms,
        }
    }

    fn voters(&self, view: &EpochView<'_>, kind: ProposalKind) -> Option<Vec<MemberId>> {
        let small = self
            .config
            .consensus_model
            .is_small(view.roster.len(), self.config.small_consensus_above);
        if !small || kind != ProposalKind::Membership {
            return None;
        }
        let stewards: Vec<MemberId> = self
            .state
            .list
            .iter()
            .filter(|m| view.roster.contains(m))
            .copied()
            .collect();
        (!stewards.is_empty()).then_some(stewards)
    }

    fn validate_proposal(
        &self,
        view: &EpochView<'_>,
        _owner: &MemberId,
        action: &ProposalAction,
        _evidence: &[u8],
    ) -> Result<(), PolicyError> {
        match action {
            ProposalAction::Election {
                retry_round,
                stewards,
            } => {
                if *retry_round > self.config.max_reelection_attempts.saturating_add(1) {
                    return Err(PolicyError::InvalidProposal(
                        "retry round out of range".into(),
                    ));
                }
                let mut removable: Vec<MemberId> = view.pending_removals.iter().copied().collect();
                removable.extend(view.open.values().filter_map(|a| a.removes()));
                let valid = list::reproduces(
                    stewards,
                    view.roster,
                    &removable,
                    view.epoch,
                    *retry_round,
                    view.group_id,
                    self.config.sn_min,
                    self.config.sn_max,
                );
                if valid {
                    Ok(())
                } else {
                    Err(PolicyError::InvalidProposal(
                        "steward list does not reproduce from the roster".into(),
                    ))
                }
            }
            ProposalAction::Emergency {
                target: Some(target),
                ..
            } => {
                if !view.roster.contains(target) {
                    Err(PolicyError::InvalidProposal(
                        "target is not a member".into(),
                    ))
                } else if self.state.scores.has_violations(&self.config, target) {
                    Ok(())
                } else {
                    Err(PolicyError::InvalidProposal(
                        "no misbehaviour by the target observed here".into(),
                    ))
                }
            }
            ProposalAction::Emergency { target: None, .. } => {
                if self.state.stalled(view, &self.config) {
                    Ok(())
                } else {
                    Err(PolicyError::InvalidProposal(
                        "no deadlock observed here".into(),
                    ))
                }
            }
            other => Err(PolicyError::Unsupported(other.kind())),
        }
    }

    fn on_decided(
        &mut self,
        view: &EpochView<'_>,
        owner: &MemberId,
        action: &ProposalAction,
        outcome: Verdict,
        now: Timestamp,
    ) -> Vec<PolicyAction> {
        self.state.now = now;
        match action {
            ProposalAction::Election { retry_round, .. } if outcome != Verdict::Yes => {
                self.state.election_failed(view.epoch, *retry_round, now);
            }
            ProposalAction::Emergency { .. } => {
                // Only the group's verdict judges the owner: a proposal that failed for want
                // of votes (a partition, a crash wave) says nothing about it. Penalizing those
                // would remove honest members that asked for help while cut off.
                let delta = match outcome {
                    Verdict::Yes => Some(self.config.reward_emergency),
                    Verdict::No => Some(-self.config.penalty_false_emergency),
                    Verdict::Failed => None,
                };
                if let Some(delta) = delta {
                    self.state.scores.adjust(&self.config, owner, delta);
                }
                if state::is_deadlock(action) && outcome != Verdict::Yes {
                    self.state.deadlock_failed(now);
                }
            }
            _ => {}
        }
        Vec::new()
    }

    fn on_commit(&mut self, _view: &EpochView<'_>, commit: &CommitFacts<'_>, now: Timestamp) {
        self.state.now = now;
        self.state.apply_commit(commit);
        self.state
            .scores
            .adjust(&self.config, &commit.author, self.config.reward_commit);
    }

    fn on_violation(
        &mut self,
        view: &EpochView<'_>,
        offender: &MemberId,
        violation: Violation,
        evidence: &[u8],
        now: Timestamp,
    ) -> Vec<PolicyAction> {
        self.state.now = now;
        self.penalize(view, offender, violation, evidence);
        self.due_emergencies(view, now)
    }

    fn on_epoch(&mut self, view: &EpochView<'_>, now: Timestamp) {
        self.state.now = now;
        self.state.enter_epoch(view.epoch, now);
        self.state.scores.retain(|m| view.roster.contains(m));
        self.state.offenses.retain(|m, _| view.roster.contains(m));
        // An emergency proposal ends with its epoch; an offender that is still a member (the
        // commit that ended the epoch did not remove it) is proposed again.
        let offenders: Vec<MemberId> = self.state.offenses.keys().copied().collect();
        for member in offenders {
            self.plan_removal(view, &member);
        }
    }

    fn tick(&mut self, view: &EpochView<'_>, now: Timestamp) -> Vec<PolicyAction> {
        self.state.now = now;
        let config = self.config.clone();
        let elect = |r| {
            list::elect(
                view.roster,
                view.pending_removals,
                view.epoch,
                r,
                view.group_id,
                config.sn_min,
                config.sn_max,
            )
        };
        let plan = self.state.plan(view, &self.config, now, elect);
        for (member, evidence) in plan.inactive {
            self.penalize(view, &member, Violation::Inactivity, &evidence);
        }
        let mut actions = plan.proposals;
        actions.extend(self.due_emergencies(view, now));
        actions
    }

    fn next_deadline(&self) -> Option<Timestamp> {
        [self.state.next_check, self.state.next_emergency()]
            .into_iter()
            .flatten()
            .min()
    }

    fn joiner_state(&self, _view: &EpochView<'_>, commit: &CommitFacts<'_>) -> Vec<u8> {
        let mut after = self.state.clone();
        after.apply_commit(commit);
        after.for_joiner()
    }

    fn adopt_joiner_state(&mut self, state: &[u8]) -> Result<(), PolicyError> {
        self.state = State::from_joiner(state)?;
        Ok(())
    }

    fn save(&self) -> Vec<u8> {
        self.state.save()
    }
}

/// The name `[steward] backend = "multi"` selects.
pub const NAME: &str = "multi";

/// Builds the `multi` factory from its `[steward]` options (unknown keys refused).
fn build(
    options: &toml::Table,
    _ctx: &BuildContext,
) -> Result<Arc<dyn StewardPolicyFactory>, ConfigError> {
    let config = crate::config::parse_options("steward", options)?;
    MultiPolicyFactory::new(config)
        .map(|f| Arc::new(f) as Arc<dyn StewardPolicyFactory>)
        .map_err(|e| ConfigError::InvalidValue {
            section: "steward".into(),
            message: e.to_string(),
        })
}

crate::register_plugin!(
    steward,
    StewardPlugin {
        name: NAME,
        description: "elected, rotating steward list with re-election, deadlock recovery and peer scoring",
        build,
    }
);

/// Builds [`MultiPolicy`] instances.
pub struct MultiPolicyFactory {
    config: Arc<MultiPolicyConfig>,
}

impl MultiPolicyFactory {
    /// A factory handing out policies with `config` (validated).
    pub fn new(config: MultiPolicyConfig) -> Result<Self, PolicyError> {
        config.validate()?;
        Ok(MultiPolicyFactory {
            config: Arc::new(config),
        })
    }
}

impl StewardPolicyFactory for MultiPolicyFactory {
    fn name(&self) -> &str {
        NAME
    }

    fn create(
        &self,
        _group_id: &GroupId,
        saved: Option<&[u8]>,
    ) -> Result<Box<dyn StewardPolicy>, PolicyError> {
        let mut policy = MultiPolicy::new(self.config.clone());
        if let Some(bytes) = saved.filter(|b| !b.is_empty()) {
            policy.state = State::restore(bytes)?;
        }
        Ok(Box::new(policy))
    }
}

#[cfg(test)]
mod tests;
