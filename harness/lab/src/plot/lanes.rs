//! The epoch timeline's data: each member's epoch over time, its down intervals and its marks,
//! and the partition bands, derived from [`Observations`] alone. Owns the derivation; draws
//! nothing (see `timeline.rs`).
//!
//! Rules: `GroupCreated`, `Joined` and `EpochAdvanced` set the member's epoch (a new segment
//! starts when the epoch changes); `Removed` ends membership; `ForkResolved` is marked, and
//! when the member's side was not kept its segment ends there (it is re-added, and the next
//! `Joined`/`EpochAdvanced` gives its new epoch). A `Crash` mark ends the open segment and
//! starts a down interval; the `Restart` mark ends it, and a member that was in the group
//! resumes at the epoch it had (its state is persistent) until its next event says otherwise.
//! At one instant a restart comes before the member's events and a crash after them.

use demls::api::Event;

use crate::observe::{MarkKind, Observations};

/// A time interval of one member's lane at one epoch, in ms from the start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EpochSegment {
    /// Start (inclusive), ms.
    pub start_ms: u64,
    /// End (exclusive), ms.
    pub end_ms: u64,
    /// The member's epoch throughout.
    pub epoch: u64,
}

/// What a lane mark shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LaneMarkKind {
    /// The member crashed.
    Crash,
    /// The member restarted.
    Restart,
    /// The member asked to join.
    Join,
    /// Its removal was proposed.
    Remove,
    /// It asked to leave.
    Leave,
    /// It saw a fork resolved; `survived` says whether its side was kept.
    ForkResolved {
        /// Whether its side was kept.
        survived: bool,
    },
}

/// A symbol on a member's lane.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LaneMark {
    /// When, ms.
    pub at_ms: u64,
    /// What.
    pub kind: LaneMarkKind,
}

/// One member's lane.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lane {
    /// The member's index.
    pub member: usize,
    /// Its epochs over time, in time order, not overlapping.
    pub segments: Vec<EpochSegment>,
    /// When it was down (crash to restart, or to the end), `(start_ms, end_ms)`.
    pub down: Vec<(u64, u64)>,
    /// Its marks, in time order.
    pub marks: Vec<LaneMark>,
}

/// A partition: from a `Partition` mark to the next `Heal` (or the end of the run).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Band {
    /// Start, ms.
    pub start_ms: u64,
    /// End, ms.
    pub end_ms: u64,
}

/// One member's state while its lane is derived.
#[derive(Default)]
struct Tracker {
    lane: Lane,
    /// The open segment: its epoch and start.
    open: Option<(u64, u64)>,
    /// When it went down, if it is down.
    down_since: Option<u64>,
    /// Its epoch when it crashed in the group, to resume at on restart.
    resume: Option<u64>,
}

impl Tracker {
    fn close(&mut self, at_ms: u64) {
        if let Some((epoch, start_ms)) = self.open.take() {
            if at_ms > start_ms {
                self.lane.segments.push(EpochSegment {
                    start_ms,
                    end_ms: at_ms,
                    epoch,
                });
            }
        }
    }

    fn set_epoch(&mut self, at_ms: u64, epoch: u64) {
        if self.down_since.is_some() {
            return;
        }
        if matches!(self.open, Some((open, _)) if open == epoch) {
            return;
        }
        self.close(at_ms);
        self.open = Some((epoch, at_ms));
    }

    fn event(&mut self, at_ms: u64, event: &Event) {
        match event {
            Event::GroupCreated { epoch, .. }
            | Event::Joined { epoch, .. }
            | Event::EpochAdvanced { epoch, .. } => self.set_epoch(at_ms, *epoch),
            Event::Removed { .. } => self.close(at_ms),
            Event::ForkResolved { survived, .. } => {
                self.mark(
                    at_ms,
                    LaneMarkKind::ForkResolved {
                        survived: *survived,
                    },
                );
                if !*survived {
                    self.close(at_ms);
                }
            }
            _ => {}
        }
    }

    fn crash(&mut self, at_ms: u64) {
        self.mark(at_ms, LaneMarkKind::Crash);
        if self.down_since.is_some() {
            return;
        }
        self.resume = self.open.map(|(epoch, _)| epoch);
        self.close(at_ms);
        self.down_since = Some(at_ms);
    }

