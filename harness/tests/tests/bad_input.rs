//! Every kind of bad input is refused with a typed event and leaves group state unchanged
//! (epoch, roster, authenticator and proposal records), and the group keeps working.

use std::sync::Arc;

use consensus_hashgraph::{
    ConsensusMessage, Ed25519Signer, MemoryStore, ProposalParams, Signer, VoterSet,
};
use demls::engine::{GroupEvent, GroupSummary, GroupTopics};
use demls::internals::wire::{
    self, Envelope, Frame, GroupProposal, Kind, RemoveMember, frame, group_proposal,
};
use demls::{EngineError, GroupId, Identity, RejectReason};
use demls_tests::net::{Net, Publication, formed, gid, params, seed};

/// A converged group of `n` members (0 created it; 1.. joined in order, so leaf i = member i).
fn group(n: usize) -> (Net, GroupId) {
    formed(Net::new(n), n)
}

fn state(net: &Net, i: usize, g: &GroupId) -> GroupSummary {
    net.members[i].engine.group_summary(g).unwrap()
}

/// Injects `payload` to member `to` and returns the single rejection reason it produced.
fn inject_rejected(
    net: &mut Net,
    to: usize,
    topic: &demls::Topic,
    payload: Vec<u8>,
) -> RejectReason {
    let out = net.inject(to, topic, payload);
    let reasons: Vec<RejectReason> = out
        .events
        .iter()
        .filter_map(|e| match e {
            GroupEvent::Rejected { reason, .. } => Some(*reason),
            _ => None,
        })
        .collect();
    assert_eq!(
        reasons.len(),
        1,
        "expected exactly one rejection, got {:?}",
        out.events
    );
    assert!(
        out.publish.is_empty(),
        "a rejected input must not cause publications"
    );
    reasons[0]
}

/// The group still works: a message from member `from` reaches everyone.
fn still_works(net: &mut Net, g: &GroupId, from: usize) {
    let id = net.send(from, g, b"still alive");
    net.run(1_000);
    // The real group's members (an outsider running its own group under the same id is not).
    let ours = state(net, from, g).members;
    for i in net.in_group(g) {
        if i != from && ours.contains(&net.id(i)) {
            assert!(
                net.received(i, g).contains_key(&id),
                "member {i} missed the follow-up message"
            );
        }
    }
}

fn topics(g: &GroupId) -> GroupTopics {
    GroupTopics::of(g)
}

#[test]
fn malformed_bytes_are_rejected_and_change_nothing() {
    let (mut net, g) = group(3);
    let before = state(&net, 1, &g);
    let t = topics(&g);
    assert_eq!(
        inject_rejected(&mut net, 1, &t.group, vec![0xff; 40]),
        RejectReason::Malformed
    );
    assert_eq!(
        inject_rejected(&mut net, 1, &t.group, Vec::new()),
        RejectReason::Malformed
    );
    // A valid envelope whose body is not an MLS message.
    let env = Envelope::new(Kind::Mls, g.as_bytes(), before.epoch, vec![1, 2, 3]).encode_to_vec();
    assert_eq!(
        inject_rejected(&mut net, 1, &t.group, env),
        RejectReason::Malformed
    );
    // A member's genuine MLS message whose plaintext is not a frame.
    let junk = net.adversary(2, &g).encrypt_bytes(&[0xff, 0xff, 0xff]);
    assert_eq!(
        inject_rejected(&mut net, 1, &t.group, junk),
        RejectReason::Malformed
    );
    assert_eq!(state(&net, 1, &g), before);
    still_works(&mut net, &g, 1);
}

#[test]
fn a_message_for_another_group_is_rejected() {
    let (mut net, g) = group(2);
    let before = state(&net, 1, &g);
    let env = Envelope::new(Kind::Mls, b"another-group", before.epoch, vec![0; 10]).encode_to_vec();
    assert_eq!(
        inject_rejected(&mut net, 1, &topics(&g).group, env),
        RejectReason::UnknownGroup
    );
    assert_eq!(state(&net, 1, &g), before);
    still_works(&mut net, &g, 0);
}

#[test]
fn a_message_on_the_wrong_topic_is_rejected() {
    let (mut net, g) = group(2);
    let before = state(&net, 1, &g);
    let env = net.adversary(0, &g).encrypt_frame(&chat(b"x"));
    assert_eq!(
        inject_rejected(&mut net, 1, &topics(&g).welcome, env),
        RejectReason::WrongTopic
    );
    assert_eq!(state(&net, 1, &g), before);
    still_works(&mut net, &g, 0);
}

