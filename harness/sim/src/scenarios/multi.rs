//! Multi-steward scenarios (F1): silent, malicious and concurrent stewards, a silent steward
//! list, deadlock and recovery, the partial freeze, and a lossy network.

use demls::engine::{
    GroupEvent, GroupTopics, ProposalAction, ProposalStatus, RejectReason, Violation,
};
use demls::{GroupId, Submission, Verdict as Decision};

use super::{
    LazySwitch, ScenarioResult, Verdict, chat, committers, eligible_when_decided, finish, form,
    group_id, grow_until_line, multi_sim, quick_multi, removal_committed, require, run_until_gone,
    stewards, voted_on, without,
};
use crate::{Link, NodeId, Sim};

fn epoch_of(sim: &Sim, group: &GroupId, node: NodeId) -> u64 {
    sim.group(node, group).map_or(0, |s| s.epoch)
}

fn pick(nodes: &[NodeId], avoid: &[NodeId]) -> Result<NodeId, String> {
    nodes
        .iter()
        .copied()
        .find(|n| !avoid.contains(n))
        .ok_or_else(|| "not enough nodes".to_string())
}

fn outcome(sim: &Sim, scenario: &'static str, seed: u64, epoch: u64) -> ScenarioResult {
    Ok(Verdict {
        scenario,
        seed,
        epoch,
        elapsed_ms: sim.elapsed_ms(),
    })
}

/// The epoch steward goes silent (crashes); the backup commits in its place, and the silent
/// steward catches up when it comes back.
pub fn silent_epoch_steward(seed: u64) -> ScenarioResult {
    let g = group_id();
    let (mut sim, mut nodes) = multi_sim(seed, 8, quick_multi(), None)?;
    form(&mut sim, &nodes, &g)?;
    grow_until_line(&mut sim, &g, &mut nodes, 2)?;
    let line = stewards(&sim, &g, nodes[0]);
    let (silent, backup) = (line[0], line[1]);
    let target = pick(&nodes, &[silent, backup])?;
    let proposer = pick(&nodes, &[silent, backup, target])?;
    let before = epoch_of(&sim, &g, proposer);
    sim.crash(silent).map_err(|e| e.to_string())?;
    sim.propose_remove(proposer, &g, target)
        .map_err(|e| e.to_string())?;
    let honest = without(&nodes, &[silent, target]);
    let moved = sim.run_until(30_000, |s| {
        honest.iter().all(|&n| epoch_of(s, &g, n) > before)
    });
    require(&sim, moved, "the group moved on without its epoch steward")?;
    let committer = committers(&sim, proposer)
        .into_iter()
        .find(|(e, _)| *e == before + 1)
        .map(|(_, c)| c);
    require(
        &sim,
        committer == Some(sim.member_id(backup)),
        "the backup steward committed",
    )?;
    sim.restart(silent).map_err(|e| e.to_string())?;
    let remaining = without(&nodes, &[target]);
    chat(&mut sim, &g, &remaining, "after the backup's commit")?;
    let epoch = finish(&mut sim, &g, &remaining, 60_000)?;
    outcome(&sim, "silent_epoch_steward", seed, epoch)
}

/// A steward publishes a commit that removes a member and names a proposal nobody voted on:
/// every member rejects it and penalizes the steward, which is then removed by an emergency
/// criteria proposal committed by another steward.
pub fn malicious_steward(seed: u64) -> ScenarioResult {
    let g = group_id();
    let (mut sim, mut nodes) = multi_sim(seed, 8, quick_multi(), None)?;
    form(&mut sim, &nodes, &g)?;
    grow_until_line(&mut sim, &g, &mut nodes, 1)?;
    let bad = stewards(&sim, &g, nodes[0])[0];
    let victim = pick(&nodes, &[bad])?;
    let roster = sim.group(victim, &g).map(|s| s.members).unwrap_or_default();
    let leaf = roster
        .iter()
        .position(|m| *m == sim.member_id(victim))
        .ok_or("victim not in roster")? as u32;
    let forged = sim.adversary(bad, &g).commit(vec![leaf], vec![[0x5a; 32]]);
    sim.publish_as(bad, GroupTopics::of(&g).group, forged);
    let honest = without(&nodes, &[bad]);
    let bad_member = sim.member_id(bad);
    let removed = sim.run_until(60_000, |s| {
        honest.iter().all(|&n| {
            s.group(n, &g)
                .is_some_and(|x| !x.members.contains(&bad_member))
        })
    });
    require(&sim, removed, "the malicious steward was removed")?;
    let rejected_by_all = honest.iter().all(|&n| {
        sim.events(n).iter().any(|(_, e)| {
            matches!(
                e,
                GroupEvent::Rejected {
                    reason: RejectReason::CommitUnapprovedProposal | RejectReason::CommitMismatch,
                    ..
                }
            )
        })
    });
    require(
        &sim,
        rejected_by_all,
        "every honest member rejected the forged commit",
    )?;
    let by_emergency = sim.events(honest[0]).iter().any(|(_, e)| {
        matches!(e, GroupEvent::ProposalDecided {
            action: ProposalAction::Emergency { target: Some(t), .. },
            outcome: Decision::Yes,
            ..
        } if *t == bad_member)
    });
    require(
        &sim,
        by_emergency,
        "an emergency criteria proposal removed it",
    )?;
    let committer_of_removal = committers(&sim, honest[0]).last().map(|(_, c)| *c);
    require(
        &sim,
        committer_of_removal != Some(bad_member),
        "another steward committed the removal",
    )?;
    chat(&mut sim, &g, &honest, "after the removal")?;
    let epoch = finish(&mut sim, &g, &honest, 60_000)?;
    outcome(&sim, "malicious_steward", seed, epoch)
}

