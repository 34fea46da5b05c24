//! What one run of a scenario observed, in the same form whether it ran on the simulator or on
//! real processes: every member's API events with their times, every message sent, traffic
//! samples, the faults applied and every member's final state. Metrics and plots are computed
//! from this alone; this module computes nothing.

use demls::api::Event;
use serde::{Deserialize, Serialize};

/// Where a run happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// The deterministic simulator (virtual time).
    Simulator,
    /// Real `demls` processes in network namespaces (wall time).
    Lab,
}

/// What the traffic counters count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrafficUnit {
    /// de-MLS envelopes handed to and delivered by the transport (simulator): no transport
    /// overhead.
    Envelopes,
    /// IP packets through the emulated network (lab): everything on the wire, including TCP,
    /// libp2p, gossipsub and retransmissions.
    IpPackets,
}

/// One member as a run knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberMeta {
    /// Its index in the scenario (`0..members.count`).
    pub index: usize,
    /// Its member id (base64 of the 20 bytes, as the API prints it).
    pub member_id: String,
}

/// An API event one member reported.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Observed {
    /// When, in milliseconds from the start of the run.
    pub at_ms: u64,
    /// Which member reported it.
    pub member: usize,
    /// The event.
    pub event: Event,
}

/// An application message a member sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sent {
    /// When, ms from the start.
    pub at_ms: u64,
    /// The sender.
    pub member: usize,
    /// The message id (base64, as in `message_received`).
    pub message_id: String,
    /// The sender's epoch when it sent it, if known.
    pub epoch: Option<u64>,
    /// The members (indices) in the sender's roster when it sent it, the sender included: those
    /// expected to receive it.
    pub expected: Vec<usize>,
}

/// Cumulative traffic of every member at one time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrafficSample {
    /// When, ms from the start.
    pub at_ms: u64,
    /// Bytes each member sent so far (indexed by member).
    pub bytes_out: Vec<u64>,
    /// Bytes each member received so far (indexed by member).
    pub bytes_in: Vec<u64>,
    /// Messages (simulator: envelopes; lab: packets) each member sent so far.
    pub messages_out: Vec<u64>,
    /// Messages each member received so far.
    pub messages_in: Vec<u64>,
}

/// A fault or scheduled action as applied, for timelines.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Mark {
    /// When it was applied, ms from the start.
    pub at_ms: u64,
    /// What it was.
    pub kind: MarkKind,
}

/// Kinds of [`Mark`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MarkKind {
    /// The network was split into these sets (members not listed: one more set).
    Partition {
        /// The sets.
        sets: Vec<Vec<usize>>,
    },
    /// The partition was removed.
    Heal,
    /// A member crashed (was killed).
    Crash {
        /// Which.
        member: usize,
    },
    /// A member restarted.
    Restart {
        /// Which.
        member: usize,
    },
    /// A member asked to join.
    Join {
        /// Which.
        member: usize,
    },
    /// A removal was proposed.
    Remove {
        /// Who is removed.
        member: usize,
        /// Who proposed it.
        by: usize,
    },
    /// A member asked to leave.
    Leave {
        /// Which.
        member: usize,
    },
    /// A network parameter changed (loss, latency).
    Network {
        /// What changed, for humans.
        detail: String,
    },
    /// A member began to misbehave.
    Malicious {
        /// Which.
        member: usize,
        /// How (the scenario's behaviour name).
        behaviour: String,
    },
}

/// A member's view of the group when the run ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinalState {
    /// Its epoch.
    pub epoch: u64,
    /// The roster (member indices, sorted; members unknown to the run are left out and counted
    /// in `strangers`).
    pub roster: Vec<usize>,
    /// Roster entries that are not members of the scenario.
    pub strangers: usize,
    /// The epoch authenticator (base64).
    pub authenticator: String,
}

/// How a member ended the run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Ending {
    /// Up and in the group.
    InGroup(FinalState),
    /// Up, but not in the group (never joined, removed or left).
    NotInGroup,
    /// Down (crashed and not restarted).
    Down,
}

/// Everything one run observed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Observations {
    /// Simulator or lab.
    pub backend: Backend,
    /// The run's seed.
    pub seed: u64,
    /// The members, by index.
    pub members: Vec<MemberMeta>,
    /// Every member's events, ordered by time (ties: member index, then report order).
    pub events: Vec<Observed>,
    /// Messages sent, in sending order.
    pub sent: Vec<Sent>,
    /// Traffic samples, every `sampling.traffic_every_ms` and one at the end.
    pub traffic: Vec<TrafficSample>,
    /// What the traffic counters count.
    pub traffic_unit: TrafficUnit,
    /// Faults and actions as applied, in order.
    pub marks: Vec<Mark>,
    /// When the group had formed (every initial member in it), ms; `None` if it never did.
    pub formed_at_ms: Option<u64>,
    /// How each member ended, by index.
    pub endings: Vec<Ending>,
    /// When the run ended, ms from the start.
    pub end_ms: u64,
    /// Problems the runner met that did not stop the run (a command refused, a process that
    /// exited), for the report.
    pub problems: Vec<String>,
}
