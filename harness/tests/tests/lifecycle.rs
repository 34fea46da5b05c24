//! The voted group lifecycle on real MLS, driven on a deterministic in-test network. Every
//! test runs twice, on the memory and on the SQLite storage (`<test>::on_memory`,
//! `<test>::on_sqlite`).

use demls::engine::GroupEvent;
use demls_tests::net::{Net, gid, params};
use demls_tests::on_every_storage;

fn a_joiner_is_added_by_vote_and_joins_from_welcome_and_separate_tree() {
    let g = gid("team");
    let mut net = Net::new(2);
    net.create(0, &g);
    net.join(1, &g);
    net.run(5_000);
    assert!(
        net.events_of(1)
            .iter()
            .any(|e| matches!(e, GroupEvent::Joined { epoch: 1, .. }))
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
                .any(|e| matches!(e, GroupEvent::Removed { .. }))
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

fn removing_the_steward_is_committed_by_the_next_member() {
    let g = gid("steward-leaves");
    let mut net = Net::new(4);
    net.create(0, &g);
    for i in 1..4 {
        net.join(i, &g);
    }
    net.run(10_000);
    net.assert_converged(&g, &[0, 1, 2, 3]);
    let steward = net.id(0);
    let leaf_order = net.members[0].engine.group_summary(&g).unwrap().members;
    assert_eq!(leaf_order[0], steward);
    let next = leaf_order[1];
    net.propose_remove(2, &g, steward);
    net.run(10_000);
    net.assert_converged(&g, &[1, 2, 3]);
    let committer = net.events_of(1).iter().rev().find_map(|e| match e {
        GroupEvent::EpochAdvanced { committer, .. } => Some(*committer),
        _ => None,
    });
    assert_eq!(
        committer,
        Some(next),
        "the next member in leaf order committed"
    );
    assert!(
        net.events_of(0)
            .iter()
            .any(|e| matches!(e, GroupEvent::Removed { .. }))
    );
    // The new steward keeps the group going: a new member can still join.
    net.add_member(4, params());
    net.join(4, &g);
    net.run(10_000);
    net.assert_converged(&g, &[1, 2, 3, 4]);
}

fn in_manual_mode_members_decide_and_a_rejected_add_is_never_committed() {
    let g = gid("manual");
    let mut params = params();
    params.voting = demls::engine::VotingMode::Manual;
    let mut net = Net::with_params(4, params);
    net.create(0, &g);
    net.join(1, &g);
    net.run(3_000);
    // One voter (the creator) decides alone: its own vote is cast with the proposal.
    net.assert_converged(&g, &[0, 1]);
    net.join(2, &g);
    net.run(1_000);
    let requested: Vec<_> = net
        .events_of(1)
        .iter()
        .filter_map(|e| match e {
            GroupEvent::VoteRequested { proposal, .. } => Some(*proposal),
            _ => None,
        })
        .collect();
    assert_eq!(
        requested.len(),
        1,
        "member 1 is asked to vote on the add of member 2"
    );
    let out = net.members[1]
        .engine
        .vote(&g, requested[0], false, net.now)
        .unwrap();
    net.apply(1, out);
    net.run(1_000);
    let decided = net.events_of(0).iter().find_map(|e| match e {
        GroupEvent::ProposalDecided {
            proposal, outcome, ..
        } if *proposal == requested[0] => Some(*outcome),
        _ => None,
    });
    assert_eq!(decided, Some(demls::Verdict::No), "n = 2 needs unanimity");
    net.run(20_000);
    net.assert_converged(&g, &[0, 1]);
    assert!(net.members[2].engine.group_summary(&g).is_none());
    // Voting twice is refused.
    assert!(
        net.members[1]
            .engine
            .vote(&g, requested[0], true, net.now)
            .is_err()
    );
}

/// Three members, the first founding `name` and the other two joining; converged.
fn group_of_three(name: &str) -> (Net, demls::GroupId) {
    let g = gid(name);
    let mut net = Net::new(3);
    net.create(0, &g);
    net.join(1, &g);
    net.join(2, &g);
    net.run(5_000);
    net.assert_converged(&g, &[0, 1, 2]);
    (net, g)
}

fn an_engine_reopened_on_its_storage_continues_in_the_group() {
    let (mut net, g) = group_of_three("restart");
    // Member 1 restarts from its storage.
    net.restart(1, params());
    net.assert_converged(&g, &[0, 1, 2]);
    let id = net.send(1, &g, b"back");
    net.run(1_000);
    assert!(net.received(0, &g).contains_key(&id));
    // And it still takes part in votes and commits.
    let target = net.id(2);
    net.propose_remove(1, &g, target);
    net.run(5_000);
    net.assert_converged(&g, &[0, 1]);
}

fn a_member_restarted_in_the_middle_of_a_vote_resumes_it() {
    let g = gid("vote-restart");
    let mut params = params();
    params.voting = demls::engine::VotingMode::Manual;
    let mut net = Net::with_params(4, params.clone());
    net.create(0, &g);
    for i in 1..4 {
        net.join(i, &g);
        net.run(3_000);
        // Everyone already in votes YES on each add.
        for j in 1..i {
            let pending: Vec<_> = net
                .events_of(j)
                .iter()
                .filter_map(|e| match e {
                    GroupEvent::VoteRequested { proposal, .. } => Some(*proposal),
                    _ => None,
                })
                .collect();
            for p in pending {
                if let Ok(out) = net.members[j].engine.vote(&g, p, true, net.now) {
                    net.apply(j, out);
                }
            }
        }
        net.run(3_000);
    }
    net.assert_converged(&g, &[0, 1, 2, 3]);
    net.clear_events();
    let target = net.id(3);
    net.propose_remove(0, &g, target);
    net.flush();
    let proposal = net
        .events_of(2)
        .iter()
        .find_map(|e| match e {
            GroupEvent::VoteRequested { proposal, .. } => Some(*proposal),
            _ => None,
        })
        .unwrap();
    let out = net.members[1]
        .engine
        .vote(&g, proposal, true, net.now)
        .unwrap();
    net.apply(1, out);
    net.flush();
    // Member 2 restarts before voting: the open proposal and the votes it has seen come back.
    net.restart(2, params);
    let summary = net.members[2].engine.group_summary(&g).unwrap();
    assert!(
        summary.proposals.iter().any(
            |(id, _, status)| *id == proposal && *status == demls::engine::ProposalStatus::Open
        )
    );
    let out = net.members[2]
        .engine
        .vote(&g, proposal, true, net.now)
        .unwrap();
    net.apply(2, out);
    net.run(5_000);
    net.assert_converged(&g, &[0, 1, 2]);
}

/// A short seeded run, returned as its full event log.
fn seeded_run(run_seed: u64) -> Vec<String> {
    let g = gid("det");
    let mut net = Net::seeded(4, run_seed);
    net.create(0, &g);
    for i in 1..4 {
        net.join(i, &g);
    }
    net.run(5_000);
    let target = net.id(2);
    net.propose_remove(1, &g, target);
    net.run(5_000);
    net.send(3, &g, b"same every time");
    net.run(1_000);
    net.assert_converged(&g, &[0, 1, 3]);
    (0..4)
        .flat_map(|i| net.events_of(i).iter().map(move |e| format!("{i}: {e:?}")))
        .collect()
}

fn a_seeded_run_repeats_bit_for_bit_and_another_seed_differs() {
    let a = seeded_run(7);
    let b = seeded_run(7);
    assert!(a.iter().any(|l| l.contains("authenticator")));
    assert_eq!(
        a, b,
        "same seed, same events, same bytes (ids, authenticators, message ids)"
    );
    assert_ne!(a, seeded_run(8));
}

fn a_message_whose_publication_died_with_the_process_is_sent_again_after_the_restart() {
    let (mut net, g) = group_of_three("unsent");
    let delivered = net.send(1, &g, b"delivered before the crash");
    net.run(1_000);
    // Member 1 sends, its step is committed, and the process dies before the transport
    // published anything: the publication is gone.
    let lost = net.send(1, &g, b"published only after the restart");
    let dropped = net.take_queue();
    assert!(!dropped.is_empty(), "the send produced a publication");
    net.restart(1, params());
    net.run(5_000);
    for i in [0, 2] {
        let received = net.received(i, &g);
        assert_eq!(
            received.get(&lost).map(Vec::as_slice),
            Some(&b"published only after the restart"[..]),
            "member {i} got the message the crash kept from the transport"
        );
        assert!(received.contains_key(&delivered));
        let copies = net
            .events_of(i)
            .iter()
            .filter(|e| matches!(e, GroupEvent::MessageReceived { message_id, .. } if *message_id == delivered))
            .count();
        assert_eq!(
            copies, 1,
            "a message already delivered is not delivered twice"
        );
    }
    net.assert_converged(&g, &[0, 1, 2]);
}

on_every_storage!(
    a_message_whose_publication_died_with_the_process_is_sent_again_after_the_restart,
    a_joiner_is_added_by_vote_and_joins_from_welcome_and_separate_tree,
    ten_founders_add_ten_joiners_by_vote_remove_three_and_everyone_converges,
    removing_the_steward_is_committed_by_the_next_member,
    in_manual_mode_members_decide_and_a_rejected_add_is_never_committed,
    an_engine_reopened_on_its_storage_continues_in_the_group,
    a_member_restarted_in_the_middle_of_a_vote_resumes_it,
    a_seeded_run_repeats_bit_for_bit_and_another_seed_differs,
);
