//! Ready-made experiments: each builds a seeded simulation, forms a group, injects one kind
//! of fault, and checks the outcome — always ending with the two properties every scenario
//! must keep: all honest members share epoch, roster and epoch authenticator, and no
//! application message among connected members was lost.
//!
//! The scenario tests and the soak command (`examples/soak.rs`) both run these functions;
//! a failure names the seed and start time, so any run can be replayed exactly.

mod committee;
mod lazy;
mod leave;
mod multi;
mod partition;
mod resync;

use std::sync::Arc;

pub use committee::single_committee;
pub use lazy::{LazyFactory, LazySwitch};
pub use leave::{
    epoch_steward_leaves, forged_leave, last_steward_leaves, leave_while_partitioned,
    ordinary_member_leaves, remnants, two_members_leave_together,
};
pub use multi::{
    concurrent_stewards, deadlock_recovery, emergency_holds_back_commit_proposal, lossy_network,
    malicious_steward, silent_epoch_steward, silent_steward_list, small_consensus,
};
pub use partition::{
    PartitionRun, Split, partition_soak_run, removed_across_a_fork, split_and_heal,
};
pub use resync::{
    beyond_history_rejoin, crash_during_commit, missed_vote_catch_up, offline_catch_up,
};

use demls::engine::{EngineParams, GroupEvent};
use demls::policy::MultiPolicyConfig;
use demls::policy::multi::MultiPolicyFactory;
use demls::{GroupId, MemberId, ProposalId};

use crate::{Link, NodeId, NodeOptions, Sim, SimConfig};

/// What a scenario observed when it passed.
#[derive(Clone, Debug)]
pub struct Verdict {
    /// The scenario's name.
    pub scenario: &'static str,
    /// The seed it ran with.
    pub seed: u64,
    /// The final epoch all honest members share.
    pub epoch: u64,
    /// Virtual time the run took, ms.
    pub elapsed_ms: u64,
}

/// A scenario's verdict: its outcome, or why (and how to replay) it failed.
pub type ScenarioResult = Result<Verdict, String>;

/// The group every scenario uses.
pub fn group_id() -> GroupId {
    GroupId::new(b"scenario".to_vec()).expect("a valid group id")
}

/// Multi-steward settings tuned for quick scenarios (short timers, small lists).
pub fn quick_multi() -> MultiPolicyConfig {
    MultiPolicyConfig {
        sn_min: 3,
        sn_max: 4,
        commit_delay_ms: 200,
        commit_timeout_ms: 1_000,
        selection_window_ms: 300,
        recovery_timeout_ms: 500,
        max_reelection_attempts: 2,
        ..MultiPolicyConfig::default()
    }
}

/// Engine parameters tuned for quick scenarios.
pub fn quick_params() -> EngineParams {
    EngineParams {
        vote_timeout_ms: 8_000,
        commit_grace_ms: 3_000,
        join_announce_interval_ms: 2_000,
        resend_interval_ms: 1_500,
        status_interval_ms: 1_000,
        ..EngineParams::default()
    }
}

/// A simulation of `n` nodes running the multi-steward policy. With `lazy`, every node's
/// policy is wrapped so that it skips its commit turns while the switch is on.
pub fn multi_sim(
    seed: u64,
    n: usize,
    config: MultiPolicyConfig,
    lazy: Option<&LazySwitch>,
) -> Result<(Sim, Vec<NodeId>), String> {
    multi_sim_with(seed, n, config, lazy, quick_params())
}

