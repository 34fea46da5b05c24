//! An outsider on the relay network — someone with the group id (it is in every envelope) but
//! no key — cannot stop a group: traffic that no current or recent member could have produced
//! changes nothing that gates progress (commit eligibility, being behind, rejoining). Each test
//! lets such traffic reach the members and then checks that a membership change still commits,
//! every member converges and a message still reaches everyone.

use demls::engine::{GroupSummary, GroupTopics};
use demls::internals::wire::{Envelope, Kind};
use demls::{GroupId, Topic};
use demls_tests::net::{Net, formed, gid, params, seed};

/// A converged group of the first `n` members of `net` (0 created it; 1.. joined in order).
fn group(net: Net, n: usize) -> (Net, GroupId) {
    formed(net, n)
}

fn state(net: &Net, i: usize, g: &GroupId) -> GroupSummary {
    net.members[i].engine.group_summary(g).unwrap()
}

/// Delivers `payload` to every member on `topic`, as an outsider publishing on the relay.
fn broadcast(net: &mut Net, topic: &Topic, payload: &[u8]) {
    for i in 0..net.members.len() {
        let out = net.inject(i, topic, payload.to_vec());
        net.apply(i, out);
    }
    net.flush();
}

/// An envelope of `kind` claiming `epoch`, with a body nobody can open.
fn junk(g: &GroupId, kind: Kind, epoch: u64) -> Vec<u8> {
    Envelope::new(kind, g.as_bytes(), epoch, vec![0x5a; 96]).encode_to_vec()
}

/// Member 1 asks to remove the last member while `attack` runs every `every_ms`; returns
/// once the group committed the removal (panics if it did not within `budget_ms`), and checks
/// convergence and that a message still reaches everyone.
fn removal_commits_despite(
    net: &mut Net,
    g: &GroupId,
    n: usize,
    every_ms: u64,
    budget_ms: u64,
    mut attack: impl FnMut(&mut Net, u64),
) {
    let start = state(net, 0, g).epoch;
    let target = net.id(n - 1);
    attack(net, start);
    net.propose_remove(1, g, target);
    let mut waited = 0;
    while waited < budget_ms {
        net.run(every_ms);
        net.advance(0);
        waited += every_ms;
        let epoch = state(net, 1, g).epoch;
        if !state(net, 1, g).members.contains(&target) {
            break;
        }
        attack(net, epoch);
    }
    let rest: Vec<usize> = (0..n - 1).collect();
    // Let the last attack's consequences settle, then everyone agrees.
    net.run(60_000);
    assert!(
        !state(net, 1, g).members.contains(&target),
        "the removal never committed within {budget_ms} ms: the group is frozen"
    );
    net.assert_converged(g, &rest);
    let id = net.send(0, g, b"still alive");
    net.run(5_000);
    for &i in &rest[1..] {
        assert!(
            net.received(i, g).contains_key(&id),
            "member {i} missed the follow-up message"
        );
    }
}

#[test]
fn one_junk_next_epoch_envelope_from_an_outsider_does_not_freeze_the_group() {
    let (mut net, g) = group(Net::new(4), 4);
    let t = GroupTopics::of(&g);
    let mut sent = false;
    removal_commits_despite(&mut net, &g, 4, 1_000, 120_000, |net, epoch| {
        if !sent {
            sent = true;
            broadcast(net, &t.group, &junk(&g, Kind::Mls, epoch + 1));
        }
    });
}

#[test]
fn junk_next_epoch_traffic_repeated_every_two_seconds_does_not_freeze_the_group() {
    let (mut net, g) = group(Net::new(4), 4);
    let t = GroupTopics::of(&g);
    let mut nonce = 0u8;
    removal_commits_despite(&mut net, &g, 4, 2_000, 180_000, |net, epoch| {
        nonce = nonce.wrapping_add(1);
        // Each copy differs (so it is not a duplicate) and claims the next epoch.
        let mut env = Envelope::new(Kind::Mls, g.as_bytes(), epoch + 1, vec![nonce; 96]);
        env.branch = Vec::new();
        broadcast(net, &t.group, &env.encode_to_vec());
        broadcast(
            net,
            &t.group,
            &junk(&g, Kind::Control, epoch + 1 + nonce as u64 % 3),
        );
        broadcast(net, &t.group, &junk(&g, Kind::CatchUp, epoch + 2));
    });
}

