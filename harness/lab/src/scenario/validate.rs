//! Checks a parsed scenario against itself: member indices exist, times fall inside the run,
//! probabilities are probabilities, the schedule makes sense in order (a member joins only
//! when it is out, restarts only when it is down, ...), and the stack names registered
//! backends with options they accept. Every error names the key and line it is about.

use std::collections::BTreeSet;
use std::sync::Arc;

use demls::config::{BackendConfig, ConfigError, parse_options};
use demls::registry::{self, BuildContext};
use demls::{ConsensusFactory, EngineParams, StewardPolicyFactory};

use super::error::ScenarioError;
use super::locate::{IntoSeg, Seg};
use super::schema::{Action, Scenario};
use crate::key_path;

/// The most members a scenario may have.
pub const MAX_MEMBERS: usize = 100_000;
/// The longest run, seconds (one day).
pub const MAX_DURATION_S: f64 = 86_400.0;
/// The largest message payload, bytes.
pub const MAX_MESSAGE_BYTES: usize = 65_536;

/// The stack of a scenario, built from the registry.
#[derive(Clone)]
pub struct BuiltStack {
    /// The consensus factory.
    pub consensus: Arc<dyn ConsensusFactory>,
    /// The steward policy factory.
    pub policy: Arc<dyn StewardPolicyFactory>,
    /// Engine parameters.
    pub params: EngineParams,
    /// The consensus slot as a node config section.
    pub consensus_config: BackendConfig,
    /// The steward slot as a node config section.
    pub steward_config: BackendConfig,
}

impl std::fmt::Debug for BuiltStack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuiltStack")
            .field("consensus", &self.consensus_config.backend)
            .field("steward", &self.steward_config.backend)
            .finish()
    }
}

struct Checker<'a> {
    src: &'a str,
    s: &'a Scenario,
}

impl Checker<'_> {
    fn err(&self, path: Vec<Seg>, message: impl Into<String>) -> ScenarioError {
        ScenarioError::at(self.src, &path, message)
    }

    fn member(&self, path: Vec<Seg>, m: usize) -> Result<(), ScenarioError> {
        if m >= self.s.members.count {
            return Err(self.err(
                path,
                format!(
                    "member {m} does not exist (members.count = {}, so members are 0..{})",
                    self.s.members.count, self.s.members.count
                ),
            ));
        }
        Ok(())
    }

    fn probability(&self, path: Vec<Seg>, p: f64) -> Result<(), ScenarioError> {
        if !(0.0..=1.0).contains(&p) {
            return Err(self.err(path, format!("{p} is not a probability in 0.0..=1.0")));
        }
        Ok(())
    }

    fn non_negative(&self, path: Vec<Seg>, v: f64) -> Result<(), ScenarioError> {
        if !(v.is_finite() && v >= 0.0) {
            return Err(self.err(path, format!("{v} must be a finite number ≥ 0")));
        }
        Ok(())
    }

    fn time(&self, path: Vec<Seg>, at: f64) -> Result<(), ScenarioError> {
        self.non_negative(path.clone(), at)?;
        if at >= self.s.duration_s {
            return Err(self.err(
                path,
                format!(
                    "{at} s is not before the end of the run (duration_s = {})",
                    self.s.duration_s
                ),
            ));
        }
        Ok(())
    }
}

fn with(mut base: Vec<Seg>, more: impl IntoSeg) -> Vec<Seg> {
    base.push(more.into_seg());
    base
}

