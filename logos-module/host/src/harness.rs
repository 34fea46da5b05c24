//! Driving host processes from outside: spawn, type a command, wait for its answer or an event.
//!
//! Owns child processes and their stdout streams; what to type is the caller's (tests,
//! [`crate::scenario`]). Every wait is bounded; a dropped [`Host`] or [`Relay`] kills its child.
//! Everything a host prints (but quiet answers) goes into the shared [`Transcript`] as it
//! arrives, with the time it arrived.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, sync_channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::command::human_form;
use crate::transcript::Transcript;

/// How long a call may take to answer.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a host may take to load its module.
pub const READY_TIMEOUT: Duration = Duration::from_secs(20);
const QUIET_ID: &str = "quiet";

/// Why driving a host failed.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// The child could not be spawned or written to.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Nothing arrived in time.
    #[error("{0}: timed out")]
    Timeout(String),
    /// The child's output ended.
    #[error("{0}: the process exited")]
    Exited(String),
    /// The host refused the module.
    #[error("{member}: load failed: {error}")]
    LoadFailed {
        /// The member.
        member: String,
        /// The host's error.
        error: String,
    },
    /// A scenario check failed.
    #[error("check failed: {0}")]
    Check(String),
}

fn io_err(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> HarnessError {
    let what = what.into();
    move |source| HarnessError::Io { what, source }
}

/// A line a child printed, parsed.
struct Line {
    value: Value,
}

fn spawn_reader(
    stdout: impl std::io::Read + Send + 'static,
    member: String,
    transcript: Option<Transcript>,
) -> Receiver<Line> {
    let (tx, rx) = sync_channel(4096);
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let value: Value = serde_json::from_str(&line).unwrap_or(Value::String(line));
            if let Some(t) = &transcript {
                record(t, &member, &value);
            }
            if tx.send(Line { value }).is_err() {
                break;
            }
        }
    });
    rx
}

fn record(t: &Transcript, member: &str, v: &Value) {
    if let Some(event) = v.get("event").and_then(Value::as_str) {
        t.push(member, '*', format!("{event} {}", v["data"]));
    } else if v.get("call").is_some() {
        if v.get("id").and_then(Value::as_str) != Some(QUIET_ID) {
            t.push(member, '<', v["result"].to_string());
        }
    } else if let Some(host) = v.get("host").and_then(Value::as_str) {
        let mut rest = v.clone();
        if let Some(o) = rest.as_object_mut() {
            o.remove("host");
        }
        t.push(member, '#', format!("{host} {rest}"));
    }
}

/// A relay hub child process.
pub struct Relay {
    child: Child,
    _stdin: ChildStdin,
    socket: PathBuf,
}

impl Relay {
    /// Starts `host_bin relay --socket <socket>` and waits until it listens.
    pub fn spawn(host_bin: &Path, socket: &Path) -> Result<Self, HarnessError> {
        let mut child = Command::new(host_bin)
            .args(["relay", "--exit-on-stdin-eof", "--socket"])
            .arg(socket)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(io_err("spawning the relay"))?;
        let stdin = child
            .stdin
            .take()
            .ok_or(HarnessError::Exited("relay".into()))?;
        let stdout = child
            .stdout
            .take()
            .ok_or(HarnessError::Exited("relay".into()))?;
        let rx = spawn_reader(stdout, "relay".into(), None);
        let relay = Relay {
            child,
            _stdin: stdin,
            socket: socket.to_path_buf(),
        };
        match rx.recv_timeout(READY_TIMEOUT) {
            Ok(l) if l.value.get("relay").is_some() => Ok(relay),
            Ok(_) | Err(RecvTimeoutError::Disconnected) => {
                Err(HarnessError::Exited("relay".into()))
            }
            Err(RecvTimeoutError::Timeout) => Err(HarnessError::Timeout("relay start".into())),
        }
    }

    /// The hub's socket.
    pub fn socket(&self) -> &Path {
        &self.socket
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.socket);
    }
}

/// How to start one host.
#[derive(Debug, Clone)]
pub struct HostSpec {
    /// The `demls-module-host` executable.
    pub host_bin: PathBuf,
    /// The module image.
    pub module: PathBuf,
    /// The member's name in the transcript.
    pub member: String,
    /// The instance persistence path.
    pub persistence: PathBuf,
    /// The relay hub socket.
    pub relay: PathBuf,
    /// Where the host's stderr goes (appended).
    pub stderr: Option<PathBuf>,
}

/// A running host process.
pub struct Host {
    member: String,
    child: Child,
    stdin: Option<ChildStdin>,
    rx: Receiver<Line>,
    events: VecDeque<(String, Value)>,
    transcript: Option<Transcript>,
}

