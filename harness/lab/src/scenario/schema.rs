//! The scenario file's shape: what a researcher writes in TOML. Plain data with serde
//! defaults; this module checks nothing beyond types (see `validate.rs`) and runs nothing.
//!
//! ```toml
//! name = "partition that forks and heals"
//! seeds = [1, 2, 3]          # or: seeds = { first = 1, count = 20 }
//! duration_s = 120           # the run ends here (virtual time on the simulator, wall time in the lab)
//!
//! [members]
//! count = 5                  # members 0..count; member 0 creates the group
//! initial = 5                # members 0..initial form the group at the start; the rest join by schedule
//! crash_prone = [3]          # crash and restart at random (see [members.crashes])
//! malicious = [{ member = 0, behaviour = "commit_silent", from_s = 10 }]
//!
//! [stack]
//! steward = { backend = "single", commit_delay_ms = 500 }   # any registered steward policy
//! consensus = { backend = "hashgraph" }                      # any registered consensus backend
//! group = { decision_timeout_ms = 5000 }                     # engine parameters ([group] of a node config)
//!
//! [network]
//! latency_ms = 50
//! jitter_ms = 10
//! loss = 0.02
//! links = [{ from = 0, to = 1, latency_ms = 200 }]
//!
//! [workload]
//! messages_per_second = 2.0  # group-wide; senders drawn at random among current members
//! message_bytes = 64
//!
//! [[schedule]]
//! at_s = 30
//! action = "partition"
//! sets = [[0, 1, 2], [3, 4]]
//!
//! [[schedule]]
//! at_s = 60
//! action = "heal"
//! ```

use serde::{Deserialize, Serialize};

/// A whole scenario file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// A short name (plots and tables use it).
    pub name: String,
    /// What the scenario shows.
    #[serde(default)]
    pub description: String,
    /// The seeds: one run each.
    #[serde(default)]
    pub seeds: Seeds,
    /// When every run ends, in seconds from its start. Actions scheduled later are refused.
    pub duration_s: f64,
    /// After the last scheduled action, the run may end early once every live member agrees
    /// (epoch, roster, authenticator) and every message is delivered; `false` always runs to
    /// `duration_s`.
    #[serde(default = "yes")]
    pub end_when_settled: bool,
    /// The members.
    pub members: Members,
    /// The protocol stack every member runs.
    #[serde(default)]
    pub stack: Stack,
    /// The network model.
    #[serde(default)]
    pub network: Network,
    /// The application workload.
    #[serde(default)]
    pub workload: Workload,
    /// Faults and membership changes at given times.
    #[serde(default)]
    pub schedule: Vec<Scheduled>,
    /// How metrics are sampled.
    #[serde(default)]
    pub sampling: Sampling,
}

fn yes() -> bool {
    true
}

/// Which seeds to run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Seeds {
    /// These seeds.
    List(Vec<u64>),
    /// `count` consecutive seeds from `first`.
    Range {
        /// The first seed.
        first: u64,
        /// How many.
        count: u64,
    },
}

impl Default for Seeds {
    fn default() -> Self {
        Seeds::List(vec![1])
    }
}

impl Seeds {
    /// The seeds, in order.
    pub fn list(&self) -> Vec<u64> {
        match self {
            Seeds::List(v) => v.clone(),
            Seeds::Range { first, count } => (0..*count).map(|i| first + i).collect(),
        }
    }
}

/// The members of a scenario, numbered `0..count`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Members {
    /// How many members the scenario has in all.
    pub count: usize,
    /// Members `0..initial` form the group at the start (member 0 creates it, the others ask to
    /// join at once); members `initial..count` join only when a `join` action says so.
    /// Default: `count`.
    #[serde(default)]
    pub initial: Option<usize>,
    /// Members that crash and restart at random, as `crashes` describes.
    #[serde(default)]
    pub crash_prone: Vec<usize>,
    /// How crash-prone members crash.
    #[serde(default)]
    pub crashes: Crashes,
    /// Members that misbehave.
    #[serde(default)]
    pub malicious: Vec<Malicious>,
}

impl Members {
    /// How many members form the group at the start.
    pub fn initial(&self) -> usize {
        self.initial.unwrap_or(self.count)
    }
}

/// Random crashes of crash-prone members: each crashes after an exponentially distributed
/// up-time with mean `mean_uptime_s`, stays down `downtime_s`, and restarts; no crash is
/// scheduled in the last `quiet_s` seconds of the run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Crashes {
    /// Mean time between a (re)start and the next crash, in seconds.
    pub mean_uptime_s: f64,
    /// How long a crashed member stays down, in seconds.
    pub downtime_s: f64,
    /// No crash starts in this many final seconds of the run (so the group can settle).
    pub quiet_s: f64,
}

impl Default for Crashes {
    fn default() -> Self {
        Crashes {
            mean_uptime_s: 30.0,
            downtime_s: 5.0,
            quiet_s: 30.0,
        }
    }
}

/// A misbehaving member.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Malicious {
    /// Which member.
    pub member: usize,
    /// What it does.
    pub behaviour: Behaviour,
    /// From when, in seconds (default: the start).
    #[serde(default)]
    pub from_s: f64,
}

/// Kinds of misbehaviour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Behaviour {
    /// A steward that votes and chats but never publishes its commits.
    CommitSilent,
    /// A member that never votes (its votes never leave it).
    VoteSilent,
    /// A member whose publications reach nobody (it still receives).
    Mute,
}

