//! The multi-steward policy's state and timers: the installed list and whose turn it is (changed
//! only by commits, so identical at every member), plus the local planning that fires Layer 1
//! penalties, Layer 2 re-elections and the Layer 3 deadlock proposal.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::config::MultiPolicyConfig;
use super::list;
use super::scores::Scores;
use crate::proposal::{ProposalAction, ProposalKind, Violation};
use crate::steward::{CommitFacts, EpochView, PolicyAction, PolicyError};
use crate::types::{Epoch, MemberId, Timestamp};

/// What one planning round asks for.
pub(super) struct Plan {
    /// Stewards whose turn passed with proposals ready.
    pub inactive: Vec<(MemberId, Vec<u8>)>,
    /// Proposals to open.
    pub proposals: Vec<PolicyAction>,
}

/// The state joiners receive (agreement-critical part only).
#[derive(Serialize, Deserialize)]
struct JoinerState {
    list: Vec<MemberId>,
    position: u32,
}

/// Persisted policy state.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(super) struct State {
    /// The installed steward list.
    pub list: Vec<MemberId>,
    /// Index of the epoch steward in `list`.
    pub position: u32,
    /// Local scores.
    pub scores: Scores,
    /// The epoch the timers below refer to, and when it began here.
    epoch: Epoch,
    epoch_started_at: Timestamp,
    /// The retry round the next election of this epoch uses.
    retry_round: u32,
    /// Failed elections since the last commit.
    failed_attempts: u32,
    /// When the latest attempt of this epoch (an election or a deadlock proposal) failed here;
    /// the next attempt's stagger counts from it.
    attempt_failed_at: Timestamp,
    /// Stewards already penalized for inactivity in this epoch.
    penalized: BTreeSet<MemberId>,
    /// When the next planning round is due.
    pub next_check: Option<Timestamp>,
    /// Planned emergency proposals: target, violation, evidence, due time.
    emergencies: Vec<(MemberId, Violation, Vec<u8>, Timestamp)>,
    /// The latest violation seen of each member, with its evidence.
    pub offenses: std::collections::BTreeMap<MemberId, (Violation, Vec<u8>)>,
    /// The last time the policy was told about.
    pub now: Timestamp,
}

pub(super) fn is_deadlock(a: &ProposalAction) -> bool {
    matches!(
        a,
        ProposalAction::Emergency {
            violation: Violation::Deadlock,
            ..
        }
    )
}

/// The latest decided, uncommitted election (by epoch, then retry round): its retry round,
/// list and decision time.
fn latest_ready(view: &EpochView<'_>) -> Option<(u32, Vec<MemberId>, Timestamp)> {
    view.ready
        .values()
        .filter_map(|r| match &r.action {
            ProposalAction::Election {
                retry_round,
                stewards,
            } => Some(((r.epoch, *retry_round), stewards, r.decided_at)),
            _ => None,
        })
        .max_by_key(|(k, _, _)| *k)
        .map(|((_, round), s, at)| (round, s.clone(), at))
}

/// The list of the latest decided, uncommitted election (by epoch, then retry round).
pub(super) fn latest_ready_election(view: &EpochView<'_>) -> Option<Vec<MemberId>> {
    latest_ready(view).map(|(_, list, _)| list)
}

impl State {
    /// The stewards whose turn has not come yet, the epoch steward first.
    pub(crate) fn remaining(&self) -> &[MemberId] {
        self.list.get(self.position as usize..).unwrap_or(&[])
    }

    /// Updates the list and the turn for an applied commit.
    pub(crate) fn apply_commit(&mut self, commit: &CommitFacts<'_>) {
        let election = commit.proposals.iter().find_map(|(_, a)| match a {
            ProposalAction::Election { stewards, .. } => Some(stewards.clone()),
            _ => None,
        });
        let deadlock = commit.proposals.iter().any(|(_, a)| is_deadlock(a));
        if let Some(stewards) = election {
            self.position = stewards
                .iter()
                .position(|m| *m == commit.author)
                .map_or(0, |k| k as u32 + 1);
            self.list = stewards;
        } else if deadlock {
            // Recovery ends with this commit; a new election follows.
            self.list.clear();
            self.position = 0;
        } else if let Some(j) = self.remaining().iter().position(|m| *m == commit.author) {
            self.position += j as u32 + 1;
        }
        self.retry_round = 0;
        self.failed_attempts = 0;
    }

    /// A steward election of this epoch was rejected or failed.
    pub(crate) fn election_failed(&mut self, epoch: Epoch, retry_round: u32, now: Timestamp) {
        if epoch == self.epoch && retry_round >= self.retry_round {
            self.retry_round = retry_round + 1;
            self.failed_attempts += 1;
            self.attempt_failed_at = self.attempt_failed_at.max(now);
            self.next_check = Some(now);
        }
    }

    /// A deadlock proposal was rejected or failed: the next one is staggered from now.
    pub(crate) fn deadlock_failed(&mut self, now: Timestamp) {
        self.attempt_failed_at = self.attempt_failed_at.max(now);
        self.next_check = Some(now);
    }

