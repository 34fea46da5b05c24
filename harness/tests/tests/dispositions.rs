//! Every input ends in exactly one way (§9 of the spec): processed, held, refused with exactly
//! one `Rejected` event, or passed over silently for a typed reason listed once in
//! `Output::silent`. These tests feed each kind of input that is not simply processed and check
//! which of the ways it took — and that it took only that one.

use demls::engine::{GroupEvent, GroupTopics, Output, Silent};
use demls::internals::wire::{Envelope, Kind, sealed};
use demls::{GroupId, RejectReason};
use demls_tests::net::{Net, Publication, formed, gid, params};

/// A converged group of `n` members (0 created it; 1.. joined in order).
fn group(n: usize) -> (Net, GroupId) {
    formed(Net::new(n), n)
}

fn rejections(out: &Output) -> Vec<RejectReason> {
    out.events
        .iter()
        .filter_map(|e| match e {
            GroupEvent::Rejected { reason, .. } => Some(*reason),
            _ => None,
        })
        .collect()
}

/// The input was passed over silently for `why`, and nothing else happened.
fn assert_silent(out: &Output, why: Silent) {
    assert_eq!(out.silent, vec![why], "events: {:?}", out.events);
    assert!(out.events.is_empty(), "no event: {:?}", out.events);
    assert!(out.publish.is_empty(), "nothing published");
}

/// The input was refused with exactly one `Rejected { reason }`, and nothing else happened.
fn assert_refused(out: &Output, reason: RejectReason) {
    assert_eq!(rejections(out), vec![reason], "events: {:?}", out.events);
    assert_eq!(out.events.len(), 1);
    assert!(out.silent.is_empty(), "not also silent: {:?}", out.silent);
    assert!(out.publish.is_empty(), "nothing published");
}

fn epoch(net: &Net, i: usize, g: &GroupId) -> u64 {
    net.members[i].engine.group_summary(g).unwrap().epoch
}

#[test]
fn copies_and_echoes_are_passed_over_as_duplicates() {
    let (mut net, g) = group(3);
    net.send(0, &g, b"hello");
    let queued = net.take_queue();
    let Publication { topic, payload, .. } = queued[0].clone();
    for p in queued {
        net.enqueue(p.from, p.topic, p.payload);
    }
    net.flush();
    let out = net.inject(1, &topic, payload.clone());
    assert_silent(&out, Silent::Duplicate);
    // The sender's own message coming back.
    let out = net.inject(0, &topic, payload);
    assert_eq!(out.silent.len(), 1, "{:?}", out.silent);
    assert!(matches!(out.silent[0], Silent::Duplicate | Silent::OwnEcho));
    assert!(out.events.is_empty());
}

#[test]
fn a_commit_already_applied_sent_again_is_passed_over() {
    let g = gid("g");
    let mut net = Net::new(3);
    net.create(0, &g);
    net.join(1, &g);
    net.run(5_000);
    net.recorded = Some(Vec::new());
    net.join(2, &g);
    net.run(5_000);
    net.assert_converged(&g, &[0, 1, 2]);
    let (topic, mut env) = net
        .recorded
        .take()
        .unwrap()
        .into_iter()
        .find_map(
            |Publication { topic, payload, .. }| match Envelope::decode_checked(&payload) {
                Ok((env, Kind::Commit)) => Some((topic, env)),
                _ => None,
            },
        )
        .expect("a commit was published");
    // Other bytes (no branch tag), same commit: not a copy, but applied already.
    env.branch = Vec::new();
    let out = net.inject(1, &topic, env.encode_to_vec());
    assert_silent(&out, Silent::AlreadyApplied);
}

