//! The metrics of one run, computed from its [`Observations`] alone: decisions and their
//! latencies, commits, elections, forks, traffic per member and per decision, delivery of
//! application messages, and whether the group converged.

use std::collections::{BTreeMap, BTreeSet};

use demls::ProposalId;
use demls::api::{Change, Event, Outcome};
use serde::{Deserialize, Serialize};

use super::stats::{Percentiles, round1};
use crate::observe::{Backend, Ending, MarkKind, Observations, TrafficUnit};

/// Decisions of a run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Decisions {
    /// Decisions opened (distinct ids).
    pub opened: usize,
    /// Approved.
    pub approved: usize,
    /// Rejected.
    pub rejected: usize,
    /// Ended without a result (too few answers).
    pub no_decision: usize,
    /// Opened but never decided anywhere.
    pub undecided: usize,
    /// Approved decisions by kind of change (`add`, `remove`, `leave`, `steward_election`,
    /// `emergency`).
    pub approved_by_kind: BTreeMap<String, usize>,
}

/// Application messages of a run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// Messages sent.
    pub sent: usize,
    /// (message, receiver) pairs expected: receivers in the sender's roster when it was sent
    /// and in the group at the end, other than the sender.
    pub expected: usize,
    /// Of those, received.
    pub delivered: usize,
    /// Of those, never received: lost.
    pub lost: usize,
    /// Messages with at least one lost copy.
    pub lost_messages: usize,
    /// Receipts that came as re-sends after a fork was resolved.
    pub resent: usize,
    /// Delivery latency, ms: sent → first received, per (message, receiver).
    pub latency_ms: Percentiles,
}

/// Whether and when the group converged.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Convergence {
    /// Every member up and in the group at the end shares one epoch, authenticator and
    /// roster, and that roster is exactly those members.
    pub converged: bool,
    /// Members up and in the group at the end.
    pub in_group: usize,
    /// Their epoch, if they agree on it.
    pub epoch: Option<u64>,
    /// Why not converged, if not.
    pub detail: Option<String>,
    /// When the last of them reached its final state, ms from the start.
    pub converged_at_ms: Option<u64>,
    /// Time from the disruption the group converged from (the last fault or membership
    /// action at or before `converged_at_ms`) to convergence, ms.
    pub time_to_convergence_ms: Option<u64>,
}

/// Traffic of a run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Traffic {
    /// What the counters count.
    pub unit: Option<TrafficUnit>,
    /// Bytes sent by all members.
    pub bytes_out: u64,
    /// Messages (envelopes or packets) sent by all members.
    pub messages_out: u64,
    /// Mean bytes sent per member.
    pub bytes_per_member: f64,
    /// Mean messages sent per member.
    pub messages_per_member: f64,
    /// Bytes sent per member per approved decision (`None` without decisions).
    pub bytes_per_member_per_decision: Option<f64>,
    /// Messages sent per member per approved decision.
    pub messages_per_member_per_decision: Option<f64>,
}

/// Everything measured in one run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunMetrics {
    /// The seed.
    pub seed: u64,
    /// Simulator or lab.
    pub backend: Backend,
    /// Members in the scenario.
    pub members: usize,
    /// When the group formed, ms.
    pub formed_at_ms: Option<u64>,
    /// When the run ended, ms.
    pub end_ms: u64,
    /// Decisions.
    pub decisions: Decisions,
    /// Decision latency, ms: a decision opened (first seen anywhere) → decided, per member
    /// that decided it.
    pub decision_latency_ms: Percentiles,
    /// Commit latency, ms: a decision opened → the member moved to the epoch that applies it.
    pub commit_latency_ms: Percentiles,
    /// Epochs the group advanced through (distinct epoch/authenticator pairs seen).
    pub commits: usize,
    /// Commits stewards published (all branches, retries included).
    pub commits_published: usize,
    /// Approved steward elections.
    pub elections: usize,
    /// Forks resolved (distinct fork epochs).
    pub forks_resolved: usize,
    /// Traffic.
    pub traffic: Traffic,
    /// Application messages.
    pub delivery: Delivery,
    /// Convergence.
    pub convergence: Convergence,
    /// Inputs refused (`rejected` events), by reason.
    pub rejected: BTreeMap<String, usize>,
    /// Problems the runner reported.
    pub problems: Vec<String>,
}

fn change_kind(c: &Change) -> String {
    serde_json::to_value(c)
        .ok()
        .and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(str::to_owned))
        .unwrap_or_else(|| "other".to_owned())
}

fn decided_epochs(obs: &Observations) -> BTreeMap<ProposalId, BTreeSet<u64>> {
    let mut out: BTreeMap<ProposalId, BTreeSet<u64>> = BTreeMap::new();
    for o in &obs.events {
        if let Event::Committed {
            epoch, decisions, ..
        } = &o.event
        {
            for d in decisions {
                out.entry(*d).or_default().insert(*epoch);
            }
        }
    }
    out
}

