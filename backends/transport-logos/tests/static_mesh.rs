//! Nodes that list each other as static peers and start at the same moment: every pair dials
//! both ways at once, and every node must still have all the others as relay peers soon.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use common::loopback_config;
use demls::Transport;
use demls_transport_logos::{Config, LogosTransport, load_or_generate_node_key};

/// How long the nodes get to connect to each other: a few redials, not the 30 s ceiling.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Fresh sets of nodes started per test: one start rarely makes the dials meet exactly.
const ROUNDS: usize = 5;

/// A node to be: its key file, peer id and a free loopback port, all known before any starts.
struct Planned {
    key_file: PathBuf,
    addr: String,
    peer_addr: String,
}

fn plan(dir: &Path, n: usize) -> Vec<Planned> {
    (0..n)
        .map(|i| {
            let key_file = dir.join(format!("node{i}.key"));
            let peer_id = load_or_generate_node_key(&key_file)
                .expect("a key is generated")
                .public()
                .to_peer_id();
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .expect("a free port")
                .local_addr()
                .expect("its address")
                .port();
            let addr = format!("/ip4/127.0.0.1/tcp/{port}");
            let peer_addr = format!("{addr}/p2p/{peer_id}");
            Planned {
                key_file,
                addr,
                peer_addr,
            }
        })
        .collect()
}

/// A node running on its own runtime thread, so that several can start at the same instant.
struct Running {
    transport: Arc<LogosTransport>,
    /// Dropping it lets the node's thread (and runtime) end.
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// Starts one node per config, each on its own thread and single-threaded runtime, their tasks
/// released by one barrier so their first dials go out together.
fn start_together(configs: Vec<Config>) -> Vec<Running> {
    let barrier = Arc::new(std::sync::Barrier::new(configs.len()));
    let receivers: Vec<_> = configs
        .into_iter()
        .map(|config| {
            let barrier = Arc::clone(&barrier);
            let (started_tx, started_rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime");
                let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
                let transport = runtime
                    .block_on(async { LogosTransport::start(&config, Path::new(".")) })
                    .expect("a relay node starts");
                let _ = started_tx.send(Running {
                    transport,
                    _stop: stop,
                });
                // The node's task first runs (and dials) in this `block_on`.
                barrier.wait();
                let _ = runtime.block_on(stopped);
            });
            started_rx
        })
        .collect();
    receivers
        .into_iter()
        .map(|rx| rx.recv().expect("the node thread reports its node"))
        .collect()
}

/// Starts `n` nodes at once, each with all the others as static peers, and asserts that each
/// has the `n - 1` others as relay peers within [`CONNECT_TIMEOUT`].
async fn fully_meshed_nodes_all_connect(n: usize, name: &str) {
    let dir = std::env::temp_dir().join(format!("demls-logos-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let planned = plan(&dir, n);
    let configs: Vec<Config> = planned
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let others = planned
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, o)| o.peer_addr.clone())
                .collect();
            Config {
                listen: p.addr.clone(),
                node_key_file: Some(p.key_file.clone()),
                ..loopback_config(others)
            }
        })
        .collect();
    let nodes = start_together(configs);
    let started = tokio::time::Instant::now();
    let waits = nodes.iter().map(|node| {
        node.transport
            .wait_for_relay_peers(n - 1, false, CONNECT_TIMEOUT)
    });
    let connected = futures::future::join_all(waits).await;
    let elapsed = started.elapsed();
    let mut statuses = Vec::with_capacity(n);
    for node in &nodes {
        statuses.push(
            node.transport
                .status()
                .await
                .map(|s| (s.relay_peers, s.connected)),
        );
    }
    for node in &nodes {
        node.transport.close().await;
    }
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!("{n} nodes: {connected:?} after {elapsed:?}");
    for (i, ok) in connected.iter().enumerate() {
        assert!(
            ok,
            "node {i} of {n} did not get its {} relay peers within {CONNECT_TIMEOUT:?}: {:?}",
            n - 1,
            statuses[i]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_that_list_each_other_and_start_together_connect() {
    for round in 0..ROUNDS {
        fully_meshed_nodes_all_connect(2, &format!("pair{round}")).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_that_all_list_each_other_and_start_together_all_connect() {
    for round in 0..ROUNDS {
        fully_meshed_nodes_all_connect(3, &format!("triangle{round}")).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_static_peer_is_dialled_from_a_fresh_port_not_the_listening_one() {
    // The "static peer" is a plain TCP listener: what matters is the source port of the dial.
    let peer_id = libp2p::identity::Keypair::generate_ed25519()
        .public()
        .to_peer_id();
    let peer = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a listener");
    let peer_port = peer.local_addr().expect("its address").port();
    let node = LogosTransport::start(
        &loopback_config(vec![format!(
            "/ip4/127.0.0.1/tcp/{peer_port}/p2p/{peer_id}"
        )]),
        Path::new("."),
    )
    .expect("a relay node starts");
    let listen_port = node
        .listen_addrs(Duration::from_secs(5))
        .await
        .expect("the node listens")
        .iter()
        .find_map(|a| {
            a.iter().find_map(|p| match p {
                libp2p::multiaddr::Protocol::Tcp(port) => Some(port),
                _ => None,
            })
        })
        .expect("a TCP listen port");
    let (_stream, from) = tokio::time::timeout(CONNECT_TIMEOUT, peer.accept())
        .await
        .expect("the node dials its static peer")
        .expect("the dial is accepted");
    node.close().await;
    assert_ne!(
        from.port(),
        listen_port,
        "the dial reused the listening port, so two crossing dials can become one TCP \
         connection with two Noise initiators"
    );
}
