//! Leaving a group (F2): a member asks to leave, the request is final without a vote because
//! only the leaving member can make it, a steward other than the leaver commits the removal,
//! and the leaver's state of the group is erased.

use demls::engine::{GroupEvent, ProposalAction, RejectReason};
use demls::storage::{Space, Storage};
use demls::{GroupId, MemberId};

use super::{
    ScenarioResult, Verdict, chat, finish, form, group_id, grow_until_line, multi_sim, quick_multi,
    require, run_until_gone, stewards, without,
};
use crate::{NodeId, Sim};

fn outcome(sim: &Sim, scenario: &'static str, seed: u64, epoch: u64) -> ScenarioResult {
    Ok(Verdict {
        scenario,
        seed,
        epoch,
        elapsed_ms: sim.elapsed_ms(),
    })
}

/// What `node`'s storage still holds of `group`: engine and consensus records under the group's
/// prefix, and OpenMLS entities other than the node's own signature key (group state, epoch and
/// message secrets, leaf and epoch key pairs). Empty after a clean leave.
pub fn remnants(sim: &Sim, node: NodeId, group: &GroupId) -> Vec<String> {
    let storage = sim.storage(node);
    let gid = group.as_bytes();
    let mut prefix = vec![b'g', gid.len() as u8];
    prefix.extend_from_slice(gid);
    prefix.push(b'/');
    let mut out = Vec::new();
    for space in [Space::Engine, Space::Consensus, Space::Messages] {
        let rows = storage.scan_prefix(space, &prefix).unwrap_or_default();
        if !rows.is_empty() {
            out.push(format!("{space:?}: {} records", rows.len()));
        }
    }
    for (key, _) in storage.scan_prefix(Space::Mls, b"").unwrap_or_default() {
        let label_end = key.iter().position(|b| *b == 0x1f).unwrap_or(key.len());
        let label = String::from_utf8_lossy(&key[..label_end]).into_owned();
        if !label.contains("SignatureKeyPair") {
            out.push(format!("Mls: {label}"));
        }
    }
    out
}

fn removed_event(sim: &Sim, node: NodeId) -> bool {
    sim.events(node)
        .iter()
        .any(|(_, e)| matches!(e, GroupEvent::Removed { .. }))
}

fn decided_without_votes(sim: &Sim, observers: &[NodeId], member: MemberId) -> bool {
    observers.iter().all(|&n| {
        let leave = sim.events(n).iter().find_map(|(_, e)| match e {
            GroupEvent::ProposalOpened {
                proposal,
                action: ProposalAction::Leave { member: m },
                ..
            } if *m == member => Some(*proposal),
            _ => None,
        });
        leave.is_some_and(|id| {
            !sim.events(n)
                .iter()
                .any(|(_, e)| matches!(e, GroupEvent::VoteCast { proposal, .. } if *proposal == id))
        })
    })
}

/// Checks what every leave must achieve: the leaver saw its removal and kept nothing, the rest
/// applied it without voting on it, and a steward other than the leaver committed it.
fn left_cleanly(
    sim: &Sim,
    group: &GroupId,
    leaver: NodeId,
    remaining: &[NodeId],
) -> Result<(), String> {
    require(
        sim,
        removed_event(sim, leaver),
        "the leaver saw its removal",
    )?;
    let left = remnants(sim, leaver, group);
    require(
        sim,
        left.is_empty(),
        &format!("the leaver's storage keeps nothing of the group (found {left:?})"),
    )?;
    let member = sim.member_id(leaver);
    require(
        sim,
        decided_without_votes(sim, remaining, member),
        "the others applied the leave without voting on it",
    )?;
    let by = sim.events(remaining[0]).iter().find_map(|(_, e)| match e {
        GroupEvent::EpochAdvanced {
            removed, committer, ..
        } if removed.contains(&member) => Some(*committer),
        _ => None,
    });
    require(
        sim,
        by.is_some_and(|c| c != member),
        "a steward other than the leaver committed it",
    )
}

