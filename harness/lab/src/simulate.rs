//! Runs a scenario on the deterministic simulator (`demls-sim`): one [`Sim`] per seed, the
//! plan's steps applied at their virtual times, traffic sampled, and the run observed in the
//! same form as a lab run. A run is a pure function of the scenario, the seed and the start
//! time ([`SimRun::start_ms`]); this module owns nothing else.

use std::collections::BTreeSet;

use demls::api::{Event, encode_bytes};
use demls::{GroupId, Timestamp};
use demls_sim::{Fault, Link, MessageKind, NodeId, Sim, SimConfig, SimError};

use crate::observe::{
    Backend, Ending, FinalState, Mark, MarkKind, MemberMeta, Observations, Observed, Sent,
    TrafficSample, TrafficUnit,
};
use crate::plan::{Step, pick_sender, plan};
use crate::progress::Progress;
use crate::scenario::{Action, Behaviour, Loaded};

/// The group every scenario runs in.
pub const GROUP: &[u8] = b"lab";

/// How often a settled group is looked for after the last disruption, virtual ms.
const SETTLE_CHECK_MS: u64 = 1_000;

/// Why a simulated run failed.
#[derive(Debug, thiserror::Error)]
pub enum SimRunError {
    /// The simulator refused a step.
    #[error("simulator: {source} ({hint})")]
    Sim {
        /// The error.
        #[source]
        source: SimError,
        /// How to replay the run.
        hint: String,
    },
    /// The initial members did not form the group in time.
    #[error(
        "the group did not form within {timeout_s} s: {in_group} of {initial} initial members in it ({hint})"
    )]
    NotFormed {
        /// The limit.
        timeout_s: f64,
        /// Members that made it.
        in_group: usize,
        /// Members expected.
        initial: usize,
        /// How to replay the run.
        hint: String,
    },
}

/// One simulated run: what it observed, and what replaying it needs.
#[derive(Clone, Debug)]
pub struct SimRun {
    /// The observations.
    pub observations: Observations,
    /// The simulator's virtual start time, ms since the Unix epoch (a replay needs it with the
    /// seed; the default start only changes every 8 weeks).
    pub start_ms: u64,
    /// The simulator's trace digest (hex): equal digests mean identical runs.
    pub trace_digest: String,
}

fn link(latency: f64, jitter: f64, loss: f64) -> Link {
    let lo = (latency - jitter).max(0.0).round() as u64;
    let hi = (latency + jitter).max(0.0).round() as u64;
    Link::uniform(lo, hi.max(lo)).with_loss(loss)
}

struct Runner<'a, P: Progress + ?Sized> {
    loaded: &'a Loaded,
    sim: Sim,
    nodes: Vec<NodeId>,
    group: GroupId,
    start: Timestamp,
    marks: Vec<Mark>,
    traffic: Vec<TrafficSample>,
    next_sample_ms: u64,
    /// Members told to leave or targeted by a removal: they no longer chat.
    quiet: BTreeSet<usize>,
    problems: Vec<String>,
    /// Messages sent so far (numbers the payloads; refused sends do not count).
    sent: usize,
    progress: &'a mut P,
    total_ms: u64,
}

