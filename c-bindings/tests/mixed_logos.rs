//! A mixed group: a member driven from Rust (a `demls::Node` in this test) and a member driven
//! from C (`tests/c/mixed_peer.c`, its own process) meet over the `logos` transport (Waku
//! relay on loopback TCP, the Rust member as the C member's static peer), form a group by
//! vote and exchange a message each way. The C process is killed if the test fails.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::{Link, compile, crate_dir};

const DEADLINE: Duration = Duration::from_secs(120);

/// Kills the C member when the test ends, passed or not.
struct Peer(Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("an address")
        .port()
}

fn config(name: &str, port: u16, static_peers: &[String]) -> String {
    let peers: Vec<String> = static_peers.iter().map(|p| format!("{p:?}")).collect();
    format!(
        r#"
[node]
name = "{name}"

[transport]
backend = "logos"
listen = "/ip4/127.0.0.1/tcp/{port}"
static_peers = [{peers}]
cluster_id = 66
shard = 6
node_key_file = "{name}.key"

[transport.gossipsub]
heartbeat_ms = 200

[storage]
backend = "memory"

[steward]
backend = "single"
commit_delay_ms = 150

[group]
vote_timeout_ms = 5000
"#,
        peers = peers.join(", ")
    )
}

fn text(event: &serde_json::Value) -> String {
    event["payload"]
        .as_str()
        .and_then(|p| base64::engine::general_purpose::STANDARD.decode(p).ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_c_member_and_a_rust_member_form_a_group_over_logos_and_chat() {
    demls_transport_logos::link();
    demls_storage_memory::link();
    demls_consensus_hashgraph::link();
    demls_core::policy::link();

    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("mixed-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a directory");

    let rust_port = free_port();
    let rust_key = demls_transport_logos::load_or_generate_node_key(&dir.join("rust.key"))
        .expect("a node key");
    let rust_addr = format!(
        "/ip4/127.0.0.1/tcp/{rust_port}/p2p/{}",
        rust_key.public().to_peer_id()
    );
    std::fs::write(dir.join("rust.toml"), config("rust", rust_port, &[])).expect("config");
    std::fs::write(dir.join("c.toml"), config("c", free_port(), &[rust_addr])).expect("config");

    let node = demls_core::Node::from_config_file(dir.join("rust.toml"))
        .await
        .expect("the Rust member starts");
    node.create_group(b"mixed").await.expect("a group");

    let exe = compile(
        "mixed_peer",
        &[crate_dir().join("tests/c/mixed_peer.c")],
        Link::Shared,
        &[],
    );
    let mut peer = Peer(
        Command::new(&exe)
            .arg(dir.join("c.toml"))
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the C member starts"),
    );

    let deadline = Instant::now() + DEADLINE;
    let mut answered = false;
    let status = loop {
        assert!(
            Instant::now() < deadline,
            "timed out: the C member did not finish"
        );
        if let Some(status) = peer.0.try_wait().expect("waiting for the C member") {
            break status;
        }
        let Some(event) = node.next_event_timeout(Duration::from_millis(200)).await else {
            continue;
        };
        let json: serde_json::Value = serde_json::from_str(&event.to_json()).expect("json");
        eprintln!("rust: {json}");
        if json["type"] == "message_received" && text(&json) == "hello from C" && !answered {
            node.send(b"mixed", b"hello from Rust")
                .await
                .expect("sending");
            answered = true;
        }
    };
    assert!(
        answered,
        "the Rust member never read the C member's message"
    );
    assert!(status.success(), "the C member failed: {status:?}");
    node.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
