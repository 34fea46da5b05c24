//! Three `demls chat` processes on 127.0.0.1, each a member on the `logos` transport (Waku
//! relay, static peers), form a group by votes (one joins by id, one by invitation), exchange
//! messages and vote one member out.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

const STEP: Duration = Duration::from_secs(90);
const NAMES: [&str; 3] = ["alice", "bob", "carol"];

struct Member {
    child: Child,
    stdin: ChildStdin,
}

struct Cluster {
    members: Vec<Member>,
    events: mpsc::Receiver<(usize, Value)>,
    log: Vec<(usize, Value)>,
}

impl Cluster {
    fn send(&mut self, who: usize, line: &str) {
        writeln!(self.members[who].stdin, "{line}").expect("writing a command");
        self.members[who].stdin.flush().expect("flushing a command");
    }

    /// Reads events until `done` holds over everything seen so far.
    fn until(&mut self, what: &str, done: impl Fn(&[(usize, Value)]) -> bool) {
        let deadline = Instant::now() + STEP;
        while !done(&self.log) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok((who, event)) => {
                    eprintln!("{:<5} {event}", NAMES[who]);
                    assert_ne!(event["type"], "error", "{} reported an error", NAMES[who]);
                    self.log.push((who, event));
                }
                Err(_) => panic!("timed out waiting for: {what}"),
            }
        }
    }
}

impl Drop for Cluster {
    /// Never leaves member processes behind, also when the test fails.
    fn drop(&mut self) {
        for m in &mut self.members {
            let _ = m.child.kill();
            let _ = m.child.wait();
        }
    }
}

fn count(log: &[(usize, Value)], f: impl Fn(usize, &Value) -> bool) -> usize {
    log.iter().filter(|(w, e)| f(*w, e)).count()
}

fn last_members(log: &[(usize, Value)], who: usize) -> Option<u64> {
    log.iter()
        .rev()
        .filter(|(w, e)| *w == who && (e["type"] == "epoch_advanced" || e["type"] == "joined"))
        .find_map(|(_, e)| e["members"].as_u64())
}

/// The payload of a `message_received` event as text (empty for any other line).
fn text(event: &Value) -> String {
    use base64::Engine as _;
    event["payload"]
        .as_str()
        .and_then(|p| base64::engine::general_purpose::STANDARD.decode(p).ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("binding a free port")
        .local_addr()
        .expect("a local address")
        .port()
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_demls")
}

fn keygen(path: &Path) -> String {
    let out = Command::new(bin())
        .arg("keygen")
        .arg(path)
        .output()
        .expect("keygen runs");
    assert!(out.status.success(), "keygen failed: {out:?}");
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_owned()
}

fn config(name: &str, port: u16, static_peers: &[String]) -> String {
    let peers: Vec<String> = static_peers.iter().map(|p| format!("{p:?}")).collect();
    format!(
        r#"
[node]
name = "{name}"
profile = "logos"

[transport]
listen = "/ip4/127.0.0.1/tcp/{port}"
static_peers = [{peers}]
cluster_id = 66
shard = 5
node_key_file = "{name}.key"

[transport.gossipsub]
heartbeat_ms = 200

[steward]
backend = "single"
commit_delay_ms = 150

[group]
vote_timeout_ms = 5000
"#,
        peers = peers.join(", ")
    )
}

fn start(dir: &Path) -> Cluster {
    let mut addrs = Vec::new();
    let (tx, events) = mpsc::channel();
    let mut members = Vec::new();
    for (i, name) in NAMES.iter().enumerate() {
        let peer_id = keygen(&dir.join(format!("{name}.key")));
        let port = free_port();
        let path = dir.join(format!("{name}.toml"));
        std::fs::write(&path, config(name, port, &addrs)).expect("writing a config");
        addrs.push(format!("/ip4/127.0.0.1/tcp/{port}/p2p/{peer_id}"));
        let mut child = Command::new(bin())
            .args([
                "chat",
                &path.to_string_lossy(),
                "--wait-peers",
                "2",
                "--wait-secs",
                "60",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("demls chat starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let stdin = child.stdin.take().expect("piped stdin");
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                match serde_json::from_str::<Value>(&line) {
                    Ok(v) => {
                        if tx.send((i, v)).is_err() {
                            break;
                        }
                    }
                    Err(_) => eprintln!("{name}: {line}"),
                }
            }
        });
        members.push(Member { child, stdin });
    }
    Cluster {
        members,
        events,
        log: Vec::new(),
    }
}

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("demls-cli-three-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temp dir");
    dir
}