impl<P: Progress + ?Sized> Runner<'_, P> {
    fn elapsed(&self) -> u64 {
        self.sim.now().0.saturating_sub(self.start.0)
    }

    fn sim_err(&self, source: SimError) -> SimRunError {
        SimRunError::Sim {
            source,
            hint: self.sim.replay_hint(),
        }
    }

    fn sample(&mut self) {
        let stats = self.sim.stats();
        let per = |f: &dyn Fn(demls_sim::NodeTraffic) -> u64| -> Vec<u64> {
            self.nodes.iter().map(|&n| f(stats.node(n))).collect()
        };
        let sample = TrafficSample {
            at_ms: self.elapsed(),
            bytes_out: per(&|t| t.bytes_published),
            bytes_in: per(&|t| t.bytes_delivered),
            messages_out: per(&|t| t.publications),
            messages_in: per(&|t| t.delivered),
        };
        self.traffic.push(sample);
    }

    /// Runs the simulator until `until_ms` (run time), sampling traffic on the way.
    fn run_to(&mut self, until_ms: u64, status: &str) {
        let every = self.loaded.scenario.sampling.traffic_every_ms;
        let total = self.total_ms;
        while self.elapsed() < until_ms {
            let now = self.elapsed();
            let next = until_ms.min(self.next_sample_ms);
            self.sim.run_for(next - now);
            if self.elapsed() >= self.next_sample_ms {
                self.sample();
                self.next_sample_ms += every;
            }
            self.progress.update(self.elapsed(), total, status);
        }
    }

    /// Up and a member (O(1): no group snapshot, which would copy the roster).
    fn in_group(&self, i: usize) -> bool {
        self.sim
            .engine(self.nodes[i])
            .is_some_and(|e| e.epoch(&self.group).is_some())
    }

    fn mark(&mut self, kind: MarkKind) {
        self.marks.push(Mark {
            at_ms: self.elapsed(),
            kind,
        });
    }

    fn formed(&self, initial: usize) -> bool {
        let ids: Vec<NodeId> = self.nodes[..initial].to_vec();
        self.sim.converged_exactly(&self.group, &ids)
            && self
                .sim
                .group(ids[0], &self.group)
                .is_some_and(|g| g.members.len() == initial)
    }

    fn form(&mut self) -> Result<u64, SimRunError> {
        let initial = self.loaded.scenario.members.initial();
        let g = self.group.clone();
        self.sim
            .create_group(self.nodes[0], &g)
            .map_err(|e| self.sim_err(e))?;
        for i in 1..initial {
            self.sim
                .join_group(self.nodes[i], &g)
                .map_err(|e| self.sim_err(e))?;
        }
        let timeout = (self.loaded.scenario.workload.form_timeout_s * 1000.0) as u64;
        let step = if initial > 100 { 1_000 } else { 200 };
        while !self.formed(initial) {
            if self.elapsed() >= timeout {
                return Err(SimRunError::NotFormed {
                    timeout_s: self.loaded.scenario.workload.form_timeout_s,
                    in_group: (0..initial).filter(|&i| self.in_group(i)).count(),
                    initial,
                    hint: self.sim.replay_hint(),
                });
            }
            let to = self.elapsed() + step;
            self.run_to(to, "forming the group");
        }
        Ok(self.elapsed())
    }

    fn proposer_for(&self, target: usize) -> Option<usize> {
        (0..self.nodes.len()).find(|&i| i != target && self.in_group(i) && !self.quiet.contains(&i))
    }

    /// Applies one step; a refused command is a problem of the run, not its end.
    fn apply(&mut self, step: &Step) -> Result<(), SimRunError> {
        let g = self.group.clone();
        let nodes = self.nodes.clone();
        let node = |i: usize| nodes[i];
        let outcome: Result<(), SimError> = match step {
            Step::Action(action) => match action {
                Action::Partition { sets: sets_idx } => {
                    let sets: Vec<Vec<NodeId>> = sets_idx
                        .iter()
                        .map(|s| s.iter().map(|&i| node(i)).collect())
                        .collect();
                    self.mark(MarkKind::Partition {
                        sets: sets_idx.clone(),
                    });
                    self.sim.partition(&sets)
                }
                Action::Heal => {
                    self.mark(MarkKind::Heal);
                    self.sim.heal();
                    Ok(())
                }
                Action::Crash { member } => {
                    self.mark(MarkKind::Crash { member: *member });
                    self.sim.crash(node(*member))
                }
                Action::Restart { member } => {
                    self.mark(MarkKind::Restart { member: *member });
                    self.sim.restart(node(*member))
                }
                Action::Loss { loss } => {
                    self.mark(MarkKind::Network {
                        detail: format!("loss {loss}"),
                    });
                    self.sim.set_loss(*loss)
                }
                Action::Latency {
                    latency_ms,
                    jitter_ms,
                } => {
                    self.mark(MarkKind::Network {
                        detail: format!("latency {latency_ms} ± {jitter_ms} ms"),
                    });
                    let l = link(*latency_ms, *jitter_ms, 0.0);
                    self.sim.set_latency(l.min_ms, l.max_ms)
                }
                Action::Join { member } => {
                    self.mark(MarkKind::Join { member: *member });
                    self.quiet.remove(member);
                    self.sim.join_group(node(*member), &g)
                }
                Action::Remove { member, by } => {
                    self.quiet.insert(*member);
                    match by.or_else(|| self.proposer_for(*member)) {
                        Some(by) => {
                            self.mark(MarkKind::Remove {
                                member: *member,
                                by,
                            });
                            self.sim
                                .propose_remove(node(by), &g, node(*member))
                                .map(|_| ())
                        }
                        None => {
                            self.problems.push(format!(
                                "at {} ms: nobody could propose removing member {member}",
                                self.elapsed()
                            ));
                            Ok(())
                        }
                    }
                }
                Action::Leave { member } => {
                    self.quiet.insert(*member);
                    self.mark(MarkKind::Leave { member: *member });
                    self.sim.leave(node(*member), &g).map(|_| ())
                }
                Action::Send { member } => self.send(*member),
            },
            Step::Misbehave { member, behaviour } => {
                self.mark(MarkKind::Malicious {
                    member: *member,
                    behaviour: format!("{behaviour:?}"),
                });
                let n = node(*member);
                self.sim.fault(match behaviour {
                    Behaviour::CommitSilent => Fault::Suppress(n, MessageKind::Commit, true),
                    Behaviour::VoteSilent => Fault::Suppress(n, MessageKind::Consensus, true),
                    Behaviour::Mute => Fault::Mute(n, true),
                })
            }
            Step::Message { pick } => {
                let eligible: Vec<usize> = (0..self.nodes.len())
                    .filter(|&i| !self.quiet.contains(&i) && self.in_group(i))
                    .collect();
                match pick_sender(*pick, &eligible) {
                    Some(sender) => self.send(sender),
                    None => Ok(()),
                }
            }
        };
        if let Err(e) = outcome {
            // Commands refused by an engine (e.g. a member that is down or not in the group
            // any more) are the scenario's business; simulator misuse is a bug.
            match e {
                SimError::Engine { .. } | SimError::NodeDown(_) => {
                    self.problems.push(format!("at {} ms: {e}", self.elapsed()))
                }
                other => return Err(self.sim_err(other)),
            }
        }
        Ok(())
    }

    fn send(&mut self, sender: usize) -> Result<(), SimError> {
        let bytes = self.loaded.scenario.workload.message_bytes;
        let seq = self.sent;
        let mut payload = format!("m{seq} from {sender} ").into_bytes();
        payload.resize(bytes, b'.');
        let g = self.group.clone();
        self.sim.send(self.nodes[sender], &g, &payload)?;
        self.sent += 1;
        Ok(())
    }

    /// Every up member in the group agrees and has every message it should have.
    fn settled(&self) -> bool {
        let live: Vec<NodeId> = (0..self.nodes.len())
            .filter(|&i| self.in_group(i))
            .map(|i| self.nodes[i])
            .collect();
        !live.is_empty()
            && self.sim.converged_exactly(&self.group, &live)
            && self.sim.undelivered(&self.group, &live).is_empty()
    }
}

