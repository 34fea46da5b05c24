//! Catching up (F3): members that missed votes, commits or whole epochs rejoin the group's
//! state without trusting anyone's word for a decision.

use demls::engine::{Event, ProposalAction};

use super::{
    Outcome, ScenarioResult, chat, finish, form, group_id, multi_sim, quick_multi, require,
};
use crate::{MessageKind, NodeId, Sim};

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
    let certificates_before = sim.stats().kind(MessageKind::Certificate).publications;
    sim.deafen(absent, false).map_err(|e| e.to_string())?;
    let remaining: Vec<NodeId> = nodes.iter().copied().filter(|n| *n != target).collect();
    chat(&mut sim, &g, &remaining, "after the absence")?;
    let epoch = finish(&mut sim, &g, &remaining, 60_000)?;
    let certificates =
        sim.stats().kind(MessageKind::Certificate).publications - certificates_before;
    require(&sim, certificates >= 1, "a certificate proved the outcome")?;
    let accused = sim.events(absent).iter().any(|(_, e)| {
        matches!(e, Event::ProposalOpened { owner, action: ProposalAction::Emergency { .. }, .. } if *owner == sim.member_id(absent))
    });
    require(&sim, !accused, "the absent member accused nobody")?;
    Ok(Outcome {
        scenario: "missed_vote_catch_up",
        seed,
        epoch,
        elapsed_ms: sim.elapsed_ms(),
    })
}

fn sim_vote_timeout_ms() -> u64 {
    super::quick_params().vote_timeout_ms
}