#[test]
fn three_processes_on_logos_form_a_group_chat_and_remove_a_member() {
    let dir = temp_dir();
    let mut c = start(&dir);
    c.until("three members ready", |l| {
        count(l, |_, e| e["type"] == "ready") == 3
    });
    let member_of = |l: &[(usize, Value)], who: usize| -> String {
        l.iter()
            .find(|(w, e)| *w == who && e["type"] == "ready")
            .and_then(|(_, e)| e["member_id"].as_str())
            .expect("a ready event")
            .to_owned()
    };
    let carol = member_of(&c.log, 2);

    c.send(0, "create demo");
    c.until("alice created the group", |l| {
        count(l, |w, e| w == 0 && e["type"] == "group_created") == 1
    });
    c.send(1, "join demo");
    c.until("bob joined by alice's vote", |l| {
        count(l, |w, e| w == 1 && e["type"] == "joined") == 1
    });
    // Carol joins by the invitation alice hands out.
    c.send(0, "invite demo");
    c.until("alice printed an invitation", |l| {
        count(l, |w, e| w == 0 && e["command"] == "invite demo") == 1
    });
    let invitation = c
        .log
        .iter()
        .find(|(w, e)| *w == 0 && e["command"] == "invite demo")
        .and_then(|(_, e)| e["result"]["invitation"].as_str())
        .expect("an invitation")
        .to_owned();
    assert!(invitation.starts_with("demls-invite:1:"), "{invitation}");
    c.send(2, &format!("join {invitation}"));
    c.until("all three share an epoch of three members", |l| {
        (0..3).all(|w| last_members(l, w) == Some(3))
    });

    for (i, name) in NAMES.iter().enumerate() {
        c.send(i, &format!("send demo hello from {name}"));
    }
    c.until("six messages decrypted", |l| {
        count(l, |_, e| e["type"] == "message_received") == 6
    });
    for (i, name) in NAMES.iter().enumerate() {
        let got = count(&c.log, |w, e| {
            w != i && e["type"] == "message_received" && text(e) == format!("hello from {name}")
        });
        assert_eq!(got, 2, "{name}'s message did not reach both others");
    }

    c.send(0, &format!("remove demo {carol}"));
    c.until("carol removed and the others at two members", |l| {
        count(l, |w, e| w == 2 && e["type"] == "removed") == 1
            && last_members(l, 0) == Some(2)
            && last_members(l, 1) == Some(2)
    });

    let authenticator = |who: usize| {
        c.log
            .iter()
            .rev()
            .find(|(w, e)| *w == who && e["type"] == "epoch_advanced")
            .map(|(_, e)| e["authenticator"].clone())
    };
    assert_eq!(
        authenticator(0),
        authenticator(1),
        "alice and bob disagree on the epoch after the removal"
    );

    c.send(0, "send demo carol is gone");
    c.until("bob reads alice after the removal", |l| {
        count(l, |w, e| w == 1 && text(e) == "carol is gone") == 1
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        count(&c.log, |w, e| w == 2 && text(e) == "carol is gone"),
        0,
        "the removed member read a message of the new epoch"
    );

    for i in 0..3 {
        c.send(i, "quit");
    }
    for m in &mut c.members {
        let deadline = Instant::now() + Duration::from_secs(10);
        while m.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    drop(c);
    let _ = std::fs::remove_dir_all(&dir);
}