/// Once a removal is decided, everything reaches the backup late, so both stewards commit the
/// same epoch: every
/// member applies the same one (the epoch steward's: same proposals, better rank), and the
/// honest backup is not penalized.
pub fn concurrent_stewards(seed: u64) -> ScenarioResult {
    let g = group_id();
    let config = demls::policy::MultiPolicyConfig {
        commit_timeout_ms: 100,
        selection_window_ms: 500,
        ..quick_multi()
    };
    let (mut sim, mut nodes) = multi_sim(seed, 8, config, None)?;
    form(&mut sim, &nodes, &g)?;
    grow_until_line(&mut sim, &g, &mut nodes, 2)?;
    let line = stewards(&sim, &g, nodes[0]);
    let (first, second) = (line[0], line[1]);
    let target = pick(&nodes, &[first, second])?;
    let proposer = pick(&nodes, &[first, second, target])?;
    let before = epoch_of(&sim, &g, proposer);
    sim.propose_remove(proposer, &g, target)
        .map_err(|e| e.to_string())?;
    // Once the backup has seen the vote end, everything reaches it late (the epoch steward's
    // commit and every echo of it), so its turn comes before it sees that commit.
    let decided = |s: &Sim| {
        s.group(second, &g).is_some_and(|x| {
            x.proposals.iter().any(|(_, a, st)| {
                matches!(a, ProposalAction::Remove { .. })
                    && *st == ProposalStatus::Decided(Decision::Yes)
            })
        })
    };
    let seen = sim.run_until(30_000, decided);
    require(&sim, seen, "the backup saw the removal decided")?;
    for &n in nodes.iter().filter(|n| **n != second) {
        sim.set_link(n, second, Link::fixed(350))
            .map_err(|e| e.to_string())?;
    }
    let remaining = without(&nodes, &[target]);
    let moved = sim.run_until(30_000, |s| {
        remaining.iter().all(|&n| epoch_of(s, &g, n) > before)
    });
    require(&sim, moved, "the epoch was committed")?;
    let committed = |n: NodeId| {
        sim.events(n).iter().any(
            |(_, e)| matches!(e, GroupEvent::CommitCreated { epoch, .. } if *epoch == before + 1),
        )
    };
    require(
        &sim,
        committed(first) && committed(second),
        "both stewards committed the same epoch",
    )?;
    let applied: Vec<_> = remaining
        .iter()
        .filter_map(|&n| {
            committers(&sim, n)
                .into_iter()
                .find(|(e, _)| *e == before + 1)
        })
        .map(|(_, c)| c)
        .collect();
    require(
        &sim,
        applied.len() == remaining.len() && applied.iter().all(|c| *c == sim.member_id(first)),
        "every member applied the epoch steward's commit",
    )?;
    let penalized = remaining.iter().any(|&n| {
        sim.events(n).iter().any(|(_, e)| {
            matches!(
                e,
                GroupEvent::ProposalOpened {
                    action: ProposalAction::Emergency {
                        violation: Violation::ConflictingCommit,
                        ..
                    },
                    ..
                }
            )
        })
    });
    require(&sim, !penalized, "the honest backup was not penalized")?;
    for &n in nodes.iter().filter(|n| **n != second) {
        sim.clear_link(n, second).map_err(|e| e.to_string())?;
    }
    chat(&mut sim, &g, &remaining, "after the race")?;
    let epoch = finish(&mut sim, &g, &remaining, 60_000)?;
    outcome(&sim, "concurrent_stewards", seed, epoch)
}

