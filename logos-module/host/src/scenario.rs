//! The three-member session, played through three host processes as people would play it.
//!
//! Owns the script and its checks: alice creates a group and invites bob and carol by address
//! (inbox invitation → accept), the roster converges, everyone chats (every message reaches
//! every other member; `get_messages` agrees), alice removes carol (carol sees
//! `conversation_left`), bob's host is stopped cleanly and a new one started on the same
//! persistence path, bob keeps chatting in the same conversation, then bob leaves. The
//! restart comes before bob's leave so that the restarted member still has someone to chat
//! with. Driving the processes is [`crate::harness`]'s, the transcript format
//! [`crate::transcript`]'s.
//!
//! Every wait is on an event or on converged state (polled quietly), never on a bare sleep;
//! `pause` only paces the typing for the recording.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{HarnessError, Host, HostSpec, Relay, eventually, result_value};
use crate::transcript::Transcript;

/// How long a membership change or a message may take to reach everyone.
pub const CONVERGE_TIMEOUT: Duration = Duration::from_secs(90);

/// Where and how to play the scenario.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The `demls-module-host` executable.
    pub host_bin: PathBuf,
    /// The module image.
    pub module: PathBuf,
    /// A directory for the relay socket, the members' persistence and their logs.
    pub workdir: PathBuf,
    /// The pause after each typed command.
    pub pause: Duration,
}

/// What a finished run observed.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The group's conversation id.
    pub convo: String,
    /// The members' addresses (alice, bob, carol).
    pub addresses: [String; 3],
    /// The transcript.
    pub transcript: Transcript,
}

fn check(ok: bool, what: impl FnOnce() -> String) -> Result<(), HarnessError> {
    if ok {
        Ok(())
    } else {
        Err(HarnessError::Check(what()))
    }
}

fn value_of(member: &str, method: &str, result: &Value) -> Result<Value, HarnessError> {
    result_value(result).map_err(|e| HarnessError::Check(format!("{member}: {method}: {e}")))
}

struct Session {
    setup: Setup,
    relay: Relay,
    transcript: Transcript,
}

impl Session {
    fn spec(&self, member: &str) -> HostSpec {
        HostSpec {
            host_bin: self.setup.host_bin.clone(),
            module: self.setup.module.clone(),
            member: member.to_owned(),
            persistence: self.setup.workdir.join(member),
            relay: self.relay.socket().to_path_buf(),
            stderr: Some(self.setup.workdir.join(format!("{member}.log"))),
        }
    }

    fn pause(&self) {
        std::thread::sleep(self.setup.pause);
    }

    /// Starts a member's host and `init`s its module; its address.
    fn start(&self, member: &str) -> Result<(Host, String), HarnessError> {
        let dir = self.setup.workdir.join(member);
        std::fs::create_dir_all(&dir).map_err(|source| HarnessError::Io {
            what: format!("creating {}", dir.display()),
            source,
        })?;
        let mut host = Host::spawn(&self.spec(member), Some(self.transcript.clone()))?;
        let config = json!({"transport": "delivery_module", "delivery_config": "{}"});
        let init = host.call("init", vec![config])?;
        value_of(member, "init", &init)?;
        self.pause();
        let address = host.call("get_address", vec![])?;
        let address = address
            .as_str()
            .filter(|a| !a.is_empty())
            .ok_or_else(|| HarnessError::Check(format!("{member}: get_address: {address}")))?
            .to_owned();
        Ok((host, address))
    }
}

