//! A connection storm: a peer of another cluster (a bare libp2p node speaking only the metadata
//! protocol, as a misconfigured js-waku node does) redials our node in a tight loop. Our node
//! runs the metadata exchange with it only a few times, refuses the other connections while the
//! peer is under backoff, reports both counts in its status, and meanwhile a peer of our own
//! cluster connects and relays.

mod common;

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use common::{MESH_TIMEOUT, loopback_config};
use demls::{Topic, Transport};
use demls_transport_logos::{LogosTransport, METADATA_PROTOCOL, Metadata, MetadataCodec};
use futures::StreamExt;
use libp2p::request_response::{self, Message, ProtocolSupport};
use libp2p::swarm::SwarmEvent;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::{Multiaddr, PeerId, noise, tcp, yamux};

/// How long the storm lasts.
const STORM: Duration = Duration::from_millis(2500);

/// What the stormer saw.
#[derive(Debug, Default)]
struct StormReport {
    /// Dials started.
    dials: u32,
    /// Connections that came up (on our side of the handshake).
    connections: u32,
    /// Connections on which the target sent metadata (a request or a response): the metadata
    /// exchanges the target took part in.
    exchanges: usize,
}

/// Redials `target` for [`STORM`], one connection after another, answering and asking
/// metadata as a node of cluster 67 would.
async fn storm(target: PeerId, addr: Multiaddr) -> StormReport {
    let ours = Metadata {
        cluster_id: Some(67),
        shards: vec![3],
    };
    let mut swarm = libp2p::SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .unwrap()
        .with_behaviour(|_| {
            request_response::Behaviour::with_codec(
                MetadataCodec,
                [(METADATA_PROTOCOL, ProtocolSupport::Full)],
                request_response::Config::default(),
            )
        })
        .unwrap()
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build();
    let dial = |swarm: &mut libp2p::Swarm<request_response::Behaviour<MetadataCodec>>| {
        let opts = DialOpts::peer_id(target)
            .addresses(vec![addr.clone()])
            .condition(PeerCondition::Always)
            .build();
        swarm.dial(opts).unwrap();
    };
    let mut report = StormReport::default();
    let mut exchanged = HashSet::new();
    let deadline = tokio::time::Instant::now() + STORM;
    dial(&mut swarm);
    report.dials += 1;
    loop {
        let event = match tokio::time::timeout_at(deadline, swarm.select_next_some()).await {
            Ok(event) => event,
            Err(_) => break,
        };
        let redial = match event {
            SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                report.connections += 1;
                if swarm.is_connected(&peer_id) {
                    swarm.behaviour_mut().send_request(&peer_id, ours.clone());
                }
                false
            }
            SwarmEvent::Behaviour(request_response::Event::Message {
                connection_id,
                message,
                ..
            }) => {
                exchanged.insert(connection_id);
                if let Message::Request { channel, .. } = message {
                    let _ = swarm.behaviour_mut().send_response(channel, ours.clone());
                }
                false
            }
            SwarmEvent::ConnectionClosed {
                num_established: 0, ..
            }
            | SwarmEvent::OutgoingConnectionError { .. } => true,
            _ => false,
        };
        if redial && !swarm.is_connected(&target) {
            dial(&mut swarm);
            report.dials += 1;
        }
    }
    report.exchanges = exchanged.len();
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_of_another_cluster_redialing_in_a_tight_loop_is_refused_under_backoff_while_ours_relays()
 {
    let hub = LogosTransport::start(&loopback_config(Vec::new()), Path::new(".")).unwrap();
    let hub_addr = hub.listen_addrs(Duration::from_secs(5)).await.unwrap()[0].clone();
    let content_topic = Topic::new(format!("/demls-test/1/storm-{}/proto", std::process::id()));
    hub.subscribe(&content_topic).await.unwrap();
    let stormer = tokio::spawn(storm(hub.peer_id(), hub_addr.clone()));

    // Meanwhile a peer of our cluster connects and relays.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let friend =
        LogosTransport::start(&loopback_config(vec![hub_addr.to_string()]), Path::new("."))
            .unwrap();
    assert!(
        friend.wait_for_relay_peers(1, false, MESH_TIMEOUT).await,
        "our own peer could not join during the storm: {:?}",
        hub.status().await
    );
    friend
        .publish(&content_topic, b"through the storm".to_vec())
        .await
        .unwrap();
    let m = tokio::time::timeout(MESH_TIMEOUT, hub.recv())
        .await
        .expect("the friend's message arrives during the storm")
        .unwrap();
    assert_eq!(m.payload, b"through the storm".to_vec());

    let report = stormer.await.unwrap();
    let status = hub.status().await.unwrap();
    eprintln!("storm: {report:?}; hub: {status:?}");
    assert!(
        report.dials >= 5,
        "the stormer hardly dialled, the test proves nothing: {report:?}"
    );
    // A rejected connection may close before the hub's own metadata reaches the stormer, so
    // the stormer may see fewer exchanges than the hub counts rejections.
    assert!(
        report.exchanges <= 3,
        "the hub ran the metadata exchange {} times in {STORM:?} (expected at most 3): {report:?}",
        report.exchanges
    );
    assert!(
        (1..=3).contains(&status.rejected_peers),
        "rejections counted: {} (expected 1 to 3)",
        status.rejected_peers
    );
    assert!(
        status.refused_connections >= 3,
        "connections refused under backoff: {} (the stormer dialled {} times)",
        status.refused_connections,
        report.dials
    );
    assert!(status.confirmed_peers.contains(&friend.peer_id()));
    assert_eq!(status.confirmed_peers.len(), 1, "{status:?}");
    for n in [hub, friend] {
        n.close().await;
    }
}
