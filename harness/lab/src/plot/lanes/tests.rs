//! The lane derivation on hand-built observations: epochs, down intervals, marks, bands.

use super::*;
use crate::observe::{Backend, Mark, MemberMeta, Observed, TrafficUnit};
use demls::types::{GroupId, MemberId};

fn group() -> GroupId {
    GroupId::new(b"lab".to_vec()).unwrap()
}

fn at(at_ms: u64, member: usize, event: Event) -> Observed {
    Observed {
        at_ms,
        member,
        event,
    }
}

fn advanced(epoch: u64, members: u32) -> Event {
    Event::EpochAdvanced {
        group: group(),
        epoch,
        committer: MemberId([0; 20]),
        added: vec![],
        removed: vec![],
        members,
        authenticator: vec![1, 2, 3],
    }
}

fn mark(at_ms: u64, kind: MarkKind) -> Mark {
    Mark { at_ms, kind }
}

/// Three members: 0 creates the group, 1 is added at epoch 1, 2 joins late (epoch 2);
/// 1 crashes at 5 s and restarts at 7 s; a partition from 10 s heals at 14 s, after which
/// 2 (whose side lost) is re-added at epoch 4; the run ends at 20 s.
pub(crate) fn three_members() -> Observations {
    let g = group();
    let events = vec![
        at(
            0,
            0,
            Event::GroupCreated {
                group: g.clone(),
                epoch: 0,
            },
        ),
        at(1_000, 0, advanced(1, 2)),
        at(
            1_000,
            1,
            Event::Joined {
                group: g.clone(),
                epoch: 1,
                members: 2,
            },
        ),
        at(3_000, 0, advanced(2, 3)),
        at(3_000, 1, advanced(2, 3)),
        at(
            3_100,
            2,
            Event::Joined {
                group: g.clone(),
                epoch: 2,
                members: 3,
            },
        ),
        at(8_000, 1, advanced(3, 3)),
        at(8_000, 0, advanced(3, 3)),
        at(8_000, 2, advanced(3, 3)),
        at(
            15_000,
            0,
            Event::ForkResolved {
                group: g.clone(),
                fork_epoch: 3,
                survived: true,
            },
        ),
        at(
            15_000,
            2,
            Event::ForkResolved {
                group: g.clone(),
                fork_epoch: 3,
                survived: false,
            },
        ),
        at(16_000, 0, advanced(4, 3)),
        at(16_000, 1, advanced(4, 3)),
        at(
            16_500,
            2,
            Event::Joined {
                group: g,
                epoch: 4,
                members: 3,
            },
        ),
    ];
    let marks = vec![
        mark(2_500, MarkKind::Join { member: 2 }),
        mark(5_000, MarkKind::Crash { member: 1 }),
        mark(7_000, MarkKind::Restart { member: 1 }),
        mark(
            10_000,
            MarkKind::Partition {
                sets: vec![vec![0, 1], vec![2]],
            },
        ),
        mark(14_000, MarkKind::Heal),
    ];
    Observations {
        backend: Backend::Simulator,
        seed: 7,
        members: (0..3)
            .map(|index| MemberMeta {
                index,
                member_id: format!("m{index}"),
            })
            .collect(),
        events,
        sent: vec![],
        traffic: vec![],
        traffic_unit: TrafficUnit::Envelopes,
        marks,
        formed_at_ms: Some(3_100),
        endings: vec![],
        end_ms: 20_000,
        problems: vec![],
    }
}

fn seg(start_ms: u64, end_ms: u64, epoch: u64) -> EpochSegment {
    EpochSegment {
        start_ms,
        end_ms,
        epoch,
    }
}

#[test]
fn lanes_follow_each_members_epochs_downtime_and_marks() {
    let lanes = lanes(&three_members());
    assert_eq!(lanes.len(), 3);

    assert_eq!(
        lanes[0].segments,
        vec![
            seg(0, 1_000, 0),
            seg(1_000, 3_000, 1),
            seg(3_000, 8_000, 2),
            seg(8_000, 16_000, 3),
            seg(16_000, 20_000, 4)
        ]
    );
    assert!(lanes[0].down.is_empty());
    assert_eq!(
        lanes[0].marks,
        vec![LaneMark {
            at_ms: 15_000,
            kind: LaneMarkKind::ForkResolved { survived: true }
        }]
    );

    // Down from 5 s to 7 s, back at epoch 2 until the next commit.
    assert_eq!(
        lanes[1].segments,
        vec![
            seg(1_000, 3_000, 1),
            seg(3_000, 5_000, 2),
            seg(7_000, 8_000, 2),
            seg(8_000, 16_000, 3),
            seg(16_000, 20_000, 4)
        ]
    );
    assert_eq!(lanes[1].down, vec![(5_000, 7_000)]);
    assert_eq!(
        lanes[1].marks,
        vec![
            LaneMark {
                at_ms: 5_000,
                kind: LaneMarkKind::Crash
            },
            LaneMark {
                at_ms: 7_000,
                kind: LaneMarkKind::Restart
            },
        ]
    );

    // Joins late; its side lost the fork: a gap from 15 s to its re-add at 16.5 s.
    assert_eq!(
        lanes[2].segments,
        vec![
            seg(3_100, 8_000, 2),
            seg(8_000, 15_000, 3),
            seg(16_500, 20_000, 4)
        ]
    );
    assert_eq!(
        lanes[2].marks,
        vec![
            LaneMark {
                at_ms: 2_500,
                kind: LaneMarkKind::Join
            },
            LaneMark {
                at_ms: 15_000,
                kind: LaneMarkKind::ForkResolved { survived: false }
            },
        ]
    );
}

#[test]
fn partition_bands_run_from_partition_to_heal_or_to_the_end() {
    let mut obs = three_members();
    assert_eq!(
        partition_bands(&obs),
        vec![Band {
            start_ms: 10_000,
            end_ms: 14_000
        }]
    );
    obs.marks.push(mark(
        17_000,
        MarkKind::Partition {
            sets: vec![vec![0]],
        },
    ));
    obs.marks.push(mark(
        18_000,
        MarkKind::Partition {
            sets: vec![vec![1]],
        },
    ));
    assert_eq!(
        partition_bands(&obs),
        vec![
            Band {
                start_ms: 10_000,
                end_ms: 14_000
            },
            Band {
                start_ms: 17_000,
                end_ms: 20_000
            }
        ]
    );
}

#[test]
fn a_removed_member_has_a_gap_and_a_crash_without_restart_stays_down_to_the_end() {
    let mut obs = three_members();
    obs.events.push(at(
        18_000,
        2,
        Event::Removed {
            group: group(),
            epoch: 5,
            committer: MemberId([0; 20]),
        },
    ));
    obs.marks.push(mark(19_000, MarkKind::Crash { member: 0 }));
    let lanes = lanes(&obs);
    assert_eq!(lanes[2].segments.last(), Some(&seg(16_500, 18_000, 4)));
    assert_eq!(lanes[0].segments.last(), Some(&seg(16_000, 19_000, 4)));
    assert_eq!(lanes[0].down, vec![(19_000, 20_000)]);
}

#[test]
fn no_members_give_no_lanes() {
    let mut obs = three_members();
    obs.members.clear();
    obs.events.clear();
    obs.marks.clear();
    assert!(lanes(&obs).is_empty());
    assert!(partition_bands(&obs).is_empty());
}