/// An ordinary member leaves.
pub fn ordinary_member_leaves(seed: u64) -> ScenarioResult {
    let g = group_id();
    let (mut sim, mut nodes) = multi_sim(seed, 8, quick_multi(), None)?;
    form(&mut sim, &nodes, &g)?;
    grow_until_line(&mut sim, &g, &mut nodes, 2)?;
    let line = stewards(&sim, &g, nodes[0]);
    let leaver = nodes
        .iter()
        .copied()
        .find(|n| !line.contains(n) && *n != nodes[0])
        .ok_or("no ordinary member")?;
    sim.leave(leaver, &g).map_err(|e| e.to_string())?;
    let remaining = without(&nodes, &[leaver]);
    let gone = run_until_gone(&mut sim, &g, &[leaver], &remaining, 30_000);
    require(&sim, gone, "the leaver was removed")?;
    left_cleanly(&sim, &g, leaver, &remaining)?;
    chat(&mut sim, &g, &remaining, "after the leave")?;
    let epoch = finish(&mut sim, &g, &remaining, 60_000)?;
    outcome(&sim, "ordinary_member_leaves", seed, epoch)
}

/// The epoch steward leaves: the next steward commits its removal at once.
pub fn epoch_steward_leaves(seed: u64) -> ScenarioResult {
    let g = group_id();
    let (mut sim, mut nodes) = multi_sim(seed, 8, quick_multi(), None)?;
    form(&mut sim, &nodes, &g)?;
    grow_until_line(&mut sim, &g, &mut nodes, 2)?;
    let line = stewards(&sim, &g, nodes[0]);
    let leaver = *line.first().ok_or("no steward")?;
    sim.leave(leaver, &g).map_err(|e| e.to_string())?;
    let remaining = without(&nodes, &[leaver]);
    let gone = run_until_gone(&mut sim, &g, &[leaver], &remaining, 30_000);
    require(&sim, gone, "the epoch steward was removed")?;
    left_cleanly(&sim, &g, leaver, &remaining)?;
    chat(&mut sim, &g, &remaining, "after the steward left")?;
    let epoch = finish(&mut sim, &g, &remaining, 60_000)?;
    outcome(&sim, "epoch_steward_leaves", seed, epoch)
}

/// The only steward of a one-steward list leaves: the group elects a new list and a steward of
/// it commits the removal.
pub fn last_steward_leaves(seed: u64) -> ScenarioResult {
    let g = group_id();
    let config = demls::policy::MultiPolicyConfig {
        sn_min: 1,
        sn_max: 1,
        ..quick_multi()
    };
    let (mut sim, nodes) = multi_sim(seed, 8, config, None)?;
    form(&mut sim, &nodes, &g)?;
    let first = nodes[0];
    let elected = sim.run_until(20_000, |s| !stewards(s, &g, first).is_empty());
    require(&sim, elected, "a steward was elected")?;
    let line = stewards(&sim, &g, nodes[0]);
    require(&sim, line.len() == 1, "a one-steward list")?;
    let leaver = line[0];
    sim.leave(leaver, &g).map_err(|e| e.to_string())?;
    let remaining = without(&nodes, &[leaver]);
    let gone = run_until_gone(&mut sim, &g, &[leaver], &remaining, 60_000);
    require(&sim, gone, "the last steward was removed")?;
    left_cleanly(&sim, &g, leaver, &remaining)?;
    chat(&mut sim, &g, &remaining, "after the last steward left")?;
    let epoch = finish(&mut sim, &g, &remaining, 60_000)?;
    outcome(&sim, "last_steward_leaves", seed, epoch)
}

/// Two members leave at once: one commit removes both.
pub fn two_members_leave_together(seed: u64) -> ScenarioResult {
    let g = group_id();
    let (mut sim, mut nodes) = multi_sim(seed, 9, quick_multi(), None)?;
    form(&mut sim, &nodes, &g)?;
    grow_until_line(&mut sim, &g, &mut nodes, 2)?;
    let line = stewards(&sim, &g, nodes[0]);
    let leavers: Vec<NodeId> = nodes
        .iter()
        .copied()
        .filter(|n| !line.contains(n))
        .take(2)
        .collect();
    require(&sim, leavers.len() == 2, "two ordinary members")?;
    for &l in &leavers {
        sim.leave(l, &g).map_err(|e| e.to_string())?;
    }
    let remaining = without(&nodes, &leavers);
    let gone = run_until_gone(&mut sim, &g, &leavers, &remaining, 30_000);
    require(&sim, gone, "both leavers were removed")?;
    for &l in &leavers {
        left_cleanly(&sim, &g, l, &remaining)?;
    }
    let ids: Vec<MemberId> = leavers.iter().map(|&l| sim.member_id(l)).collect();
    let together = sim.events(remaining[0]).iter().any(|(_, e)| {
        matches!(e, GroupEvent::EpochAdvanced { removed, .. }
            if ids.iter().all(|m| removed.contains(m)))
    });
    require(&sim, together, "one commit removed both")?;
    chat(&mut sim, &g, &remaining, "after two left")?;
    let epoch = finish(&mut sim, &g, &remaining, 60_000)?;
    outcome(&sim, "two_members_leave_together", seed, epoch)
}

