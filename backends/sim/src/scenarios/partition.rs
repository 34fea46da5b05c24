//! Partitions and forks (F3): the group splits into two sides that cannot hear each other; each
//! side chats and votes on a removal of one of its own members; where both sides can commit,
//! the group forks. After the heal every honest member must share epoch, roster and epoch
//! authenticator, both removals must have happened (a removal committed only on the losing
//! branch is requested again on the surviving one), and every message sent by an honest member
//! during the run must have reached every member.

use demls::GroupId;
use demls::engine::Event;

use super::{
    Outcome, ScenarioResult, chat, finish, form, group_id, grow_until_line, multi_sim, quick_multi,
    require, stewards, without,
};
use crate::{NodeId, Sim};

fn authenticator_of(sim: &Sim, group: &GroupId, node: NodeId) -> Vec<u8> {
    sim.group(node, group)
        .map(|s| s.authenticator)
        .unwrap_or_default()
}

/// How a split is arranged.
#[derive(Clone, Copy, Debug)]
pub struct Split {
    /// Group size.
    pub members: usize,
    /// Size of the smaller side.
    pub minority: usize,
    /// Whether each side holds a steward of the line (so both can commit and the group forks);
    /// otherwise every steward is on the larger side.
    pub stewards_on_both_sides: bool,
}

/// Splits the group as `split` says. On each side: members chat, one member proposes removing
/// another (only a side holding a two-thirds quorum of the roster can decide it), and — on a
/// side holding a steward — one member leaves (final without a vote, so that side commits even
/// without a quorum: with stewards on both sides the group forks). Then heals, and checks the
/// group became one again with nothing lost: the leavers and the decided removal are gone,
/// everyone else shares one epoch, roster and authenticator and has every message.
pub fn split_and_heal(seed: u64, split: Split) -> ScenarioResult {
    let g = group_id();
    let (mut sim, mut nodes) = multi_sim(seed, split.members, quick_multi(), None)?;
    form(&mut sim, &nodes, &g)?;
    grow_until_line(&mut sim, &g, &mut nodes, 2)?;
    sim.run_for(2_000);
    let line = stewards(&sim, &g, nodes[0]);
    let ordinary: Vec<NodeId> = without(&nodes, &line);
    let mut minority: Vec<NodeId> = Vec::new();
    if split.stewards_on_both_sides {
        minority.push(line[0]);
    }
    for &n in &ordinary {
        if minority.len() >= split.minority {
            break;
        }
        minority.push(n);
    }
    let majority = without(&nodes, &minority);
    let roles = |side: &[NodeId]| -> Result<(NodeId, NodeId, NodeId), String> {
        let plain: Vec<NodeId> = side.iter().copied().filter(|n| !line.contains(n)).collect();
        match plain.as_slice() {
            [proposer, target, leaver, ..] => Ok((*proposer, *target, *leaver)),
            _ => Err(format!("side {side:?} has too few ordinary members")),
        }
    };
    let (proposer_a, target_a, leaver_a) = roles(&minority)?;
    let (proposer_b, target_b, leaver_b) = roles(&majority)?;
    let quorum = (2 * split.members).div_ceil(3);
    let a_decides = minority.len() >= quorum;
    let b_decides = majority.len() >= quorum;
    let a_commits = minority.iter().any(|n| line.contains(n));
    let b_commits = majority.iter().any(|n| line.contains(n));
    sim.partition(&[minority.clone(), majority.clone()])
        .map_err(|e| e.to_string())?;
    // Leavers and removal targets do not chat: a member that leaves or is removed on one branch
    // cannot send its messages again on the other (its state is gone), see the spec's §13.
    let quiet = [leaver_a, target_a, leaver_b, target_b];
    chat(&mut sim, &g, &without(&minority, &quiet), "minority side")?;
    chat(&mut sim, &g, &without(&majority, &quiet), "majority side")?;
    sim.propose_remove(proposer_a, &g, target_a)
        .map_err(|e| e.to_string())?;
    sim.propose_remove(proposer_b, &g, target_b)
        .map_err(|e| e.to_string())?;
    if a_commits {
        sim.leave(leaver_a, &g).map_err(|e| e.to_string())?;
    }
    if b_commits {
        sim.leave(leaver_b, &g).map_err(|e| e.to_string())?;
    }
    sim.run_for(30_000);
    let stayed = |n: NodeId| n != leaver_a && n != leaver_b;
    let late: Vec<NodeId> = [proposer_a, proposer_b]
        .into_iter()
        .filter(|&n| stayed(n))
        .collect();
    chat(&mut sim, &g, &late, "late in the partition")?;
    sim.run_for(2_000);
    if a_commits && b_commits {
        require(
            &sim,
            authenticator_of(&sim, &g, proposer_a) != authenticator_of(&sim, &g, proposer_b),
            "both sides committed: the group forked",
        )?;
    }
    sim.heal();
    let mut gone = Vec::new();
    if a_commits {
        gone.push(leaver_a);
    }
    if b_commits {
        gone.push(leaver_b);
    }
    if a_decides {
        gone.push(target_a);
    }
    if b_decides {
        gone.push(target_b);
    }
    let honest = without(&nodes, &gone);
    sim.run_until(120_000, |s| {
        s.converged_exactly(&g, &honest) && s.undelivered(&g, &honest).is_empty()
    });
    chat(
        &mut sim,
        &g,
        &honest[..3.min(honest.len())],
        "after the heal",
    )?;
    let epoch = finish(&mut sim, &g, &honest, 60_000)?;
    if a_commits && b_commits {
        let resolved = honest.iter().any(|&n| {
            sim.events(n)
                .iter()
                .any(|(_, e)| matches!(e, Event::ForkResolved { .. }))
        });
        require(&sim, resolved, "the fork was detected and resolved")?;
    }
    Ok(Outcome {
        scenario: "split_and_heal",
        seed,
        epoch,
        elapsed_ms: sim.elapsed_ms(),
    })
}