/// Every steward still in line goes silent: members re-elect in the same epoch and a steward
/// of the new list commits; the silent ones catch up when they return.
pub fn silent_steward_list(seed: u64) -> ScenarioResult {
    let g = group_id();
    let (mut sim, mut nodes) = multi_sim(seed, 12, quick_multi(), None)?;
    form(&mut sim, &nodes, &g)?;
    grow_until_line(&mut sim, &g, &mut nodes, 2)?;
    let line = stewards(&sim, &g, nodes[0]);
    let target = pick(&nodes, &line)?;
    let proposer = pick(&nodes, &[line.as_slice(), &[target]].concat())?;
    let before = epoch_of(&sim, &g, proposer);
    for &s in &line {
        sim.crash(s).map_err(|e| e.to_string())?;
    }
    sim.propose_remove(proposer, &g, target)
        .map_err(|e| e.to_string())?;
    let honest = without(&nodes, &[line.as_slice(), &[target]].concat());
    let moved = sim.run_until(90_000, |s| {
        honest.iter().all(|&n| epoch_of(s, &g, n) > before)
    });
    require(
        &sim,
        moved,
        "the group committed despite a silent steward list",
    )?;
    let reelected = sim.events(proposer).iter().any(|(_, e)| {
        matches!(e, GroupEvent::ProposalDecided {
            action: ProposalAction::Election { retry_round, .. },
            outcome: Decision::Yes,
            ..
        } if *retry_round >= 1)
    });
    require(&sim, reelected, "a re-election (retry round >= 1) was held")?;
    let committer = committers(&sim, proposer)
        .into_iter()
        .find(|(e, _)| *e == before + 1)
        .and_then(|(_, c)| sim.node_of(c));
    require(
        &sim,
        committer.is_some_and(|c| !line.contains(&c)),
        "a newly elected steward committed",
    )?;
    for &s in &line {
        sim.restart(s).map_err(|e| e.to_string())?;
    }
    let remaining = without(&nodes, &[target]);
    chat(&mut sim, &g, &remaining, "after the re-election")?;
    let epoch = finish(&mut sim, &g, &remaining, 90_000)?;
    outcome(&sim, "silent_steward_list", seed, epoch)
}

/// Every steward refuses to commit: bounded re-elections fail, a deadlock emergency proposal
/// puts the group in recovery mode, a member's commit ends it, and normal operation resumes.
pub fn deadlock_recovery(seed: u64) -> ScenarioResult {
    let g = group_id();
    let lazy = LazySwitch::new(false);
    let (mut sim, nodes) = multi_sim(seed, 8, quick_multi(), Some(&lazy))?;
    form(&mut sim, &nodes, &g)?;
    lazy.set(true);
    let target = nodes[nodes.len() - 1];
    let proposer = nodes[1];
    let before = epoch_of(&sim, &g, proposer);
    sim.propose_remove(proposer, &g, target)
        .map_err(|e| e.to_string())?;
    let deadlock_decided = |s: &Sim| {
        s.events(proposer).iter().any(|(_, e)| {
            matches!(
                e,
                GroupEvent::ProposalDecided {
                    action: ProposalAction::Emergency {
                        violation: Violation::Deadlock,
                        ..
                    },
                    outcome: Decision::Yes,
                    ..
                }
            )
        })
    };
    let deadlocked = sim.run_until(120_000, deadlock_decided);
    require(
        &sim,
        deadlocked,
        "the deadlock emergency proposal was accepted",
    )?;
    require(
        &sim,
        epoch_of(&sim, &g, proposer) == before,
        "nobody committed while stewards refused",
    )?;
    let retries = sim
        .events(proposer)
        .iter()
        .filter(|(_, e)| matches!(e, GroupEvent::ProposalOpened { action: ProposalAction::Election { retry_round, .. }, .. } if *retry_round >= 1))
        .count();
    require(&sim, retries >= 1, "re-elections were tried first")?;
    lazy.set(false);
    let remaining = without(&nodes, &[target]);
    let recovered = sim.run_until(60_000, |s| {
        remaining.iter().all(|&n| epoch_of(s, &g, n) > before)
    });
    require(&sim, recovered, "a recovery commit got through")?;
    // Normal operation: another removal is voted and committed by an elected steward.
    let second = nodes[nodes.len() - 2];
    let after = epoch_of(&sim, &g, proposer);
    sim.propose_remove(proposer, &g, second)
        .map_err(|e| e.to_string())?;
    let remaining = without(&nodes, &[target, second]);
    let normal = sim.run_until(60_000, |s| {
        remaining.iter().all(|&n| epoch_of(s, &g, n) > after)
    });
    require(&sim, normal, "normal operation resumed after recovery")?;
    chat(&mut sim, &g, &remaining, "after recovery")?;
    let epoch = finish(&mut sim, &g, &remaining, 60_000)?;
    outcome(&sim, "deadlock_recovery", seed, epoch)
}

