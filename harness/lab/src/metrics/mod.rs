//! Metrics: one [`RunMetrics`] per run computed from its observations, and the
//! [`Report`] of a scenario (every run plus a summary across seeds) that becomes
//! `metrics.json`. Nothing here runs anything or touches files.

mod run;
mod stats;

use serde::{Deserialize, Serialize};

pub use run::{
    Convergence, Decisions, Delivery, RunMetrics, Traffic, bytes_per_member_over_time, compute,
    decision_latencies,
};
pub use stats::{Percentiles, Spread, nearest_rank, round1};

use crate::observe::Backend;

/// Figures across all runs of a scenario.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Runs.
    pub runs: usize,
    /// Runs that converged.
    pub converged: usize,
    /// Lost (message, receiver) pairs over all runs.
    pub lost: usize,
    /// Messages sent over all runs.
    pub sent: usize,
    /// Decision latency p50 over runs, ms.
    pub decision_latency_p50_ms: Spread,
    /// Decision latency p99 over runs, ms.
    pub decision_latency_p99_ms: Spread,
    /// Commit latency p50 over runs, ms.
    pub commit_latency_p50_ms: Spread,
    /// Delivery latency p50 over runs, ms.
    pub delivery_latency_p50_ms: Spread,
    /// Time to convergence over runs, ms.
    pub time_to_convergence_ms: Spread,
    /// Time to form the group over runs, ms.
    pub formed_at_ms: Spread,
    /// Epochs over runs.
    pub commits: Spread,
    /// Approved elections over runs.
    pub elections: Spread,
    /// Forks resolved over runs.
    pub forks_resolved: Spread,
    /// Bytes per member over runs.
    pub bytes_per_member: Spread,
    /// Bytes per member per approved decision over runs.
    pub bytes_per_member_per_decision: Spread,
    /// Messages per member per approved decision over runs.
    pub messages_per_member_per_decision: Spread,
}

impl Summary {
    /// The summary of `runs`.
    pub fn of(runs: &[RunMetrics]) -> Summary {
        let f = |g: &dyn Fn(&RunMetrics) -> Option<f64>| Spread::of(runs.iter().map(g));
        Summary {
            runs: runs.len(),
            converged: runs.iter().filter(|r| r.convergence.converged).count(),
            lost: runs.iter().map(|r| r.delivery.lost).sum(),
            sent: runs.iter().map(|r| r.delivery.sent).sum(),
            decision_latency_p50_ms: f(&|r| r.decision_latency_ms.p50),
            decision_latency_p99_ms: f(&|r| r.decision_latency_ms.p99),
            commit_latency_p50_ms: f(&|r| r.commit_latency_ms.p50),
            delivery_latency_p50_ms: f(&|r| r.delivery.latency_ms.p50),
            time_to_convergence_ms: f(&|r| r.convergence.time_to_convergence_ms.map(|v| v as f64)),
            formed_at_ms: f(&|r| r.formed_at_ms.map(|v| v as f64)),
            commits: f(&|r| Some(r.commits as f64)),
            elections: f(&|r| Some(r.elections as f64)),
            forks_resolved: f(&|r| Some(r.forks_resolved as f64)),
            bytes_per_member: f(&|r| Some(r.traffic.bytes_per_member)),
            bytes_per_member_per_decision: f(&|r| r.traffic.bytes_per_member_per_decision),
            messages_per_member_per_decision: f(&|r| r.traffic.messages_per_member_per_decision),
        }
    }

    /// Every run converged and nothing was lost.
    pub fn all_good(&self) -> bool {
        self.runs > 0 && self.converged == self.runs && self.lost == 0
    }
}

/// What replays a simulated run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replay {
    /// The seed.
    pub seed: u64,
    /// The virtual start time, ms since the Unix epoch (`--start`).
    pub start_ms: u64,
    /// The simulator's trace digest: a replay must reproduce it.
    pub trace_digest: String,
}

/// `metrics.json`: a scenario's runs and their summary.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The scenario's name.
    pub scenario: String,
    /// Simulator or lab.
    pub backend: Backend,
    /// The steward policy's backend name.
    pub steward: String,
    /// The consensus backend name.
    pub consensus: String,
    /// Members.
    pub members: usize,
    /// The summary.
    pub summary: Summary,
    /// Every run, in seed order.
    pub runs: Vec<RunMetrics>,
    /// Simulator runs: what replays them (empty for the lab).
    pub replay: Vec<Replay>,
    /// Runs that could not be completed (e.g. the group never formed), with why; they count
    /// in `summary.runs` and never as converged.
    #[serde(default)]
    pub errors: Vec<RunError>,
}

/// A run that could not be completed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunError {
    /// Its seed.
    pub seed: u64,
    /// Why.
    pub error: String,
}