#[test]
fn far_future_epochs_repeated_do_not_freeze_the_group() {
    let (mut net, g) = group(Net::new(4), 4);
    let t = GroupTopics::of(&g);
    let mut k = 0u64;
    removal_commits_despite(&mut net, &g, 4, 2_000, 180_000, |net, epoch| {
        k += 1;
        broadcast(net, &t.group, &junk(&g, Kind::Mls, epoch + 1_000 + k));
    });
}

#[test]
fn an_old_commit_relabelled_with_the_next_epoch_does_not_freeze_the_group() {
    let g = gid("g");
    let mut net = Net::new(4);
    net.create(0, &g);
    for i in 1..3 {
        net.join(i, &g);
        net.run(5_000);
    }
    // A genuine commit of this epoch by member 0 (sealed under its key), never delivered;
    // once the group has moved on it is an old commit anyone could have recorded.
    let commit = Envelope::decode_checked(&net.adversary(0, &g).commit(vec![], vec![]))
        .unwrap()
        .0;
    net.join(3, &g);
    net.run(5_000);
    net.assert_converged(&g, &[0, 1, 2, 3]);
    let t = GroupTopics::of(&g);
    removal_commits_despite(&mut net, &g, 4, 2_000, 180_000, |net, epoch| {
        let mut relabelled = commit.clone();
        relabelled.epoch = epoch + 1;
        broadcast(net, &t.group, &relabelled.encode_to_vec());
    });
}

#[test]
fn junk_next_epoch_traffic_to_every_member_of_a_multi_steward_group_does_not_freeze_it() {
    let config = demls::policy::MultiPolicyConfig::default();
    let (mut net, g) = group(Net::multi(5, config), 5);
    let t = GroupTopics::of(&g);
    let mut nonce = 0u8;
    removal_commits_despite(&mut net, &g, 5, 2_000, 240_000, |net, epoch| {
        nonce = nonce.wrapping_add(1);
        let env = Envelope::new(Kind::Mls, g.as_bytes(), epoch + 1, vec![nonce; 64]);
        broadcast(net, &t.group, &env.encode_to_vec());
    });
}

/// The branch tag of the first queued envelope of `epoch` (what a sniffer sees).
fn sniff_tag(net: &mut Net, epoch: u64) -> Option<Vec<u8>> {
    let mut tag = None;
    for p in net.take_queue() {
        if let Ok((env, _)) = Envelope::decode_checked(&p.payload) {
            if env.epoch == epoch && !env.branch.is_empty() {
                tag.get_or_insert(env.branch.clone());
            }
        }
        net.enqueue(p.from, p.topic, p.payload);
    }
    tag
}