/// While an emergency criteria proposal is open, lower-priority governance waits: a commit
/// proposal requested then is deferred and opened once the emergency proposal is decided, and
/// members hold back their votes on one that arrives meanwhile (from a member that did not
/// know of the emergency) until it is decided.
pub fn emergency_holds_back_commit_proposal(seed: u64) -> ScenarioResult {
    let g = group_id();
    let (mut sim, mut nodes) = multi_sim(seed, 10, quick_multi(), None)?;
    form(&mut sim, &nodes, &g)?;
    grow_until_line(&mut sim, &g, &mut nodes, 1)?;
    let bad = stewards(&sim, &g, nodes[0])[0];
    let late = pick(&nodes, &[bad])?;
    let target = pick(&nodes, &[bad, late])?;
    sim.set_latency(150, 250).map_err(|e| e.to_string())?;
    // `late` hears nothing for a while: it will not know about the emergency proposal.
    sim.deafen(late, true).map_err(|e| e.to_string())?;
    let forged = sim.adversary(bad, &g).commit(vec![], vec![[0x5a; 32]]);
    sim.publish_as(bad, GroupTopics::of(&g).group, forged);
    let emergency_open = |s: &Sim, n: NodeId| {
        s.group(n, &g).is_some_and(|x| {
            x.proposals.iter().any(|(_, a, st)| {
                matches!(a, ProposalAction::Emergency { .. }) && *st == ProposalStatus::Open
            })
        })
    };
    let frozen_node = pick(&nodes, &[bad, late, target])?;
    let opened = sim.run_until(30_000, |s| emergency_open(s, frozen_node));
    require(&sim, opened, "an emergency criteria proposal was opened")?;
    let second = pick(&nodes, &[bad, late, target, frozen_node])?;
    tracing::debug!(
        ?bad,
        ?late,
        ?target,
        ?second,
        ?frozen_node,
        "emergency scenario roles"
    );
    let deferred = sim
        .propose_remove(frozen_node, &g, second)
        .map_err(|e| e.to_string())?;
    require(
        &sim,
        deferred == Submission::Deferred,
        "a commit proposal requested while it is open waits",
    )?;
    let held = sim
        .propose_remove(late, &g, target)
        .map_err(|e| e.to_string())?
        .proposal()
        .ok_or("the member that knows of no emergency opened its proposal at once")?;
    let bad_member = sim.member_id(bad);
    let done = sim.run_until(60_000, |s| {
        s.group(frozen_node, &g)
            .is_some_and(|x| !x.members.contains(&bad_member))
    });
    require(
        &sim,
        done,
        "the emergency proposal was decided and committed",
    )?;
    let at = |pred: &dyn Fn(&GroupEvent) -> bool| {
        sim.events(frozen_node)
            .iter()
            .find(|(_, e)| pred(e))
            .map(|(t, _)| *t)
    };
    let emergency_decided = at(&|e| {
        matches!(
            e,
            GroupEvent::ProposalDecided {
                action: ProposalAction::Emergency { .. },
                ..
            }
        )
    });
    let vote_on_held =
        at(&|e| matches!(e, GroupEvent::VoteCast { proposal, .. } if *proposal == held));
    require(
        &sim,
        // (no vote at all is fine: the others may decide it while this member holds back)
        emergency_decided.is_some_and(|d| vote_on_held.is_none_or(|v| v >= d)),
        "the vote on the commit proposal waited for the emergency decision",
    )?;
    let second_member = sim.member_id(second);
    let me = sim.member_id(frozen_node);
    let deferred_opened = at(&|e| {
        matches!(e, GroupEvent::ProposalOpened { owner, action: ProposalAction::Remove { member }, .. }
            if *owner == me && *member == second_member)
    });
    require(
        &sim,
        matches!((emergency_decided, deferred_opened), (Some(d), Some(o)) if o >= d),
        "the deferred request was opened once the emergency proposal was decided",
    )?;
    // `late` hears again: if the emergency commit ended the epoch before its proposal was
    // decided, that proposal is obsolete and `late` re-requests it once it learns the commit.
    sim.deafen(late, false).map_err(|e| e.to_string())?;
    let target_member = sim.member_id(target);
    let both_removed = sim.run_until(60_000, |s| {
        s.group(frozen_node, &g).is_some_and(|x| {
            !x.members.contains(&second_member) && !x.members.contains(&target_member)
        })
    });
    require(&sim, both_removed, "both commit proposals were committed")?;
    sim.set_latency(5, 25).map_err(|e| e.to_string())?;
    let honest = without(&nodes, &[bad, target, second]);
    chat(&mut sim, &g, &honest, "after the freeze")?;
    let epoch = finish(&mut sim, &g, &honest, 60_000)?;
    outcome(&sim, "emergency_holds_back_commit_proposal", seed, epoch)
}

