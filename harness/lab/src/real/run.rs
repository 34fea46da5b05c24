//! One run of a scenario on real processes: builds the network, starts the members, forms
//! the group, follows the plan's steps at their wall-clock times, samples traffic, detects
//! that the group settled, collects every member's ending and tears everything down. This
//! module owns the schedule; processes, lines and packets belong to the modules it calls.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

use super::driver::{Driver, GROUP, Member};
use super::member::{self, Proc};
use super::net::{self, Model, Net, SwitchStats, address};
use super::{LabError, LabOptions};
use crate::observe::{
    Backend, Ending, Mark, MemberMeta, Observations, Sent, TrafficSample, TrafficUnit,
};
use crate::plan::{self, Plan, Step};
use crate::progress::Progress;
use crate::scenario::Scenario;

/// A lab run's observations and what the switch did.
#[derive(Clone, Debug, PartialEq)]
pub struct LabRun {
    /// What the run observed (the contract both runners share).
    pub observations: Observations,
    /// The switch's counters at the end: packets delivered, lost, partitioned, unroutable.
    pub switch: SwitchStats,
}

/// How long after the end `quit` may take before the member is killed.
const QUIT_GRACE: Duration = Duration::from_secs(5);
/// Past `duration_s`, whatever happens, the run stops after this.
const HARD_STOP_AFTER: Duration = Duration::from_secs(30);

/// Refuses what real processes cannot do, before anything starts.
pub fn check(scenario: &Scenario, plan: &Plan) -> Result<(), LabError> {
    if let Some(m) = scenario.members.malicious.first() {
        return Err(LabError::Unsupported(format!(
            "member {} is malicious ({:?}): misbehaviour needs the simulator's hooks into a \
             member, which a `demls` process does not have",
            m.member, m.behaviour
        )));
    }
    if plan
        .steps
        .iter()
        .any(|s| matches!(s.step, Step::Misbehave { .. }))
    {
        return Err(LabError::Unsupported("misbehaviour steps".into()));
    }
    if scenario.members.count == 0 || scenario.members.count > 250 * 250 {
        return Err(LabError::Unsupported(format!(
            "{} members (the lab takes 1 to 62500)",
            scenario.members.count
        )));
    }
    Ok(())
}