/// Computes the metrics of one run. Time to convergence counts from the last mark (fault or
/// membership action).
pub fn compute(obs: &Observations) -> RunMetrics {
    let mut opened: BTreeMap<ProposalId, u64> = BTreeMap::new();
    let mut outcome: BTreeMap<ProposalId, (Outcome, String)> = BTreeMap::new();
    let mut decision_latency = Vec::new();
    let mut epochs: BTreeSet<(u64, Vec<u8>)> = BTreeSet::new();
    let mut commits_published = 0;
    let mut forks: BTreeSet<u64> = BTreeSet::new();
    let mut rejected: BTreeMap<String, usize> = BTreeMap::new();
    // (member, epoch) → when the member reached it.
    let mut reached: BTreeMap<(usize, u64), u64> = BTreeMap::new();
    let mut last_state_change: BTreeMap<usize, u64> = BTreeMap::new();
    for o in &obs.events {
        if let Event::DecisionOpened { decision, .. } = &o.event {
            let at = opened.entry(*decision).or_insert(o.at_ms);
            *at = (*at).min(o.at_ms);
        }
    }
    for o in &obs.events {
        match &o.event {
            Event::DecisionMade {
                decision,
                change,
                outcome: out,
                ..
            } => {
                if let Some(t0) = opened.get(decision) {
                    decision_latency.push(o.at_ms.saturating_sub(*t0) as f64);
                }
                outcome
                    .entry(*decision)
                    .or_insert((*out, change_kind(change)));
            }
            Event::EpochAdvanced {
                epoch,
                authenticator,
                ..
            } => {
                epochs.insert((*epoch, authenticator.clone()));
                reached.entry((o.member, *epoch)).or_insert(o.at_ms);
                last_state_change.insert(o.member, o.at_ms);
            }
            Event::GroupCreated { epoch, .. } | Event::Joined { epoch, .. } => {
                reached.entry((o.member, *epoch)).or_insert(o.at_ms);
                last_state_change.insert(o.member, o.at_ms);
            }
            Event::ForkResolved { fork_epoch, .. } => {
                forks.insert(*fork_epoch);
                last_state_change.insert(o.member, o.at_ms);
            }
            Event::Committed { .. } => commits_published += 1,
            Event::Rejected { reason, .. } => *rejected.entry(reason.clone()).or_default() += 1,
            _ => {}
        }
    }

    let mut decisions = Decisions {
        opened: opened.len(),
        ..Decisions::default()
    };
    for (o, kind) in outcome.values() {
        match o {
            Outcome::Approved => {
                decisions.approved += 1;
                *decisions.approved_by_kind.entry(kind.clone()).or_default() += 1;
            }
            Outcome::Rejected => decisions.rejected += 1,
            Outcome::NoDecision => decisions.no_decision += 1,
        }
    }
    decisions.undecided = opened.keys().filter(|d| !outcome.contains_key(d)).count();
    let elections = decisions
        .approved_by_kind
        .get("steward_election")
        .copied()
        .unwrap_or(0);

    // Commit latency: opened → the member reached an epoch that applies the decision.
    let mut commit_latency = Vec::new();
    let members: BTreeSet<usize> = reached.keys().map(|(m, _)| *m).collect();
    for (d, eps) in decided_epochs(obs) {
        let Some(t0) = opened.get(&d) else { continue };
        for &m in &members {
            if let Some(t) = eps.iter().filter_map(|e| reached.get(&(m, *e))).min() {
                commit_latency.push(t.saturating_sub(*t0) as f64);
            }
        }
    }

    let traffic = traffic(obs, decisions.approved);
    let delivery = delivery(obs);
    let convergence = convergence(obs, &last_state_change);
    RunMetrics {
        seed: obs.seed,
        backend: obs.backend,
        members: obs.members.len(),
        formed_at_ms: obs.formed_at_ms,
        end_ms: obs.end_ms,
        decisions,
        decision_latency_ms: Percentiles::of(&decision_latency),
        commit_latency_ms: Percentiles::of(&commit_latency),
        commits: epochs.len(),
        commits_published,
        elections,
        forks_resolved: forks.len(),
        traffic,
        delivery,
        convergence,
        rejected,
        problems: obs.problems.clone(),
    }
}

/// Raw decision latencies of a run (ms), for CDF plots.
pub fn decision_latencies(obs: &Observations) -> Vec<f64> {
    let mut opened: BTreeMap<ProposalId, u64> = BTreeMap::new();
    for o in &obs.events {
        if let Event::DecisionOpened { decision, .. } = &o.event {
            let at = opened.entry(*decision).or_insert(o.at_ms);
            *at = (*at).min(o.at_ms);
        }
    }
    obs.events
        .iter()
        .filter_map(|o| match &o.event {
            Event::DecisionMade { decision, .. } => opened
                .get(decision)
                .map(|t0| o.at_ms.saturating_sub(*t0) as f64),
            _ => None,
        })
        .collect()
}