fn chat(payload: &[u8]) -> Frame {
    Frame {
        body: Some(frame::Body::Chat(wire::Chat {
            resent_from_epoch: None,
            message_id: vec![7; 16],
            payload: payload.to_vec(),
            sent_at: 0,
            history: Vec::new(),
        })),
    }
}

#[test]
fn stale_and_far_future_epochs_are_rejected() {
    let (mut net, g) = group(2);
    // A genuine message from epoch 1, replayed after the group moved on by four epochs.
    let old = net.adversary(0, &g).encrypt_frame(&chat(b"old"));
    for i in 2..6 {
        net.add_member(i, params());
        net.join(i, &g);
        net.run(5_000);
    }
    net.assert_converged(&g, &[0, 1, 2, 3, 4, 5]);
    let before = state(&net, 1, &g);
    assert_eq!(before.epoch, 5);
    let t = topics(&g);
    assert_eq!(
        inject_rejected(&mut net, 1, &t.group, old),
        RejectReason::StaleEpoch
    );
    let future =
        Envelope::new(Kind::Mls, g.as_bytes(), before.epoch + 100, vec![0; 8]).encode_to_vec();
    assert_eq!(
        inject_rejected(&mut net, 1, &t.group, future),
        RejectReason::FutureEpoch
    );
    assert_eq!(state(&net, 1, &g), before);
    still_works(&mut net, &g, 3);
}

#[test]
fn a_non_member_can_neither_send_messages_nor_commits() {
    let (mut net, g) = group(2);
    // An outsider runs its own MLS group under the same group id and epoch.
    let outsider = net.add_member(9, params());
    net.members[outsider].subscribed.clear();
    let out = net.members[outsider]
        .engine
        .create_group(g.clone(), net.now)
        .unwrap();
    drop(out);
    let intruder = net.adversary(outsider, &g);
    intruder.advance_epoch();
    let before = state(&net, 1, &g);
    assert_eq!(
        intruder.epoch(),
        before.epoch,
        "the outsider is at the same epoch number"
    );
    let t = topics(&g);
    let msg = intruder.encrypt_frame(&chat(b"let me in"));
    assert_eq!(
        inject_rejected(&mut net, 1, &t.group, msg),
        RejectReason::MlsRejected
    );
    let commit = intruder.commit(vec![], vec![]);
    assert_eq!(
        inject_rejected(&mut net, 1, &t.group, commit),
        RejectReason::NotAMember
    );
    assert_eq!(state(&net, 1, &g), before);
    still_works(&mut net, &g, 0);
}

/// Member 0 proposes removing member 3; returns the proposal's consensus bytes (decrypted by a
/// copy of member 1) and leaves the proposal undelivered.
fn open_removal(net: &mut Net, g: &GroupId) -> Vec<u8> {
    let target = net.id(3);
    net.propose_remove(0, g, target);
    let queued = net.take_queue();
    assert_eq!(queued.len(), 1, "the proposal is one message");
    let frame = net
        .adversary(1, g)
        .decrypt(&queued[0].payload)
        .expect("a frame");
    let Some(frame::Body::Consensus(bytes)) = frame.body else {
        panic!("expected a consensus frame")
    };
    // Deliver the proposal to member 2 only (the victim), not its automatic vote.
    for Publication { topic, payload, .. } in queued {
        let out = net.inject(2, &topic, payload);
        net.apply(2, out);
    }
    net.take_queue();
    bytes
}

/// A vote on `proposal` by member `voter`, signed with `signer` (normally the voter's own key).
fn craft_vote(
    net: &Net,
    proposal: &[u8],
    voter_keys: &[Vec<u8>],
    signer: &Ed25519Signer,
    yes: bool,
) -> consensus_hashgraph::Vote {
    let ConsensusMessage::Proposal(p) = ConsensusMessage::decode(proposal).unwrap() else {
        panic!("not a proposal")
    };
    let voters = Arc::new(VoterSet::new(voter_keys).unwrap());
    let mut shadow = consensus_hashgraph::Consensus::new(
        consensus_hashgraph::Config::default(),
        MemoryStore::new(),
    );
    shadow.ingest_proposal(p, &voters, net.now.0).unwrap();
    let digest = *shadow.proposals().next().unwrap();
    shadow.vote(&digest, yes, signer, net.now.0).unwrap().vote
}

fn keys(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| Identity::from_seed(seed(i)).unwrap().public_key().to_vec())
        .collect()
}

fn signer(i: usize) -> Ed25519Signer {
    Ed25519Signer::from_seed(seed(i)).unwrap()
}