    /// When this member's turn comes to open a proposal that every member would open, `rank`
    /// places after the first: counted from the start of the epoch or from the latest failed
    /// attempt, so that after a failure one member opens the next attempt and the others see it
    /// in flight instead of all opening their own at once (n proposals at n = 10,000).
    fn turn(&self, rank: u64, step_ms: u64) -> Timestamp {
        self.epoch_started_at
            .max(self.attempt_failed_at)
            .plus_ms(rank * step_ms)
    }

    /// A new epoch began (or the policy starts): plan at once.
    pub(crate) fn enter_epoch(&mut self, epoch: Epoch, now: Timestamp) {
        if epoch != self.epoch || self.epoch_started_at == Timestamp(0) {
            self.epoch = epoch;
            self.epoch_started_at = now;
            self.attempt_failed_at = Timestamp(0);
            self.penalized.clear();
            self.next_check = Some(now);
        }
    }

    /// The stewards expected to commit ready proposals, in turn order, and since when when they
    /// were elected after the installed list: a re-election decided in this epoch replaces
    /// what is left of the installed list (which stayed silent); otherwise the rest of that
    /// list; once it is used up, the list of a ready election.
    ///
    /// Stewards whose removal is decided (a leave, a removal, an ECP) are skipped: a steward
    /// never commits its own removal, so the next one acts in its place at once.
    pub(crate) fn line(&self, view: &EpochView<'_>) -> (Vec<MemberId>, Option<Timestamp>) {
        let staying = |list: &[MemberId]| -> Vec<MemberId> {
            list.iter()
                .filter(|m| !view.pending_removals.contains(m))
                .copied()
                .collect()
        };
        let rest = staying(self.remaining());
        match latest_ready(view) {
            Some((round, list, at)) if round >= 1 || rest.is_empty() => (staying(&list), Some(at)),
            _ => (rest, None),
        }
    }

    /// When proposals that need a commit started waiting (a ready election alone does not: it
    /// rides along with the next commit), and the time Layer 1 starts counting from.
    fn stall_base(view: &EpochView<'_>, config: &MultiPolicyConfig) -> Option<Timestamp> {
        let since = view
            .ready
            .values()
            .filter(|r| r.action.kind() != ProposalKind::Election)
            .map(|r| r.decided_at)
            .min()?;
        let emergency = view
            .ready
            .values()
            .any(|r| r.action.kind() == ProposalKind::Emergency);
        Some(if emergency {
            since
        } else {
            since.plus_ms(config.commit_delay_ms)
        })
    }

    /// True when this member sees the group unable to commit: a steward's turn passed with
    /// proposals ready, or an election already failed.
    pub(crate) fn stalled(&self, view: &EpochView<'_>, config: &MultiPolicyConfig) -> bool {
        let missed = Self::stall_base(view, config)
            .is_some_and(|base| base.plus_ms(config.commit_timeout_ms) <= self.now);
        missed || self.failed_attempts > 0
    }

