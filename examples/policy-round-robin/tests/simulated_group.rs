//! The round-robin policy, selected from TOML, runs a group on the deterministic simulator:
//! members join by vote and one is removed, every commit is made by that epoch's round-robin
//! steward, and all members end in the same epoch with the same roster and authenticator,
//! having lost no message.

use std::collections::BTreeSet;

use demls::registry::{BuildContext, build_steward};
use demls::{GroupEvent, GroupId, MemberId, NodeConfig};
use demls_sim::{Link, NodeId, Sim, SimConfig};

const CONFIG: &str = r#"
[steward]
backend = "round-robin"
commit_delay_ms = 100
"#;

fn policy_from_toml() -> std::sync::Arc<dyn demls::StewardPolicyFactory> {
    demls_example_policy::link();
    let config = NodeConfig::from_toml_str(CONFIG).expect("a valid configuration");
    let ctx = BuildContext {
        node_name: "sim".into(),
        base_dir: ".".into(),
    };
    build_steward(&config.steward, &ctx).expect("round-robin is registered")
}

/// The member at `epoch mod n` of `roster` in id order, skipping `removed`.
fn round_robin(roster: &BTreeSet<MemberId>, epoch: u64, removed: &[MemberId]) -> MemberId {
    let ids: Vec<MemberId> = roster.iter().copied().collect();
    let first = (epoch % ids.len() as u64) as usize;
    *ids.iter()
        .cycle()
        .skip(first)
        .take(ids.len())
        .find(|id| !removed.contains(id))
        .expect("someone commits")
}

#[test]
fn round_robin_stewards_run_a_group_that_converges() {
    let factory = policy_from_toml();
    assert_eq!(factory.name(), "round-robin");
    let g = GroupId::new(b"round robin".to_vec()).expect("a valid group id");
    let mut config = SimConfig::new(11)
        .with_start(demls_sim::stable_start_utc())
        .with_link(Link::uniform(10, 40));
    config.policy = factory;
    let mut sim = Sim::new(config).expect("a valid simulator");
    let nodes = sim.add_nodes(6).expect("nodes open");
    sim.create_group(nodes[0], &g).expect("group created");
    // Members join in three waves, so that several epochs (and stewards) commit adds.
    for wave in [&nodes[..2], &nodes[..4], &nodes[..]] {
        for &node in &wave[wave.len().saturating_sub(2).max(1)..] {
            sim.join_group(node, &g).expect("join requested");
        }
        let formed = sim.run_until(120_000, |s| s.converged_exactly(&g, wave));
        assert!(
            formed,
            "{:?}; {}",
            sim.check_converged(&g, wave).err(),
            sim.replay_hint()
        );
    }

    // One member is removed by vote; the others converge without it.
    let gone = nodes[2];
    sim.propose_remove(nodes[1], &g, gone)
        .expect("removal opened");
    let staying: Vec<NodeId> = nodes.iter().copied().filter(|&n| n != gone).collect();
    let removed = sim.run_until(120_000, |s| s.converged_exactly(&g, &staying));
    assert!(
        removed,
        "{:?}; {}",
        sim.check_converged(&g, &staying).err(),
        sim.replay_hint()
    );

    // Everyone chats; nothing is lost.
    for &n in &staying {
        sim.send(n, &g, format!("hello from {n}").as_bytes())
            .expect("send");
    }
    sim.run_for(3_000);
    assert_eq!(
        sim.undelivered(&g, &staying),
        vec![],
        "{}",
        sim.replay_hint()
    );
    let state = sim.check_converged(&g, &staying).expect("converged");
    assert_eq!(state.members.len(), 5);
    assert!(sim.errors().is_empty(), "{:?}", sim.errors());

    // Replay the creator's history: every commit came from its epoch's round-robin steward.
    let mut roster: BTreeSet<MemberId> = [sim.member_id(nodes[0])].into();
    let mut committers = BTreeSet::new();
    let mut commits = 0;
    for (_, event) in sim.events(nodes[0]) {
        if let GroupEvent::EpochAdvanced {
            epoch,
            committer,
            added,
            removed,
            ..
        } = event
        {
            let expected = round_robin(&roster, epoch - 1, removed);
            assert_eq!(*committer, expected, "the commit starting epoch {epoch}");
            committers.insert(*committer);
            commits += 1;
            roster.retain(|m| !removed.contains(m));
            roster.extend(added.iter().copied());
        }
    }
    assert_eq!(roster, state.members.iter().copied().collect());
    assert!(
        commits >= 4,
        "three waves of joins and a removal: {commits} commits"
    );
    assert!(
        committers.len() >= 2,
        "the steward rotated: {} committers over {commits} commits",
        committers.len()
    );
}