/// Runs `loaded` with `seed` on the simulator. `start` fixes the virtual start time (ms since
/// the Unix epoch) for replaying an earlier run; `None` takes the current 8-week window's.
pub fn run(
    loaded: &Loaded,
    seed: u64,
    start: Option<u64>,
    progress: &mut (impl Progress + ?Sized),
) -> Result<SimRun, SimRunError> {
    let s = &loaded.scenario;
    let n = &s.network;
    let mut config = SimConfig::new(seed).with_link(link(n.latency_ms, n.jitter_ms, n.loss));
    config.start = start.map(Timestamp);
    config.params = loaded.stack.params.clone();
    config.consensus = loaded.stack.consensus.clone();
    config.policy = loaded.stack.policy.clone();
    let hint = |e: SimError| SimRunError::Sim {
        source: e,
        hint: format!("seed={seed}"),
    };
    let mut sim = Sim::new(config).map_err(hint)?;
    let nodes = sim.add_nodes(s.members.count).map_err(hint)?;
    for l in &n.links {
        let over = link(
            l.latency_ms.unwrap_or(n.latency_ms),
            l.jitter_ms.unwrap_or(n.jitter_ms),
            l.loss.unwrap_or(n.loss),
        );
        sim.set_link(nodes[l.from], nodes[l.to], over)
            .map_err(hint)?;
    }
    let start = sim.now();
    let plan = plan(s, seed);
    let mut runner = Runner {
        loaded,
        sim,
        nodes,
        group: GroupId::new(GROUP.to_vec()).expect("a valid group id"),
        start,
        marks: Vec::new(),
        traffic: Vec::new(),
        next_sample_ms: 0,
        quiet: BTreeSet::new(),
        problems: Vec::new(),
        sent: 0,
        progress,
        total_ms: plan.end_ms,
    };
    runner.sample();
    runner.next_sample_ms = s.sampling.traffic_every_ms;
    let formed_at = runner.form()?;
    let steps = plan.in_run_time(formed_at);
    let settle_after = plan.settle_after(&steps);
    for (at, step) in &steps {
        if *at >= plan.end_ms {
            break;
        }
        runner.run_to(*at, "running");
        runner.apply(step)?;
    }
    loop {
        let now = runner.elapsed();
        if now >= plan.end_ms {
            break;
        }
        if s.end_when_settled && now >= settle_after && runner.settled() {
            break;
        }
        let to = (now + SETTLE_CHECK_MS).min(plan.end_ms);
        runner.run_to(to, "settling");
    }
    runner.sample();
    runner.progress.finish(&format!(
        "done at {:.1} s (virtual)",
        runner.elapsed() as f64 / 1000.0
    ));
    Ok(observe(runner, seed, formed_at))
}