#[test]
fn a_fork_notice_made_of_sniffed_tags_does_not_make_a_member_drop_its_own_branch() {
    let (mut net, g) = group(Net::new(4), 4);
    let t = GroupTopics::of(&g);
    let e = state(&net, 0, &g).epoch;
    net.send(0, &g, b"in epoch e");
    let tag_e = sniff_tag(&mut net, e).expect("traffic of epoch e");
    net.flush();
    // Member 2 is cut off while the group removes member 3 and chats in the next epoch.
    net.members[2].online = false;
    let target = net.id(3);
    net.propose_remove(1, &g, target);
    while state(&net, 1, &g).epoch == e {
        net.advance(200);
    }
    net.run(5_000);
    let first = net.send(0, &g, b"in epoch e+1");
    let tag_next = sniff_tag(&mut net, e + 1).expect("traffic of epoch e+1");
    net.flush();
    // The outsider claims another branch shares epoch e with member 2 and goes on with the
    // real next epoch's tag (and differs at e-1, so it looks like a fork).
    let notice = demls::internals::wire::ForkNotice {
        tags: vec![
            demls::internals::wire::BranchTag {
                epoch: e - 1,
                tag: vec![0xee; 8],
            },
            demls::internals::wire::BranchTag {
                epoch: e,
                tag: tag_e,
            },
            demls::internals::wire::BranchTag {
                epoch: e + 1,
                tag: tag_next,
            },
        ],
        commit_epoch: 0,
        commit: Vec::new(),
        verdict: Vec::new(),
    };
    let env = Envelope::new(
        Kind::ForkNotice,
        g.as_bytes(),
        e,
        prost::Message::encode_to_vec(&notice),
    )
    .with_branch(&[0xee; 8]);
    net.members[2].online = true;
    let out = net.inject(2, &t.group, env.encode_to_vec());
    net.apply(2, out);
    net.run(5_000);
    let second = net.send(0, &g, b"after the notice");
    net.run(60_000);
    net.assert_converged(&g, &[0, 1, 2]);
    for id in [first, second] {
        assert!(
            net.received(2, &g).contains_key(&id),
            "member 2 dropped its own branch's traffic"
        );
    }
}

#[test]
fn a_beyond_history_statement_not_signed_by_a_member_of_the_epoch_is_refused() {
    use demls::identity::IdentitySigner;
    let (mut net, g) = group(Net::new(3), 3);
    let t = GroupTopics::of(&g);
    let e = state(&net, 0, &g).epoch;
    let before = state(&net, 2, &g);
    let statement = |who: &demls::Identity, stuck: u64, signed_epoch: u64, epoch: u64| {
        let body = demls::internals::wire::BeyondHistory {
            epoch,
            signer: who.member_id().as_bytes().to_vec(),
            signature: who.sign(&demls::internals::wire::beyond_signed_bytes(
                g.as_bytes(),
                stuck,
                signed_epoch,
            )),
        };
        Envelope::new(
            Kind::Beyond,
            g.as_bytes(),
            stuck,
            prost::Message::encode_to_vec(&body),
        )
        .encode_to_vec()
    };
    let outsider = demls::Identity::from_seed([0x77; 32]).unwrap();
    let member = demls::Identity::from_seed(seed(1)).unwrap();
    let cases = [
        (
            statement(&outsider, e, e + 5, e + 5),
            demls::RejectReason::NotAMember,
        ),
        // A member's signature over other bytes (another epoch claimed than signed).
        (
            statement(&member, e, e + 5, e + 6),
            demls::RejectReason::NotAMember,
        ),
        // Not beyond at all.
        (statement(&member, e, e, e), demls::RejectReason::Malformed),
    ];
    for (payload, expected) in cases {
        let out = net.inject(2, &t.group, payload);
        let reasons: Vec<_> = out
            .events
            .iter()
            .filter_map(|ev| match ev {
                demls::engine::GroupEvent::Rejected { reason, .. } => Some(*reason),
                _ => None,
            })
            .collect();
        assert_eq!(reasons, vec![expected]);
        assert!(out.publish.is_empty());
    }
    assert_eq!(state(&net, 2, &g), before);
    // Nothing made member 2 rejoin: the group still commits with it.
    let target = net.id(1);
    net.propose_remove(0, &g, target);
    net.run(60_000);
    net.assert_converged(&g, &[0, 2]);
}

fn chat_frame(id: u8) -> demls::internals::wire::Frame {
    demls::internals::wire::Frame {
        body: Some(demls::internals::wire::frame::Body::Chat(
            demls::internals::wire::Chat {
                resent_from_epoch: None,
                message_id: vec![id; 16],
                payload: b"still here".to_vec(),
                sent_at: 0,
                history: Vec::new(),
            },
        )),
    }
}

