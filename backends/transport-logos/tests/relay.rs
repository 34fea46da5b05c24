//! Relay nodes on 127.0.0.1: large payloads cross segmented, message ids are the deterministic
//! hashes, peers of another cluster are disconnected, and static peers are redialled.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{MESH_TIMEOUT, loopback_config, start_nodes};
use demls::{Topic, Transport, TransportError};
use demls_transport_logos::{Config, LogosError, LogosTransport, load_or_generate_node_key};

fn topic(name: &str) -> Topic {
    Topic::new(format!("/demls-test/1/{name}-{}/proto", std::process::id()))
}

async fn recv(t: &LogosTransport) -> demls::Inbound {
    tokio::time::timeout(Duration::from_secs(30), t.recv())
        .await
        .expect("a message arrives in time")
        .expect("recv works")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_three_megabyte_payload_crosses_two_nodes_intact() {
    let nodes = start_nodes(2, loopback_config).await;
    let t = topic("big");
    nodes[1].subscribe(&t).await.unwrap();
    let payload: Vec<u8> = (0..3 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let started = std::time::Instant::now();
    let hashes = nodes[0]
        .publish_with_hashes(&t, payload.clone())
        .await
        .unwrap();
    assert!(
        hashes.len() >= 21,
        "3 MiB should take 21+ segments, took {}",
        hashes.len()
    );
    let m = recv(&nodes[1]).await;
    eprintln!(
        "3 MiB in {} segments crossed in {:?}",
        hashes.len(),
        started.elapsed()
    );
    assert!(m.payload == payload, "the reassembled payload differs");
    assert_eq!(m.topic, t);
    assert_eq!(
        m.message_id,
        hashes[0].to_vec(),
        "the id is segment 0's message hash"
    );
    for n in nodes {
        n.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_message_id_is_its_deterministic_hash_and_identical_payloads_both_arrive() {
    let nodes = start_nodes(2, loopback_config).await;
    let t = topic("ids");
    nodes[1].subscribe(&t).await.unwrap();
    let first = nodes[0]
        .publish_with_hashes(&t, b"same".to_vec())
        .await
        .unwrap();
    let second = nodes[0]
        .publish_with_hashes(&t, b"same".to_vec())
        .await
        .unwrap();
    assert_eq!((first.len(), second.len()), (1, 1));
    assert_ne!(first, second, "timestamps differ, so hashes differ");
    let (a, b) = (recv(&nodes[1]).await, recv(&nodes[1]).await);
    assert_eq!(
        (a.payload.as_slice(), b.payload.as_slice()),
        (&b"same"[..], &b"same"[..])
    );
    assert_eq!(a.message_id, first[0].to_vec());
    assert_eq!(b.message_id, second[0].to_vec());
    for n in nodes {
        n.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_with_no_relay_peer_is_unavailable_and_bad_topics_are_invalid() {
    let node = LogosTransport::start(&loopback_config(Vec::new()), Path::new(".")).unwrap();
    assert!(matches!(
        node.publish(&topic("alone"), b"x".to_vec()).await,
        Err(TransportError::Unavailable(_))
    ));
    assert!(matches!(
        node.subscribe(&Topic::new("no-slashes")).await,
        Err(TransportError::InvalidTopic { .. })
    ));
    node.close().await;
    assert!(matches!(
        node.publish(&topic("alone"), b"x".to_vec()).await,
        Err(TransportError::Closed)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_of_another_cluster_is_disconnected_while_one_of_ours_stays() {
    let hub = LogosTransport::start(&loopback_config(Vec::new()), Path::new(".")).unwrap();
    let hub_addr = hub.listen_addrs(Duration::from_secs(5)).await.unwrap()[0].to_string();
    let stranger = LogosTransport::start(
        &Config {
            cluster_id: 67,
            ..loopback_config(vec![hub_addr.clone()])
        },
        Path::new("."),
    )
    .unwrap();
    let friend = LogosTransport::start(&loopback_config(vec![hub_addr]), Path::new(".")).unwrap();
    assert!(friend.wait_for_relay_peers(1, false, MESH_TIMEOUT).await);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let status = hub.status().await.unwrap();
    assert!(status.connected.contains(&friend.peer_id()));
    assert!(
        !status.connected.contains(&stranger.peer_id()),
        "the peer of cluster 67 is still connected"
    );
    let stranger_status = stranger.status().await.unwrap();
    assert!(stranger_status.connected.is_empty());
    assert!(
        status.rejected_peers + stranger_status.rejected_peers >= 1,
        "no side ever checked the other's cluster"
    );
    assert_eq!(status.confirmed_peers, vec![friend.peer_id()]);
    for n in [hub, stranger, friend] {
        n.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_static_peer_that_starts_late_is_dialled_again_until_it_answers() {
    let dir = std::env::temp_dir().join(format!("demls-logos-redial-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let key_file = dir.join("late.key");
    let peer_id = load_or_generate_node_key(&key_file)
        .unwrap()
        .public()
        .to_peer_id();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let late_addr = format!("/ip4/127.0.0.1/tcp/{port}");
    let early = LogosTransport::start(
        &loopback_config(vec![format!("{late_addr}/p2p/{peer_id}")]),
        Path::new("."),
    )
    .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let late = LogosTransport::start(
        &Config {
            listen: late_addr,
            node_key_file: Some(key_file),
            ..loopback_config(Vec::new())
        },
        Path::new("."),
    )
    .unwrap();
    assert_eq!(late.peer_id(), peer_id);
    assert!(
        early.wait_for_relay_peers(1, false, MESH_TIMEOUT).await,
        "the static peer was not redialled"
    );
    for n in [early, late] {
        n.close().await;
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn starting_with_an_invalid_config_is_a_typed_error() {
    let bad = Config {
        shard: 5000,
        ..loopback_config(Vec::new())
    };
    match LogosTransport::start(&bad, Path::new(".")) {
        Err(LogosError::InvalidConfig(message)) => assert!(message.contains("shard"), "{message}"),
        Err(other) => panic!("expected InvalidConfig, got {other}"),
        Ok(_) => panic!("an invalid config was accepted"),
    }
}
