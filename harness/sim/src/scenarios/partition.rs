//! Partitions and forks (F3): the group splits into two sides that cannot hear each other; each
//! side chats and votes on a removal of one of its own members; where both sides can commit,
//! the group forks. After the heal every honest member must share epoch, roster and epoch
//! authenticator, both removals must have happened (a removal committed only on the losing
//! branch is requested again on the surviving one), and every message sent by an honest member
//! during the run must have reached every member.

use demls::GroupId;
use demls::engine::{EngineParams, GroupEvent};

use super::{
    ScenarioResult, Verdict, chat, finish, form, group_id, grow_until_line, multi_sim_with,
    quick_multi, quick_params, require, stewards, without,
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
    /// Loss on every link from the split on (0 for none).
    pub loss: f64,
    /// Whether one ordinary member of the larger side crashes during the split and restarts
    /// just before the heal.
    pub crash: bool,
    /// Whether a new member joins the larger side during the split (if that side can decide
    /// votes): if its branch then loses a fork, it must join the surviving one too.
    pub joiner: bool,
}

impl Split {
    /// A split of `members` with a `minority` side, without loss or crash.
    pub fn new(members: usize, minority: usize, stewards_on_both_sides: bool) -> Split {
        Split {
            members,
            minority,
            stewards_on_both_sides,
            loss: 0.0,
            crash: false,
            joiner: false,
        }
    }

    /// This split with a member joining the larger side during it.
    pub fn with_joiner(self) -> Split {
        Split {
            joiner: true,
            ..self
        }
    }
}

/// What one run of the partition soak observed.
#[derive(Clone, Debug)]
pub struct PartitionRun {
    /// The split that was run.
    pub split: Split,
    /// `None` if the group healed with nothing lost, else why not.
    pub failure: Option<String>,
    /// Application messages sent during the run.
    pub messages_sent: usize,
    /// Of those, messages some honest member never received.
    pub messages_lost: usize,
}

/// One run of the partition soak: a random split (10–30 members, a random smaller side,
/// stewards on one or both sides, 0–5 % loss, sometimes a crash) drawn from `seed`.
pub fn partition_soak_run(seed: u64) -> PartitionRun {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x5041_5254_4954_494f);
    let members = rng.gen_range(10..=30);
    let split = Split {
        members,
        minority: rng.gen_range(4..=members / 2),
        stewards_on_both_sides: rng.gen_bool(0.5),
        loss: if rng.gen_bool(0.5) {
            rng.gen_range(0.0..0.05)
        } else {
            0.0
        },
        crash: rng.gen_bool(0.3),
        joiner: rng.gen_bool(0.3),
    };
    let mut report = PartitionRun {
        split,
        failure: None,
        messages_sent: 0,
        messages_lost: 0,
    };
    if let Err(e) = run(seed, split, &mut report) {
        report.failure = Some(e);
    }
    report
}

/// Splits the group as `split` says (see [`run`]).
pub fn split_and_heal(seed: u64, split: Split) -> ScenarioResult {
    let mut report = PartitionRun {
        split,
        failure: None,
        messages_sent: 0,
        messages_lost: 0,
    };
    let (epoch, elapsed_ms) = run(seed, split, &mut report)?;
    Ok(Verdict {
        scenario: "split_and_heal",
        seed,
        epoch,
        elapsed_ms,
    })
}