/// Checks everything but the stack.
pub fn check(src: &str, s: &Scenario) -> Result<(), ScenarioError> {
    let c = Checker { src, s };
    if s.name.trim().is_empty() {
        return Err(c.err(key_path!["name"], "must not be empty"));
    }
    if !(s.duration_s.is_finite() && s.duration_s > 0.0 && s.duration_s <= MAX_DURATION_S) {
        return Err(c.err(
            key_path!["duration_s"],
            format!("must be in (0, {MAX_DURATION_S}] seconds"),
        ));
    }
    if s.seeds.list().is_empty() {
        return Err(c.err(key_path!["seeds"], "at least one seed is needed"));
    }
    let m = &s.members;
    if m.count == 0 || m.count > MAX_MEMBERS {
        return Err(c.err(
            key_path!["members", "count"],
            format!("must be in 1..={MAX_MEMBERS}"),
        ));
    }
    if let Some(initial) = m.initial
        && (initial == 0 || initial > m.count)
    {
        return Err(c.err(
            key_path!["members", "initial"],
            format!("must be in 1..={} (members.count)", m.count),
        ));
    }
    for (i, &cp) in m.crash_prone.iter().enumerate() {
        c.member(key_path!["members", "crash_prone", i], cp)?;
    }
    c.non_negative(
        key_path!["members", "crashes", "downtime_s"],
        m.crashes.downtime_s,
    )?;
    c.non_negative(
        key_path!["members", "crashes", "quiet_s"],
        m.crashes.quiet_s,
    )?;
    if !(m.crashes.mean_uptime_s.is_finite() && m.crashes.mean_uptime_s >= 1.0) {
        return Err(c.err(
            key_path!["members", "crashes", "mean_uptime_s"],
            "must be at least 1 second",
        ));
    }
    for (i, bad) in m.malicious.iter().enumerate() {
        c.member(key_path!["members", "malicious", i, "member"], bad.member)?;
        c.time(key_path!["members", "malicious", i, "from_s"], bad.from_s)?;
    }

    let n = &s.network;
    c.non_negative(key_path!["network", "latency_ms"], n.latency_ms)?;
    c.non_negative(key_path!["network", "jitter_ms"], n.jitter_ms)?;
    if n.jitter_ms > n.latency_ms {
        return Err(c.err(
            key_path!["network", "jitter_ms"],
            format!(
                "jitter ({} ms) must not exceed the latency ({} ms): latency is uniform in latency ± jitter",
                n.jitter_ms, n.latency_ms
            ),
        ));
    }
    c.probability(key_path!["network", "loss"], n.loss)?;
    for (i, l) in n.links.iter().enumerate() {
        let base = key_path!["network", "links", i];
        c.member(with(base.clone(), "from"), l.from)?;
        c.member(with(base.clone(), "to"), l.to)?;
        if l.from == l.to {
            return Err(c.err(
                with(base.clone(), "to"),
                "a link joins two different members",
            ));
        }
        let lat = l.latency_ms.unwrap_or(n.latency_ms);
        let jit = l.jitter_ms.unwrap_or(n.jitter_ms);
        c.non_negative(with(base.clone(), "latency_ms"), lat)?;
        c.non_negative(with(base.clone(), "jitter_ms"), jit)?;
        if jit > lat {
            return Err(c.err(
                with(base.clone(), "jitter_ms"),
                "jitter must not exceed latency",
            ));
        }
        if let Some(loss) = l.loss {
            c.probability(with(base, "loss"), loss)?;
        }
    }

    let w = &s.workload;
    c.non_negative(
        key_path!["workload", "messages_per_second"],
        w.messages_per_second,
    )?;
    if w.message_bytes == 0 || w.message_bytes > MAX_MESSAGE_BYTES {
        return Err(c.err(
            key_path!["workload", "message_bytes"],
            format!("must be in 1..={MAX_MESSAGE_BYTES}"),
        ));
    }
    if let Some(t) = w.start_s {
        c.time(key_path!["workload", "start_s"], t)?;
    }
    if let Some(t) = w.stop_s {
        c.non_negative(key_path!["workload", "stop_s"], t)?;
        if w.start_s.is_some_and(|start| start > t) {
            return Err(c.err(key_path!["workload", "stop_s"], "is before start_s"));
        }
    }
    if !(w.form_timeout_s.is_finite() && w.form_timeout_s > 0.0) {
        return Err(c.err(key_path!["workload", "form_timeout_s"], "must be > 0"));
    }
    if s.sampling.traffic_every_ms == 0 {
        return Err(c.err(key_path!["sampling", "traffic_every_ms"], "must be > 0"));
    }
    check_schedule(&c)
}