/// Mean bytes sent per member over time: (seconds, bytes) points, for plots.
pub fn bytes_per_member_over_time(obs: &Observations) -> Vec<(f64, f64)> {
    let n = obs.members.len().max(1) as f64;
    obs.traffic
        .iter()
        .map(|s| {
            (
                s.at_ms as f64 / 1000.0,
                s.bytes_out.iter().sum::<u64>() as f64 / n,
            )
        })
        .collect()
}

fn traffic(obs: &Observations, approved: usize) -> Traffic {
    let Some(last) = obs.traffic.last() else {
        return Traffic::default();
    };
    let n = obs.members.len().max(1) as f64;
    let bytes_out: u64 = last.bytes_out.iter().sum();
    let messages_out: u64 = last.messages_out.iter().sum();
    let per = |total: u64| round1(total as f64 / n);
    let per_decision =
        |total: u64| (approved > 0).then(|| round1(total as f64 / n / approved as f64));
    Traffic {
        unit: Some(obs.traffic_unit),
        bytes_out,
        messages_out,
        bytes_per_member: per(bytes_out),
        messages_per_member: per(messages_out),
        bytes_per_member_per_decision: per_decision(bytes_out),
        messages_per_member_per_decision: per_decision(messages_out),
    }
}

fn in_group_at_end(obs: &Observations) -> BTreeSet<usize> {
    obs.endings
        .iter()
        .enumerate()
        .filter(|(_, e)| matches!(e, Ending::InGroup(_)))
        .map(|(i, _)| i)
        .collect()
}

fn delivery(obs: &Observations) -> Delivery {
    // (message id, receiver) → (first receipt time, resent)
    let mut receipts: BTreeMap<(String, usize), (u64, bool)> = BTreeMap::new();
    for o in &obs.events {
        if let Event::MessageReceived {
            message_id, resent, ..
        } = &o.event
        {
            receipts
                .entry((demls::api::encode_bytes(message_id), o.member))
                .or_insert((o.at_ms, *resent));
        }
    }
    let end = in_group_at_end(obs);
    let mut d = Delivery {
        sent: obs.sent.len(),
        ..Delivery::default()
    };
    let mut latency = Vec::new();
    for s in &obs.sent {
        let mut lost_here = false;
        for &r in &s.expected {
            if r == s.member || !end.contains(&r) {
                continue;
            }
            d.expected += 1;
            match receipts.get(&(s.message_id.clone(), r)) {
                Some((at, resent)) => {
                    d.delivered += 1;
                    if *resent {
                        d.resent += 1;
                    }
                    latency.push(at.saturating_sub(s.at_ms) as f64);
                }
                None => {
                    d.lost += 1;
                    lost_here = true;
                }
            }
        }
        if lost_here {
            d.lost_messages += 1;
        }
    }
    d.latency_ms = Percentiles::of(&latency);
    d
}

fn convergence(obs: &Observations, last_state_change: &BTreeMap<usize, u64>) -> Convergence {
    let live: Vec<(usize, &crate::observe::FinalState)> = obs
        .endings
        .iter()
        .enumerate()
        .filter_map(|(i, e)| match e {
            Ending::InGroup(f) => Some((i, f)),
            _ => None,
        })
        .collect();
    let mut c = Convergence {
        in_group: live.len(),
        ..Convergence::default()
    };
    let Some((first, f0)) = live.first() else {
        c.detail = Some("no member is in the group at the end".into());
        return c;
    };
    let members: Vec<usize> = live.iter().map(|(i, _)| *i).collect();
    for (i, f) in &live {
        if f.epoch != f0.epoch || f.authenticator != f0.authenticator || f.roster != f0.roster {
            c.detail = Some(format!(
                "member {i} is at epoch {} with roster {:?}, member {first} at epoch {} with roster {:?}",
                f.epoch, f.roster, f0.epoch, f0.roster
            ));
            return c;
        }
        if f.strangers > 0 {
            c.detail = Some(format!(
                "member {i}'s roster has {} members unknown to the run",
                f.strangers
            ));
            return c;
        }
    }
    if f0.roster != members {
        c.detail = Some(format!(
            "the roster {:?} is not the members in the group {:?}",
            f0.roster, members
        ));
        return c;
    }
    c.converged = true;
    c.epoch = Some(f0.epoch);
    let at = members
        .iter()
        .filter_map(|m| last_state_change.get(m))
        .max()
        .copied();
    c.converged_at_ms = at;
    // The disruption the group converged from: the last fault or membership action at or
    // before the moment the last member reached its final state (a later crash and restart
    // that changed nothing does not count).
    let last_disruption = at.and_then(|at| {
        obs.marks
            .iter()
            .filter(|m| !matches!(m.kind, MarkKind::Malicious { .. }) && m.at_ms <= at)
            .map(|m| m.at_ms)
            .max()
            .or(obs.formed_at_ms)
    });
    c.time_to_convergence_ms = match (at, last_disruption) {
        (Some(at), Some(d)) => Some(at.saturating_sub(d)),
        (Some(at), None) => Some(at),
        _ => None,
    };
    c
}
