//! The driver's view of the members: their processes, what their stdout said (events with
//! their times, member ids, who is in the group, which messages arrived) and commands sent
//! one at a time with their answers. This module owns that state and the reading of lines;
//! the schedule is `run.rs`'s.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use demls::api::{Event, GroupInfo, encode_bytes};
use serde_json::Value;

use super::LabError;
use super::member::{Line, Proc};
use crate::observe::{FinalState, Observed};

/// The group every lab run uses.
pub const GROUP: &str = "lab";

/// How long one command may take before the lab gives up on its answer.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// One member as the driver tracks it.
#[derive(Debug)]
pub struct Member {
    /// Its work directory.
    pub dir: PathBuf,
    /// Its namespace.
    pub namespace: String,
    /// Its process while up.
    pub proc: Option<Proc>,
    /// Which start this is (0 first).
    pub generation: u32,
    /// Its member id (base64), from `ready`.
    pub id: Option<String>,
    /// Whether its current process printed `ready`.
    pub ready: bool,
    /// In the group, as its events say (`group_created`/`joined` … `removed`).
    pub in_group: bool,
    /// Told to leave or scheduled for removal: it no longer chats.
    pub excluded: bool,
}

/// The answer to a command.
pub type Answer = Result<Value, Value>;

/// The members, their lines and what was observed.
#[derive(Debug)]
pub struct Driver {
    /// The members by index.
    pub members: Vec<Member>,
    /// The run's start.
    pub start: Instant,
    /// Nothing waits past this.
    pub hard_stop: Instant,
    /// Lines from every member.
    pub rx: Receiver<Line>,
    /// Given to every process's reader.
    pub tx: Sender<Line>,
    /// Events observed so far.
    pub events: Vec<Observed>,
    /// For each message id, the members that received it.
    pub received: HashMap<String, BTreeSet<usize>>,
    /// Problems that did not stop the run.
    pub problems: Vec<String>,
}