/// [`multi_sim`] with other engine parameters.
pub fn multi_sim_with(
    seed: u64,
    n: usize,
    config: MultiPolicyConfig,
    lazy: Option<&LazySwitch>,
    params: EngineParams,
) -> Result<(Sim, Vec<NodeId>), String> {
    let policy: Arc<dyn demls::StewardPolicyFactory> =
        Arc::new(MultiPolicyFactory::new(config).map_err(|e| e.to_string())?);
    let mut cfg = SimConfig::new(seed).with_link(Link::uniform(5, 25));
    cfg.params = params;
    cfg.policy = policy.clone();
    let mut sim = Sim::new(cfg).map_err(|e| e.to_string())?;
    let mut nodes = Vec::with_capacity(n);
    for _ in 0..n {
        let options = NodeOptions {
            policy: lazy.map(|switch| {
                Arc::new(LazyFactory {
                    inner: policy.clone(),
                    switch: switch.clone(),
                }) as Arc<dyn demls::StewardPolicyFactory>
            }),
            ..NodeOptions::default()
        };
        nodes.push(sim.add_node_with(options).map_err(|e| e.to_string())?);
    }
    Ok((sim, nodes))
}

/// Node 0 creates the group, everyone else asks to join at once; runs until all are members
/// of one epoch.
pub fn form(sim: &mut Sim, nodes: &[NodeId], group: &GroupId) -> Result<(), String> {
    sim.create_group(nodes[0], group)
        .map_err(|e| e.to_string())?;
    for &n in &nodes[1..] {
        sim.join_group(n, group).map_err(|e| e.to_string())?;
    }
    let all = nodes.to_vec();
    let formed = sim.run_until(120_000, |s| {
        s.converged_exactly(group, &all) && s.members_of(group).len() == all.len()
    });
    if !formed {
        return Err(format!("the group did not form; {}", sim.replay_hint()));
    }
    Ok(())
}

/// Runs until `leavers` are out of the group at their own end and at every one of `remaining`.
pub(crate) fn run_until_gone(
    sim: &mut Sim,
    group: &GroupId,
    leavers: &[NodeId],
    remaining: &[NodeId],
    max_ms: u64,
) -> bool {
    let ids: Vec<MemberId> = leavers.iter().map(|&l| sim.member_id(l)).collect();
    sim.run_until(max_ms, |s| {
        leavers.iter().all(|&l| s.group(l, group).is_none())
            && remaining.iter().all(|&n| {
                s.group(n, group)
                    .is_some_and(|x| ids.iter().all(|m| !x.members.contains(m)))
            })
    })
}

/// `proposer` asks to remove `target`, which must open a vote at once (`opened` says what it
/// is, for the failure message); runs until every other node of `nodes` is past the epoch
/// `observer` was in. Returns the proposal.
pub(crate) fn removal_committed(
    sim: &mut Sim,
    group: &GroupId,
    nodes: &[NodeId],
    (proposer, target, observer): (NodeId, NodeId, NodeId),
    opened: &str,
) -> Result<ProposalId, String> {
    let before = sim.group(observer, group).map_or(0, |s| s.epoch);
    let id = sim
        .propose_remove(proposer, group, target)
        .map_err(|e| e.to_string())?
        .proposal()
        .ok_or_else(|| format!("{opened} opened at once"))?;
    let remaining = without(nodes, &[target]);
    let moved = sim.run_until(30_000, |s| {
        remaining
            .iter()
            .all(|&n| s.group(n, group).map_or(0, |x| x.epoch) > before)
    });
    require(sim, moved, "the removal was committed")?;
    Ok(id)
}

/// The nodes among `nodes` that cast a vote on `proposal`.
pub(crate) fn voted_on(sim: &Sim, nodes: &[NodeId], proposal: ProposalId) -> Vec<NodeId> {
    nodes
        .iter()
        .copied()
        .filter(|&n| {
            sim.events(n).iter().any(
                |(_, e)| matches!(e, GroupEvent::VoteCast { proposal: p, .. } if *p == proposal),
            )
        })
        .collect()
}

/// How many members `observer` counted eligible when `proposal` was decided YES there.
pub(crate) fn eligible_when_decided(
    sim: &Sim,
    observer: NodeId,
    proposal: ProposalId,
) -> Option<u32> {
    sim.events(observer).iter().find_map(|(_, e)| match e {
        GroupEvent::ProposalDecided {
            proposal: p,
            eligible,
            outcome: demls::Verdict::Yes,
            ..
        } if *p == proposal => Some(*eligible),
        _ => None,
    })
}

