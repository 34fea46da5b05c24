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
pub(crate) mod tests;
