//! A look-alike group — another group created by an outsider under the *same* id — captures a
//! joiner that asked by id alone (trust on first use, spec §5a), but not a joiner holding an
//! invitation: its Welcome carries another genesis and is refused (issue 13, item 3).

use demls::engine::{GroupEvent, GroupTopics};
use demls::internals::wire::{Envelope, Kind};
use demls::{GroupId, Invitation, RejectReason};
use demls_tests::net::{Net, Publication, formed, gid, params};

/// The real group "real" is run by member 2 of `net`; member 1 is about to join it. Returns
/// the joiner's first KeyPackage announcement, taken off the network before the real group
/// saw it (as if the outsider were faster).
fn joiner_announcement(net: &mut Net) -> Vec<u8> {
    net.take_queue()
        .into_iter()
        .find(|p| p.from == 1)
        .map(|p| p.payload)
        .expect("the joiner announced a KeyPackage")
}

/// An outsider, on a network of its own, creates a group under the same id `g`, adds the
/// announced KeyPackage by its own vote and commit, and returns the Welcome and ratchet tree
/// it publishes (correctly labelled: nothing is relabelled here).
fn look_alike_answer(net: &Net, g: &GroupId, announcement: Vec<u8>) -> Vec<Vec<u8>> {
    let mut outsider = Net::new(1);
    outsider.now = net.now;
    outsider.create(0, g);
    outsider.flush();
    outsider.add_alone(0, g, announcement)
}

/// Delivers the outsider's answer to member `to` on the join topic; returns its events.
fn deliver(net: &mut Net, to: usize, g: &GroupId, answer: Vec<Vec<u8>>) -> Vec<GroupEvent> {
    let topic = GroupTopics::of(g).join;
    answer
        .into_iter()
        .flat_map(|payload| net.inject(to, &topic, payload).events)
        .collect()
}

fn refused_as_look_alike(events: &[GroupEvent]) -> bool {
    events.iter().any(|e| {
        matches!(
            e,
            GroupEvent::Rejected {
                reason: RejectReason::ForeignWelcome,
                detail,
                ..
            } if detail.contains("genesis")
        )
    })
}

/// The invitation member 2 hands out for "real".
fn invitation(net: &Net, g: &GroupId) -> Invitation {
    let inv = net.members[2].engine.invitation(g).expect("an invitation");
    // What travels out of band is the text form.
    inv.to_string().parse().expect("its text form parses")
}

/// Member 2 runs "real" and hands member 1 an invitation, with which member 1 asks to join.
/// Returns the invitation and member 1's first announcement (taken off the network).
fn invited_joiner(net: &mut Net, real: &GroupId) -> (Invitation, Vec<u8>) {
    net.create(2, real);
    net.flush();
    let inv = invitation(net, real);
    let out = net.members[1]
        .engine
        .join_by_invitation(&inv, net.now)
        .expect("join");
    net.apply(1, out);
    let announcement = joiner_announcement(net);
    (inv, announcement)
}

#[test]
fn a_joiner_with_an_invitation_refuses_a_look_alike_and_joins_the_real_group() {
    let mut net = Net::new(3);
    let real = gid("real");
    let (inv, announcement) = invited_joiner(&mut net, &real);
    let answer = look_alike_answer(&net, &real, announcement);
    let events = deliver(&mut net, 1, &real, answer);
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, GroupEvent::Joined { .. })),
        "joined the look-alike: {events:?}"
    );
    assert!(refused_as_look_alike(&events), "no rejection: {events:?}");
    assert!(net.members[1].engine.group_summary(&real).is_none());
    // The real group adds the joiner when its announcement comes round again.
    net.run(30_000);
    assert!(
        net.in_group(&real).contains(&1),
        "the joiner is in the real group"
    );
    net.assert_converged(&real, &[1, 2]);
    // Its invitation is the real group's: the joiner got the genesis.
    assert_eq!(
        net.members[1].engine.invitation(&real).expect("invite"),
        inv
    );
}

#[test]
fn the_invitation_check_survives_a_restart_of_the_joiner() {
    let mut net = Net::new(3);
    let real = gid("real");
    let (_, announcement) = invited_joiner(&mut net, &real);
    net.restart(1, params());
    let answer = look_alike_answer(&net, &real, announcement);
    let events = deliver(&mut net, 1, &real, answer);
    assert!(refused_as_look_alike(&events), "no rejection: {events:?}");
    net.run(30_000);
    net.assert_converged(&real, &[1, 2]);
}