impl Driver {
    /// Milliseconds since the start of the run.
    pub fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    fn ms_of(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.start).as_millis() as u64
    }

    /// Records a problem (also traced).
    pub fn problem(&mut self, text: String) {
        tracing::warn!(problem = %text, "lab run");
        self.problems.push(text);
    }

    /// Takes in one line; returns it as an answer if it is one (`ok`/`error`) from the
    /// member's current process.
    fn absorb(&mut self, line: Line) -> Option<(usize, String, Answer)> {
        let Some(json) = line.json else {
            tracing::debug!(member = line.member, text = %line.text, "a non-JSON line");
            return None;
        };
        let current = self
            .members
            .get(line.member)
            .is_some_and(|m| m.generation == line.generation);
        let kind = json.get("type").and_then(Value::as_str).unwrap_or("");
        match kind {
            "listening" => None,
            "ready" => {
                if let Some(m) = self.members.get_mut(line.member)
                    && current
                {
                    m.ready = true;
                    m.id = json
                        .get("member_id")
                        .and_then(Value::as_str)
                        .map(str::to_owned);
                }
                None
            }
            "ok" | "error" => {
                let command = json
                    .get("command")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                let answer = if kind == "ok" {
                    Ok(json.get("result").cloned().unwrap_or(Value::Null))
                } else {
                    Err(json.get("error").cloned().unwrap_or(Value::Null))
                };
                current.then_some((line.member, command, answer))
            }
            _ => {
                match serde_json::from_value::<Event>(json) {
                    Ok(event) => self.observe(line.member, line.at, event),
                    Err(e) => {
                        let text = format!(
                            "member {}: an unreadable line ({e}): {}",
                            line.member, line.text
                        );
                        self.problem(text);
                    }
                }
                None
            }
        }
    }

    fn observe(&mut self, member: usize, at: Instant, event: Event) {
        let at_ms = self.ms_of(at);
        match &event {
            Event::GroupCreated { .. } | Event::Joined { .. } => {
                self.members[member].in_group = true;
            }
            Event::Removed { .. } => self.members[member].in_group = false,
            Event::MessageReceived { message_id, .. } => {
                self.received
                    .entry(encode_bytes(message_id))
                    .or_default()
                    .insert(member);
            }
            _ => {}
        }
        self.events.push(Observed {
            at_ms,
            member,
            event,
        });
    }

    /// Takes in lines for up to `wait` (at least one poll).
    pub fn pump(&mut self, wait: Duration) {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some((member, command, answer)) = self.absorb(line) {
                        tracing::debug!(member, %command, ?answer, "an answer nobody waits for");
                    }
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return,
            }
            if Instant::now() >= deadline {
                return;
            }
        }
    }

    /// Notes processes that exited without being crashed by the plan.
    pub fn reap_unexpected(&mut self) {
        for i in 0..self.members.len() {
            let Some(p) = self.members[i].proc.as_mut() else {
                continue;
            };
            if let Some(status) = p.exited() {
                let tail = p.stderr_tail();
                self.members[i].proc = None;
                self.members[i].ready = false;
                self.problem(format!(
                    "member {i} exited unexpectedly ({status}); its stderr ends with:\n{tail}"
                ));
            }
        }
    }

    /// Sends `line` to `member` and waits for its answer. `Ok(None)` when the member is down,
    /// died meanwhile or did not answer in time (a problem is recorded).
    pub fn call(&mut self, member: usize, line: &str) -> Result<Option<Answer>, LabError> {
        let Some(p) = self.members[member].proc.as_mut() else {
            self.problem(format!("member {member} is down: {line:?} not sent"));
            return Ok(None);
        };
        if let Err(e) = p.command(line) {
            self.problem(e.to_string());
            return Ok(None);
        }
        let deadline = (Instant::now() + COMMAND_TIMEOUT).min(self.hard_stop);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                self.problem(format!(
                    "member {member} did not answer {line:?} within {} ms",
                    COMMAND_TIMEOUT.as_millis()
                ));
                return Ok(None);
            }
            match self.rx.recv_timeout(left.min(Duration::from_millis(200))) {
                Ok(l) => {
                    if let Some((m, command, answer)) = self.absorb(l) {
                        if m == member && command == line {
                            return Ok(Some(answer));
                        }
                        tracing::debug!(member = m, %command, "an answer nobody waits for");
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    let died = self.members[member]
                        .proc
                        .as_mut()
                        .is_none_or(|p| p.exited().is_some());
                    if died {
                        self.reap_unexpected();
                        return Ok(None);
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(LabError::Process {
                        member,
                        what: "every reader thread is gone".into(),
                        stderr_tail: String::new(),
                    });
                }
            }
        }
    }

    /// `group lab` at `member`: its view, or `None` when it is not in the group (or down).
    pub fn group_info(&mut self, member: usize) -> Result<Option<GroupInfo>, LabError> {
        match self.call(member, &format!("group {GROUP}"))? {
            // A member that is not in the group answers `null`.
            Some(Ok(Value::Null)) => Ok(None),
            Some(Ok(v)) => match serde_json::from_value::<GroupInfo>(v) {
                Ok(info) => Ok(Some(info)),
                Err(e) => {
                    self.problem(format!("member {member}: an unreadable group info: {e}"));
                    Ok(None)
                }
            },
            _ => Ok(None),
        }
    }

    /// The member whose id is `id` (base64).
    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.members
            .iter()
            .position(|m| m.id.as_deref() == Some(id))
    }

    /// A group view with the roster mapped to member indices.
    pub fn final_state(&self, info: &GroupInfo) -> FinalState {
        let mut roster = Vec::new();
        let mut strangers = 0;
        for m in &info.members {
            match self.index_of(&encode_bytes(m.as_bytes())) {
                Some(i) => roster.push(i),
                None => strangers += 1,
            }
        }
        roster.sort_unstable();
        FinalState {
            epoch: info.epoch,
            roster,
            strangers,
            authenticator: encode_bytes(&info.authenticator),
        }
    }
}
