//! A joiner lands only in the group it asked to join: a Welcome into another MLS group,
//! relabelled with the asked group's id, is refused (issue 13, item 2).

use demls::engine::{GroupEvent, GroupTopics};
use demls::internals::wire::Envelope;
use demls::{GroupId, RejectReason};
use demls_tests::net::{Net, gid};

/// `payload` (an envelope) with its group id replaced by `group`.
fn relabel(payload: &[u8], group: &GroupId) -> (Envelope, Vec<u8>) {
    let (mut env, _) = Envelope::decode_checked(payload).expect("an envelope");
    env.group_id = group.as_bytes().to_vec();
    let bytes = env.encode_to_vec();
    (env, bytes)
}

/// Member 0 runs a group of its own ("evil"); member 1 asks to join "real". Member 0 takes
/// member 1's public KeyPackage announcement, relabels it for "evil", adds member 1 to "evil"
/// by its own vote and commit, and sends the resulting Welcome and ratchet tree to member 1
/// relabelled for "real". Member 1 must not join, must say why, and must still be able to join
/// "real" for real afterwards.
#[test]
fn a_welcome_into_another_group_relabelled_for_the_asked_one_is_refused() {
    let mut net = Net::new(3);
    let (real, evil) = (gid("real"), gid("evil"));
    net.create(0, &evil);
    net.create(2, &real);
    net.flush();
    net.join(1, &real);
    // The joiner's announcement, as an outsider on the relay sees it.
    let announce = net
        .take_queue()
        .into_iter()
        .find(|p| p.from == 1)
        .map(|p| p.payload)
        .expect("the joiner announced a KeyPackage");
    let (_, for_evil) = relabel(&announce, &evil);
    // Member 0 alone votes and commits the add in "evil".
    let to_joiner: Vec<Vec<u8>> = net
        .add_alone(0, &evil, for_evil)
        .iter()
        .map(|p| relabel(p, &real).1)
        .collect();
    let join_topic = GroupTopics::of(&real).join;
    let events: Vec<GroupEvent> = to_joiner
        .into_iter()
        .flat_map(|payload| net.inject(1, &join_topic, payload).events)
        .collect();
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, GroupEvent::Joined { .. })),
        "joined a foreign group: {events:?}"
    );
    assert!(
        events.iter().any(|e| matches!(
            e,
            GroupEvent::Rejected {
                reason: RejectReason::ForeignWelcome,
                ..
            }
        )),
        "no rejection: {events:?}"
    );
    assert!(net.members[1].engine.group_summary(&real).is_none());
    // The real group still adds the joiner (its announcement is re-sent on a timer).
    net.run(30_000);
    let members = net.in_group(&real);
    assert!(
        members.contains(&1),
        "the joiner is in the real group: {members:?}"
    );
    net.assert_converged(&real, &[1, 2]);
}
