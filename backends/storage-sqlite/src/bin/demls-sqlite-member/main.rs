//! `demls-sqlite-member`: one group member (engine, hashgraph consensus, single-steward
//! policy) on SQLite storage, driven by its parent over stdin/stdout frames ([`protocol`]).
//!
//! It exists for the kill test: the parent hosts the rest of the group, relays publications,
//! and kills this process with SIGKILL at random instants, then starts it again on the same
//! database. The process keeps no state of its own: everything is in the database.
//!
//! Usage: `demls-sqlite-member DATABASE IDENTITY_SEED_HEX ENTROPY_SEED_HEX NOW_MS`

mod protocol;

use std::io::{BufReader, BufWriter};
use std::process::ExitCode;
use std::sync::Arc;

use demls::engine::{EngineParams, Event, Output};
use demls::policy::single::SinglePolicyFactory;
use demls::{Engine, Inbound, Timestamp};
use demls_consensus_hashgraph::HashgraphFactory;
use demls_storage_sqlite::SqliteStorage;
use protocol::{Command, Reply, View, read_frame, write_frame};

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

fn open(args: &[String]) -> Result<Engine, String> {
    let [db, identity, entropy, now] = args else {
        return Err("usage: demls-sqlite-member DATABASE IDENTITY_SEED ENTROPY_SEED NOW_MS".into());
    };
    let now = Timestamp(now.parse().map_err(|e| format!("bad time {now:?}: {e}"))?);
    let storage = SqliteStorage::open_path(db).map_err(|e| format!("open {db}: {e}"))?;
    let mut engine = Engine::open(
        Arc::new(storage),
        Arc::new(HashgraphFactory::default()),
        Arc::new(SinglePolicyFactory::new(Default::default())),
        EngineParams::default(),
        Some(seed_arg(identity)?),
        now,
    )
    .map_err(|e| format!("engine: {e}"))?;
    engine.set_entropy_seed(seed_arg(entropy)?);
    Ok(engine)
}

fn done(engine: &Engine, out: Output, sent: Option<Vec<u8>>) -> Reply {
    let received = out
        .events
        .iter()
        .filter_map(|e| match e {
            Event::MessageReceived { message_id, .. } => Some(message_id.clone()),
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
    }
}

fn execute(engine: &mut Engine, command: Command) -> Reply {
    let result = match command {
        Command::Join { group, now } => engine
            .request_join(group, Timestamp(now))
            .map(|out| done(engine, out, None)),
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
            engine
                .handle(&inbound, Timestamp(now))
                .map(|out| done(engine, out, None))
        }
        Command::Tick { now } => engine
            .tick(Timestamp(now))
            .map(|out| done(engine, out, None)),
        Command::Send {
            group,
            payload,
            now,
        } => engine
            .send_message(&group, &payload, Timestamp(now))
            .map(|(id, out)| done(engine, out, Some(id))),
        Command::Query { group } => engine.message_history(&group).map(|history| {
            let view = engine.group_summary(&group).map(|s| View {
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
    let mut engine = match open(&args) {
        Ok(engine) => engine,
        Err(error) => {
            // The parent reads the reason from the frame; stderr is for people.
            eprintln!("demls-sqlite-member: {error}");
            let _ = write_frame(&mut output, &Reply::Failed { error });
            return ExitCode::from(2);
        }
    };
    let ready = Reply::Ready {
        topics: engine.topics(),
        deadline: engine.next_deadline().map(|t| t.0),
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
        let reply = execute(&mut engine, command);
        if write_frame(&mut output, &reply).is_err() {
            return ExitCode::from(3);
        }
    }
}