/// Splits the group as `split` says. On each side: members chat, one member proposes removing
/// another (only a side holding a two-thirds quorum of the roster can decide it), and — on a
/// side holding a steward — one member leaves (final without a vote, so that side commits even
/// without a quorum: with stewards on both sides the group forks). Then heals, and checks the
/// group became one again with nothing lost: the leavers and the decided removal are gone,
/// everyone else shares one epoch, roster and authenticator and has every message. Counts the
/// messages sent and lost into `report`; returns the final epoch and the virtual time taken.
fn run(seed: u64, split: Split, report: &mut PartitionRun) -> Result<(u64, u64), String> {
    let g = group_id();
    // A removal that fails for want of a quorum during the split is not retried here: which
    // retry outlasts the split decides whether it passes after the heal, and this scenario
    // checks what each side decides on its own (retries across a heal: `votes` tests).
    let params = EngineParams {
        max_vote_attempts: 1,
        ..quick_params()
    };
    let (mut sim, mut nodes) = multi_sim_with(seed, split.members, quick_multi(), None, params)?;
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
    if split.loss > 0.0 {
        sim.set_loss(split.loss).map_err(|e| e.to_string())?;
    }
    // Someone with no role in the scenario, on the larger side.
    let bystander = majority
        .iter()
        .copied()
        .rfind(|n| !line.contains(n) && ![proposer_b, target_b, leaver_b].contains(n));
    let crashed = split.crash.then_some(bystander).flatten();
    if let Some(n) = crashed {
        sim.crash(n).map_err(|e| e.to_string())?;
    }
    // Leavers and removal targets do not chat: a member that leaves or is removed on one branch
    // cannot send its messages again on the other (its state is gone), see the spec's §13.
    let quiet = [leaver_a, target_a, leaver_b, target_b];
    let crashed_list: Vec<NodeId> = crashed.into_iter().collect();
    chat(&mut sim, &g, &without(&minority, &quiet), "minority side")?;
    chat(
        &mut sim,
        &g,
        &without(&without(&majority, &quiet), &crashed_list),
        "majority side",
    )?;
    sim.propose_remove(proposer_a, &g, target_a)
        .map_err(|e| e.to_string())?;
    sim.propose_remove(proposer_b, &g, target_b)
        .map_err(|e| e.to_string())?;
    // A newcomer on the larger side (admitted only if that side can decide votes).
    let joiner = if split.joiner && b_decides {
        let n = sim.add_node().map_err(|e| e.to_string())?;
        let mut with_joiner = majority.clone();
        with_joiner.push(n);
        sim.partition(&[minority.clone(), with_joiner])
            .map_err(|e| e.to_string())?;
        sim.join_group(n, &g).map_err(|e| e.to_string())?;
        Some(n)
    } else {
        None
    };
    if a_commits {
        sim.leave(leaver_a, &g).map_err(|e| e.to_string())?;
    }
    if b_commits {
        sim.leave(leaver_b, &g).map_err(|e| e.to_string())?;
    }
    sim.run_for(20_000);
    if let Some(n) = crashed {
        sim.restart(n).map_err(|e| e.to_string())?;
    }
    sim.run_for(10_000);
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
    if split.loss > 0.0 {
        // Loss stays for the heal; the final checks run on a clean network.
        sim.run_for(20_000);
        sim.set_loss(0.0).map_err(|e| e.to_string())?;
    }
    let mut gone: Vec<NodeId> = Vec::new();
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
    let mut honest = without(&nodes, &gone);
    honest.extend(joiner);
    sim.run_until(120_000, |s| {
        s.converged_exactly(&g, &honest) && s.undelivered(&g, &honest).is_empty()
    });
    chat(
        &mut sim,
        &g,
        &honest[..3.min(honest.len())],
        "after the heal",
    )?;
    let finished = finish(&mut sim, &g, &honest, 60_000);
    report.messages_sent = sim.sent_messages(&g).len();
    report.messages_lost = sim.undelivered(&g, &honest).len();
    let epoch = finished?;
    if a_commits && b_commits {
        let resolved = honest.iter().any(|&n| {
            sim.events(n)
                .iter()
                .any(|(_, e)| matches!(e, GroupEvent::ForkResolved { .. }))
        });
        require(&sim, resolved, "the fork was detected and resolved")?;
    }
    Ok((epoch, sim.elapsed_ms()))
}

/// A member removed by the side of a split that cannot hear it, while its own side (holding a
/// steward) commits a leave: the group forks. After the heal that member is out of the group
/// whichever branch survives — if the removing branch won, the member learns its removal from
/// the winning commit (it does not rejoin, which would put a removed member back); if its own
/// branch won, the removal is asked for again there — and every other member converges with
/// nothing lost.
pub fn removed_across_a_fork(seed: u64) -> ScenarioResult {
    let g = group_id();
    let params = EngineParams {
        max_vote_attempts: 1,
        ..quick_params()
    };
    let (mut sim, mut nodes) = multi_sim_with(seed, 12, quick_multi(), None, params)?;
    form(&mut sim, &nodes, &g)?;
    grow_until_line(&mut sim, &g, &mut nodes, 2)?;
    sim.run_for(2_000);
    let line = stewards(&sim, &g, nodes[0]);
    let ordinary = without(&nodes, &line);
    // The smaller side: the first steward and three ordinary members, among them the target
    // and a leaver. The larger side keeps exactly a two-thirds quorum of the roster.
    let quorum = (2 * nodes.len()).div_ceil(3);
    let take = nodes.len() - quorum - 1;
    let minority: Vec<NodeId> = std::iter::once(line[0])
        .chain(ordinary.iter().copied().take(take))
        .collect();
    let majority = without(&nodes, &minority);
    let (target, leaver) = match minority.as_slice() {
        [_, target, leaver, ..] => (*target, *leaver),
        _ => return Err("the smaller side has too few ordinary members".into()),
    };
    let proposer = majority
        .iter()
        .copied()
        .find(|n| !line.contains(n))
        .ok_or("no ordinary member on the larger side")?;
    sim.partition(&[minority.clone(), majority.clone()])
        .map_err(|e| e.to_string())?;
    sim.propose_remove(proposer, &g, target)
        .map_err(|e| e.to_string())?;
    sim.leave(leaver, &g).map_err(|e| e.to_string())?;
    chat(
        &mut sim,
        &g,
        &without(&minority, &[target, leaver]),
        "smaller side",
    )?;
    chat(&mut sim, &g, &majority, "larger side")?;
    sim.run_for(20_000);
    require(
        &sim,
        authenticator_of(&sim, &g, minority[0]) != authenticator_of(&sim, &g, proposer),
        "both sides committed: the group forked",
    )?;
    sim.heal();
    let honest = without(&nodes, &[target, leaver]);
    let epoch = finish(&mut sim, &g, &honest, 120_000)?;
    // The target learns last: from the removing commit, or the catch-up that brings it.
    sim.run_until(60_000, |s| s.group(target, &g).is_none());
    let removed = sim
        .events(target)
        .iter()
        .any(|(_, e)| matches!(e, GroupEvent::Removed { .. }));
    require(&sim, removed, "the target learned that it was removed")?;
    require(
        &sim,
        sim.group(target, &g).is_none(),
        "the target holds no state of the group (it did not come back)",
    )?;
    Ok(Verdict {
        scenario: "removed_across_a_fork",
        seed,
        epoch,
        elapsed_ms: sim.elapsed_ms(),
    })
}