/// Runs `scenario` with `seed`; see [`super::run`].
pub fn run_detailed(
    scenario: &Scenario,
    seed: u64,
    options: &LabOptions,
    progress: &mut dyn Progress,
) -> Result<LabRun, LabError> {
    let plan = plan::plan(scenario, seed);
    check(scenario, &plan)?;
    super::available()?;
    let n = scenario.members.count;
    std::fs::create_dir_all(&options.work_dir).map_err(|source| LabError::Io {
        path: options.work_dir.clone(),
        source,
    })?;
    // Keys and addresses first: every member's config names all the others.
    let dirs: Vec<PathBuf> = (0..n)
        .map(|i| options.work_dir.join(format!("m{i}")))
        .collect();
    let mut peers = Vec::with_capacity(n);
    for (i, dir) in dirs.iter().enumerate() {
        let _ = std::fs::remove_dir_all(dir);
        let peer_id = member::keygen(&options.demls_bin, dir, i)?;
        peers.push(format!(
            "/ip4/{}/tcp/{}/p2p/{peer_id}",
            address(i),
            member::PORT
        ));
    }
    // Every member lists every other as a static peer, so pairs dial each other at the same
    // moment. Before the transport dialled static peers from a fresh source port, such crossing
    // dials could merge into one TCP simultaneous open on which both Noise handshakes failed,
    // for ever (the redials were in lockstep); the lab found it under emulated latency.
    for (i, dir) in dirs.iter().enumerate() {
        let others: Vec<String> = peers
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, p)| p.clone())
            .collect();
        member::write_config(dir, i, &address(i).to_string(), &others, &scenario.stack)?;
    }
    progress.update(0, plan.end_ms, "building the network");
    let net = Net::build(n, Model::new(&scenario.network, n, seed))?;
    let mut run = Run {
        scenario,
        seed,
        plan,
        options,
        net,
        sent: Vec::new(),
        traffic: Vec::new(),
        marks: Vec::new(),
        rng: {
            let mut r = ChaCha20Rng::seed_from_u64(seed);
            r.set_stream(8);
            r
        },
    };
    // Declared after the network: on a panic the processes are killed (`Proc`'s drop) before
    // the network goes.
    let (tx, rx) = mpsc::channel();
    let start = Instant::now();
    let mut d = Driver {
        members: dirs
            .iter()
            .enumerate()
            .map(|(i, dir)| Member {
                dir: dir.clone(),
                namespace: net::namespace(i),
                proc: None,
                generation: 0,
                id: None,
                ready: false,
                in_group: false,
                excluded: false,
            })
            .collect(),
        start,
        hard_stop: start + Duration::from_millis(run.plan.end_ms) + HARD_STOP_AFTER,
        rx,
        tx,
        events: Vec::new(),
        received: Default::default(),
        problems: Vec::new(),
    };
    let result = run.execute(&mut d, progress);
    // Whatever happened: stop every process, then (when `run.net` drops) the network.
    shut_down(&mut d);
    let switch = run.net.switch().map(|s| s.stats()).unwrap_or_default();
    if !options.keep_work_dir {
        for dir in &dirs {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
    let (formed_at_ms, endings, end_ms) = result?;
    let mut events = std::mem::take(&mut d.events);
    events.sort_by_key(|o| (o.at_ms, o.member));
    progress.finish(&format!("ended at {:.1} s", end_ms as f64 / 1000.0));
    Ok(LabRun {
        observations: Observations {
            backend: Backend::Lab,
            seed,
            members: d
                .members
                .iter()
                .enumerate()
                .map(|(index, m)| MemberMeta {
                    index,
                    member_id: m.id.clone().unwrap_or_default(),
                })
                .collect(),
            events,
            sent: run.sent,
            traffic: run.traffic,
            traffic_unit: TrafficUnit::IpPackets,
            marks: run.marks,
            formed_at_ms,
            endings,
            end_ms,
            problems: std::mem::take(&mut d.problems),
        },
        switch,
    })
}

/// `quit` to every process, a grace period, then SIGKILL for the rest.
fn shut_down(d: &mut Driver) {
    for m in d.members.iter_mut() {
        if let Some(p) = m.proc.as_mut() {
            let _ = p.command("quit");
        }
    }
    let deadline = Instant::now() + QUIT_GRACE;
    for m in d.members.iter_mut() {
        if let Some(p) = m.proc.as_mut() {
            while p.exited().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        if let Some(mut p) = m.proc.take() {
            p.kill();
        }
    }
}

/// One run in progress: the scenario, its plan, the network and what was recorded.
pub(super) struct Run<'a> {
    pub(super) scenario: &'a Scenario,
    pub(super) seed: u64,
    pub(super) plan: Plan,
    pub(super) options: &'a LabOptions,
    pub(super) net: Net,
    pub(super) sent: Vec<Sent>,
    pub(super) traffic: Vec<TrafficSample>,
    pub(super) marks: Vec<Mark>,
    /// Draws message payloads.
    pub(super) rng: ChaCha20Rng,
}

type Outcome = (Option<u64>, Vec<Ending>, u64);

impl Run<'_> {
    fn execute(
        &mut self,
        d: &mut Driver,
        progress: &mut dyn Progress,
    ) -> Result<Outcome, LabError> {
        let n = self.scenario.members.count;
        for i in 0..n {
            self.start_member(d, i)?;
        }
        let formed_at = self.form(d, progress)?;
        tracing::info!(seed = self.seed, formed_at, "the group formed");

        // The steps at their run times (shifted messages past the stop dropped), as the
        // simulator runs them.
        let steps = self.plan.in_run_time(formed_at);
        let quiet_after = self.plan.settle_after(&steps);

        let every = self.scenario.sampling.traffic_every_ms.max(1);
        let mut next_sample = 0u64;
        let mut next_settle_check = quiet_after + 1;
        let mut steps = steps.into_iter().peekable();
        loop {
            let now = d.now_ms();
            if now >= self.plan.end_ms || Instant::now() >= d.hard_stop {
                break;
            }
            if now >= next_sample {
                self.sample(now);
                next_sample = now - now % every + every;
            }
            while let Some((at, _)) = steps.peek() {
                if *at > d.now_ms() {
                    break;
                }
                if let Some((_, step)) = steps.next() {
                    self.step(d, step)?;
                }
            }
            d.reap_unexpected();
            let now = d.now_ms();
            if self.scenario.end_when_settled && now >= next_settle_check {
                if self.settled(d)? {
                    tracing::info!(at_ms = d.now_ms(), "the group settled");
                    break;
                }
                next_settle_check = d.now_ms() + 1000;
            }
            progress.update(now, self.plan.end_ms, "running");
            let next_step = steps.peek().map(|(at, _)| *at).unwrap_or(u64::MAX);
            let next = next_step.min(next_sample).min(self.plan.end_ms).min(
                if self.scenario.end_when_settled {
                    next_settle_check
                } else {
                    u64::MAX
                },
            );
            let wait = next.saturating_sub(d.now_ms()).clamp(1, 200);
            d.pump(Duration::from_millis(wait));
        }

        let mut endings = Vec::with_capacity(n);
        for i in 0..n {
            endings.push(if d.members[i].proc.is_none() {
                Ending::Down
            } else {
                match d.group_info(i)? {
                    Some(info) => Ending::InGroup(d.final_state(&info)),
                    None => Ending::NotInGroup,
                }
            });
        }
        let end = d.now_ms();
        self.sample(end);
        Ok((Some(formed_at), endings, end))
    }

    pub(super) fn start_member(&mut self, d: &mut Driver, i: usize) -> Result<(), LabError> {
        let m = &mut d.members[i];
        let p = Proc::start(
            &self.options.demls_bin,
            &m.dir,
            &m.namespace,
            i,
            m.generation,
            d.tx.clone(),
        )?;
        tracing::debug!(member = i, pid = p.pid(), "member started");
        m.proc = Some(p);
        m.ready = false;
        Ok(())
    }

    /// Member 0 creates the group, the other initial members ask to join; the group formed
    /// when they all report it and member 0's roster has them all.
    fn form(&mut self, d: &mut Driver, progress: &mut dyn Progress) -> Result<u64, LabError> {
        let initial = self
            .scenario
            .members
            .initial()
            .min(self.scenario.members.count);
        let timeout_ms = (self.scenario.workload.form_timeout_s * 1000.0) as u64;
        let timeout = |d: &mut Driver, what: &str| -> LabError {
            d.reap_unexpected();
            let problems = d.problems.join("\n");
            LabError::Timeout {
                what: if problems.is_empty() {
                    what.to_owned()
                } else {
                    format!("{what} (problems: {problems})")
                },
                after_ms: timeout_ms,
            }
        };
        while !d.members.iter().all(|m| m.ready) {
            if d.now_ms() >= timeout_ms {
                let missing: Vec<usize> = (0..d.members.len())
                    .filter(|&i| !d.members[i].ready)
                    .collect();
                return Err(timeout(d, &format!("members {missing:?} ready")));
            }
            progress.update(d.now_ms(), self.plan.end_ms, "starting members");
            d.pump(Duration::from_millis(100));
        }
        self.require_ok(d, 0, &format!("create {GROUP}"))?;
        for i in 1..initial {
            self.require_ok(d, i, &format!("join {GROUP}"))?;
        }
        let mut next_poll = 0u64;
        loop {
            let now = d.now_ms();
            if now >= timeout_ms {
                let missing: Vec<usize> =
                    (0..initial).filter(|&i| !d.members[i].in_group).collect();
                return Err(timeout(
                    d,
                    &format!("the group to form (not in it: {missing:?})"),
                ));
            }
            progress.update(now, self.plan.end_ms, "forming");
            if (0..initial).all(|i| d.members[i].in_group) && now >= next_poll {
                next_poll = now + 500;
                if let Some(info) = d.group_info(0)? {
                    let roster = d.final_state(&info).roster;
                    if (0..initial).all(|i| roster.contains(&i)) {
                        return Ok(d.now_ms());
                    }
                }
            }
            d.pump(Duration::from_millis(100));
        }
    }

    pub(super) fn require_ok(
        &mut self,
        d: &mut Driver,
        i: usize,
        line: &str,
    ) -> Result<(), LabError> {
        match d.call(i, line)? {
            Some(Ok(_)) => Ok(()),
            other => Err(LabError::Process {
                member: i,
                what: format!("{line:?} failed: {other:?}"),
                stderr_tail: d.members[i]
                    .proc
                    .as_ref()
                    .map(Proc::stderr_tail)
                    .unwrap_or_default(),
            }),
        }
    }

    fn sample(&mut self, at_ms: u64) {
        let Some(s) = self.net.switch() else { return };
        let c = s.counters();
        let load = |v: &[std::sync::atomic::AtomicU64]| {
            v.iter().map(|a| a.load(Ordering::Relaxed)).collect()
        };
        self.traffic.push(TrafficSample {
            at_ms,
            bytes_out: load(&c.bytes_out),
            bytes_in: load(&c.bytes_in),
            messages_out: load(&c.packets_out),
            messages_in: load(&c.packets_in),
        });
    }

    /// Every up member in the group agrees on epoch, authenticator and roster, and every
    /// message reached every expected receiver still in the group.
    fn settled(&mut self, d: &mut Driver) -> Result<bool, LabError> {
        let mut views = Vec::new();
        for i in 0..d.members.len() {
            if d.members[i].proc.is_none() {
                continue;
            }
            if let Some(info) = d.group_info(i)? {
                views.push((i, d.final_state(&info)));
            }
        }
        let Some((_, first)) = views.first() else {
            return Ok(false);
        };
        if views.iter().any(|(_, v)| v != first) {
            return Ok(false);
        }
        let in_group: BTreeSet<usize> = views.iter().map(|(i, _)| *i).collect();
        // Every up member of the roster answered with that view.
        if first
            .roster
            .iter()
            .any(|&r| d.members[r].proc.is_some() && !in_group.contains(&r))
        {
            return Ok(false);
        }
        let roster = first.roster.clone();
        Ok(self.sent.iter().all(|s| {
            let got = d.received.get(&s.message_id);
            s.expected
                .iter()
                .filter(|&&r| r != s.member && roster.contains(&r))
                .all(|r| got.is_some_and(|g| g.contains(r)))
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_malicious_member_is_refused_before_anything_starts() {
        let scenario: Scenario = toml::from_str(
            r#"
            name = "m"
            duration_s = 10
            [members]
            count = 3
            malicious = [{ member = 1, behaviour = "mute" }]
            "#,
        )
        .unwrap();
        let options = LabOptions {
            demls_bin: "/nonexistent/demls".into(),
            work_dir: "/nonexistent/work".into(),
            keep_work_dir: false,
        };
        let err = run_detailed(&scenario, 1, &options, &mut crate::progress::Silent).unwrap_err();
        assert!(matches!(err, LabError::Unsupported(_)), "{err}");
        assert!(!std::path::Path::new("/nonexistent/work").exists());
    }
}