fn roster(host: &mut Host, convo: &str) -> Result<BTreeSet<String>, HarnessError> {
    let members = host.call_quiet("list_group_members", vec![json!(convo)])?;
    Ok(members
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|m| m["pending"] != Value::Bool(true))
                .filter_map(|m| m["address"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default())
}

/// Waits until every host's committed roster is `expected`.
fn converge(hosts: &mut [&mut Host], convo: &str, expected: &[&str]) -> Result<(), HarnessError> {
    let expected: BTreeSet<String> = expected.iter().map(|s| (*s).to_owned()).collect();
    let names: Vec<String> = hosts.iter().map(|h| h.member().to_owned()).collect();
    eventually(
        &format!(
            "roster of {names:?} converging to {} members",
            expected.len()
        ),
        CONVERGE_TIMEOUT,
        || {
            for h in hosts.iter_mut() {
                if roster(h, convo)? != expected {
                    return Ok(None);
                }
            }
            Ok(Some(()))
        },
    )
}

fn send(
    from: &mut Host,
    to: &mut [&mut Host],
    convo: &str,
    content: &str,
    pause: Duration,
) -> Result<(), HarnessError> {
    let r = from.call("send_message", vec![json!(convo), json!(content)])?;
    value_of(from.member(), "send_message", &r)?;
    std::thread::sleep(pause);
    for h in to.iter_mut() {
        h.wait_event(
            "message_received",
            |d| d[0] == json!(convo) && d[1] == json!(content),
            CONVERGE_TIMEOUT,
        )?;
    }
    Ok(())
}

fn invite(
    inviter: &mut Host,
    invitee: &mut Host,
    convo: &str,
    address: &str,
    pause: Duration,
) -> Result<(), HarnessError> {
    let r = inviter.call("add_group_member", vec![json!(convo), json!(address)])?;
    value_of(inviter.member(), "add_group_member", &r)?;
    std::thread::sleep(pause);
    invitee.wait_event(
        "invitation_received",
        |d| d[0] == json!(convo),
        CONVERGE_TIMEOUT,
    )?;
    let r = invitee.call("accept_invitation", vec![json!(convo)])?;
    value_of(invitee.member(), "accept_invitation", &r)?;
    std::thread::sleep(pause);
    Ok(())
}

fn contents(host: &mut Host, convo: &str) -> Result<Vec<String>, HarnessError> {
    let msgs = host.call("get_messages", vec![json!(convo)])?;
    Ok(msgs
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|m| m["content"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default())
}

/// Plays the whole session; every check failure is an error naming what diverged.
pub fn play(setup: Setup) -> Result<Outcome, HarnessError> {
    std::fs::create_dir_all(&setup.workdir).map_err(|source| HarnessError::Io {
        what: "creating the work directory".into(),
        source,
    })?;
    let relay = Relay::spawn(&setup.host_bin, &setup.workdir.join("relay.sock"))?;
    let s = Session {
        setup,
        relay,
        transcript: Transcript::default(),
    };
    let pause = s.setup.pause;
    let (mut alice, a) = s.start("alice")?;
    let (mut bob, b) = s.start("bob")?;
    let (mut carol, c) = s.start("carol")?;

    // alice creates the group and invites bob, then carol.
    let created = alice.call(
        "create_group_conversation",
        vec![
            json!("demls-dogfood"),
            json!("three members, three host processes"),
        ],
    )?;
    let convo = value_of("alice", "create_group_conversation", &created)?
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| HarnessError::Check("create_group_conversation: no convo_id".into()))?;
    s.pause();
    invite(&mut alice, &mut bob, &convo, &b, pause)?;
    converge(&mut [&mut alice, &mut bob], &convo, &[&a, &b])?;
    invite(&mut alice, &mut carol, &convo, &c, pause)?;
    converge(
        &mut [&mut alice, &mut bob, &mut carol],
        &convo,
        &[&a, &b, &c],
    )?;
    let rosters: Vec<Value> = [&mut alice, &mut bob, &mut carol]
        .into_iter()
        .map(|h| h.call("list_group_members", vec![json!(convo)]))
        .collect::<Result<_, _>>()?;
    check(rosters.iter().all(|r| r == &rosters[0]), || {
        format!("list_group_members differ: {rosters:?}")
    })?;

    // Everyone chats.
    let said = ["hello from alice", "bob here, hi both", "carol says hi"];
    send(
        &mut alice,
        &mut [&mut bob, &mut carol],
        &convo,
        said[0],
        pause,
    )?;
    send(
        &mut bob,
        &mut [&mut alice, &mut carol],
        &convo,
        said[1],
        pause,
    )?;
    send(
        &mut carol,
        &mut [&mut alice, &mut bob],
        &convo,
        said[2],
        pause,
    )?;
    for h in [&mut alice, &mut bob, &mut carol] {
        let seen = contents(h, &convo)?;
        check(said.iter().all(|m| seen.iter().any(|x| x == m)), || {
            format!("{}: get_messages lacks a message: {seen:?}", h.member())
        })?;
    }

    // alice removes carol.
    let r = alice.call("remove_group_member", vec![json!(convo), json!(c)])?;
    value_of("alice", "remove_group_member", &r)?;
    carol.wait_event(
        "conversation_left",
        |d| d[0] == json!(convo),
        CONVERGE_TIMEOUT,
    )?;
    converge(&mut [&mut alice, &mut bob], &convo, &[&a, &b])?;
    s.pause();

    // bob's host is stopped (unload handshake) and restarted on the same persistence path.
    let stopped = bob.stop()?;
    check(stopped["unloaded"] == json!(true), || {
        format!("bob's unload was not clean: {stopped}")
    })?;
    let (mut bob, b2) = s.start("bob")?;
    check(b2 == b, || {
        format!("bob's address changed on restart: {b} → {b2}")
    })?;
    let convos = bob.call("list_conversations", vec![])?;
    check(
        convos
            .as_array()
            .is_some_and(|a| a.iter().any(|c| c["convo_id"] == json!(convo))),
        || format!("bob lost the conversation on restart: {convos}"),
    )?;
    converge(&mut [&mut alice, &mut bob], &convo, &[&a, &b])?;
    send(
        &mut alice,
        &mut [&mut bob],
        &convo,
        "welcome back, bob",
        pause,
    )?;
    send(
        &mut bob,
        &mut [&mut alice],
        &convo,
        "still here after a restart",
        pause,
    )?;
    let seen = contents(&mut bob, &convo)?;
    check(seen.iter().any(|m| m == said[0]), || {
        format!("bob's history did not survive the restart: {seen:?}")
    })?;

    // bob leaves.
    let r = bob.call("leave_group_conversation", vec![json!(convo)])?;
    value_of("bob", "leave_group_conversation", &r)?;
    bob.wait_event(
        "conversation_left",
        |d| d[0] == json!(convo),
        CONVERGE_TIMEOUT,
    )?;
    converge(&mut [&mut alice], &convo, &[&a])?;
    s.pause();

    for h in [alice, bob, carol] {
        let member = h.member().to_owned();
        let stopped = h.stop()?;
        check(stopped["host"] == json!("stopped"), || {
            format!("{member}: /stop answered {stopped}")
        })?;
    }
    Ok(Outcome {
        convo,
        addresses: [a, b, c],
        transcript: s.transcript,
    })
}

/// The header of a recorded transcript.
pub const HEADER: [&str; 4] = [
    "de-MLS as a Logos Core module: three members, three demls-module-host processes, one relay.",
    "Recorded by logos-module/host/dogfood.sh (demls-module-host dogfood); checked by",
    "logos-module/host/tests/all/dogfood_transcript.rs. Marks: > typed, < answer, * event, # host.",
    "Each host loads libdemls_module.so as Logos Core's plain host does; see logos-module/README.md.",
];

/// Plays the session with `pause_ms` between typed commands and writes its transcript to `out`.
pub fn record(
    host_bin: &Path,
    module: &Path,
    out: &Path,
    pause_ms: u64,
    workdir: Option<&Path>,
) -> Result<(), HarnessError> {
    // A directory of our own is removed afterwards; one the caller named is kept.
    let (workdir, owned) = match workdir {
        Some(w) => (w.to_path_buf(), false),
        None => {
            let temp = std::env::temp_dir().join(format!("demls-dogfood-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&temp);
            (temp, true)
        }
    };
    let outcome = play(Setup {
        host_bin: host_bin.to_path_buf(),
        module: module.to_path_buf(),
        workdir: workdir.clone(),
        pause: Duration::from_millis(pause_ms),
    });
    if owned {
        let _ = std::fs::remove_dir_all(&workdir);
    }
    let outcome = outcome?;
    let text = outcome.transcript.render(&HEADER);
    std::fs::write(out, text).map_err(|source| HarnessError::Io {
        what: format!("writing {}", out.display()),
        source,
    })?;
    Ok(())
}