    fn restart(&mut self, at_ms: u64) {
        self.mark(at_ms, LaneMarkKind::Restart);
        if let Some(since) = self.down_since.take() {
            self.lane.down.push((since, at_ms));
            if let Some(epoch) = self.resume.take() {
                self.open = Some((epoch, at_ms));
            }
        }
    }

    fn mark(&mut self, at_ms: u64, kind: LaneMarkKind) {
        self.lane.marks.push(LaneMark { at_ms, kind });
    }

    fn finish(mut self, end_ms: u64) -> Lane {
        self.close(end_ms);
        if let Some(since) = self.down_since.take() {
            self.lane.down.push((since, end_ms.max(since)));
        }
        self.lane
    }
}

/// What happens to a member at one instant, in the order it is applied.
enum Step<'a> {
    Restart,
    Event(&'a Event),
    Plain(LaneMarkKind),
    Crash,
}

impl Step<'_> {
    /// Order at one instant: a restart first, a crash last.
    fn rank(&self) -> u8 {
        match self {
            Step::Restart => 0,
            Step::Event(_) | Step::Plain(_) => 1,
            Step::Crash => 2,
        }
    }
}

/// Every member's lane, by member index: as many lanes as the run has members (or as the
/// highest member index in its events and marks, if that is larger).
pub fn lanes(obs: &Observations) -> Vec<Lane> {
    let mut steps: Vec<(u64, usize, Step)> = Vec::new();
    for observed in &obs.events {
        steps.push((
            observed.at_ms,
            observed.member,
            Step::Event(&observed.event),
        ));
    }
    for mark in &obs.marks {
        let (member, step) = match &mark.kind {
            MarkKind::Crash { member } => (*member, Step::Crash),
            MarkKind::Restart { member } => (*member, Step::Restart),
            MarkKind::Join { member } => (*member, Step::Plain(LaneMarkKind::Join)),
            MarkKind::Remove { member, .. } => (*member, Step::Plain(LaneMarkKind::Remove)),
            MarkKind::Leave { member } => (*member, Step::Plain(LaneMarkKind::Leave)),
            MarkKind::Partition { .. }
            | MarkKind::Heal
            | MarkKind::Network { .. }
            | MarkKind::Malicious { .. } => continue,
        };
        steps.push((mark.at_ms, member, step));
    }
    // Stable: events keep their report order, marks their applied order.
    steps.sort_by_key(|(at_ms, _, step)| (*at_ms, step.rank()));

    let count = steps
        .iter()
        .map(|(_, member, _)| member + 1)
        .max()
        .unwrap_or(0)
        .max(obs.members.len());
    let mut trackers: Vec<Tracker> = (0..count)
        .map(|member| Tracker {
            lane: Lane {
                member,
                ..Lane::default()
            },
            ..Tracker::default()
        })
        .collect();
    for (at_ms, member, step) in steps {
        let Some(tracker) = trackers.get_mut(member) else {
            continue;
        };
        match step {
            Step::Restart => tracker.restart(at_ms),
            Step::Event(event) => tracker.event(at_ms, event),
            Step::Plain(kind) => tracker.mark(at_ms, kind),
            Step::Crash => tracker.crash(at_ms),
        }
    }
    trackers.into_iter().map(|t| t.finish(obs.end_ms)).collect()
}

/// The partitions of the run, in time order: each `Partition` mark opens a band (a partition
/// while one is open changes the sets but not the band), the next `Heal` closes it, and a band
/// still open at the end closes at `end_ms`.
pub fn partition_bands(obs: &Observations) -> Vec<Band> {
    let mut bands = Vec::new();
    let mut open: Option<u64> = None;
    for mark in &obs.marks {
        match mark.kind {
            MarkKind::Partition { .. } => {
                open.get_or_insert(mark.at_ms);
            }
            MarkKind::Heal => {
                if let Some(start_ms) = open.take() {
                    bands.push(Band {
                        start_ms,
                        end_ms: mark.at_ms,
                    });
                }
            }
            _ => {}
        }
    }
    if let Some(start_ms) = open {
        bands.push(Band {
            start_ms,
            end_ms: obs.end_ms.max(start_ms),
        });
    }
    bands
}

#[cfg(test)]
pub(crate) mod tests {
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
}