/// The protocol stack: each slot is `{ backend = "name", ...options }`, exactly as in a node's
/// TOML config, so any backend registered in the running binary can be named.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stack {
    /// The steward policy slot (default: `single`).
    #[serde(default = "single")]
    pub steward: toml::Table,
    /// The consensus slot (default: `hashgraph`).
    #[serde(default = "hashgraph")]
    pub consensus: toml::Table,
    /// Engine parameters (the `[group]` table of a node config).
    #[serde(default)]
    pub group: toml::Table,
}

fn backend(name: &str) -> toml::Table {
    let mut t = toml::Table::new();
    t.insert("backend".into(), toml::Value::String(name.into()));
    t
}

fn single() -> toml::Table {
    backend("single")
}

fn hashgraph() -> toml::Table {
    backend("hashgraph")
}

impl Default for Stack {
    fn default() -> Self {
        Stack {
            steward: single(),
            consensus: hashgraph(),
            group: toml::Table::new(),
        }
    }
}

/// The network: one default link model, per-link overrides.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Network {
    /// Mean one-way latency of a link, ms.
    pub latency_ms: f64,
    /// Latency varies uniformly within `latency_ms ± jitter_ms`.
    pub jitter_ms: f64,
    /// Probability that a packet (lab) or message copy (simulator) is lost.
    pub loss: f64,
    /// Per-link overrides (one direction each).
    pub links: Vec<LinkOverride>,
}

impl Default for Network {
    fn default() -> Self {
        Network {
            latency_ms: 10.0,
            jitter_ms: 0.0,
            loss: 0.0,
            links: Vec::new(),
        }
    }
}

/// One directed link's own model; unset fields keep the default link's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkOverride {
    /// The sender.
    pub from: usize,
    /// The receiver.
    pub to: usize,
    /// Mean latency, ms.
    #[serde(default)]
    pub latency_ms: Option<f64>,
    /// Jitter, ms.
    #[serde(default)]
    pub jitter_ms: Option<f64>,
    /// Loss probability.
    #[serde(default)]
    pub loss: Option<f64>,
}

/// Application traffic.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Workload {
    /// Application messages per second across the whole group (a Poisson process); each
    /// sender is drawn at random among the members that are up and in the group.
    pub messages_per_second: f64,
    /// Payload size of each message, bytes.
    pub message_bytes: usize,
    /// No message is sent before this time, seconds (default: once the group formed, see
    /// `form_timeout_s`).
    pub start_s: Option<f64>,
    /// No message is sent after this time, seconds (default: `duration_s - 15`).
    pub stop_s: Option<f64>,
    /// How long the initial members may take to form the group before the run fails, seconds.
    pub form_timeout_s: f64,
}

impl Default for Workload {
    fn default() -> Self {
        Workload {
            messages_per_second: 1.0,
            message_bytes: 64,
            start_s: None,
            stop_s: None,
            form_timeout_s: 60.0,
        }
    }
}

/// One scheduled action: `at_s` and the action's own keys in one table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "toml::Table", into = "toml::Table")]
pub struct Scheduled {
    /// When, in seconds from the start of the run.
    pub at_s: f64,
    /// What happens.
    pub action: Action,
}

impl TryFrom<toml::Table> for Scheduled {
    type Error = String;

    fn try_from(mut t: toml::Table) -> Result<Self, String> {
        let at_s = match t.remove("at_s") {
            Some(toml::Value::Float(f)) => f,
            Some(toml::Value::Integer(i)) => i as f64,
            Some(other) => return Err(format!("at_s must be a number of seconds, not {other}")),
            None => return Err("missing field `at_s`".into()),
        };
        // serde lets unit variants (`heal`) ignore extra keys; validation refuses them, where
        // it can say which entry and line.
        let action =
            Action::deserialize(toml::Value::Table(t)).map_err(|e| e.message().to_owned())?;
        Ok(Scheduled { at_s, action })
    }
}

impl From<Scheduled> for toml::Table {
    fn from(s: Scheduled) -> toml::Table {
        let mut t = match toml::Value::try_from(&s.action) {
            Ok(toml::Value::Table(t)) => t,
            _ => toml::Table::new(),
        };
        t.insert("at_s".into(), toml::Value::Float(s.at_s));
        t
    }
}

/// What a scheduled action does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Split the network into these sets of members; members not listed form one more set.
    Partition {
        /// The sets.
        sets: Vec<Vec<usize>>,
    },
    /// Remove the partition.
    Heal,
    /// Kill a member (SIGKILL in the lab): its process and memory go, its storage stays.
    Crash {
        /// Which member.
        member: usize,
    },
    /// Start a crashed member again on its storage.
    Restart {
        /// Which member.
        member: usize,
    },
    /// Change the default link's loss.
    Loss {
        /// The new loss probability.
        loss: f64,
    },
    /// Change the default link's latency.
    Latency {
        /// Mean latency, ms.
        latency_ms: f64,
        /// Jitter, ms.
        #[serde(default)]
        jitter_ms: f64,
    },
    /// A member (not yet in the group) asks to join.
    Join {
        /// Which member.
        member: usize,
    },
    /// `by` proposes to remove `member`.
    Remove {
        /// Who is removed.
        member: usize,
        /// Who proposes it (default: member 0, or the lowest-numbered member in the group).
        #[serde(default)]
        by: Option<usize>,
    },
    /// A member leaves.
    Leave {
        /// Which member.
        member: usize,
    },
    /// A member sends one message now (in addition to the workload).
    Send {
        /// Which member.
        member: usize,
    },
}

/// How metrics are sampled.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Sampling {
    /// The period of traffic samples (bytes per member over time), ms.
    pub traffic_every_ms: u64,
}

impl Default for Sampling {
    fn default() -> Self {
        Sampling {
            traffic_every_ms: 1000,
        }
    }
}
