//! A node built from TOML with `backend = "sqlite"`: restarted from the same file it is still
//! in its groups with its history, and a second node on a file in use is refused.

use demls::config::Slot;
use demls::{ConfigError, Node, NodeConfig, NodeError};

fn config(dir: &std::path::Path, network: &str) -> NodeConfig {
    demls_transport_memory::link();
    demls_storage_sqlite::link();
    demls_consensus_hashgraph::link();
    let text = format!(
        "[node]\nname = \"erin\"\n[transport]\nbackend = \"memory\"\nnetwork = \"{network}\"\n\
         [storage]\nbackend = \"sqlite\"\npath = \"{}\"\nbusy_timeout_ms = 20\n",
        dir.join("erin.db").display()
    );
    NodeConfig::from_toml_str(&text).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_restarted_on_its_sqlite_file_is_still_in_its_groups() {
    let dir = tempfile::tempdir().unwrap();
    let erin = Node::start(config(dir.path(), "sqlite-restart"))
        .await
        .unwrap();
    let member = erin.member_id();
    erin.create_group(b"kept").await.unwrap();
    erin.shutdown().await;
    drop(erin);
    let again = Node::start(config(dir.path(), "sqlite-restart"))
        .await
        .unwrap();
    assert_eq!(
        again.member_id(),
        member,
        "the stored identity is found again"
    );
    let groups = again.groups().await.unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].as_bytes(), b"kept");
    again.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_node_on_a_file_in_use_is_refused_as_locked() {
    let dir = tempfile::tempdir().unwrap();
    let first = Node::start(config(dir.path(), "sqlite-locked"))
        .await
        .unwrap();
    match Node::start(config(dir.path(), "sqlite-locked")).await {
        Err(NodeError::Config(ConfigError::Backend {
            slot: Slot::Storage,
            message,
            ..
        })) => assert!(message.contains("locked"), "{message}"),
        Err(other) => panic!("expected a locked storage, got {other}"),
        Ok(_) => panic!("two nodes run on one database file"),
    }
    first.shutdown().await;
}
