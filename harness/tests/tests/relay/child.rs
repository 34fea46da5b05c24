//! The member running as a separate OS process (`demls-sqlite-member` on a SQLite file): start,
//! call, and SIGKILL at a chosen instant.

use std::collections::BTreeSet;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command as Process, Stdio};
use std::time::Duration;

use demls::Topic;

use super::protocol::{Command, Reply, read_frame, write_frame};

/// A running child member.
pub struct ChildMember {
    process: Child,
    input: BufWriter<ChildStdin>,
    output: BufReader<ChildStdout>,
    /// Topics to deliver to it.
    pub topics: BTreeSet<Topic>,
    /// When it next needs a tick (ms).
    pub deadline: Option<u64>,
    /// The step markers its database held when it started (`begin`, `end`).
    pub markers: (u64, u64),
}

/// Hex of 32 bytes.
fn hex32(bytes: &[u8; 32]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl ChildMember {
    /// Starts the member on `db` and waits until its engine is open.
    pub fn start(db: &Path, identity: [u8; 32], entropy: [u8; 32], now: u64) -> ChildMember {
        let mut process = Process::new(env!("CARGO_BIN_EXE_demls-sqlite-member"))
            .arg(db)
            .arg(hex32(&identity))
            .arg(hex32(&entropy))
            .arg(now.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start demls-sqlite-member");
        let input = BufWriter::new(process.stdin.take().expect("piped stdin"));
        let mut output = BufReader::new(process.stdout.take().expect("piped stdout"));
        match read_frame::<Reply>(&mut output) {
            Ok(Some(Reply::Ready {
                begin,
                end,
                topics,
                deadline,
            })) => ChildMember {
                process,
                input,
                output,
                topics: topics.into_iter().collect(),
                deadline,
                markers: (begin, end),
            },
            other => panic!("the member did not start: {other:?}"),
        }
    }

    /// Sends `command` and waits for the reply (updating topics and deadline).
    pub fn call(&mut self, command: &Command) -> Reply {
        write_frame(&mut self.input, command).expect("write to the member");
        let reply = read_frame::<Reply>(&mut self.output)
            .expect("read from the member")
            .expect("the member closed its output");
        if let Reply::Done {
            topics, deadline, ..
        } = &reply
        {
            self.topics = topics.iter().cloned().collect();
            self.deadline = *deadline;
        }
        reply
    }

    /// Sends `command`, lets the member work on it for `after`, and kills it with SIGKILL:
    /// the step may be anywhere, from not started to committed and answered. Its reply, if
    /// any, is lost with it (as a crashed node's unsent publications are).
    pub fn kill_during(mut self, command: &Command, after: Duration) {
        write_frame(&mut self.input, command).expect("write to the member");
        std::thread::sleep(after);
        self.kill();
    }

    /// Kills the member with SIGKILL and reaps it.
    pub fn kill(mut self) {
        // `Child::kill` sends SIGKILL on Unix.
        let _ = self.process.kill();
        self.process.wait().expect("reap the member");
    }
}

/// A file in the test's scratch directory.
pub fn database_in(dir: &Path) -> PathBuf {
    dir.join("member.db")
}