fn observe<P: Progress + ?Sized>(r: Runner<'_, P>, seed: u64, formed_at: u64) -> SimRun {
    let rel = |t: Timestamp| t.0.saturating_sub(r.start.0);
    let mut events: Vec<Observed> = Vec::new();
    for (i, &n) in r.nodes.iter().enumerate() {
        events.extend(r.sim.events(n).iter().map(|(t, e)| Observed {
            at_ms: rel(*t),
            member: i,
            event: Event::from(e.clone()),
        }));
    }
    events.sort_by_key(|o| (o.at_ms, o.member));
    let sent = r
        .sim
        .sent_messages(&r.group)
        .into_iter()
        .map(|m| Sent {
            at_ms: rel(m.sent_at),
            member: m.sender.0,
            message_id: encode_bytes(&m.message_id),
            epoch: Some(m.epoch),
            expected: m.expected.iter().map(|n| n.0).collect(),
        })
        .collect();
    let endings = r
        .nodes
        .iter()
        .map(|&n| {
            if !r.sim.is_up(n) {
                return Ending::Down;
            }
            match r.sim.group(n, &r.group) {
                None => Ending::NotInGroup,
                Some(g) => {
                    let mut roster: Vec<usize> = Vec::new();
                    let mut strangers = 0;
                    for m in &g.members {
                        match r.sim.node_of(*m) {
                            Some(node) => roster.push(node.0),
                            None => strangers += 1,
                        }
                    }
                    roster.sort_unstable();
                    Ending::InGroup(FinalState {
                        epoch: g.epoch,
                        roster,
                        strangers,
                        authenticator: encode_bytes(&g.authenticator),
                    })
                }
            }
        })
        .collect();
    let members = r
        .nodes
        .iter()
        .enumerate()
        .map(|(i, &n)| MemberMeta {
            index: i,
            member_id: encode_bytes(r.sim.member_id(n).as_bytes()),
        })
        .collect();
    let end_ms = r.elapsed();
    SimRun {
        start_ms: r.start.0,
        trace_digest: hex::encode(r.sim.trace_digest()),
        observations: Observations {
            backend: Backend::Simulator,
            seed,
            members,
            events,
            sent,
            traffic: r.traffic,
            traffic_unit: TrafficUnit::Envelopes,
            marks: r.marks,
            formed_at_ms: Some(formed_at),
            endings,
            end_ms,
            problems: r.problems,
        },
    }
}