/// A member asks to leave while cut off from everyone: nothing happens until the partition
/// heals; then its repeated request reaches a steward, which commits the removal.
pub fn leave_while_partitioned(seed: u64) -> ScenarioResult {
    let g = group_id();
    let (mut sim, mut nodes) = multi_sim(seed, 8, quick_multi(), None)?;
    form(&mut sim, &nodes, &g)?;
    grow_until_line(&mut sim, &g, &mut nodes, 2)?;
    let line = stewards(&sim, &g, nodes[0]);
    let leaver = nodes
        .iter()
        .copied()
        .find(|n| !line.contains(n))
        .ok_or("no ordinary member")?;
    let remaining = without(&nodes, &[leaver]);
    sim.partition(&[vec![leaver], remaining.clone()])
        .map_err(|e| e.to_string())?;
    sim.leave(leaver, &g).map_err(|e| e.to_string())?;
    sim.run_for(10_000);
    require(
        &sim,
        sim.group(leaver, &g).is_some()
            && sim
                .group(remaining[0], &g)
                .is_some_and(|s| s.members.contains(&sim.member_id(leaver))),
        "nothing happened while partitioned",
    )?;
    sim.heal();
    let gone = run_until_gone(&mut sim, &g, &[leaver], &remaining, 30_000);
    require(&sim, gone, "the leaver was removed after the heal")?;
    left_cleanly(&sim, &g, leaver, &remaining)?;
    chat(&mut sim, &g, &remaining, "after the partitioned leave")?;
    let epoch = finish(&mut sim, &g, &remaining, 60_000)?;
    outcome(&sim, "leave_while_partitioned", seed, epoch)
}

/// A member claims a leave for someone else: everyone refuses it and penalizes the forger, and
/// the forger is removed by an emergency proposal; the would-be victim stays.
pub fn forged_leave(seed: u64) -> ScenarioResult {
    let g = group_id();
    let (mut sim, nodes) = multi_sim(seed, 8, quick_multi(), None)?;
    form(&mut sim, &nodes, &g)?;
    let (forger, victim) = (nodes[3], nodes[4]);
    let victim_id = sim.member_id(victim);
    let adversary = sim.adversary(forger, &g);
    adversary.jump(200);
    let forged = adversary.leave_for(victim_id, sim.now());
    sim.publish_as(forger, demls::engine::GroupTopics::of(&g).group, forged);
    let forger_id = sim.member_id(forger);
    let honest = without(&nodes, &[forger]);
    let removed = sim.run_until(60_000, |s| {
        honest.iter().all(|&n| {
            s.group(n, &g)
                .is_some_and(|x| !x.members.contains(&forger_id))
        })
    });
    require(&sim, removed, "the forger was removed")?;
    let refused = honest.iter().filter(|&&n| n != victim).all(|&n| {
        sim.events(n).iter().any(|(_, e)| {
            matches!(e, GroupEvent::Rejected { reason: RejectReason::InvalidProposal, detail, .. }
                if detail.contains("not its own"))
        })
    });
    require(
        &sim,
        refused,
        "every honest member refused the forged leave",
    )?;
    require(
        &sim,
        sim.group(victim, &g).is_some(),
        "the victim is still a member",
    )?;
    chat(&mut sim, &g, &honest, "after the forged leave")?;
    let epoch = finish(&mut sim, &g, &honest, 60_000)?;
    outcome(&sim, "forged_leave", seed, epoch)
}
