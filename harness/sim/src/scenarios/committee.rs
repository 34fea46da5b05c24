//! The single-steward policy's small consensus model: above a size, a committee — the first
//! members in leaf order — votes on adds and removals and alone opens them, while everyone
//! else only applies the commits. Leaves still need no vote.

use std::sync::Arc;

use demls::engine::{GroupEvent, ProposalAction};
use demls::policy::single::SinglePolicyFactory;
use demls::policy::{ConsensusModel, SinglePolicyConfig};
use demls::{GroupId, ProposalId};

use super::{
    ScenarioResult, Verdict, chat, eligible_when_decided, finish, form, group_id, quick_params,
    removal_committed, require, run_until_gone, voted_on, without,
};
use crate::{Link, NodeId, Sim, SimConfig};

/// Committee size in this scenario.
const COMMITTEE: usize = 3;

/// The nodes of `node`'s roster, in leaf order.
fn roster(sim: &Sim, group: &GroupId, node: NodeId) -> Vec<NodeId> {
    sim.group(node, group)
        .map(|s| s.members.iter().filter_map(|m| sim.node_of(*m)).collect())
        .unwrap_or_default()
}

/// How many members `observer` saw eligible for `proposal`, and how many nodes voted on it.
fn electorate(sim: &Sim, nodes: &[NodeId], observer: NodeId, id: ProposalId) -> (u32, usize) {
    (
        eligible_when_decided(sim, observer, id).unwrap_or(0),
        voted_on(sim, nodes, id).len(),
    )
}

/// Nine members under the single-steward policy in the small model with a committee of three:
/// a committee member's removal request is voted by the committee only; a member outside it
/// cannot open one; a member outside it leaves without a vote; a newcomer is added by the
/// committee's vote; everyone converges and no message is lost.
pub fn single_committee(seed: u64) -> ScenarioResult {
    let g = group_id();
    let mut cfg = SimConfig::new(seed).with_link(Link::uniform(5, 25));
    cfg.params = quick_params();
    cfg.policy = Arc::new(SinglePolicyFactory::new(SinglePolicyConfig {
        consensus_model: ConsensusModel::Small,
        committee_size: COMMITTEE,
        ..SinglePolicyConfig::default()
    }));
    let mut sim = Sim::new(cfg).map_err(|e| e.to_string())?;
    let mut nodes = Vec::new();
    for _ in 0..9 {
        nodes.push(sim.add_node().map_err(|e| e.to_string())?);
    }
    form(&mut sim, &nodes, &g)?;
    let order = roster(&sim, &g, nodes[0]);
    require(&sim, order.len() == nodes.len(), "every node is a member")?;
    let (committee, others) = order.split_at(COMMITTEE);
    let (committee, others) = (committee.to_vec(), others.to_vec());

    // A committee member (not the steward) asks to remove a member outside the committee.
    let (proposer, target, observer) = (committee[1], others[0], others[1]);
    let id = removal_committed(
        &mut sim,
        &g,
        &nodes,
        (proposer, target, observer),
        "a committee member's removal request",
    )?;
    let remaining = without(&nodes, &[target]);
    let (eligible, voted) = electorate(&sim, &nodes, observer, id);
    require(
        &sim,
        eligible as usize == COMMITTEE && voted <= COMMITTEE,
        "only the committee was eligible and voted",
    )?;

    // A member outside the committee may not open a removal.
    let outsider = others[2];
    let refused = match sim.propose_remove(outsider, &g, others[3]) {
        Err(_) => true,
        Ok(s) => {
            s.proposal().is_none() && {
                sim.events(outsider)
                    .iter()
                    .rev()
                    .any(|(_, e)| matches!(e, GroupEvent::Rejected { .. }))
            }
        }
    };
    require(
        &sim,
        refused,
        "a member outside the committee cannot open a removal",
    )?;

    // A member outside the committee leaves: a leave needs no vote.
    let leaver = others[3];
    sim.leave(leaver, &g).map_err(|e| e.to_string())?;
    let stayed = without(&remaining, &[leaver]);
    let left = run_until_gone(&mut sim, &g, &[leaver], &stayed, 30_000);
    require(&sim, left, "a member outside the committee left")?;

    // A newcomer is added by the committee's vote.
    let newcomer = sim.add_node().map_err(|e| e.to_string())?;
    sim.join_group(newcomer, &g).map_err(|e| e.to_string())?;
    let mut everyone = stayed.clone();
    everyone.push(newcomer);
    let joined = sim.run_until(30_000, |s| s.converged_exactly(&g, &everyone));
    require(&sim, joined, "the newcomer was added")?;
    let newcomer_id = sim.member_id(newcomer);
    let add = sim.events(observer).iter().find_map(|(_, e)| match e {
        GroupEvent::ProposalDecided {
            proposal,
            action: ProposalAction::Add { member },
            ..
        } if *member == newcomer_id => Some(*proposal),
        _ => None,
    });
    let add = add.ok_or("the observer saw the add decided")?;
    let (eligible, voted) = electorate(&sim, &everyone, observer, add);
    require(
        &sim,
        eligible as usize == COMMITTEE && voted <= COMMITTEE,
        "only the committee voted on the add",
    )?;

    chat(&mut sim, &g, &everyone, "committee")?;
    let epoch = finish(&mut sim, &g, &everyone, 60_000)?;
    Ok(Verdict {
        scenario: "single_committee",
        seed,
        epoch,
        elapsed_ms: sim.elapsed_ms(),
    })
}