/// Walks the schedule in time order, tracking who is in the group and who is up.
fn check_schedule(c: &Checker<'_>) -> Result<(), ScenarioError> {
    let s = c.s;
    let mut order: Vec<usize> = (0..s.schedule.len()).collect();
    order.sort_by(|&a, &b| s.schedule[a].at_s.total_cmp(&s.schedule[b].at_s));
    let mut in_group: BTreeSet<usize> = (0..s.members.initial()).collect();
    let mut down: BTreeSet<usize> = BTreeSet::new();
    let raw: Option<toml::Table> = toml::from_str(c.src).ok();
    let raw_schedule = raw
        .as_ref()
        .and_then(|t| t.get("schedule"))
        .and_then(|v| v.as_array());
    for i in order {
        let item = &s.schedule[i];
        let base = key_path!["schedule", i];
        if let (Some(entries), Ok(serde_json::Value::Object(known))) =
            (raw_schedule, serde_json::to_value(&item.action))
            && let Some(extra) = entries
                .get(i)
                .and_then(|e| e.as_table())
                .and_then(|e| e.keys().find(|k| *k != "at_s" && !known.contains_key(*k)))
        {
            return Err(c.err(
                with(base, extra.as_str()),
                format!("unknown field `{extra}` for this action"),
            ));
        }
        c.time(with(base.clone(), "at_s"), item.at_s)?;
        match &item.action {
            Action::Partition { sets } => {
                let mut seen = BTreeSet::new();
                if sets.is_empty() {
                    return Err(c.err(with(base, "sets"), "name at least one set of members"));
                }
                for (j, set) in sets.iter().enumerate() {
                    if set.is_empty() {
                        return Err(c.err(
                            with(with(base.clone(), "sets"), j),
                            "a partition set must not be empty",
                        ));
                    }
                    for (k, &m) in set.iter().enumerate() {
                        let p = with(with(with(base.clone(), "sets"), j), k);
                        c.member(p.clone(), m)?;
                        if !seen.insert(m) {
                            return Err(c.err(p, format!("member {m} is in two sets")));
                        }
                    }
                }
            }
            Action::Heal => {}
            Action::Loss { loss } => c.probability(with(base, "loss"), *loss)?,
            Action::Latency {
                latency_ms,
                jitter_ms,
            } => {
                c.non_negative(with(base.clone(), "latency_ms"), *latency_ms)?;
                c.non_negative(with(base.clone(), "jitter_ms"), *jitter_ms)?;
                if jitter_ms > latency_ms {
                    return Err(c.err(with(base, "jitter_ms"), "jitter must not exceed latency"));
                }
            }
            Action::Crash { member } => {
                c.member(with(base.clone(), "member"), *member)?;
                if !down.insert(*member) {
                    return Err(c.err(
                        with(base, "member"),
                        format!("member {member} is already down at {} s", item.at_s),
                    ));
                }
            }
            Action::Restart { member } => {
                c.member(with(base.clone(), "member"), *member)?;
                if !down.remove(member) {
                    return Err(c.err(
                        with(base, "member"),
                        format!(
                            "member {member} is not down at {} s (restart follows a crash)",
                            item.at_s
                        ),
                    ));
                }
            }
            Action::Join { member } => {
                c.member(with(base.clone(), "member"), *member)?;
                if !in_group.insert(*member) {
                    return Err(c.err(
                        with(base, "member"),
                        format!("member {member} is already in the group at {} s", item.at_s),
                    ));
                }
            }
            Action::Remove { member, by } => {
                c.member(with(base.clone(), "member"), *member)?;
                if let Some(by) = by {
                    c.member(with(base.clone(), "by"), *by)?;
                    if !in_group.contains(by) || by == member {
                        return Err(c.err(
                            with(base.clone(), "by"),
                            format!(
                                "member {by} cannot propose this removal (it must be another member in the group)"
                            ),
                        ));
                    }
                }
                if !in_group.remove(member) {
                    return Err(c.err(
                        with(base, "member"),
                        format!("member {member} is not in the group at {} s", item.at_s),
                    ));
                }
            }
            Action::Leave { member } => {
                c.member(with(base.clone(), "member"), *member)?;
                if !in_group.remove(member) {
                    return Err(c.err(
                        with(base, "member"),
                        format!("member {member} is not in the group at {} s", item.at_s),
                    ));
                }
            }
            Action::Send { member } => {
                c.member(with(base.clone(), "member"), *member)?;
                if !in_group.contains(member) {
                    return Err(c.err(
                        with(base, "member"),
                        format!("member {member} is not in the group at {} s", item.at_s),
                    ));
                }
            }
        }
    }
    Ok(())
}

fn slot(src: &str, table: &toml::Table, name: &str) -> Result<BackendConfig, ScenarioError> {
    let mut options = table.clone();
    match options.remove("backend") {
        Some(toml::Value::String(backend)) => Ok(BackendConfig { backend, options }),
        Some(_) => Err(ScenarioError::at(
            src,
            &key_path!["stack", name, "backend"],
            "must be a string naming a backend",
        )),
        None => Err(ScenarioError::at(
            src,
            &key_path!["stack", name],
            "needs `backend = \"name\"`",
        )),
    }
}

fn config_error(src: &str, name: &str, e: ConfigError) -> ScenarioError {
    match e {
        ConfigError::UnknownBackend {
            name: backend,
            available,
            ..
        } => ScenarioError::at(
            src,
            &key_path!["stack", name, "backend"],
            format!(
                "no {name} backend {backend:?} is registered in this program; available: {}",
                available.join(", ")
            ),
        ),
        ConfigError::UnknownKey { key, .. } => ScenarioError::at(
            src,
            &key_path!["stack", name, key.as_str()],
            format!("unknown option `{key}`"),
        ),
        other => ScenarioError::at(src, &key_path!["stack", name], other.to_string()),
    }
}

/// Builds the stack from the registry (the program must have linked the backends it names).
pub fn stack(src: &str, s: &Scenario) -> Result<BuiltStack, ScenarioError> {
    let ctx = BuildContext {
        node_name: "scenario".into(),
        base_dir: std::env::temp_dir(),
    };
    let consensus_config = slot(src, &s.stack.consensus, "consensus")?;
    let steward_config = slot(src, &s.stack.steward, "steward")?;
    let consensus = registry::build_consensus(&consensus_config, &ctx)
        .map_err(|e| config_error(src, "consensus", e))?;
    let policy = registry::build_steward(&steward_config, &ctx)
        .map_err(|e| config_error(src, "steward", e))?;
    let params: EngineParams =
        parse_options("group", &s.stack.group).map_err(|e| config_error(src, "group", e))?;
    Ok(BuiltStack {
        consensus,
        policy,
        params,
        consensus_config,
        steward_config,
    })
}
