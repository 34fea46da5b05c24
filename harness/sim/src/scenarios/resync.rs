//! Catching up (F3): members that missed votes, commits or whole epochs rejoin the group's
//! state without trusting anyone's word for a decision.

use demls::engine::{EngineParams, GroupEvent, ProposalAction};

use super::{
    ScenarioResult, Verdict, chat, finish, form, group_id, multi_sim, quick_multi, require, without,
};
use crate::{Link, NodeId, Sim, SimConfig};

fn epoch_of(sim: &Sim, group: &demls::GroupId, node: NodeId) -> u64 {
    sim.group(node, group).map_or(0, |s| s.epoch)
}

/// A member hears nothing while a removal is proposed, voted, decided, committed — and expires.
/// When it hears again, it learns of the commit from others' traffic, fetches it, finds that it
/// names a proposal it never saw, and accepts it only after a certificate (the proposal and a
/// quorum of signed votes) proves the outcome. It accuses nobody on the way.
pub fn missed_vote_catch_up(seed: u64) -> ScenarioResult {
    let g = group_id();
    let (mut sim, nodes) = multi_sim(seed, 8, quick_multi(), None)?;
    form(&mut sim, &nodes, &g)?;
    let absent = nodes[2];
    let target = nodes[5];
    let proposer = nodes[1];
    let before = epoch_of(&sim, &g, proposer);
    sim.deafen(absent, true).map_err(|e| e.to_string())?;
    sim.propose_remove(proposer, &g, target)
        .map_err(|e| e.to_string())?;
    let present: Vec<NodeId> = nodes
        .iter()
        .copied()
        .filter(|n| *n != absent && *n != target)
        .collect();
    let moved = sim.run_until(30_000, |s| {
        present.iter().all(|&n| epoch_of(s, &g, n) > before)
    });
    require(&sim, moved, "the others committed the removal")?;
    // Long enough for the proposal to expire everywhere.
    sim.run_for(sim_vote_timeout_ms() + 2_000);
    require(
        &sim,
        epoch_of(&sim, &g, absent) == before,
        "the absent member missed it all",
    )?;
    sim.deafen(absent, false).map_err(|e| e.to_string())?;
    let remaining: Vec<NodeId> = nodes.iter().copied().filter(|n| *n != target).collect();
    chat(&mut sim, &g, &remaining, "after the absence")?;
    let epoch = finish(&mut sim, &g, &remaining, 60_000)?;
    // It saw no vote at all: only a certificate can have decided the removal there.
    let target_member = sim.member_id(target);
    let proven = sim.events(absent).iter().any(|(_, e)| {
        matches!(e, GroupEvent::ProposalDecided { action: ProposalAction::Remove { member }, .. } if *member == target_member)
    });
    require(&sim, proven, "a certificate proved the outcome")?;
    let accused = sim.events(absent).iter().any(|(_, e)| {
        matches!(e, GroupEvent::ProposalOpened { owner, action: ProposalAction::Emergency { .. }, .. } if *owner == sim.member_id(absent))
    });
    require(&sim, !accused, "the absent member accused nobody")?;
    Ok(Verdict {
        scenario: "missed_vote_catch_up",
        seed,
        epoch,
        elapsed_ms: sim.elapsed_ms(),
    })
}

fn sim_vote_timeout_ms() -> u64 {
    super::quick_params().vote_timeout_ms
}

/// A member is offline (crashed) while the group moves on by `epochs` commits — fresh members
/// joining and leaving in turn, each epoch with a chat message. When it restarts it hears later
/// traffic, knows it is behind, fetches the commits it missed (with the certificates that prove
/// their proposals and the messages of each epoch) from any member that retains them, applies
/// them in order and ends up in the group's epoch having received every message.
///
/// The group runs the single-steward policy: under the multi-steward policy a member absent
/// this long may be elected steward meanwhile and then, rightly, be removed for inactivity.
pub fn offline_catch_up(seed: u64, epochs: u64) -> ScenarioResult {
    offline(seed, epochs, super::quick_params(), "offline_catch_up")
}

/// Like [`offline_catch_up`], but every member retains only 6 commits and the member misses
/// 15 epochs: nobody can serve its catch-up. After a few unanswered requests it rejoins — a
/// fresh KeyPackage of its own identity, re-added by a steward without a vote — and the others
/// send again what they sent after its last epoch, so it still receives every message.
pub fn beyond_history_rejoin(seed: u64) -> ScenarioResult {
    let params = EngineParams {
        retained_commits: 6,
        ..super::quick_params()
    };
    offline(seed, 15, params, "beyond_history_rejoin")
}

