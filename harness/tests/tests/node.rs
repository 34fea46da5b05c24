//! The async node built from TOML through the registry, over the in-process memory transport.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use demls::Event;
use demls::config::Slot;
use demls::{ConfigError, Node, NodeConfig, NodeError, registry};

fn link() {
    demls_transport_memory::link();
    demls_storage_memory::link();
    demls_consensus_hashgraph::link();
}

fn profile(name: &str, network: &str, extra: &str) -> NodeConfig {
    let text = format!(
        "[node]\nname = \"{name}\"\n[transport]\nbackend = \"memory\"\nnetwork = \"{network}\"\n\
         [storage]\nbackend = \"memory\"\n[consensus]\nbackend = \"hashgraph\"\n\
         [steward]\nbackend = \"single\"\ncommit_delay_ms = 50\n{extra}"
    );
    NodeConfig::from_toml_str(&text).unwrap()
}

async fn wait_for(node: &Node, what: &str, pred: impl Fn(&Event) -> bool) -> Event {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let event = tokio::time::timeout_at(deadline, node.next_event())
            .await
            .unwrap_or_else(|_| panic!("{}: timed out waiting for {what}", node.name()))
            .expect("node running");
        if pred(&event) {
            return event;
        }
    }
}

#[test]
fn every_bundled_backend_is_registered_by_name() {
    link();
    assert_eq!(registry::available(Slot::Transport), vec!["memory"]);
    assert_eq!(registry::available(Slot::Storage), vec!["memory"]);
    assert_eq!(registry::available(Slot::Consensus), vec!["hashgraph"]);
    assert_eq!(registry::available(Slot::Steward), vec!["multi", "single"]);
}

#[tokio::test]
async fn an_unknown_backend_name_is_an_error_listing_the_available_ones() {
    link();
    let mut config = profile("x", "errors", "");
    config.transport.backend = "carrier-pigeon".into();
    match Node::start(config).await {
        Err(NodeError::Config(ConfigError::UnknownBackend {
            slot,
            name,
            available,
        })) => {
            assert_eq!(slot, Slot::Transport);
            assert_eq!(name, "carrier-pigeon");
            assert_eq!(available, vec!["memory".to_string()]);
        }
        other => panic!("unexpected {:?}", other.err()),
    }
}

#[tokio::test]
async fn settings_that_cannot_work_are_refused_at_start_naming_the_key() {
    link();
    let refusal = |result: Result<Node, NodeError>| match result {
        Ok(_) => panic!("started with a setting that cannot work"),
        Err(e) => e.to_string(),
    };
    // A zero interval would be a busy loop of status beacons.
    let config = profile("z", "zero", "[group]\nstatus_interval_ms = 0\n");
    let e = refusal(Node::start(config).await);
    assert!(e.contains("`status_interval_ms`"), "{e}");
    // An application message that could never leave through the transport.
    let text = "[transport]\nbackend = \"memory\"\nnetwork = \"small\"\nmax_payload = 8192\n\
                [group]\nmax_app_message_bytes = 8192\n";
    let e = refusal(Node::start(NodeConfig::from_toml_str(text).unwrap()).await);
    assert!(e.contains("`max_app_message_bytes`"), "{e}");
    let text = "[transport]\nbackend = \"memory\"\nnetwork = \"fits\"\nmax_payload = 8192\n\
                [group]\nmax_app_message_bytes = 4096\n";
    assert!(
        Node::start(NodeConfig::from_toml_str(text).unwrap())
            .await
            .is_ok()
    );
    // The multi-steward policy names its key too.
    let text = "[steward]\nbackend = \"multi\"\ncommit_timeout_ms = 0\n";
    let e = refusal(Node::start(NodeConfig::from_toml_str(text).unwrap()).await);
    assert!(e.contains("`commit_timeout_ms`"), "{e}");
}

#[tokio::test]
async fn an_unknown_key_in_a_backend_table_is_named() {
    link();
    let text = "[transport]\nbackend = \"memory\"\nnetwork = \"n\"\nbandwidth = 9\n";
    let config = NodeConfig::from_toml_str(text).unwrap();
    match Node::start(config).await {
        Err(NodeError::Config(ConfigError::UnknownKey { section, key, .. })) => {
            assert_eq!((section.as_str(), key.as_str()), ("transport", "bandwidth"));
        }
        other => panic!("unexpected {:?}", other.err()),
    }
    let text = "[consensus]\nbackend = \"hashgraph\"\nmode = \"carrier\"\n";
    let config = NodeConfig::from_toml_str(text).unwrap();
    assert!(matches!(
        Node::start(config).await,
        Err(NodeError::Config(ConfigError::InvalidValue { .. }))
    ));
}

