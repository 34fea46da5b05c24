//! One member's `demls chat` process: its work directory (node key, `member.toml`, SQLite
//! database, stderr log), starting it inside the member's namespace, writing commands to its
//! stdin, reading its JSON lines on a thread, and killing it. This module owns the process;
//! what the lines mean is the driver's business.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::Sender;
use std::time::Instant;

use serde_json::Value;

use super::LabError;
use crate::scenario::Stack;

/// The TCP port every member listens on (each has an address of its own).
pub const PORT: u16 = 60_000;

/// One line a member printed on stdout.
#[derive(Debug)]
pub struct Line {
    /// The member.
    pub member: usize,
    /// Which start of the member printed it (0 for the first, 1 after the first restart…).
    pub generation: u32,
    /// When it was read.
    pub at: Instant,
    /// The line, parsed (`None` when it is not JSON: kept as text).
    pub json: Option<Value>,
    /// The raw text.
    pub text: String,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LabError + '_ {
    move |source| LabError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Creates `dir`'s node key with `demls keygen` and returns the libp2p peer id it prints.
pub fn keygen(bin: &Path, dir: &Path, member: usize) -> Result<String, LabError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let key = dir.join("node.key");
    let out = Command::new(bin)
        .arg("keygen")
        .arg(&key)
        .output()
        .map_err(|e| LabError::Process {
            member,
            what: format!("running {} keygen: {e}", bin.display()),
            stderr_tail: String::new(),
        })?;
    if !out.status.success() {
        return Err(LabError::Process {
            member,
            what: format!("{} keygen failed ({})", bin.display(), out.status),
            stderr_tail: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn section(name: &str, table: &toml::Table) -> String {
    let mut doc = toml::Table::new();
    doc.insert(name.to_owned(), toml::Value::Table(table.clone()));
    toml::to_string(&doc).unwrap_or_default()
}

/// Writes `dir/member.toml`: the logos transport on `listen_addr`, `static_peers` (which this
/// member dials and redials), SQLite storage and the scenario's stack.
pub fn write_config(
    dir: &Path,
    member: usize,
    listen_addr: &str,
    static_peers: &[String],
    stack: &Stack,
) -> Result<PathBuf, LabError> {
    let peers: Vec<String> = static_peers.iter().map(|p| format!("{p:?}")).collect();
    let mut text = format!(
        r#"[node]
name = "m{member}"

[transport]
backend = "logos"
listen = "/ip4/{listen_addr}/tcp/{PORT}"
static_peers = [{peers}]
cluster_id = 66
shard = 5
node_key_file = "node.key"

[transport.gossipsub]
heartbeat_ms = 200

[storage]
backend = "sqlite"
path = "member.db"

"#,
        peers = peers.join(", ")
    );
    text.push_str(&section("steward", &stack.steward));
    text.push('\n');
    text.push_str(&section("consensus", &stack.consensus));
    if !stack.group.is_empty() {
        text.push('\n');
        text.push_str(&section("group", &stack.group));
    }
    let path = dir.join("member.toml");
    std::fs::write(&path, text).map_err(io(&path))?;
    Ok(path)
}

/// A running `demls chat`.
#[derive(Debug)]
pub struct Proc {
    member: usize,
    child: Child,
    stdin: ChildStdin,
    log: PathBuf,
}

impl Proc {
    /// Starts `ip netns exec <namespace> <bin> chat member.toml` in `dir`; its stdout lines
    /// go to `lines`, its stderr is appended to `dir/stderr.log` (log filter: `RUST_LOG` =
    /// the lab's `DEMLS_LAB_LOG`, default `warn`).
    pub fn start(
        bin: &Path,
        dir: &Path,
        namespace: &str,
        member: usize,
        generation: u32,
        lines: Sender<Line>,
    ) -> Result<Proc, LabError> {
        let log = dir.join("stderr.log");
        let err = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(io(&log))?;
        let mut child = Command::new("ip")
            .args(["netns", "exec", namespace])
            .arg(bin)
            .args(["chat", "member.toml"])
            .current_dir(dir)
            .env(
                "RUST_LOG",
                std::env::var("DEMLS_LAB_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(err)
            .spawn()
            .map_err(|e| LabError::Process {
                member,
                what: format!("starting ip netns exec {namespace} {}: {e}", bin.display()),
                stderr_tail: String::new(),
            })?;
        let (Some(stdout), Some(stdin)) = (child.stdout.take(), child.stdin.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(LabError::Process {
                member,
                what: "no piped stdin/stdout".into(),
                stderr_tail: String::new(),
            });
        };
        std::thread::Builder::new()
            .name(format!("lab-member-{member}"))
            .spawn(move || {
                for text in BufReader::new(stdout).lines().map_while(Result::ok) {
                    let json = serde_json::from_str::<Value>(&text).ok();
                    let line = Line {
                        member,
                        generation,
                        at: Instant::now(),
                        json,
                        text,
                    };
                    if lines.send(line).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| LabError::Process {
                member,
                what: format!("starting its reader thread: {e}"),
                stderr_tail: String::new(),
            })?;
        Ok(Proc {
            member,
            child,
            stdin,
            log,
        })
    }

    /// Its process id (that of `demls` itself: `ip netns exec` execs it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Writes one command line.
    pub fn command(&mut self, line: &str) -> Result<(), LabError> {
        writeln!(self.stdin, "{line}")
            .and_then(|()| self.stdin.flush())
            .map_err(|e| LabError::Process {
                member: self.member,
                what: format!("writing {line:?} to its stdin: {e}"),
                stderr_tail: self.stderr_tail(),
            })
    }

    /// `Some(status)` once the process exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGKILL and reap.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The last lines of its stderr log.
    pub fn stderr_tail(&self) -> String {
        stderr_tail(&self.log)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.exited().is_none() {
            self.kill();
        }
    }
}

/// The last 20 lines of the log at `path` (empty if unreadable).
pub fn stderr_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
