//! Scheduled faults fire at their virtual time; failures during the run are recorded and the
//! run goes on.

mod common;

use common::{config, formed, gid};
use demls::{EngineError, StorageError};
use demls_sim::{Activity, Fault, Link, NodeId, NodeOptions, Sim, SimError};
use demls_storage_memory::MemoryStorage;

#[test]
fn scheduled_faults_fire_at_their_time() {
    let mut cfg = config(10, Link::fixed(10));
    cfg.keep_trace = true;
    let mut sim = Sim::new(cfg).expect("config");
    let nodes = sim.add_nodes(3).expect("nodes");
    let t0 = sim.now();
    sim.at(t0.plus_ms(1_000), Fault::Mute(nodes[1], true));
    sim.at(t0.plus_ms(2_000), Fault::Crash(nodes[2]));
    sim.after(3_000, Fault::Restart(nodes[2]));
    sim.after(
        3_000,
        Fault::Latency {
            min_ms: 30,
            max_ms: 40,
        },
    );

    sim.run_for(999);
    assert!(!sim.is_muted(nodes[1]), "not yet at 999 ms");
    sim.run_for(1);
    assert!(sim.is_muted(nodes[1]), "muted at 1000 ms");
    sim.run_for(999);
    assert!(sim.is_up(nodes[2]));
    sim.run_for(1);
    assert!(!sim.is_up(nodes[2]), "crashed at 2000 ms");
    assert_eq!(sim.link(nodes[0], nodes[1]), Link::fixed(10));
    assert!(sim.run_until(5_000, |s| s.is_up(nodes[2])));
    assert_eq!(sim.elapsed_ms(), 3_000, "restarted at 3000 ms");
    sim.run_for(0);
    assert_eq!(sim.link(nodes[0], nodes[1]), Link::uniform(30, 40));
    let fired: Vec<&String> = sim
        .trace_lines()
        .iter()
        .filter(|l| l.contains(" fault "))
        .collect();
    assert_eq!(fired.len(), 4);
    assert!(fired[0].starts_with("+1000 fault Mute"), "{fired:?}");
    assert!(fired[1].starts_with("+2000 fault Crash"), "{fired:?}");
    assert!(fired[2].starts_with("+3000 fault Restart"), "{fired:?}");
    assert!(fired[3].starts_with("+3000 fault Latency"), "{fired:?}");
}

#[test]
fn a_scheduled_fault_that_cannot_apply_is_recorded_not_panicked_on() {
    let mut sim = Sim::new(config(11, Link::fixed(10))).expect("config");
    let nodes = sim.add_nodes(2).expect("nodes");
    sim.after(
        10,
        Fault::Partition(vec![vec![nodes[0]], vec![nodes[0], nodes[1]]]),
    );
    sim.after(20, Fault::Crash(NodeId(99)));
    sim.run_for(100);
    let errors: Vec<&SimError> = sim.errors().iter().map(|f| &f.error).collect();
    assert!(matches!(
        errors[..],
        [
            SimError::PartitionOverlap(_),
            SimError::UnknownNode(NodeId(99))
        ]
    ));
    assert!(matches!(
        sim.errors()[0].during,
        Activity::Fault(Fault::Partition(_))
    ));
    assert!(!sim.is_partitioned());
    assert!(sim.set_loss(2.0).is_err());
    assert!(matches!(
        sim.mute(NodeId(7), true),
        Err(SimError::UnknownNode(NodeId(7)))
    ));
}

#[test]
fn a_storage_failure_during_a_step_is_recorded_and_the_run_goes_on() {
    let g = gid("full");
    let (mut sim, nodes) = formed(config(12, Link::fixed(10)), 2, &g);
    let storage = MemoryStorage::new();
    let late = sim
        .add_node_with(NodeOptions {
            storage: Some(storage.clone()),
            ..NodeOptions::default()
        })
        .expect("node");
    assert!(sim.storage(late).same_as(&storage));
    sim.join_group(late, &g).expect("join");
    // The disk fills up: the next step that writes fails.
    storage.set_capacity(Some(storage.used_bytes()));
    sim.run_for(20_000);
    let failures = sim.errors_of(late);
    assert!(!failures.is_empty(), "{}", sim.replay_hint());
    assert!(
        failures.iter().all(|f| matches!(
            f.error.engine_error(),
            Some(EngineError::Storage(StorageError::Full))
        )),
        "{failures:?}"
    );
    assert!(
        failures
            .iter()
            .all(|f| matches!(f.during, Activity::Delivery { .. } | Activity::Tick { .. }))
    );
    // The others carried on.
    let id = sim.send(nodes[1], &g, b"still here").expect("send");
    sim.run_for(1_000);
    assert!(sim.received_at(nodes[0], &g, &id).is_some());
    assert!(sim.group(late, &g).is_none());
}