/// `nodes` without those in `out`.
pub(crate) fn without(nodes: &[NodeId], out: &[NodeId]) -> Vec<NodeId> {
    nodes.iter().copied().filter(|n| !out.contains(n)).collect()
}

/// Every listed member sends one message.
pub fn chat(sim: &mut Sim, group: &GroupId, nodes: &[NodeId], tag: &str) -> Result<(), String> {
    for &n in nodes {
        sim.send(n, group, format!("{tag} from {n}").as_bytes())
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The current stewards, as seen by `node`, most preferred first.
pub fn stewards(sim: &Sim, group: &GroupId, node: NodeId) -> Vec<NodeId> {
    sim.group(node, group)
        .map(|s| s.stewards.iter().filter_map(|m| sim.node_of(*m)).collect())
        .unwrap_or_default()
}

/// The node of a member id.
pub fn node(sim: &Sim, member: MemberId) -> Option<NodeId> {
    sim.node_of(member)
}

/// Who committed each epoch, as seen by `node`, from its event log.
pub fn committers(sim: &Sim, node: NodeId) -> Vec<(u64, MemberId)> {
    sim.events(node)
        .iter()
        .filter_map(|(_, e)| match e {
            GroupEvent::EpochAdvanced {
                epoch, committer, ..
            } => Some((*epoch, *committer)),
            _ => None,
        })
        .collect()
}

/// The closing checks: runs until the honest members agree (or `max_ms` passes), then
/// requires convergence and complete delivery among them.
pub fn finish(
    sim: &mut Sim,
    group: &GroupId,
    honest: &[NodeId],
    max_ms: u64,
) -> Result<u64, String> {
    sim.run_until(max_ms, |s| {
        s.converged_exactly(group, honest) && s.undelivered(group, honest).is_empty()
    });
    let state = sim.check_converged(group, honest).map_err(|d| {
        dump_events(sim, honest);
        d.to_string()
    })?;
    let lost = sim.undelivered(group, honest);
    if !lost.is_empty() {
        dump_events(sim, honest);
        return Err(format!(
            "{} application messages were not delivered to every connected member (first: {:?}); {}",
            lost.len(),
            lost.first()
                .map(|u| (&u.sender, u.epoch, u.sent_at.0 - sim.start().0, &u.missing)),
            sim.replay_hint()
        ));
    }
    Ok(state.epoch)
}

/// Fails with a replay hint unless `condition` holds.
pub fn require(sim: &Sim, condition: bool, what: &str) -> Result<(), String> {
    if condition {
        Ok(())
    } else {
        dump_events(sim, &sim.nodes());
        Err(format!("{what}; {}", sim.replay_hint()))
    }
}

/// With `DEMLS_SIM_DEBUG` set, logs every event of `nodes` (at WARN, with virtual time) to
/// help understand a failed scenario.
fn dump_events(sim: &Sim, nodes: &[NodeId]) {
    if std::env::var_os("DEMLS_SIM_DEBUG").is_none() {
        return;
    }
    for &n in nodes {
        for (t, e) in sim.events(n) {
            tracing::warn!(node = %n, t = t.0 - sim.start().0, "{e:?}");
        }
    }
}

/// Adds nodes one at a time until the steward line has at least `len` members waiting.
pub fn grow_until_line(
    sim: &mut Sim,
    group: &GroupId,
    nodes: &mut Vec<NodeId>,
    len: usize,
) -> Result<(), String> {
    for _ in 0..8 {
        if stewards(sim, group, nodes[0]).len() >= len {
            return Ok(());
        }
        let fresh = sim.add_node().map_err(|e| e.to_string())?;
        sim.join_group(fresh, group).map_err(|e| e.to_string())?;
        nodes.push(fresh);
        let all = nodes.clone();
        if !sim.run_until(60_000, |s| s.converged_exactly(group, &all)) {
            return Err(format!("a joiner was not added; {}", sim.replay_hint()));
        }
    }
    Err(format!(
        "the steward line never reached {len}; {}",
        sim.replay_hint()
    ))
}