#[test]
fn traffic_for_others_is_passed_over_and_forgeries_of_it_are_refused() {
    let (mut net, g) = group(3);
    let t = GroupTopics::of(&g);
    let e = epoch(&net, 1, &g);
    let gb = g.as_bytes();
    // A Welcome reaching a member.
    let welcome = Envelope::new(Kind::Welcome, gb, e, vec![1; 40]).encode_to_vec();
    assert_silent(&net.inject(1, &t.join, welcome), Silent::NotForThisMember);
    // A certificate part for members still in an earlier epoch.
    let body = sealed::seal_certificate(&[9; 16], gb, e - 1, &[3; 32], [4; 12], &[5; 20]);
    let cert = Envelope::new(Kind::Certificate, gb, e - 1, body).encode_to_vec();
    assert_silent(&net.inject(1, &t.group, cert), Silent::NotForThisMember);
    // A catch-up request of a later epoch (a claim, nothing more) ...
    let later = Envelope::new(Kind::CatchUp, gb, e + 1, vec![7; 40]).encode_to_vec();
    assert_silent(&net.inject(1, &t.group, later), Silent::NotForThisMember);
    // ... and one of this epoch that does not open under its key: refused.
    let forged = Envelope::new(Kind::CatchUp, gb, e, vec![7; 40]).encode_to_vec();
    assert_refused(&net.inject(1, &t.group, forged), RejectReason::NotAMember);
    // A beyond-history statement for members of another epoch.
    let beyond = Envelope::new(Kind::Beyond, gb, e - 1, vec![1, 2, 3]).encode_to_vec();
    assert_silent(&net.inject(1, &t.group, beyond), Silent::NotForThisMember);
}

#[test]
fn later_epochs_are_held_and_history_from_before_joining_is_passed_over() {
    let (mut net, g) = group(3);
    let t = GroupTopics::of(&g);
    let e = epoch(&net, 2, &g);
    let gb = g.as_bytes();
    let future = Envelope::new(Kind::Mls, gb, e + 1, vec![0x42; 60]).encode_to_vec();
    assert_silent(&net.inject(2, &t.group, future), Silent::Held);
    // Member 2 joined in epoch `e`: an epoch before that is somebody else's history.
    let old = Envelope::new(Kind::Mls, gb, e - 1, vec![0x42; 60]).encode_to_vec();
    assert_silent(&net.inject(2, &t.group, old), Silent::BeforeJoined);
    let old_commit = Envelope::new(Kind::Commit, gb, e - 1, vec![0x42; 60]).encode_to_vec();
    assert_silent(&net.inject(2, &t.group, old_commit), Silent::BeforeJoined);
}

#[test]
fn a_joiner_holds_group_traffic_passes_over_others_welcomes_and_refuses_beyond_its_buffer() {
    let g = gid("g");
    let mut params = params();
    params.max_buffered_messages = 4;
    let mut net = Net::with_params(0, params.clone());
    for i in 0..4 {
        net.add_member(i, params.clone());
    }
    net.create(0, &g);
    net.join(1, &g);
    net.run(5_000);
    // Member 3 asks to join and hears nothing meanwhile; member 2 joins.
    net.join(3, &g);
    net.members[3].online = false;
    net.recorded = Some(Vec::new());
    net.join(2, &g);
    net.run(5_000);
    net.members[3].online = true;
    let t = GroupTopics::of(&g);
    let welcome_for_2 =
        net.recorded
            .take()
            .unwrap()
            .into_iter()
            .find_map(|Publication { payload, .. }| {
                matches!(Envelope::decode_checked(&payload), Ok((_, Kind::Welcome)))
                    .then_some(payload)
            });
    assert!(
        !net.members[2].engine.pending_joins().contains(&g),
        "member 2 joined"
    );
    let welcome = welcome_for_2.expect("a Welcome was published");
    assert!(net.members[3].engine.pending_joins().contains(&g));
    let out = net.inject(3, &t.join, welcome);
    // It named only member 2's KeyPackage, or both (then member 3 waits for its tree).
    assert_eq!(out.silent.len(), 1, "{:?} {:?}", out.silent, out.events);
    assert!(matches!(
        out.silent[0],
        Silent::NotForThisMember | Silent::Held
    ));
    // Group traffic reaching a joiner is held for after the Welcome, up to its buffer.
    let e = net.members[0].engine.group_summary(&g).unwrap().epoch;
    let mut held = 0;
    for n in 0..6u8 {
        let junk = Envelope::new(Kind::Mls, g.as_bytes(), e, vec![n; 50]).encode_to_vec();
        let out = net.inject(3, &t.group, junk);
        if out.silent == vec![Silent::Held] {
            assert!(out.events.is_empty());
            held += 1;
        } else {
            assert_refused(&out, RejectReason::BufferFull);
        }
    }
    assert!(held <= 4, "bounded by max_buffered_messages");
}
