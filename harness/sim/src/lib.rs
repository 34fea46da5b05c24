//! # demls-sim — a deterministic network simulator for demls
//!
//! [`Sim`] drives many sans-IO [`demls::Engine`]s directly, at the seam where a transport
//! would sit (topics, publish, subscribe), on a **virtual clock**. Thousands of simulated
//! members run in one thread, and a run is a pure function of its inputs: the same
//! [`SimConfig`] (seed *and* start time) and the same calls give the same run, bit for bit —
//! the same events, epoch authenticators, message ids and [`Sim::trace_digest`].
//!
//! ## Model
//!
//! - **Nodes** each own an engine, a [`MemoryStorage`](demls_storage_memory::MemoryStorage)
//!   that survives crashes, their subscriptions and an event log. Identity and entropy seeds
//!   derive from the run seed, the node index and (for entropy) the incarnation.
//! - **Publications** fan out to every *other* node subscribed to the topic. Each copy is
//!   dropped if sender and receiver are in different partition sets, the sender is muted, the
//!   receiver is down or deaf, or by the link's loss draw; otherwise it arrives after a latency
//!   drawn uniformly from the link's range. Copies may reorder unless the link is FIFO. A copy
//!   arriving at a node that is down, deaf, restarted since, partitioned away or no longer
//!   subscribed is dropped then. [`Stats`] counts every fate, in total and per envelope kind.
//! - **Timers**: after every engine call the node's next deadline is (re)scheduled.
//! - **Faults** ([`Fault`]) apply now or at a scheduled virtual time: default and per-link
//!   latency/loss, partition and heal, mute, deafen, crash and restart.
//! - **Determinism**: one seeded ChaCha RNG for the network, ordered collections only, queue
//!   ties broken by scheduling order. The only wall-clock read is the default start time.
//!
//! ## Start time
//!
//! OpenMLS checks KeyPackage lifetimes against the real clock, so virtual time starts near it:
//! by default at midnight UTC at the start of the current 8-week window
//! ([`stable_start_utc`]), so a seeded run replays identically for weeks. Replaying a run from
//! another window needs the original start time as well as the seed: [`Sim::replay_hint`] prints both, and a
//! [`Divergence`] carries them — put them in every failure message.
//!
//! ## Running an experiment
//!
//! ```
//! use demls::GroupId;
//! use demls_sim::{Fault, Link, Sim, SimConfig};
//!
//! # fn main() -> Result<(), demls_sim::SimError> {
//! let mut sim = Sim::new(SimConfig::new(42).with_link(Link::uniform(20, 80)))?;
//! let nodes = sim.add_nodes(8)?;
//! let group = GroupId::new(b"lab".to_vec()).expect("a valid group id");
//! sim.create_group(nodes[0], &group)?;
//! for &n in &nodes[1..] {
//!     sim.join_group(n, &group)?;
//! }
//! let formed = sim.run_until(60_000, |s| s.converged_exactly(&group, &nodes));
//! assert!(formed, "group did not form: {}", sim.replay_hint());
//!
//! // Now a lossy network, and a partition 10 s from now, healed 20 s later.
//! sim.set_loss(0.02)?;
//! sim.after(10_000, Fault::Partition(vec![nodes[..4].to_vec()]));
//! sim.after(30_000, Fault::Heal);
//! for round in 0..40 {
//!     for &n in &nodes {
//!         sim.send(n, &group, format!("round {round} from {n}").as_bytes())?;
//!     }
//!     sim.run_for(1_000);
//! }
//! sim.run_for(5_000);
//! let total = sim.stats().total;
//! assert!(total.lost > 0 && total.partitioned > 0);
//! // What the engine's loss repair did not recover:
//! let missed: usize = sim.undelivered(&group, &nodes).iter().map(|u| u.missing.len()).sum();
//! println!("{} copies lost, {missed} (message, receiver) pairs missing", total.lost);
//! # Ok(())
//! # }
//! ```
//!
//! [`Sim::run_until`] evaluates its predicate after every processed item; with thousands of
//! nodes, a predicate that looks at every node is cheaper checked between
//! [`run_for`](Sim::run_for) slices.
//!
//! Plugins are swapped through [`SimConfig::consensus`] and [`SimConfig::policy`] for every
//! node, or per node with [`NodeOptions`]; engine parameters likewise. Measurements come from
//! [`Sim::stats`], [`Sim::events`] (timestamped), [`Sim::sent_messages`] and
//! [`Sim::received_at`] (delivery latency), [`Sim::undelivered`] and [`Sim::check_converged`].
//! Engine commands the simulator does not wrap can be issued with [`Sim::command`].
//!
//! ## Loss and repair
//!
//! The simulator only drops; recovering is the engine's business. The engine repairs losses
//! with status beacons, repair requests, vote re-sends and commit catch-up (tuned by the
//! `status_*`, `repair_*` and `resend_interval_ms` fields of [`demls::EngineParams`]); that
//! machinery is new, bounded (attempts, logs) and still evolving, so heavy loss or a long
//! partition can legitimately leave gaps or stall a group. Assert convergence on clean
//! networks, and use loss to study delivery statistics. Tests that assert *exact* traffic
//! counts should idle the repair machinery (`status_fanout = 0`, long `repair_delay_ms` and
//! `resend_interval_ms`) so that only their own traffic is on the wire.
#![warn(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod accounting;
pub mod adversary;
mod commands;
mod config;
mod converge;
mod cpu;
mod error;
mod faults;
mod latency;
mod light;
mod mls_view;
mod network;
mod node;
mod queue;
mod run;
pub mod scenarios;
mod seeds;
mod sim;
mod stats;
mod trace;

pub use accounting::{SentMessage, Undelivered};
pub use config::{Link, NodeOptions, SimConfig};
pub use converge::{ConvergedState, Difference, Divergence};
pub use cpu::{CallCost, CpuMode};
pub use error::{Activity, Failure, SimError};
pub use faults::Fault;
pub use latency::SizeLatency;
pub use light::{LIGHT_POOL, LightPool, LightStats};
pub use node::{NodeId, Target};
pub use seeds::stable_start_utc;
pub use sim::Sim;
pub use stats::{Counters, Fate, MessageKind, NodeTraffic, Stats};