impl Host {
    /// Spawns a host and waits for it to report its module loaded.
    pub fn spawn(spec: &HostSpec, transcript: Option<Transcript>) -> Result<Self, HarnessError> {
        let stderr = match &spec.stderr {
            Some(p) => Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .map_err(io_err("opening the host log"))?,
            ),
            None => Stdio::inherit(),
        };
        let mut child = Command::new(&spec.host_bin)
            .arg("--module")
            .arg(&spec.module)
            .args(["--name", "demls_module", "--persistence"])
            .arg(&spec.persistence)
            .arg("--relay")
            .arg(&spec.relay)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(io_err(format!("spawning {}'s host", spec.member)))?;
        let stdin = child.stdin.take();
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| HarnessError::Exited(spec.member.clone()))?;
        let rx = spawn_reader(stdout, spec.member.clone(), transcript.clone());
        let mut host = Host {
            member: spec.member.clone(),
            child,
            stdin,
            rx,
            events: VecDeque::new(),
            transcript,
        };
        let ready = host.next_line(READY_TIMEOUT, "waiting for the module to load")?;
        match ready.get("host").and_then(Value::as_str) {
            Some("ready") => Ok(host),
            _ => Err(HarnessError::LoadFailed {
                member: host.member.clone(),
                error: ready["error"]
                    .as_str()
                    .unwrap_or("unexpected output")
                    .into(),
            }),
        }
    }

    /// The member's name.
    pub fn member(&self) -> &str {
        &self.member
    }

    /// The host's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next non-event line the host prints (events are kept for [`Host::wait_event`]).
    pub fn read_line(&mut self, timeout: Duration) -> Result<Value, HarnessError> {
        self.next_line(timeout, "reading output")
    }

    fn next_line(&mut self, timeout: Duration, what: &str) -> Result<Value, HarnessError> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(event) = line.value.get("event").and_then(Value::as_str) {
                        self.events
                            .push_back((event.to_owned(), line.value["data"].clone()));
                        continue;
                    }
                    return Ok(line.value);
                }
                Err(RecvTimeoutError::Timeout) => {
                    return Err(HarnessError::Timeout(format!("{}: {what}", self.member)));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(HarnessError::Exited(format!("{}: {what}", self.member)));
                }
            }
        }
    }

    /// Types one raw line and returns the next non-event line the host prints.
    pub fn type_line(&mut self, line: &str) -> Result<Value, HarnessError> {
        if let Some(t) = &self.transcript {
            t.push(&self.member, '>', line);
        }
        self.write(line)?;
        self.next_line(CALL_TIMEOUT, line)
    }

    fn write(&mut self, line: &str) -> Result<(), HarnessError> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| HarnessError::Exited(self.member.clone()))?;
        writeln!(stdin, "{line}")
            .and_then(|()| stdin.flush())
            .map_err(io_err(format!("{}: writing a command", self.member)))
    }

    /// Calls `method` (recorded in the transcript as its human form); the raw result value.
    pub fn call(&mut self, method: &str, args: Vec<Value>) -> Result<Value, HarnessError> {
        if let Some(t) = &self.transcript {
            t.push(&self.member, '>', human_form(method, &args));
        }
        let line = json!({"call": method, "args": args}).to_string();
        self.write(&line)?;
        let answer = self.next_line(CALL_TIMEOUT, method)?;
        Ok(answer.get("result").cloned().unwrap_or(answer))
    }

    /// Calls `method` without recording it (a poll); the raw result value.
    pub fn call_quiet(&mut self, method: &str, args: Vec<Value>) -> Result<Value, HarnessError> {
        let line = json!({"call": method, "args": args, "id": QUIET_ID}).to_string();
        self.write(&line)?;
        let answer = self.next_line(CALL_TIMEOUT, method)?;
        Ok(answer.get("result").cloned().unwrap_or(answer))
    }

    /// Waits for an event named `name` whose data satisfies `pred` (events seen earlier and not
    /// yet taken count); takes it and returns its data.
    pub fn wait_event(
        &mut self,
        name: &str,
        pred: impl Fn(&Value) -> bool,
        timeout: Duration,
    ) -> Result<Value, HarnessError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(i) = self.events.iter().position(|(n, d)| n == name && pred(d)) {
                return Ok(self.events.remove(i).map(|(_, d)| d).unwrap_or_default());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(line) => match line.value.get("event").and_then(Value::as_str) {
                    Some(event) => self
                        .events
                        .push_back((event.to_owned(), line.value["data"].clone())),
                    None => {
                        return Err(HarnessError::Check(format!(
                            "{}: unexpected line while waiting for {name}: {}",
                            self.member, line.value
                        )));
                    }
                },
                Err(RecvTimeoutError::Timeout) => {
                    return Err(HarnessError::Timeout(format!(
                        "{}: waiting for event {name}",
                        self.member
                    )));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(HarnessError::Exited(format!(
                        "{}: waiting for event {name}",
                        self.member
                    )));
                }
            }
        }
    }

    /// Stops the host cleanly (`/stop`: the unload handshake) and waits for it to exit; the
    /// `stopped` line.
    pub fn stop(mut self) -> Result<Value, HarnessError> {
        let stopped = self.type_line("/stop")?;
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                _ => return Err(HarnessError::Timeout(format!("{}: exit", self.member))),
            }
        }
        Ok(stopped)
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// The value of a LIDL `result` (`{"success": true, "value": …}`), or its error text.
pub fn result_value(result: &Value) -> Result<Value, String> {
    match result.get("success").and_then(Value::as_bool) {
        Some(true) => Ok(result.get("value").cloned().unwrap_or(Value::Null)),
        Some(false) => Err(result["error"].as_str().unwrap_or("error").to_owned()),
        None if result.get("code").is_some() => Err(result.to_string()),
        None => Ok(result.clone()),
    }
}

/// Polls `probe` every 100 ms until it answers `Some`, or fails after `timeout`.
pub fn eventually<T>(
    what: &str,
    timeout: Duration,
    mut probe: impl FnMut() -> Result<Option<T>, HarnessError>,
) -> Result<T, HarnessError> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = probe()? {
            return Ok(v);
        }
        if Instant::now() >= deadline {
            return Err(HarnessError::Timeout(what.to_owned()));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