fn vote_bytes(v: consensus_hashgraph::Vote) -> Vec<u8> {
    ConsensusMessage::Vote(v).encode()
}

#[test]
fn a_forged_vote_is_rejected_and_not_counted() {
    let (mut net, g) = group(4);
    let proposal = open_removal(&mut net, &g);
    let before = state(&net, 2, &g);
    let mut vote = craft_vote(&net, &proposal, &keys(4), &signer(1), true);
    vote.signature[5] ^= 0x40;
    let env = net.adversary(1, &g).encrypt_consensus(vote_bytes(vote));
    let out = net.inject(2, &topics(&g).group, env);
    let rejected: Vec<_> = out
        .events
        .iter()
        .filter(|e| {
            matches!(
                e,
                GroupEvent::Rejected {
                    reason: RejectReason::InvalidVote,
                    ..
                }
            )
        })
        .collect();
    assert_eq!(rejected.len(), 1, "{:?}", out.events);
    assert!(
        !out.events
            .iter()
            .any(|e| matches!(e, GroupEvent::ProposalDecided { .. }))
    );
    assert_eq!(state(&net, 2, &g), before);
}

#[test]
fn a_duplicated_vote_is_rejected_and_counted_once() {
    let (mut net, g) = group(4);
    let proposal = open_removal(&mut net, &g);
    let vote = craft_vote(&net, &proposal, &keys(4), &signer(1), false);
    let adversary = net.adversary(1, &g);
    let first = adversary.encrypt_consensus(vote_bytes(vote.clone()));
    let second = adversary.encrypt_consensus(vote_bytes(vote));
    let out = net.inject(2, &topics(&g).group, first);
    assert!(
        !out.events
            .iter()
            .any(|e| matches!(e, GroupEvent::Rejected { .. })),
        "{:?}",
        out.events
    );
    net.apply(2, out);
    net.take_queue();
    let before = state(&net, 2, &g);
    assert_eq!(
        inject_rejected(&mut net, 2, &topics(&g).group, second),
        RejectReason::DuplicateVote
    );
    assert_eq!(state(&net, 2, &g), before);
}

#[test]
fn a_vote_from_a_key_outside_the_voter_set_is_rejected() {
    let (mut net, g) = group(4);
    let proposal = open_removal(&mut net, &g);
    let before = state(&net, 2, &g);
    // Signed correctly, but by a key that is not in the epoch's roster.
    let stranger = Ed25519Signer::from_seed([0xee; 32]).unwrap();
    let mut with_stranger = keys(4);
    with_stranger[1] = stranger.public_key().to_vec();
    let vote = craft_vote(&net, &proposal, &with_stranger, &stranger, true);
    let env = net.adversary(1, &g).encrypt_consensus(vote_bytes(vote));
    assert_eq!(
        inject_rejected(&mut net, 2, &topics(&g).group, env),
        RejectReason::IneligibleVoter
    );
    assert_eq!(state(&net, 2, &g), before);
}

#[test]
fn an_invalid_proposal_gets_a_no_vote_and_a_rejection() {
    let (mut net, g) = group(3);
    let payload = wire::encode(&GroupProposal {
        group_id: g.as_bytes().to_vec(),
        epoch: state(&net, 0, &g).epoch,
        action: Some(group_proposal::Action::Remove(RemoveMember {
            member_id: vec![0x42; 20], // not a member
        })),
    });
    let voters = Arc::new(VoterSet::new(keys(3)).unwrap());
    let mut shadow = consensus_hashgraph::Consensus::new(
        consensus_hashgraph::Config::default(),
        MemoryStore::new(),
    );
    let (_, proposal) = shadow
        .open(
            ProposalParams {
                name: "demls".into(),
                payload,
                voters,
                expiration_timestamp: net.now.0 + 10_000,
                liveness_criteria_yes: true,
            },
            Some(true),
            &signer(1),
            net.now.0,
        )
        .unwrap();
    let env = net
        .adversary(1, &g)
        .encrypt_consensus(ConsensusMessage::Proposal(proposal).encode());
    let out = net.inject(2, &topics(&g).group, env);
    assert!(out.events.iter().any(|e| matches!(
        e,
        GroupEvent::Rejected {
            reason: RejectReason::InvalidProposal,
            ..
        }
    )));
    assert!(
        out.events
            .iter()
            .any(|e| matches!(e, GroupEvent::VoteCast { yes: false, .. }))
    );
}

