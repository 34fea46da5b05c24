//! Same seed → the same run in another process too, when one commit removes several members.
//!
//! std's `HashMap` draws its hasher keys at random per process, so an order taken from one
//! (OpenMLS once ordered a commit's Remove proposals that way) changes the commit bytes between
//! processes while a replay inside one process may still agree. The test therefore runs the
//! scenario here and in two child processes (this test binary, re-run with [`CHILD`] set and
//! filtered to this test) and compares the trace digests and epoch authenticators of all three.

mod common;

use std::process::Command;

use common::{config, formed, gid};
use demls::engine::GroupEvent;
use demls_sim::{Link, NodeId, Sim};

/// Set in a child process: run the scenario and print its [`MARK`] line instead of spawning.
const CHILD: &str = "DEMLS_SIM_REPLAY_CHILD";
/// What precedes a child's result on its line (the harness prints the test's name before it).
const MARK: &str = "replay-result ";
/// This test's name, the filter a child is run with.
const NAME: &str =
    "the_same_seed_replays_bit_for_bit_in_other_processes_when_one_commit_removes_several";

/// Removes `leavers` (who ask to leave at the same instant) and checks that one commit removed
/// them all; returns who is left.
fn leave_together(
    sim: &mut Sim,
    group: &demls::GroupId,
    nodes: &[NodeId],
    leavers: &[NodeId],
) -> Vec<NodeId> {
    for &l in leavers {
        sim.leave(l, group).expect("leave requested");
    }
    let ids: Vec<_> = leavers.iter().map(|&l| sim.member_id(l)).collect();
    let rest: Vec<NodeId> = nodes
        .iter()
        .copied()
        .filter(|n| !leavers.contains(n))
        .collect();
    let gone = sim.run_until(60_000, |s| {
        rest.iter().all(|&n| {
            s.group(n, group)
                .is_some_and(|g| ids.iter().all(|m| !g.members.contains(m)))
        })
    });
    assert!(gone, "the leavers were removed; {}", sim.replay_hint());
    let together = sim.events(rest[0]).iter().any(|(_, e)| {
        matches!(e, GroupEvent::EpochAdvanced { removed, .. } if ids.iter().all(|m| removed.contains(m)))
    });
    assert!(
        together,
        "one commit removed all {} leavers; {}",
        leavers.len(),
        sim.replay_hint()
    );
    sim.run_for(1_000);
    rest
}

/// The scenario: a nine-member group from which three members leave at once and then two
/// more, followed by a message. Returns the trace digest and the first member's epoch
/// authenticators, hex-encoded on one line.
fn scenario() -> String {
    let g = gid("replay");
    let (mut sim, nodes) = formed(config(41, Link::uniform(5, 30)), 9, &g);
    let rest = leave_together(&mut sim, &g, &nodes, &nodes[6..9]);
    let rest = leave_together(&mut sim, &g, &rest, &rest[4..6]);
    sim.send(rest[1], &g, b"after the leaves").expect("send");
    sim.run_for(2_000);
    let authenticators: Vec<String> = sim
        .events(rest[0])
        .iter()
        .filter_map(|(_, e)| match e {
            GroupEvent::EpochAdvanced { authenticator, .. } => Some(hex(authenticator)),
            _ => None,
        })
        .collect();
    assert!(
        authenticators.len() >= 2,
        "both multi-removal commits were seen"
    );
    format!(
        "digest={} authenticators={}",
        hex(&sim.trace_digest()),
        authenticators.join(",")
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs this test binary again, filtered to this test with [`CHILD`] set; returns its line.
fn child() -> String {
    let exe = std::env::current_exe().expect("the test binary's path");
    let out = Command::new(exe)
        .args(["--exact", NAME, "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .expect("the child process ran");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the child failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .find_map(|l| l.split_once(MARK).map(|(_, result)| result))
        .unwrap_or_else(|| panic!("the child printed its result: {stdout}"))
        .to_owned()
}

#[test]
fn the_same_seed_replays_bit_for_bit_in_other_processes_when_one_commit_removes_several() {
    if std::env::var_os(CHILD).is_some() {
        println!("{MARK}{}", scenario());
        return;
    }
    let here = scenario();
    let first = child();
    let second = child();
    assert_eq!(here, first, "this process and a child ran the same seed");
    assert_eq!(first, second, "two child processes ran the same seed");
}
