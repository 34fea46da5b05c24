//! `demls`: runs one de-MLS member from a TOML file and drives it line by line.
//!
//! ```text
//! demls keygen <node-key-file>                 # writes a libp2p node key, prints its peer id
//! demls chat <config.toml> [--wait-peers N]    # runs a member (alias: `node`)
//! demls simulate <scenario.toml> [--compare b.toml] # the researcher's lab on the simulator
//! demls lab <scenario.toml>                     # ... on real processes in network namespaces
//! demls campaign <scenario.toml> --runs N       # N seeded lab runs, one JSON line
//! ```
//!
//! The researcher's commands are described in `lab.rs` and the README's "For researchers".
//!
//! `chat` reads commands on stdin, one per line, and prints JSON lines on stdout in the API's
//! canonical form (`specs/api.md`): every event as the API emits it (`{"type":
//! "message_received", ...}`, byte strings in base64), and for each command either
//! `{"type": "ok", "command": ..., "result": ...}` or `{"type": "error", "command": ...,
//! "error": {"code": ..., "name": ..., "message": ...}}`. Each command is one call of the API's
//! JSON dispatcher; `call <method> <json>` makes any call directly.
//!
//! ```text
//! create <group>              join <group>               join <invitation>
//! invite <group>              send <group> <text...>     history <group> [n]
//! remove <group> <member>     leave <group>              vote <group> <decision> yes|no
//! status                      group <group>              groups
//! call <method> [json-args]   help                       quit
//! ```
//!
//! `<group>` is the group's name as text. `invite` prints the group's invitation
//! (`demls-invite:1:...`); `join` with an invitation joins only the group it names, while
//! `join <group>` takes the first group under that id that adds this member (trust on first
//! use). `<member>` is a member id as events print it (base64), or `0x` and 40 hex digits;
//! `<decision>` a decision id as events print it. With the `logos` transport,
//! `--wait-peers N` waits (up to `--wait-secs`, default 30) until N relay peers are connected
//! before the member starts.

mod commands;
mod lab;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use commands::Line;
use demls::api::{ApiError, ErrorCode, encode_bytes};
use demls::config::BackendConfig;
use demls::registry::{self, BuildContext};
use demls::{Node, NodeConfig, Transport};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

fn usage() -> String {
    format!(
        "usage: demls keygen <node-key-file>\n       demls chat <config.toml> [--wait-peers N] [--wait-secs S]\n{}",
        lab::USAGE
    )
}

fn emit(v: &Value) {
    emit_line(&v.to_string());
}

fn emit_line(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn fail(message: impl std::fmt::Display) -> ! {
    eprintln!("demls: {message}");
    std::process::exit(1);
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    demls_transport_logos::link();
    demls_transport_memory::link();
    demls_storage_memory::link();
    demls_storage_sqlite::link();
    demls_consensus_hashgraph::link();
    // A steward policy written outside the framework, selectable by name in configs and
    // scenarios (`backend = "round-robin"`): how a researcher's own policy crate plugs in.
    demls_example_policy::link();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("keygen") if args.len() == 2 => {
            match demls_transport_logos::load_or_generate_node_key(Path::new(&args[1])) {
                Ok(key) => println!("{}", key.public().to_peer_id()),
                Err(e) => fail(e),
            }
        }
        Some("chat" | "node") if args.len() >= 2 => {
            let mut wait_peers = 0usize;
            let mut wait_secs = 30u64;
            let mut rest = args[2..].iter();
            while let Some(flag) = rest.next() {
                let value = rest.next().and_then(|v| v.parse::<u64>().ok());
                match (flag.as_str(), value) {
                    ("--wait-peers", Some(v)) => wait_peers = v as usize,
                    ("--wait-secs", Some(v)) => wait_secs = v,
                    _ => fail(usage()),
                }
            }
            chat(
                Path::new(&args[1]),
                wait_peers,
                Duration::from_secs(wait_secs),
            )
            .await;
        }
        Some("simulate") => lab::simulate(&args[1..]),
        Some("lab") => lab::lab(&args[1..]),
        Some("campaign") => lab::campaign(&args[1..]),
        _ => fail(usage()),
    }
}

/// Builds the transport; for `logos`, directly, so that it can wait for relay peers.
async fn transport(
    cfg: &BackendConfig,
    ctx: &BuildContext,
    wait_peers: usize,
    wait: Duration,
) -> Arc<dyn Transport> {
    if cfg.backend != demls_transport_logos::NAME {
        return registry::build_transport(cfg, ctx).unwrap_or_else(|e| fail(e));
    }
    let options =
        demls_transport_logos::Config::from_options(&cfg.options).unwrap_or_else(|e| fail(e));
    let t = demls_transport_logos::LogosTransport::start(&options, &ctx.base_dir)
        .unwrap_or_else(|e| fail(e));
    let addrs = t
        .listen_addrs(Duration::from_secs(5))
        .await
        .unwrap_or_else(|e| fail(e));
    emit(&json!({
        "type": "listening",
        "peer_id": t.peer_id().to_string(),
        "addrs": addrs.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        "pubsub_topic": t.pubsub_topic(),
    }));
    if wait_peers > 0 && !t.wait_for_relay_peers(wait_peers, false, wait).await {
        fail(format!(
            "fewer than {wait_peers} relay peers after {wait:?}"
        ));
    }
    t
}

async fn chat(path: &Path, wait_peers: usize, wait: Duration) {
    let config = NodeConfig::from_file(path).unwrap_or_else(|e| fail(e));
    let ctx = BuildContext {
        node_name: config.node.name.clone().unwrap_or_else(|| "node".into()),
        base_dir: config.base_dir.clone(),
    };
    let transport = transport(&config.transport, &ctx, wait_peers, wait).await;
    let mut builder = Node::builder()
        .name(ctx.node_name.clone())
        .transport(transport)
        .storage(registry::build_storage(&config.storage, &ctx).unwrap_or_else(|e| fail(e)))
        .consensus(registry::build_consensus(&config.consensus, &ctx).unwrap_or_else(|e| fail(e)))
        .steward(registry::build_steward(&config.steward, &ctx).unwrap_or_else(|e| fail(e)))
        .params(config.group.clone());
    if let Some(seed) = config.identity_seed().unwrap_or_else(|e| fail(e)) {
        builder = builder.seed(seed);
    }
    if let Some(capacity) = config.node.event_queue {
        builder = builder.event_queue(capacity);
    }
    if let Some(per_group) = config.node.history {
        builder = builder.history(per_group);
    }
    let node = builder.start().await.unwrap_or_else(|e| fail(e));
    emit(&json!({
        "type": "ready",
        "name": node.name(),
        "member_id": encode_bytes(node.member_id().as_bytes()),
    }));
    let events = node.clone();
    tokio::spawn(async move {
        while let Some(event) = events.next_event().await {
            emit_line(&event.to_json());
        }
    });
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let result = match commands::parse(&line) {
            Ok(Line::Empty) => continue,
            Ok(Line::Quit) => break,
            Ok(Line::Help) => Ok(Value::String(commands::HELP.into())),
            Ok(Line::Call(method, args)) => demls::api::call(&node, &method, &args).await,
            Err(detail) => Err(ApiError::new(ErrorCode::InvalidArgument, detail)),
        };
        match result {
            Ok(result) => emit(&json!({"type": "ok", "command": line, "result": result})),
            Err(e) => emit(&json!({"type": "error", "command": line, "error": e.to_json_value()})),
        }
    }
    node.shutdown().await;
}
