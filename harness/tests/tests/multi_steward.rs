//! The multi-steward policy on the deterministic in-test network.

use demls::engine::{GroupEvent, ProposalAction};
use demls::policy::MultiPolicyConfig;
use demls_tests::net::{Net, gid};

fn config() -> MultiPolicyConfig {
    MultiPolicyConfig {
        sn_min: 3,
        sn_max: 4,
        ..Default::default()
    }
}

/// Members join one by one; returns the network and group.
fn formed(n: usize) -> (Net, demls::GroupId) {
    let g = gid("multi");
    let mut net = Net::multi(n, config());
    net.create(0, &g);
    for i in 1..n {
        net.join(i, &g);
        net.run(20_000);
    }
    let all: Vec<usize> = (0..n).collect();
    net.assert_converged(&g, &all);
    (net, g)
}

#[test]
fn a_group_forms_with_an_elected_steward_list_and_rotating_committers() {
    let (net, g) = formed(6);
    let summary = net.members[0].engine.group_summary(&g).unwrap();
    assert!(!summary.stewards.is_empty());
    let committers: std::collections::BTreeSet<_> = net
        .events_of(0)
        .iter()
        .filter_map(|e| match e {
            GroupEvent::EpochAdvanced { committer, .. } => Some(*committer),
            _ => None,
        })
        .collect();
    assert!(
        committers.len() >= 2,
        "commits rotate between stewards: {committers:?}"
    );
    let elections = net
        .events_of(0)
        .iter()
        .filter(|e| {
            matches!(
                e,
                GroupEvent::ProposalDecided {
                    action: ProposalAction::Election { .. },
                    ..
                }
            )
        })
        .count();
    assert!(elections >= 1);
    for i in 0..6 {
        assert_eq!(net.rejections(i), vec![], "member {i} rejected something");
    }
}

#[test]
#[ignore = "prints a trace for debugging"]
fn trace() {
    let g = gid("multi");
    let mut net = Net::multi(4, config());
    let t0 = net.now.0;
    net.create(0, &g);
    for i in 1..4 {
        net.join(i, &g);
        while net.members[i].engine.group_summary(&g).is_none() {
            net.advance(100);
        }
        println!("member {i} joined after {} ms", net.now.0 - t0);
    }
}