fn offline(seed: u64, epochs: u64, params: EngineParams, scenario: &'static str) -> ScenarioResult {
    let g = group_id();
    let mut config = SimConfig::new(seed).with_link(Link::uniform(5, 25));
    let retained = params.retained_commits as u64;
    config.params = params;
    let mut sim = Sim::new(config).map_err(|e| e.to_string())?;
    let nodes = sim.add_nodes(6).map_err(|e| e.to_string())?;
    form(&mut sim, &nodes, &g)?;
    let away = nodes[nodes.len() - 1];
    let start_epoch = epoch_of(&sim, &g, nodes[0]);
    sim.crash(away).map_err(|e| e.to_string())?;
    let mut present: Vec<NodeId> = without(&nodes, &[away]);
    let mut guest: Option<NodeId> = None;
    for step in 0..epochs {
        let before = epoch_of(&sim, &g, present[0]);
        match guest.take() {
            Some(leaver) => {
                sim.leave(leaver, &g).map_err(|e| e.to_string())?;
                present.retain(|&n| n != leaver);
            }
            None => {
                let joiner = sim.add_node().map_err(|e| e.to_string())?;
                sim.join_group(joiner, &g).map_err(|e| e.to_string())?;
                present.push(joiner);
                guest = Some(joiner);
            }
        }
        let moved = sim.run_until(60_000, |s| {
            present.iter().all(|&n| epoch_of(s, &g, n) > before)
        });
        require(&sim, moved, &format!("epoch step {step} was committed"))?;
        let sender = present[(step as usize) % present.len()];
        chat(&mut sim, &g, &[sender], &format!("epoch {}", before + 1))?;
    }
    require(
        &sim,
        epoch_of(&sim, &g, present[0]) >= start_epoch + epochs,
        "the group moved on by the requested number of epochs",
    )?;
    sim.restart(away).map_err(|e| e.to_string())?;
    let mut honest = present.clone();
    honest.push(away);
    let epoch = finish(&mut sim, &g, &honest, 120_000)?;
    let rejoined = sim
        .events(away)
        .iter()
        .filter(|(_, e)| matches!(e, GroupEvent::Joined { .. }))
        .count()
        > 1;
    require(
        &sim,
        rejoined == (epochs > retained),
        "the member rejoined exactly when its gap exceeded the retained history",
    )?;
    Ok(Verdict {
        scenario,
        seed,
        epoch,
        elapsed_ms: sim.elapsed_ms(),
    })
}

/// The steward crashes the moment it has created a commit (its copies may or may not have left
/// it) and restarts a few seconds later. Whether the others applied that commit, a backup's, or
/// none yet, everyone — the restarted steward included — ends in one epoch with one roster and
/// every message.
pub fn crash_during_commit(seed: u64) -> ScenarioResult {
    let g = group_id();
    let (mut sim, nodes) = multi_sim(seed, 8, quick_multi(), None)?;
    form(&mut sim, &nodes, &g)?;
    sim.run_for(2_000);
    let target = nodes[6];
    let commits_by = |s: &Sim, n: NodeId| {
        s.events(n)
            .iter()
            .filter(|(_, e)| matches!(e, GroupEvent::CommitCreated { .. }))
            .count()
    };
    let before: Vec<usize> = nodes.iter().map(|&n| commits_by(&sim, n)).collect();
    sim.propose_remove(nodes[1], &g, target)
        .map_err(|e| e.to_string())?;
    let created = |s: &Sim| {
        nodes
            .iter()
            .zip(&before)
            .find(|(n, b)| commits_by(s, **n) > **b)
            .map(|(n, _)| *n)
    };
    let found = sim.run_until(30_000, |s| created(s).is_some());
    require(&sim, found, "a steward created the commit")?;
    let steward = created(&sim).ok_or("no committer")?;
    sim.crash(steward).map_err(|e| e.to_string())?;
    chat(
        &mut sim,
        &g,
        &without(&nodes, &[steward, target]),
        "while the steward is down",
    )?;
    sim.run_for(5_000);
    sim.restart(steward).map_err(|e| e.to_string())?;
    let honest = without(&nodes, &[target]);
    chat(&mut sim, &g, &honest, "after the restart")?;
    let epoch = finish(&mut sim, &g, &honest, 60_000)?;
    Ok(Verdict {
        scenario: "crash_during_commit",
        seed,
        epoch,
        elapsed_ms: sim.elapsed_ms(),
    })
}
