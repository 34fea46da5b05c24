//! A hostile relay peer (plain gossipsub on the Waku relay protocol) sends malformed Waku
//! messages, non-segments and forged or oversized segments: our node drops them all without
//! panicking, stays connected, and still delivers the one good message.

mod common;

use std::path::Path;
use std::time::Duration;

use common::loopback_config;
use demls::{Topic, Transport};
use demls_transport_logos::{LogosTransport, WakuMessage, gossip_message_id, segment_payload};
use futures::StreamExt;
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, gossipsub, noise, tcp, yamux};
use tokio::sync::mpsc;

const CONTENT_TOPIC: &str = "/demls-test/1/hostile/proto";

fn waku(payload: Vec<u8>, n: i64) -> Vec<u8> {
    WakuMessage {
        payload,
        content_topic: CONTENT_TOPIC.into(),
        timestamp: Some(1_700_000_000_000_000_000 + n),
        ..WakuMessage::default()
    }
    .encode()
}

/// Runs a bare gossipsub peer that dials `target` and publishes each byte string it is given.
async fn hostile_peer(
    target: Multiaddr,
    pubsub: String,
) -> (mpsc::Sender<Vec<u8>>, mpsc::Receiver<()>) {
    let config = gossipsub::ConfigBuilder::default()
        .protocol_id("/vac/waku/relay/2.0.0", gossipsub::Version::V1_1)
        .validation_mode(gossipsub::ValidationMode::Anonymous)
        .message_id_fn(|m: &gossipsub::Message| {
            gossipsub::MessageId::from(gossip_message_id(&m.data))
        })
        .max_transmit_size(256 * 1024)
        .heartbeat_interval(Duration::from_millis(200))
        .build()
        .unwrap();
    let mut swarm = libp2p::SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(
            tcp::Config::default(),
            noise::Config::new,
            yamux::Config::default,
        )
        .unwrap()
        .with_behaviour(|_| {
            gossipsub::Behaviour::<gossipsub::IdentityTransform>::new(
                gossipsub::MessageAuthenticity::Anonymous,
                config,
            )
            .unwrap()
        })
        .unwrap()
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build();
    let topic = gossipsub::IdentTopic::new(pubsub);
    swarm.behaviour_mut().subscribe(&topic).unwrap();
    swarm.dial(target).unwrap();
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(16);
    let (ready_tx, ready_rx) = mpsc::channel(1);
    tokio::spawn(async move {
        loop {
            tokio::select! {
                data = rx.recv() => match data {
                    Some(data) => {
                        swarm.behaviour_mut().publish(topic.clone(), data).unwrap();
                    }
                    None => break,
                },
                event = swarm.select_next_some() => {
                    if let SwarmEvent::Behaviour(gossipsub::Event::Subscribed { .. }) = event {
                        let _ = ready_tx.try_send(());
                    }
                }
            }
        }
    });
    (tx, ready_rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_messages_and_bad_segments_are_dropped_and_the_good_one_arrives() {
    let node = LogosTransport::start(&loopback_config(Vec::new()), Path::new(".")).unwrap();
    node.subscribe(&Topic::new(CONTENT_TOPIC)).await.unwrap();
    let addr = node.listen_addrs(Duration::from_secs(5)).await.unwrap()[0].clone();
    let (peer, mut ready) = hostile_peer(addr, node.pubsub_topic().to_owned()).await;
    tokio::time::timeout(Duration::from_secs(20), ready.recv())
        .await
        .expect("the hostile peer sees our subscription");

    let mut forged = segment_payload(&[9u8; 3000], 1000);
    let last = forged[1].len() - 1;
    forged[1][last] ^= 0xff;
    let too_many = {
        // A segment claiming 300 data segments (field 3 = 300), with a 32-byte hash.
        let mut s = vec![0x0a, 32];
        s.extend_from_slice(&[0u8; 32]);
        s.extend_from_slice(&[0x18, 0xac, 0x02, 0x22, 0x01, 0x00]);
        s
    };
    let hostile: Vec<Vec<u8>> = vec![
        vec![0xff, 0xff, 0xff],             // not protobuf
        vec![0x12, 0x01, b'x'],             // no payload field
        waku(b"not a segment".to_vec(), 1), // payload is not a segment
        waku(too_many, 2),                  // invalid counts
        waku(forged[0].clone(), 3),         // forged three-segment message
        waku(forged[1].clone(), 4),
        waku(forged[2].clone(), 5),
        waku(segment_payload(b"half", 2)[0].clone(), 6), // never completed
    ];
    for data in hostile {
        peer.send(data).await.unwrap();
    }
    let good = segment_payload(b"the good one", 1000).remove(0);
    peer.send(waku(good, 7)).await.unwrap();

    let m = tokio::time::timeout(Duration::from_secs(20), node.recv())
        .await
        .expect("the good message arrives")
        .unwrap();
    assert_eq!(
        m.payload,
        b"the good one".to_vec(),
        "a hostile message got through"
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(500), node.recv())
            .await
            .is_err(),
        "something else was delivered"
    );
    let status = node.status().await.unwrap();
    assert_eq!(
        status.connected.len(),
        1,
        "the node dropped the connection: {status:?}"
    );
    assert_eq!(
        status.partial_messages, 1,
        "only the half message waits for reassembly"
    );
    node.close().await;
}