fn rejections(events: &[demls::engine::GroupEvent]) -> Vec<demls::RejectReason> {
    events
        .iter()
        .filter_map(|ev| match ev {
            demls::engine::GroupEvent::Rejected { reason, .. } => Some(*reason),
            _ => None,
        })
        .collect()
}

#[test]
fn a_removed_member_can_neither_send_nor_propose_under_its_old_epoch_keys() {
    let (mut net, g) = group(Net::new(4), 4);
    let t = GroupTopics::of(&g);
    let e = state(&net, 0, &g).epoch;
    // A copy of member 3's state in epoch e, kept after its removal.
    let removed = net.adversary(3, &g);
    let target = net.id(3);
    net.propose_remove(1, &g, target);
    while state(&net, 1, &g).members.contains(&target) {
        net.advance(200);
    }
    assert_eq!(state(&net, 1, &g).epoch, e + 1);
    net.clear_events();
    // Right after the removal, a message of the old epoch may still be on its way from before
    // it: taken.
    let out = net.inject(1, &t.group, removed.encrypt_frame(&chat_frame(8)));
    assert!(
        out.events
            .iter()
            .any(|ev| matches!(ev, demls::engine::GroupEvent::MessageReceived { .. })),
        "an in-flight message is delivered: {:?}",
        out.events
    );
    // Later, nothing the removed member makes up is taken: a message is held while a current
    // member is asked to vouch for it (nobody can), then refused; a leave is refused at once.
    net.advance(31_000);
    net.clear_events();
    let before = state(&net, 1, &g);
    let out = net.inject(1, &t.group, removed.leave_for(target, net.now));
    assert_eq!(
        rejections(&out.events),
        vec![demls::RejectReason::NotAMember],
        "exactly one rejection and nothing else: {:?}",
        out.events
    );
    assert_eq!(out.events.len(), 1);
    let out = net.inject(1, &t.group, removed.encrypt_frame(&chat_frame(9)));
    assert!(out.events.is_empty(), "{:?}", out.events);
    assert_eq!(out.silent, vec![demls::engine::Silent::Held]);
    net.apply(1, out);
    net.advance(60_000);
    assert_eq!(
        rejections(net.events_of(1)),
        vec![demls::RejectReason::NotAMember],
        "refused once nobody vouched: {:?}",
        net.events_of(1)
    );
    assert!(net.received(1, &g).is_empty());
    assert_eq!(state(&net, 1, &g).epoch, before.epoch);
    assert_eq!(state(&net, 1, &g).members, before.members);
}