/// The residual risk the spec documents: by id alone, the first group to answer wins.
#[test]
fn a_joiner_by_id_alone_is_captured_by_a_faster_look_alike() {
    let mut net = Net::new(3);
    let real = gid("real");
    net.create(2, &real);
    net.flush();
    net.join(1, &real);
    let announcement = joiner_announcement(&mut net);
    let answer = look_alike_answer(&net, &real, announcement);
    let events = deliver(&mut net, 1, &real, answer);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, GroupEvent::Joined { .. })),
        "trust on first use: {events:?}"
    );
    // What the application can compare out of band: the captured member's invitation is not
    // the real group's.
    let captured = net.members[1].engine.invitation(&real).expect("invite");
    assert_ne!(captured, invitation(&net, &real));
}

#[test]
fn an_invitation_is_only_for_members() {
    let mut net = Net::new(2);
    let real = gid("real");
    net.create(0, &real);
    assert!(matches!(
        net.members[1].engine.invitation(&real),
        Err(demls::EngineError::UnknownGroup(_))
    ));
    // Two groups under the same id have different invitations.
    net.create(1, &real);
    assert_ne!(
        net.members[0].engine.invitation(&real).expect("0"),
        net.members[1].engine.invitation(&real).expect("1")
    );
}

/// Delivers queued traffic round by round and runs timers, like `Net::run`, but stops as soon
/// as member `who` publishes a `Rejoin` announcement, which it returns undelivered.
fn run_until_rejoin(net: &mut Net, who: usize, max_ms: u64) -> Option<Vec<u8>> {
    let end = net.now.plus_ms(max_ms);
    loop {
        loop {
            let queue = net.take_queue();
            if queue.is_empty() {
                break;
            }
            for Publication {
                from,
                topic,
                payload,
            } in queue
            {
                if from == who
                    && matches!(Envelope::decode_checked(&payload), Ok((_, Kind::Rejoin)))
                {
                    return Some(payload);
                }
                for to in 0..net.members.len() {
                    if to == from
                        || !net.members[to].online
                        || !net.members[to].subscribed.contains(&topic)
                    {
                        continue;
                    }
                    let out = net.inject(to, &topic, payload.clone());
                    net.apply(to, out);
                }
            }
        }
        let next = net
            .members
            .iter()
            .filter(|m| m.online)
            .filter_map(|m| m.engine.next_deadline())
            .min()?;
        if next > end {
            return None;
        }
        net.now = net.now.max(next);
        for i in 0..net.members.len() {
            let due = net.members[i]
                .engine
                .next_deadline()
                .is_some_and(|d| d <= net.now);
            if net.members[i].online && due {
                let out = net.members[i].engine.tick(net.now).expect("tick");
                net.apply(i, out);
            }
        }
    }
}

/// A member that fell behind every retained history rejoins; a look-alike group under the
/// same id that answers its `Rejoin` announcement first is refused, because the rejoin expects
/// the genesis of the group it was in — no invitation needed.
#[test]
fn a_rejoining_member_refuses_a_look_alike_of_its_own_group() {
    let params = demls::EngineParams {
        retained_commits: 2,
        ..params()
    };
    let (mut net, g) = formed(Net::with_params(4, params.clone()), 4);
    net.members[3].online = false;
    for _ in 0..3 {
        let i = net.add_member(net.members.len(), params.clone());
        net.join(i, &g);
        net.run(30_000);
    }
    net.members[3].online = true;
    let rejoin = run_until_rejoin(&mut net, 3, 120_000).expect("member 3 rejoins");
    // The outsider takes the announcement for an ordinary KeyPackage of its own group.
    let (mut env, _) = Envelope::decode_checked(&rejoin).expect("an envelope");
    env.kind = Kind::KeyPackage as i32;
    env.epoch = 0;
    let answer = look_alike_answer(&net, &g, env.encode_to_vec());
    let events = deliver(&mut net, 3, &g, answer);
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, GroupEvent::Joined { .. })),
        "rejoined the look-alike: {events:?}"
    );
    assert!(refused_as_look_alike(&events), "no rejection: {events:?}");
    // The real group takes it back.
    net.enqueue(3, GroupTopics::of(&g).welcome, rejoin);
    net.run(60_000);
    let all: Vec<usize> = (0..net.members.len()).collect();
    net.assert_converged(&g, &all);
}
