//! A scenario and a seed turned into concrete, time-ordered steps that both runners execute
//! the same way: the scheduled actions, the random crashes of crash-prone members, the start
//! of misbehaviour and every workload message. Random choices that depend on the run's state
//! (which member sends) are fixed here as a number the runner reduces modulo the eligible
//! members, so the simulator and the lab follow one plan. This module runs nothing.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

use crate::scenario::{Action, Behaviour, Scenario};

/// One step of a plan.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// A scheduled action of the scenario (faults and membership changes).
    Action(Action),
    /// A member starts misbehaving.
    Misbehave {
        /// Which.
        member: usize,
        /// How.
        behaviour: Behaviour,
    },
    /// A workload message: the sender is `eligible[pick % eligible.len()]`, where `eligible`
    /// are the members up and in the group, in index order (no message if there are none).
    Message {
        /// The draw.
        pick: u64,
    },
}

/// A step at a time.
#[derive(Clone, Debug, PartialEq)]
pub struct Timed {
    /// When, ms from the start of the run.
    pub at_ms: u64,
    /// What.
    pub step: Step,
}

/// The plan of one run: steps in time order (ties keep the order: scheduled actions, then
/// crashes, then misbehaviour, then messages).
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// The steps.
    pub steps: Vec<Timed>,
    /// When the run ends at the latest, ms.
    pub end_ms: u64,
    /// When the workload starts if the scenario fixes it, ms. When `None`, the times of
    /// [`Step::Message`] steps are offsets from the moment the group formed, and runners add
    /// that moment to them.
    pub workload_start_ms: Option<u64>,
    /// No workload message is sent at or after this time (absolute, ms): runners drop
    /// shifted messages that land there.
    pub workload_stop_ms: u64,
}

fn ms(s: f64) -> u64 {
    (s * 1000.0).round().max(0.0) as u64
}

/// Derives the plan of `scenario` for `seed`. The scenario must be valid
/// ([`crate::scenario::validate`]).
pub fn plan(scenario: &Scenario, seed: u64) -> Plan {
    // One stream per purpose, so that e.g. a change of message rate leaves crash times alone.
    let stream = |purpose: u64| {
        let mut r = ChaCha20Rng::seed_from_u64(seed);
        r.set_stream(purpose);
        r
    };
    let end_ms = ms(scenario.duration_s);
    let mut steps: Vec<Timed> = scenario
        .schedule
        .iter()
        .map(|s| Timed {
            at_ms: ms(s.at_s),
            step: Step::Action(s.action.clone()),
        })
        .collect();

    // Random crashes: exponential up-times, fixed down-times, none in the quiet tail.
    let mut crash_rng = stream(1);
    let c = &scenario.members.crashes;
    let last_crash = end_ms.saturating_sub(ms(c.quiet_s));
    for &member in &scenario.members.crash_prone {
        let mut t = 0u64;
        loop {
            let u: f64 = crash_rng.r#gen::<f64>().max(f64::MIN_POSITIVE);
            t += ms(-c.mean_uptime_s * u.ln()).max(1);
            if t >= last_crash {
                break;
            }
            steps.push(Timed {
                at_ms: t,
                step: Step::Action(Action::Crash { member }),
            });
            t += ms(c.downtime_s).max(1);
            steps.push(Timed {
                at_ms: t,
                step: Step::Action(Action::Restart { member }),
            });
        }
    }

    for m in &scenario.members.malicious {
        steps.push(Timed {
            at_ms: ms(m.from_s),
            step: Step::Misbehave {
                member: m.member,
                behaviour: m.behaviour,
            },
        });
    }

    // Workload: a Poisson process between start and stop.
    let w = &scenario.workload;
    let workload_start_ms = w.start_s.map(ms);
    let stop = w
        .stop_s
        .map(ms)
        .unwrap_or_else(|| end_ms.saturating_sub(15_000));
    if w.messages_per_second > 0.0 {
        let mut msg_rng = stream(2);
        let mean_gap_ms = 1000.0 / w.messages_per_second;
        let mut t = workload_start_ms.unwrap_or(0) as f64;
        loop {
            let u: f64 = msg_rng.r#gen::<f64>().max(f64::MIN_POSITIVE);
            t += -mean_gap_ms * u.ln();
            if t as u64 >= stop {
                break;
            }
            steps.push(Timed {
                at_ms: t as u64,
                step: Step::Message {
                    pick: msg_rng.r#gen(),
                },
            });
        }
    }

    // Stable: equal times keep the order pushed above.
    steps.sort_by_key(|s| s.at_ms);
    Plan {
        steps,
        end_ms,
        workload_start_ms,
        workload_stop_ms: stop,
    }
}

impl Plan {
    /// The time of the last scheduled (non-message) step, ms: after it, the group should
    /// settle.
    pub fn last_disruption_ms(&self) -> u64 {
        self.steps
            .iter()
            .filter(|s| !matches!(s.step, Step::Message { .. }))
            .map(|s| s.at_ms)
            .max()
            .unwrap_or(0)
    }

    /// The steps in run time: workload messages shifted by `formed_at_ms` when the workload
    /// starts with the group (see [`Plan::workload_start_ms`]) and those landing at or after
    /// the stop dropped; stable in time. Both runners execute exactly this list.
    pub fn in_run_time(&self, formed_at_ms: u64) -> Vec<(u64, Step)> {
        let mut out: Vec<(u64, Step)> = self
            .steps
            .iter()
            .filter_map(|t| match t.step {
                Step::Message { .. } => {
                    let at = match self.workload_start_ms {
                        Some(_) => t.at_ms,
                        None => t.at_ms + formed_at_ms,
                    };
                    (at < self.workload_stop_ms).then(|| (at, t.step.clone()))
                }
                _ => Some((t.at_ms, t.step.clone())),
            })
            .collect();
        out.sort_by_key(|(at, _)| *at);
        out
    }

    /// When a run may start looking for a settled group: after the last disruption and the
    /// last of `steps` (as returned by [`Plan::in_run_time`]).
    pub fn settle_after(&self, steps: &[(u64, Step)]) -> u64 {
        self.last_disruption_ms()
            .max(steps.iter().map(|(at, _)| *at).max().unwrap_or(0))
    }

    /// The last workload message's time, ms.
    pub fn last_message_ms(&self) -> Option<u64> {
        self.steps
            .iter()
            .filter(|s| matches!(s.step, Step::Message { .. }))
            .map(|s| s.at_ms)
            .max()
    }
}

/// The sender a [`Step::Message`] picks among `eligible` (sorted member indices).
pub fn pick_sender(pick: u64, eligible: &[usize]) -> Option<usize> {
    (!eligible.is_empty()).then(|| eligible[(pick % eligible.len() as u64) as usize])
}
