//! `demls`: runs one de-MLS member from a TOML file and drives it line by line.
//!
//! ```text
//! demls keygen <node-key-file>                 # writes a libp2p node key, prints its peer id
//! demls chat <config.toml> [--wait-peers N]    # runs a member (alias: `node`)
//! ```
//!
//! `chat` reads commands on stdin, one per line, and prints events as JSON lines on stdout:
//!
//! ```text
//! create <group>            join <group>            send <group> <text...>
//! remove <group> <member>   status <group>          quit
//! invite <group>            join <invitation>
//! ```
//!
//! `invite` prints the group's invitation (`demls-invite:1:...`); `join` with an invitation
//! joins only the group it names, while `join <group>` takes the first group under that id
//! that adds this member (trust on first use).
//!
//! `<member>` is a member id as printed (`0x` and 40 hex digits). With the `logos` transport,
//! `--wait-peers N` waits (up to `--wait-secs`, default 30) until N relay peers are connected
//! before the member starts.

mod events;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use demls::config::BackendConfig;
use demls::registry::{self, BuildContext};
use demls::{Invitation, MemberId, Node, NodeConfig, Transport};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

const USAGE: &str = "usage: demls keygen <node-key-file>\n       demls chat <config.toml> [--wait-peers N] [--wait-secs S]";

fn emit(v: &Value) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}");
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
                    _ => fail(USAGE),
                }
            }
            chat(
                Path::new(&args[1]),
                wait_peers,
                Duration::from_secs(wait_secs),
            )
            .await;
        }
        _ => fail(USAGE),
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
        "event": "listening",
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
    let node = builder.start().await.unwrap_or_else(|e| fail(e));
    emit(&json!({"event": "ready", "name": node.name(), "member": node.member_id().to_string()}));
    let events = node.clone();
    tokio::spawn(async move {
        while let Some(event) = events.next_event().await {
            if let Some(line) = events::to_json(&event) {
                emit(&line);
            }
        }
    });
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let words: Vec<&str> = line.split_whitespace().collect();
        let result = match words.as_slice() {
            [] => continue,
            ["quit"] => break,
            ["create", g] => node.create_group(g.as_bytes()).await.map(|_| json!(null)),
            ["join", g] if g.starts_with("demls-invite:") => match g.parse::<Invitation>() {
                Ok(invitation) => node
                    .join_by_invitation(&invitation)
                    .await
                    .map(|_| json!(null)),
                Err(e) => {
                    emit(&json!({"event": "error", "command": line, "detail": e.to_string()}));
                    continue;
                }
            },
            ["join", g] => node.join_group(g.as_bytes()).await.map(|_| json!(null)),
            ["invite", g] => node
                .invitation(g.as_bytes())
                .await
                .map(|i| json!({"invitation": i.to_string()})),
            ["send", g, text @ ..] => node
                .send(g.as_bytes(), text.join(" ").as_bytes())
                .await
                .map(|id| json!({"message_id": hex::encode(id)})),
            ["remove", g, member] => match parse_member(member) {
                Some(m) => node
                    .propose_remove(g.as_bytes(), m.as_bytes())
                    .await
                    .map(|s| json!({"submission": format!("{s:?}")})),
                None => {
                    emit(&json!({"event": "error", "command": line, "detail": "bad member id"}));
                    continue;
                }
            },
            ["status", g] => node.group(g.as_bytes()).await.map(|s| match s {
                Some(s) => json!({
                    "epoch": s.epoch,
                    "members": s.members.iter().map(|m| m.to_string()).collect::<Vec<_>>(),
                    "authenticator": hex::encode(&s.authenticator),
                }),
                None => json!(null),
            }),
            _ => {
                emit(&json!({"event": "error", "command": line, "detail": "unknown command"}));
                continue;
            }
        };
        match result {
            Ok(detail) => emit(&json!({"event": "ok", "command": line, "detail": detail})),
            Err(e) => emit(&json!({"event": "error", "command": line, "detail": e.to_string()})),
        }
    }
    node.shutdown().await;
}

fn parse_member(text: &str) -> Option<MemberId> {
    let bytes = hex::decode(text.strip_prefix("0x").unwrap_or(text)).ok()?;
    MemberId::from_slice(&bytes)
}
