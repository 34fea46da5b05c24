//! `demls-sqlite-member`: one group member (engine, hashgraph consensus, single-steward
//! policy) on SQLite storage, driven by its parent over stdin/stdout frames ([`protocol`]).
//!
//! It exists for the kill test: the parent hosts the rest of the group, relays publications,
//! and kills this process with SIGKILL at random instants, then starts it again on the same
//! database. The process keeps no state of its own: everything is in the database.
//!
//! Usage: `demls-sqlite-member DATABASE IDENTITY_SEED_HEX ENTROPY_SEED_HEX NOW_MS`

mod protocol;
mod recording;

use std::io::{BufReader, BufWriter};
use std::process::ExitCode;
use std::sync::Arc;

use demls::engine::{EngineParams, GroupEvent, Output};
use demls::policy::single::SinglePolicyFactory;
use demls::{Engine, Inbound, Timestamp};
use demls_consensus_hashgraph::HashgraphFactory;
use demls_storage_sqlite::SqliteStorage;
use protocol::{Command, Reply, View, read_frame, write_frame};
use recording::Recording;

/// The open engine and what it needs to report.
struct Member {
    engine: Engine,
    store: Arc<Recording<SqliteStorage>>,
    /// The step markers found when opening.
    markers: (u64, u64),
}

fn seed_arg(hex_seed: &str) -> Result<[u8; 32], String> {
    let bytes = (0..hex_seed.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex_seed.get(i..i + 2).unwrap_or("zz"), 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|e| format!("bad seed {hex_seed:?}: {e}"))?;
    bytes
        .try_into()
        .map_err(|_| format!("seed {hex_seed:?} is not 32 bytes"))
}

fn open(args: &[String]) -> Result<Member, String> {
    let [db, identity, entropy, now] = args else {
        return Err("usage: demls-sqlite-member DATABASE IDENTITY_SEED ENTROPY_SEED NOW_MS".into());
    };
    let now = Timestamp(now.parse().map_err(|e| format!("bad time {now:?}: {e}"))?);
    let storage = SqliteStorage::open_path(db).map_err(|e| format!("open {db}: {e}"))?;
    let (store, begin, end) = Recording::open(storage).map_err(|e| format!("markers: {e}"))?;
    let store = Arc::new(store);
    let mut engine = Engine::open(
        store.clone(),
        Arc::new(HashgraphFactory::default()),
        Arc::new(SinglePolicyFactory::new(Default::default())),
        EngineParams::default(),
        Some(seed_arg(identity)?),
        now,
    )
    .map_err(|e| format!("engine: {e}"))?;
    engine.set_entropy_seed(seed_arg(entropy)?);
    Ok(Member {
        engine,
        store,
        markers: (begin, end),
    })
}

fn done(member: &Member, out: Output, sent: Option<Vec<u8>>) -> Reply {
    let engine = &member.engine;
    let received = out
        .events
        .iter()
        .filter_map(|e| match e {
            GroupEvent::MessageReceived { message_id, .. } => Some(message_id.clone()),
            _ => None,
        })
        .collect();
    Reply::Done {
        publish: out
            .publish
            .into_iter()
            .map(|o| (o.topic, o.payload))
            .collect(),
        topics: engine.topics(),
        deadline: engine.next_deadline().map(|t| t.0),
        received,
        sent,
        steps: member.store.steps(),
    }
}

fn execute(member: &mut Member, command: Command) -> Reply {
    let result = match command {
        Command::Join { group, now } => member
            .engine
            .request_join(group, Timestamp(now))
            .map(|out| done(member, out, None)),
        Command::Deliver {
            topic,
            payload,
            now,
        } => {
            let inbound = Inbound {
                topic,
                payload,
                message_id: Vec::new(),
            };
            member
                .engine
                .handle(&inbound, Timestamp(now))
                .map(|out| done(member, out, None))
        }
        Command::Tick { now } => member
            .engine
            .tick(Timestamp(now))
            .map(|out| done(member, out, None)),
        Command::Send {
            group,
            payload,
            now,
        } => member
            .engine
            .send_message(&group, &payload, Timestamp(now))
            .map(|(id, out)| done(member, out, Some(id))),
        Command::Query { group } => member.engine.message_history(&group).map(|history| {
            let view = member.engine.group_summary(&group).map(|s| View {
                epoch: s.epoch,
                members: s.members,
                authenticator: s.authenticator,
            });
            Reply::State {
                view,
                history: history.into_iter().map(|m| m.message_id).collect(),
            }
        }),
    };
    result.unwrap_or_else(|e| Reply::Failed {
        error: e.to_string(),
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut input = BufReader::new(std::io::stdin().lock());
    let mut output = BufWriter::new(std::io::stdout().lock());
    let mut member = match open(&args) {
        Ok(member) => member,
        Err(error) => {
            // The parent reads the reason from the frame; stderr is for people.
            eprintln!("demls-sqlite-member: {error}");
            let _ = write_frame(&mut output, &Reply::Failed { error });
            return ExitCode::from(2);
        }
    };
    let ready = Reply::Ready {
        begin: member.markers.0,
        end: member.markers.1,
        topics: member.engine.topics(),
        deadline: member.engine.next_deadline().map(|t| t.0),
    };
    if write_frame(&mut output, &ready).is_err() {
        return ExitCode::from(3);
    }
    loop {
        let command = match read_frame::<Command>(&mut input) {
            Ok(Some(command)) => command,
            Ok(None) => return ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("demls-sqlite-member: bad frame: {e}");
                return ExitCode::from(4);
            }
        };
        let reply = execute(&mut member, command);
        if write_frame(&mut output, &reply).is_err() {
            return ExitCode::from(3);
        }
    }
}