    /// One planning round.
    pub(crate) fn plan(
        &mut self,
        view: &EpochView<'_>,
        config: &MultiPolicyConfig,
        now: Timestamp,
        elect: impl Fn(u32) -> Vec<MemberId>,
    ) -> Plan {
        self.enter_epoch(view.epoch, now);
        let mut plan = Plan {
            inactive: Vec::new(),
            proposals: Vec::new(),
        };
        let mut next: Vec<Timestamp> = Vec::new();
        let election_in_flight = view
            .open
            .values()
            .any(|a| a.kind() == ProposalKind::Election)
            || view
                .ready
                .values()
                .any(|r| r.action.kind() == ProposalKind::Election);
        let deadlock_in_flight = view.open.values().any(is_deadlock)
            || view.ready.values().any(|r| is_deadlock(&r.action));
        let recovering = view.ready.values().any(|r| is_deadlock(&r.action));
        // Someone else's re-election counts as this member's attempt too.
        let seen_round = view
            .open
            .values()
            .chain(
                view.ready
                    .values()
                    .filter(|r| r.epoch == view.epoch)
                    .map(|r| &r.action),
            )
            .filter_map(|a| match a {
                ProposalAction::Election { retry_round, .. } => Some(*retry_round),
                _ => None,
            })
            .max();
        if let Some(round) = seen_round.filter(|r| *r > self.retry_round) {
            self.failed_attempts += round - self.retry_round;
            self.retry_round = round;
        }
        let election_open = view
            .open
            .values()
            .any(|a| a.kind() == ProposalKind::Election);

        // Elections when the list runs out: already in the last steward's epoch, so the new
        // list is ready when the last steward commits. Members open it in election order, each
        // waiting for the ones before it.
        if self.remaining().len() <= 1
            && !election_in_flight
            && !recovering
            && self.retry_round <= config.max_reelection_attempts
        {
            if let Some(rank) = list::rank_of(
                view.roster,
                view.pending_removals,
                view.epoch,
                self.retry_round,
                view.group_id,
                &view.me,
            ) {
                let due = self.turn(rank as u64, config.recovery_timeout_ms);
                if now >= due {
                    plan.proposals.push(PolicyAction::Propose {
                        action: ProposalAction::Election {
                            retry_round: self.retry_round,
                            stewards: elect(self.retry_round),
                        },
                        evidence: Vec::new(),
                    });
                } else {
                    next.push(due);
                }
            }
        }

        if let Some(base) = Self::stall_base(view, config) {
            let (line, since) = self.line(view);
            let base = since.map_or(base, |t| base.max(t));
            // Layer 1: each steward's turn; a passed turn is inactivity.
            for (k, member) in line.iter().enumerate() {
                let end = base.plus_ms((k as u64 + 1) * config.commit_timeout_ms);
                if now < end {
                    next.push(end);
                    break;
                }
                if self.penalized.insert(*member) {
                    plan.inactive.push((*member, Vec::new()));
                }
            }
            // Layer 2: the whole line stayed silent; re-elect in this epoch. Members open the
            // re-election in its own election order, each only if nobody's is open by then.
            let silent_at = base
                .plus_ms(line.len() as u64 * config.commit_timeout_ms + config.recovery_timeout_ms);
            if now < silent_at {
                next.push(silent_at);
            } else if !recovering
                && !election_open
                && self.failed_attempts < config.max_reelection_attempts
            {
                let round = self.retry_round + 1;
                let rank = list::turn_of(
                    view.roster,
                    view.pending_removals,
                    view.epoch,
                    round,
                    view.group_id,
                    &view.me,
                ) as u64;
                let due = silent_at.plus_ms(rank * config.stagger_ms());
                if now >= due {
                    self.failed_attempts += 1;
                    self.retry_round = round;
                    plan.proposals.push(PolicyAction::Propose {
                        action: ProposalAction::Election {
                            retry_round: round,
                            stewards: elect(round),
                        },
                        evidence: Vec::new(),
                    });
                    next.push(now.plus_ms(config.recovery_timeout_ms));
                } else {
                    next.push(due);
                }
            }
        }
        // Layer 3: bounded re-election is exhausted. Members open the deadlock proposal in
        // election order, each only if nobody's is in flight by then.
        if self.failed_attempts >= config.max_reelection_attempts
            && !deadlock_in_flight
            && !recovering
        {
            let rank = list::turn_of(
                view.roster,
                view.pending_removals,
                view.epoch,
                self.retry_round,
                view.group_id,
                &view.me,
            ) as u64;
            let due = self.turn(rank, config.stagger_ms());
            if now >= due {
                plan.proposals.push(PolicyAction::Propose {
                    action: ProposalAction::Emergency {
                        violation: Violation::Deadlock,
                        target: None,
                    },
                    evidence: Vec::new(),
                });
            } else {
                next.push(due);
            }
        }
        self.next_check = next.into_iter().min();
        plan
    }

    /// Plans an emergency proposal against `target` at `due` (once per target).
    pub(crate) fn plan_emergency(
        &mut self,
        target: MemberId,
        violation: Violation,
        evidence: Vec<u8>,
        due: Timestamp,
    ) {
        if !self.emergencies.iter().any(|e| e.0 == target) {
            self.emergencies.push((target, violation, evidence, due));
        }
    }

    /// Planned emergency proposals due by `now` (removed from the plan).
    pub(crate) fn take_due_emergencies(
        &mut self,
        now: Timestamp,
    ) -> Vec<(MemberId, Violation, Vec<u8>)> {
        let (due, later): (Vec<_>, Vec<_>) = self.emergencies.drain(..).partition(|e| e.3 <= now);
        self.emergencies = later;
        due.into_iter().map(|(t, v, e, _)| (t, v, e)).collect()
    }

    /// When the next planned emergency proposal is due.
    pub(crate) fn next_emergency(&self) -> Option<Timestamp> {
        self.emergencies.iter().map(|e| e.3).min()
    }

    /// The agreement-critical state for a joiner.
    pub(crate) fn for_joiner(&self) -> Vec<u8> {
        postcard::to_allocvec(&JoinerState {
            list: self.list.clone(),
            position: self.position,
        })
        .expect("joiner state always encodes")
    }

    /// A state built from what a Welcome carried.
    pub(crate) fn from_joiner(bytes: &[u8]) -> Result<State, PolicyError> {
        let j: JoinerState =
            postcard::from_bytes(bytes).map_err(|e| PolicyError::CorruptState(e.to_string()))?;
        Ok(State {
            list: j.list,
            position: j.position,
            ..State::default()
        })
    }

    /// Encodes for storage.
    pub(crate) fn save(&self) -> Vec<u8> {
        postcard::to_allocvec(self).expect("policy state always encodes")
    }

    /// Decodes from storage.
    pub(crate) fn restore(bytes: &[u8]) -> Result<State, PolicyError> {
        postcard::from_bytes(bytes).map_err(|e| PolicyError::CorruptState(e.to_string()))
    }
}