#[tokio::test]
async fn a_missing_or_broken_config_file_is_reported_with_its_location() {
    link();
    let missing = Node::from_config_file("/definitely/not/here.toml").await;
    assert!(matches!(
        missing,
        Err(NodeError::Config(ConfigError::Io { .. }))
    ));
    let dir = std::env::temp_dir().join(format!("demls-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("broken.toml");
    std::fs::write(
        &path,
        "[node]\nname = \"a\"\n[transport\nbackend = \"memory\"\n",
    )
    .unwrap();
    match Node::from_config_file(&path).await {
        Err(NodeError::Config(ConfigError::Parse {
            path: Some(p),
            line,
            column,
            ..
        })) => {
            assert_eq!(p, path);
            assert_eq!((line, column), (3, 11));
        }
        other => panic!("unexpected {:?}", other.err()),
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_from_toml_form_a_group_chat_and_remove_a_member() {
    link();
    let alice = Node::start(profile("alice", "node-test", ""))
        .await
        .unwrap();
    let bob = Node::start(profile("bob", "node-test", "")).await.unwrap();
    let carol = Node::start(profile("carol", "node-test", ""))
        .await
        .unwrap();
    // Carol's events go to a callback instead of the queue.
    let seen: Arc<Mutex<Vec<Event>>> = Arc::default();
    let sink = seen.clone();
    carol.set_event_callback(Some(Box::new(move |e| sink.lock().unwrap().push(e))));

    alice.create_group(b"room").await.unwrap();
    bob.join_group(b"room").await.unwrap();
    wait_for(&bob, "bob joined", |e| matches!(e, Event::Joined { .. })).await;
    carol.join_group(b"room").await.unwrap();
    wait_for(&alice, "carol added", |e| {
        matches!(e, Event::EpochAdvanced { epoch: 2, .. })
    })
    .await;
    // A message is readable by the members of the epoch it is sent in: let bob reach epoch 2.
    wait_for(&bob, "bob in epoch 2", |e| {
        matches!(e, Event::EpochAdvanced { epoch: 2, .. })
    })
    .await;

    let id = bob.send(b"room", b"hi all").await.unwrap();
    let got = wait_for(&alice, "bob's message", |e| {
        matches!(e, Event::MessageReceived { .. })
    })
    .await;
    assert!(
        matches!(got, Event::MessageReceived { ref message_id, ref payload, .. } if *message_id == id && payload == b"hi all")
    );
    for _ in 0..100 {
        if seen
            .lock()
            .unwrap()
            .iter()
            .any(|e| matches!(e, Event::MessageReceived { .. }))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        seen.lock()
            .unwrap()
            .iter()
            .any(|e| matches!(e, Event::Joined { .. }))
    );
    assert!(
        seen.lock()
            .unwrap()
            .iter()
            .any(|e| matches!(e, Event::MessageReceived { .. }))
    );

    alice
        .propose_remove(b"room", bob.member_id().as_bytes())
        .await
        .unwrap();
    wait_for(&bob, "bob removed", |e| matches!(e, Event::Removed { .. })).await;
    wait_for(&alice, "epoch 3", |e| {
        matches!(e, Event::EpochAdvanced { epoch: 3, .. })
    })
    .await;
    let a = alice.group(b"room").await.unwrap().unwrap();
    for _ in 0..100 {
        if carol
            .group(b"room")
            .await
            .unwrap()
            .is_some_and(|c| c.epoch == 3)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let c = carol.group(b"room").await.unwrap().unwrap();
    assert_eq!(
        (a.epoch, &a.members, &a.authenticator),
        (c.epoch, &c.members, &c.authenticator)
    );
    assert_eq!(a.members, vec![alice.member_id(), carol.member_id()]);
    assert!(bob.group(b"room").await.unwrap().is_none());

    // Carol leaves: no vote, alice commits it, carol's state of the group is gone.
    carol.leave(b"room").await.unwrap();
    for _ in 0..200 {
        if carol.group(b"room").await.unwrap().is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(carol.group(b"room").await.unwrap().is_none());
    assert!(
        seen.lock()
            .unwrap()
            .iter()
            .any(|e| matches!(e, Event::Removed { .. }))
    );
    wait_for(&alice, "epoch 4", |e| {
        matches!(e, Event::EpochAdvanced { epoch: 4, .. })
    })
    .await;
    let a = alice.group(b"room").await.unwrap().unwrap();
    assert_eq!(a.members, vec![alice.member_id()]);

    // Bad arguments at the edge are typed errors.
    assert!(matches!(
        alice.send(b"", b"x").await,
        Err(NodeError::InvalidGroupId)
    ));
    assert!(matches!(
        alice.propose_remove(b"room", b"short").await,
        Err(NodeError::InvalidMemberId)
    ));
    assert!(matches!(
        alice.send(b"nope", b"x").await,
        Err(NodeError::Engine(_))
    ));
    for n in [&alice, &bob, &carol] {
        n.shutdown().await;
    }
    assert!(matches!(
        alice.send(b"room", b"x").await,
        Err(NodeError::Stopped)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_restarted_from_the_same_config_is_still_in_its_groups() {
    link();
    let seed = "42".repeat(32);
    let durable = format!("[node]\nname = \"dora\"\nidentity_seed = \"{seed}\"\n");
    let text = |store: &str| {
        format!(
            "{durable}[transport]\nbackend = \"memory\"\nnetwork = \"restart-test\"\n\
             [storage]\nbackend = \"memory\"\nname = \"{store}\"\n"
        )
    };
    let dora = Node::start(NodeConfig::from_toml_str(&text("dora-store")).unwrap())
        .await
        .unwrap();
    let member = dora.member_id();
    dora.create_group(b"kept").await.unwrap();
    dora.shutdown().await;
    let again = Node::start(NodeConfig::from_toml_str(&text("dora-store")).unwrap())
        .await
        .unwrap();
    assert_eq!(again.member_id(), member, "the configured identity is used");
    let groups = again.groups().await.unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].as_bytes(), b"kept");
    again.shutdown().await;
    // The same storage with a different configured identity is refused.
    let other = text("dora-store").replace(&seed, &"43".repeat(32));
    assert!(matches!(
        Node::start(NodeConfig::from_toml_str(&other).unwrap()).await,
        Err(NodeError::Engine(
            demls::EngineError::IdentityMismatch { .. }
        ))
    ));
}

/// Forms a 4-member group from TOML files that differ only in `[steward]`, and returns who
/// committed each epoch (as seen by the creator).
async fn committers_with(steward: &str, network: &str) -> Vec<demls::MemberId> {
    link();
    let mut nodes = Vec::new();
    for name in ["a", "b", "c", "d"] {
        let text = format!(
            "[node]\nname = \"{name}\"\n[transport]\nbackend = \"memory\"\nnetwork = \"{network}\"\n{steward}\n"
        );
        nodes.push(
            Node::start(NodeConfig::from_toml_str(&text).unwrap())
                .await
                .unwrap(),
        );
    }
    nodes[0].create_group(b"swap").await.unwrap();
    let mut committers = Vec::new();
    for (i, node) in nodes.iter().enumerate().skip(1) {
        node.join_group(b"swap").await.unwrap();
        wait_for(node, "joined", |e| matches!(e, Event::Joined { .. })).await;
        let epoch = i as u64;
        match wait_for(
            &nodes[0],
            "epoch",
            |e| matches!(e, Event::EpochAdvanced { epoch: x, .. } if *x == epoch),
        )
        .await
        {
            Event::EpochAdvanced { committer, .. } => committers.push(committer),
            _ => unreachable!(),
        }
    }
    for n in &nodes {
        n.shutdown().await;
    }
    committers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swapping_the_steward_policy_in_toml_changes_who_commits() {
    let single = committers_with(
        "[steward]\nbackend = \"single\"\ncommit_delay_ms = 20",
        "swap-single",
    )
    .await;
    let multi = committers_with(
        "[steward]\nbackend = \"multi\"\nsn_min = 2\nsn_max = 3\ncommit_delay_ms = 20\nselection_window_ms = 50\n\
         commit_timeout_ms = 300\nrecovery_timeout_ms = 150",
        "swap-multi",
    )
    .await;
    assert_eq!(single.len(), 3);
    assert!(
        single.iter().all(|c| *c == single[0]),
        "single steward: the creator commits everything"
    );
    let distinct: std::collections::BTreeSet<_> = multi.iter().collect();
    assert!(
        distinct.len() >= 2,
        "multi steward: commits rotate ({multi:?})"
    );
}

#[tokio::test]
async fn the_readme_configuration_example_starts_a_node() {
    link();
    let readme = include_str!("../../../README.md");
    let start = readme.find("```toml\n").expect("README has a TOML example") + 8;
    let end = start + readme[start..].find("```").expect("the block ends");
    let config = NodeConfig::from_toml_str(&readme[start..end]).expect("the example parses");
    let node = Node::start(config)
        .await
        .expect("the example starts a node");
    node.create_group(b"readme")
        .await
        .expect("and it can create a group");
    node.shutdown().await;
}