/// A message the removed member really sent before its removal, lost on its way to one
/// member and re-sent after that member applied the removal (the removed member had not
/// heard of it yet): held, vouched for by a member that took it in time, delivered.
#[test]
fn a_late_message_of_a_removed_member_is_delivered_once_a_member_vouches_for_it() {
    // No periodic status beacons: member 1 learns of the message only from the re-send (with
    // beacons it would usually have fetched it by repair while it could still take it).
    let params = demls::EngineParams {
        status_fanout: 0,
        ..params()
    };
    // Seeded: which holder answers first depends on random back-offs, and two back-offs that
    // fall within one delivery delay of each other would both answer (suppression is
    // probabilistic, like any answer back-off); the seed fixes one schedule.
    let (mut net, g) = group(Net::seeded_with_params(4, params, 7), 4);
    let t = GroupTopics::of(&g);
    let sender = net.adversary(3, &g);
    let message = sender.encrypt_frame(&chat_frame(7));
    // Members 0 and 2 take it while member 3 is a member; member 1 loses it.
    for i in [0, 2] {
        let out = net.inject(i, &t.group, message.clone());
        assert!(
            out.events
                .iter()
                .any(|ev| matches!(ev, demls::engine::GroupEvent::MessageReceived { .. }))
        );
        net.apply(i, out);
    }
    let target = net.id(3);
    net.members[3].online = false;
    net.propose_remove(0, &g, target);
    net.run(60_000);
    net.assert_converged(&g, &[0, 1, 2]);
    net.advance(31_000);
    net.clear_events();
    // The re-send reaches member 1 long after it applied the removal.
    let out = net.inject(1, &t.group, message);
    assert_eq!(out.silent, vec![demls::engine::Silent::Held]);
    net.recorded = Some(Vec::new());
    net.apply(1, out);
    net.run(30_000);
    let got = net.received(1, &g);
    assert_eq!(got.get(&vec![7u8; 16]), Some(&b"still here".to_vec()));
    assert!(
        rejections(net.events_of(1)).is_empty(),
        "{:?}",
        net.events_of(1)
    );
    // Without periodic beacons, the only control traffic of members 0 and 2 is the vouch: one
    // of the two holders answers, the other hears it and keeps quiet.
    let answers = net
        .recorded
        .take()
        .unwrap_or_default()
        .iter()
        .filter(|p| {
            p.from != 1 && matches!(Envelope::decode_checked(&p.payload), Ok((_, Kind::Control)))
        })
        .count();
    assert_eq!(answers, 1, "one vouch, not one per holder");
}

#[test]
fn a_member_sending_commits_that_name_unknown_proposals_cannot_hold_the_steward_back() {
    let (mut net, g) = group(Net::new(4), 4);
    let t = GroupTopics::of(&g);
    let stewards = state(&net, 0, &g).stewards;
    let steward = (0..4)
        .find(|&i| stewards.first() == Some(&net.id(i)))
        .unwrap();
    // An insider that is not the steward (and not the member to be removed).
    let insider = (0..3).find(|&i| i != steward).unwrap();
    let proposer = (0..3).find(|&i| i != steward && i != insider).unwrap();
    let mut n = 0u8;
    let target = net.id(3);
    net.propose_remove(proposer, &g, target);
    let start = net.now;
    while state(&net, proposer, &g).members.contains(&target) {
        assert!(
            net.now.since(start) < 120_000,
            "the steward never committed: the insider's commits held it back"
        );
        // A fresh forged commit every second, in the current epoch, straight to the steward.
        n = n.wrapping_add(1);
        let forged = net.adversary(insider, &g).commit(vec![], vec![[n; 32]]);
        let out = net.inject(steward, &t.group, forged);
        net.apply(steward, out);
        net.advance(1_000);
    }
    net.run(30_000);
    let rest: Vec<usize> = (0..3).collect();
    net.assert_converged(&g, &rest);
    // In one epoch an author holds at most four parked places: a newer forgery replaces the
    // oldest waiting one (which is refused then), and the rest are refused when their grace
    // ends.
    let unapproved = |net: &mut Net, payload: Vec<u8>| {
        let out = net.inject(steward, &t.group, payload);
        let n = out
            .events
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    demls::engine::GroupEvent::Rejected {
                        reason: demls::RejectReason::CommitUnapprovedProposal,
                        ..
                    }
                )
            })
            .count();
        net.apply(steward, out);
        n
    };
    let adversary = net.adversary(insider, &g);
    for n in 1..=8u8 {
        let refused = unapproved(&mut net, adversary.commit(vec![], vec![[0xa0 + n; 32]]));
        assert_eq!(refused, usize::from(n > 4), "forgery {n}");
    }
    net.clear_events();
    let grace = net.members[steward].engine.params().commit_grace_ms;
    net.advance(grace + 1);
    assert_eq!(
        net.rejections(steward),
        vec![demls::RejectReason::CommitUnapprovedProposal; 4],
        "four places, four expiries"
    );
    let before = state(&net, steward, &g);
    net.run(30_000);
    assert_eq!(state(&net, steward, &g).epoch, before.epoch);
    net.assert_converged(&g, &rest);
}
