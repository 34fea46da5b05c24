//! Runs the `sim_demo` example's experiment and checks its summary.

#[path = "../examples/sim_demo.rs"]
mod sim_demo;

#[test]
fn the_demo_forms_a_group_and_loses_about_five_percent_of_copies_besides_the_partition() {
    let start = Some(demls_sim::stable_start_utc());
    let s = sim_demo::run(1, start).expect("the experiment runs");
    assert!(s.formed, "{s:?}");
    assert_eq!(s.sent, 80);
    assert!(s.total.lost > 0 && s.total.partitioned > 0, "{s:?}");
    // A receiver misses a message only if a copy was dropped (and not repaired).
    assert!(
        s.undelivered_pairs as u64 <= s.chat.lost + s.chat.partitioned,
        "{s:?}"
    );
    assert!(s.converged, "no commits happen while chatting: {s:?}");
    // Loss is about 5 % of the chat copies that were not blocked by the partition.
    let exposed = s.chat.copies - s.chat.partitioned;
    let fraction = s.chat.lost as f64 / exposed as f64;
    assert!((0.02..=0.09).contains(&fraction), "{fraction}: {s:?}");
    assert_eq!(s.total.in_flight(), 0);
    assert_eq!(
        sim_demo::run(1, start).expect("again").digest,
        s.digest,
        "repeatable"
    );
}