/// With `loss` of every copy dropped, votes are re-sent, commits and messages repaired: the
/// group still changes membership and every message reaches every member.
pub fn lossy_network(seed: u64, loss: f64) -> ScenarioResult {
    let g = group_id();
    let (mut sim, mut nodes) = multi_sim(seed, 10, quick_multi(), None)?;
    form(&mut sim, &nodes, &g)?;
    sim.set_loss(loss).map_err(|e| e.to_string())?;
    chat(&mut sim, &g, &nodes, "lossy 1")?;
    let target = nodes[3];
    sim.propose_remove(nodes[1], &g, target)
        .map_err(|e| e.to_string())?;
    let joiner = sim.add_node().map_err(|e| e.to_string())?;
    sim.join_group(joiner, &g).map_err(|e| e.to_string())?;
    nodes.push(joiner);
    let remaining = without(&nodes, &[target]);
    let changed = sim.run_until(180_000, |s| s.converged_exactly(&g, &remaining));
    require(&sim, changed, "membership changed under loss")?;
    chat(&mut sim, &g, &remaining, "lossy 2")?;
    let epoch = finish(&mut sim, &g, &remaining, 120_000)?;
    outcome(&sim, "lossy_network", seed, epoch)
}

/// The "small consensus" model: only the elected stewards vote on adds and removals, while
/// every member still votes on steward elections. A removal is decided by the stewards alone,
/// members outside the list cast no vote on it, and the group converges as usual.
pub fn small_consensus(seed: u64) -> ScenarioResult {
    let g = group_id();
    let config = demls::policy::MultiPolicyConfig {
        consensus_model: demls::policy::multi::ConsensusModel::Small,
        ..quick_multi()
    };
    let (mut sim, mut nodes) = multi_sim(seed, 10, config, None)?;
    form(&mut sim, &nodes, &g)?;
    grow_until_line(&mut sim, &g, &mut nodes, 2)?;
    let line = stewards(&sim, &g, nodes[0]);
    let proposer = line[0];
    let target = pick(&nodes, &line)?;
    let observer = pick(&nodes, &[target])?;
    let members = sim.group(observer, &g).map_or(0, |s| s.members.len()) as u32;
    let id = removal_committed(
        &mut sim,
        &g,
        &nodes,
        (proposer, target, observer),
        "a steward's removal request",
    )?;
    let remaining = without(&nodes, &[target]);
    let decided = eligible_when_decided(&sim, observer, id);
    require(
        &sim,
        decided.is_some_and(|eligible| eligible < members && eligible as usize <= 4),
        "only the stewards were eligible to vote on the removal",
    )?;
    let voters = voted_on(&sim, &nodes, id);
    let voted = voters.len() as u32;
    require(
        &sim,
        decided.is_some_and(|eligible| voted <= eligible) && voted + 1 < members,
        "members outside the steward list cast no vote on it",
    )?;
    let everyone_elects = sim.events(observer).iter().any(|(_, e)| {
        matches!(e, GroupEvent::ProposalDecided {
            action: ProposalAction::Election { .. },
            eligible,
            ..
        } if *eligible >= members - 1)
    });
    require(
        &sim,
        everyone_elects,
        "every member was eligible in the elections",
    )?;
    // A member that is no voter (it cast no vote on the removal) leaves: a leave needs no
    // vote, so the small model must not refuse it for want of being a voter.
    let leaver = pick(&remaining, &[voters, line].concat())?;
    sim.leave(leaver, &g).map_err(|e| e.to_string())?;
    let stayed = without(&remaining, &[leaver]);
    let left = run_until_gone(&mut sim, &g, &[leaver], &stayed, 30_000);
    require(&sim, left, "a member outside the steward list left")?;
    chat(&mut sim, &g, &stayed, "small consensus")?;
    let epoch = finish(&mut sim, &g, &stayed, 60_000)?;
    outcome(&sim, "small_consensus", seed, epoch)
}
