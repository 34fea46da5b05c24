//! The voted group lifecycle on real MLS, driven on a deterministic in-test network.

mod common;

use common::{Net, gid};
use demls::engine::Event;

#[test]
fn a_joiner_is_added_by_vote_and_joins_from_welcome_and_separate_tree() {
    let g = gid("team");
    let mut net = Net::new(2);
    net.create(0, &g);
    net.join(1, &g);
    net.run(5_000);
    assert!(
        net.events_of(1)
            .iter()
            .any(|e| matches!(e, Event::Joined { epoch: 1, .. }))
    );
    assert_eq!(net.assert_converged(&g, &[0, 1]), 1);
    let id = net.send(1, &g, b"hello");
    net.run(1_000);
    assert_eq!(
        net.received(0, &g).get(&id).map(Vec::as_slice),
        Some(&b"hello"[..])
    );
}

/// A message that was sent: its id, its sender and the members present when it was sent.
struct Sent {
    id: Vec<u8>,
    sender: usize,
    present: Vec<usize>,
}

/// Sends one message from each current member and records who was present.
fn chat_round(net: &mut Net, g: &demls::GroupId, sent: &mut Vec<Sent>, tag: &str) {
    let present = net.in_group(g);
    for &i in &present {
        let id = net.send(i, g, format!("{tag} from {i}").as_bytes());
        sent.push(Sent {
            id,
            sender: i,
            present: present.clone(),
        });
    }
}

#[test]
fn ten_founders_add_ten_joiners_by_vote_remove_three_and_everyone_converges() {
    let g = gid("big");
    let mut net = Net::new(20);
    let mut sent = Vec::new();
    net.create(0, &g);
    for i in 1..10 {
        net.join(i, &g);
    }
    net.run(10_000);
    let founders: Vec<usize> = (0..10).collect();
    net.assert_converged(&g, &founders);
    chat_round(&mut net, &g, &mut sent, "founders");
    net.run(1_000);

    // Ten joiners announce at once; chat continues while they are being voted in.
    for i in 10..20 {
        net.join(i, &g);
    }
    net.flush();
    chat_round(&mut net, &g, &mut sent, "during the vote");
    net.run(10_000);
    let all: Vec<usize> = (0..20).collect();
    net.assert_converged(&g, &all);
    chat_round(&mut net, &g, &mut sent, "all twenty");
    net.run(1_000);

    // Three removals, proposed by three different members.
    let (a, b, c) = (net.id(3), net.id(12), net.id(17));
    net.propose_remove(1, &g, a);
    net.propose_remove(5, &g, b);
    net.propose_remove(19, &g, c);
    net.run(10_000);
    let remaining: Vec<usize> = (0..20).filter(|i| ![3, 12, 17].contains(i)).collect();
    let epoch = net.assert_converged(&g, &remaining);
    assert!(
        epoch >= 3,
        "at least three commits happened (epoch {epoch})"
    );
    for removed in [3, 12, 17] {
        assert!(net.members[removed].engine.group_summary(&g).is_none());
        assert!(
            net.events_of(removed)
                .iter()
                .any(|e| matches!(e, Event::Removed { .. }))
        );
    }
    chat_round(&mut net, &g, &mut sent, "after removals");
    net.run(1_000);

    assert!(sent.len() > 50);
    for m in &sent {
        for &i in m.present.iter().filter(|&&i| i != m.sender) {
            assert!(
                net.received(i, &g).contains_key(&m.id),
                "member {i} did not decrypt a message from {}",
                m.sender
            );
        }
    }
    for i in 0..20 {
        assert_eq!(
            net.rejections(i),
            vec![],
            "member {i} rejected something in a healthy run"
        );
    }
}