#[test]
fn oversized_input_is_rejected_and_oversized_sends_fail() {
    let (mut net, g) = group(2);
    let before = state(&net, 1, &g);
    let limit = net.members[1].engine.params().max_inbound_bytes;
    let big = vec![0u8; limit + 1];
    assert_eq!(
        inject_rejected(&mut net, 1, &topics(&g).group, big),
        RejectReason::Oversized
    );
    let too_long = vec![0u8; net.members[0].engine.params().max_app_message_bytes + 1];
    let err = net.members[0]
        .engine
        .send_message(&g, &too_long, net.now)
        .unwrap_err();
    assert!(matches!(err, EngineError::PayloadTooLarge { .. }));
    assert_eq!(state(&net, 1, &g), before);
    still_works(&mut net, &g, 0);
}

#[test]
fn a_commit_by_a_member_who_is_not_the_steward_is_rejected() {
    let (mut net, g) = group(3);
    let before = state(&net, 2, &g);
    let commit = net.adversary(1, &g).commit(vec![], vec![]);
    assert_eq!(
        inject_rejected(&mut net, 2, &topics(&g).group, commit),
        RejectReason::UnauthorizedCommitter
    );
    assert_eq!(state(&net, 2, &g), before);
    still_works(&mut net, &g, 1);
}

#[test]
fn a_steward_commit_that_removes_a_member_without_a_vote_is_rejected() {
    let (mut net, g) = group(3);
    let before = state(&net, 1, &g);
    let commit = net.adversary(0, &g).commit(vec![2], vec![]);
    assert_eq!(
        inject_rejected(&mut net, 1, &topics(&g).group, commit),
        RejectReason::CommitMismatch
    );
    assert_eq!(state(&net, 1, &g), before);
    still_works(&mut net, &g, 2);
}

#[test]
fn a_commit_naming_a_proposal_nobody_voted_is_parked_then_rejected() {
    let (mut net, g) = group(3);
    let before = state(&net, 1, &g);
    let commit = net.adversary(0, &g).commit(vec![2], vec![[0xab; 32]]);
    let out = net.inject(1, &topics(&g).group, commit);
    assert!(
        out.events.is_empty(),
        "parked silently at first: {:?}",
        out.events
    );
    assert_eq!(state(&net, 1, &g), before);
    let grace = net.members[1].engine.params().commit_grace_ms;
    net.advance(grace + 1);
    assert!(
        net.rejections(1)
            .contains(&RejectReason::CommitUnapprovedProposal)
    );
    assert_eq!(state(&net, 1, &g), before);
    still_works(&mut net, &g, 2);
}

#[test]
fn an_invalid_key_package_announcement_is_rejected() {
    let (mut net, g) = group(2);
    let before = state(&net, 0, &g);
    let env =
        Envelope::new(Kind::KeyPackage, g.as_bytes(), 0, vec![0, 1, 0, 5, 9, 9]).encode_to_vec();
    assert_eq!(
        inject_rejected(&mut net, 0, &topics(&g).welcome, env),
        RejectReason::InvalidKeyPackage
    );
    assert_eq!(state(&net, 0, &g), before);
    still_works(&mut net, &g, 1);
}

#[test]
fn a_catch_up_request_that_does_not_open_under_its_epoch_key_is_rejected() {
    let (mut net, g) = group(2);
    for i in 2..4 {
        net.add_member(i, params());
        net.join(i, &g);
        net.run(5_000);
    }
    net.assert_converged(&g, &[0, 1, 2, 3]);
    let before = state(&net, 1, &g);
    let t = topics(&g);
    // Asking from epoch 1 (retained by every member) under a key that is not epoch 1's.
    let body = wire::sealed::seal_catch_up(&[7; 16], g.as_bytes(), 1, [1; 12], 0);
    let forged = Envelope::new(Kind::CatchUp, g.as_bytes(), 1, body).encode_to_vec();
    assert_eq!(
        inject_rejected(&mut net, 1, &t.group, forged),
        RejectReason::NotAMember
    );
    assert_eq!(state(&net, 1, &g), before);
    still_works(&mut net, &g, 2);
}

/// A `BUNDLE` envelope of `g` at `epoch` carrying `envelopes`.
fn bundle_of(g: &GroupId, epoch: u64, envelopes: Vec<Vec<u8>>) -> Vec<u8> {
    let body = prost::Message::encode_to_vec(&wire::bundle::Bundle { envelopes });
    Envelope::new(Kind::Bundle, g.as_bytes(), epoch, body).encode_to_vec()
}

