//! Partitions block delivery between sets, healing restores it, and message accounting
//! reports what the partition cost.

mod common;

use common::{check, formed, gid, quiet_config};
use demls_sim::scenarios;
use demls_sim::{Fate, Link, NodeId};

#[test]
fn a_partition_blocks_delivery_between_sets_and_heal_restores_it() {
    let g = gid("split");
    let mut cfg = quiet_config(3, Link::uniform(10, 50));
    cfg.link_stats = true;
    let (mut sim, nodes) = formed(cfg, 6, &g);
    let (a, b): (Vec<NodeId>, Vec<NodeId>) = (nodes[..3].to_vec(), nodes[3..].to_vec());

    // Messages in flight when the partition starts are cut too.
    sim.send(nodes[0], &g, b"racing the partition")
        .expect("send");
    sim.run_for(5);
    let before = sim.stats().clone();
    sim.partition(std::slice::from_ref(&a)).expect("partition");
    assert!(sim.is_partitioned());
    assert!(!sim.connected(a[0], b[0]) && sim.connected(b[0], b[1]));
    let mut sent = Vec::new();
    for &n in &nodes {
        sent.push((n, sim.send(n, &g, b"during the partition").expect("send")));
    }
    sim.run_for(2_000);
    let during = sim.stats().clone();
    assert_eq!(
        during.delivered_between(&a, &b),
        before.delivered_between(&a, &b),
        "nothing crossed from A to B"
    );
    assert_eq!(
        during.delivered_between(&b, &a),
        before.delivered_between(&b, &a),
        "nothing crossed from B to A"
    );
    assert!(during.delivered_between(&a, &a) > before.delivered_between(&a, &a));
    assert!(during.delivered_between(&b, &b) > before.delivered_between(&b, &b));
    // Each of the six messages was blocked towards the three nodes of the other set, and the
    // racing message towards some of them on arrival.
    let blocked = during.total.of(Fate::Partitioned) - before.total.of(Fate::Partitioned);
    assert!(blocked >= 21, "blocked {blocked}");

    // Accounting: every message of the partition misses exactly the other set.
    let missing = sim.undelivered(&g, &nodes);
    for (sender, id) in &sent {
        let entry = missing
            .iter()
            .find(|u| &u.message_id == id)
            .unwrap_or_else(|| panic!("the message of {sender} is reported"));
        let other = if a.contains(sender) { &b } else { &a };
        assert_eq!(&entry.missing, other, "{}", sim.replay_hint());
        assert_eq!(entry.sender, *sender);
    }

    sim.heal();
    assert!(!sim.is_partitioned());
    let healed = sim.stats().clone();
    let mut after = Vec::new();
    for &n in &nodes {
        after.push(sim.send(n, &g, b"after healing").expect("send"));
    }
    sim.run_for(2_000);
    let end = sim.stats();
    assert_eq!(
        end.delivered_between(&a, &b) - healed.delivered_between(&a, &b),
        9
    );
    assert_eq!(
        end.delivered_between(&b, &a) - healed.delivered_between(&b, &a),
        9
    );
    assert!(
        sim.undelivered(&g, &nodes)
            .iter()
            .all(|u| !after.contains(&u.message_id)),
        "after healing everything arrives"
    );
    sim.check_converged(&g, &nodes).expect("no epoch changed");
}

#[test]
fn a_15_15_split_where_both_halves_commit_heals_to_one_branch() {
    check(scenarios::split_and_heal(
        1,
        scenarios::Split::new(30, 15, true),
    ));
}

#[test]
fn a_10_20_split_with_every_steward_on_the_larger_side_heals_by_catch_up() {
    check(scenarios::split_and_heal(
        2,
        scenarios::Split::new(30, 10, false),
    ));
}

#[test]
fn a_10_20_split_where_both_halves_commit_heals_to_one_branch() {
    check(scenarios::split_and_heal(
        3,
        scenarios::Split::new(30, 10, true),
    ));
}

#[test]
fn a_member_that_joined_only_the_losing_branch_follows_its_verdict_and_joins_the_survivor() {
    check(scenarios::split_and_heal(
        1,
        scenarios::Split::new(30, 8, true).with_joiner(),
    ));
}

/// Partition-soak seed 20 (17 members, 8/9 split, stewards on both sides, 3 % loss): some
/// members of the losing branch, among them its steward, missed the other branch's fork notice.
/// They must still learn that their branch lost — from a branch-mate's verdict, which carries
/// the winning commit — instead of re-adding the rejoiners on the losing branch.
#[test]
fn a_branch_mate_that_missed_the_other_branchs_notice_applies_the_rule_from_a_verdict() {
    let run = scenarios::partition_soak_run(20);
    assert!(
        run.split.stewards_on_both_sides && run.split.loss > 0.0,
        "seed 20 draws a lossy fork: {:?}",
        run.split
    );
    assert_eq!(run.failure, None, "{:?}", run.split);
    assert_eq!(run.messages_lost, 0);
}

/// Partition-soak seed 27 (27 members, 10/17 split, stewards on both sides, 3 % loss): the
/// larger side is short of quorum, so its elections and deadlock proposals fail for want of
/// votes. Those failures must not count against the members that opened them; they once did,
/// and after the heal an honest steward fell below the threshold and was voted out.
#[test]
fn proposals_that_failed_for_want_of_quorum_in_a_partition_cost_their_owners_nothing() {
    let run = scenarios::partition_soak_run(27);
    assert!(
        run.split.stewards_on_both_sides && run.split.minority == 10,
        "seed 27 draws a 10/17 fork: {:?}",
        run.split
    );
    assert_eq!(run.failure, None, "{:?}", run.split);
    assert_eq!(run.messages_lost, 0);
}

/// Soak seed 3 of the 15/15 fork: both halves commit a leave; the leave of the losing branch
/// must be put to the vote again on the survivor by a member of the losing branch. The member
/// once chosen for it was the smallest member id of the roster, which may sit on the other
/// side of the split: then nobody asked, the leaver stayed in the roster, and the group only
/// looked converged after the scenario's two-minute wait. Now the author of the losing branch's
/// commit asks, so the group is whole well within that wait.
#[test]
fn a_leave_committed_only_on_the_losing_branch_is_requested_again_by_a_member_of_that_branch() {
    let outcome = scenarios::split_and_heal(3, scenarios::Split::new(30, 15, true))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        outcome.elapsed_ms < 100_000,
        "healed only after {} ms of virtual time",
        outcome.elapsed_ms
    );
}

/// A member removed by one side of a fork, under ten seeds: in about half of them the
/// removing branch survives and the member learns its removal from the winning commit
/// instead of rejoining (before, it rejoined and was added back: 8 of 20 seeds failed); in
/// the others its own branch survives and the removal is asked for again there.
#[test]
fn a_member_removed_by_either_branch_of_a_fork_stays_out() {
    for seed in 1..=10 {
        check(scenarios::removed_across_a_fork(seed));
    }
}