#[test]
fn a_bundle_with_foreign_nested_or_undecodable_content_is_rejected_whole() {
    let (mut net, g) = group(3);
    let before = state(&net, 1, &g);
    let t = topics(&g);
    let genuine = net
        .adversary(2, &g)
        .encrypt_frame(&chat(b"inside a bundle"));
    let other = gid("other");
    let foreign = Envelope::new(Kind::Mls, other.as_bytes(), before.epoch, vec![1]).encode_to_vec();
    let nested = Envelope::new(Kind::Bundle, g.as_bytes(), before.epoch, vec![]).encode_to_vec();
    for bad in [foreign, nested, vec![0xff; 5]] {
        let env = bundle_of(&g, before.epoch, vec![genuine.clone(), bad]);
        let out = net.inject(1, &t.group, env);
        assert!(
            matches!(
                out.events.as_slice(),
                [GroupEvent::Rejected {
                    reason: RejectReason::Malformed,
                    ..
                }]
            ),
            "one rejection and nothing of the bundle processed: {:?}",
            out.events
        );
        assert!(out.publish.is_empty());
    }
    assert_eq!(state(&net, 1, &g), before);
    // The same message in a well-formed bundle is delivered like one sent alone.
    let env = bundle_of(&g, before.epoch, vec![genuine]);
    let out = net.inject(1, &t.group, env);
    assert!(out.events.iter().any(
        |e| matches!(e, GroupEvent::MessageReceived { payload, .. } if payload == b"inside a bundle")
    ));
    still_works(&mut net, &g, 1);
}

#[test]
fn a_fork_verdict_not_sealed_under_the_epoch_key_and_a_malformed_notice_are_rejected_and_another_branchs_verdict_is_ignored()
 {
    let (mut net, g) = group(3);
    let before = state(&net, 1, &g);
    let t = topics(&g);
    let notice = wire::ForkNotice {
        tags: Vec::new(),
        commit_epoch: 0,
        commit: Vec::new(),
        verdict: wire::sealed::seal_verdict(&[7; 16], g.as_bytes(), before.epoch, [1; 12], 0),
    };
    let forged = Envelope::new(
        Kind::ForkNotice,
        g.as_bytes(),
        before.epoch,
        prost::Message::encode_to_vec(&notice),
    )
    .encode_to_vec();
    assert_eq!(
        inject_rejected(&mut net, 1, &t.group, forged),
        RejectReason::NotAMember
    );
    // The same verdict tagged with another branch's epoch is not for this member: dropped
    // without a rejection (survivors hear the losers' verdicts after every fork).
    let foreign = Envelope::new(
        Kind::ForkNotice,
        g.as_bytes(),
        before.epoch,
        prost::Message::encode_to_vec(&notice),
    )
    .with_branch(&[0xee; 8])
    .encode_to_vec();
    let out = net.inject(1, &t.group, foreign);
    assert!(
        out.events.is_empty() && out.publish.is_empty(),
        "another branch's verdict is ignored: {:?}",
        out.events
    );
    let junk =
        Envelope::new(Kind::ForkNotice, g.as_bytes(), before.epoch, vec![0xff; 9]).encode_to_vec();
    assert_eq!(
        inject_rejected(&mut net, 1, &t.group, junk),
        RejectReason::Malformed
    );
    assert_eq!(state(&net, 1, &g), before);
    still_works(&mut net, &g, 2);
}

/// A joiner re-announces its KeyPackage until added: the same bytes are taken without being
/// checked again, but a copy that differs in any byte (here: its signature) is checked, and
/// refused.
#[test]
fn a_re_announced_key_package_is_taken_as_is_but_a_tampered_copy_is_checked_and_refused() {
    let (mut net, g) = group(2);
    let joiner = net.add_member(2, params());
    net.join(joiner, &g);
    let announcement = net
        .take_queue()
        .into_iter()
        .find(|p| {
            p.from == joiner
                && Envelope::decode_checked(&p.payload).is_ok_and(|(_, k)| k == Kind::KeyPackage)
        })
        .expect("the joiner announced a KeyPackage");
    let Publication {
        topic,
        payload: bytes,
        ..
    } = announcement;
    for _ in 0..2 {
        let out = net.inject(0, &topic, bytes.clone());
        assert!(
            !out.events
                .iter()
                .any(|e| matches!(e, GroupEvent::Rejected { .. })),
            "{:?}",
            out.events
        );
        net.take_queue();
    }
    let (mut env, _) = Envelope::decode_checked(&bytes).unwrap();
    let at = env.body.len() - 8;
    env.body[at] ^= 0x01;
    assert_eq!(
        inject_rejected(&mut net, 0, &topic, env.encode_to_vec()),
        RejectReason::InvalidKeyPackage
    );
}
