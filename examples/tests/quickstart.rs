//! Runs the quickstart example's scenario and checks what it printed about.

#[path = "../quickstart.rs"]
mod quickstart;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quickstart_forms_the_group_by_votes_chats_and_removes_a_member() {
    let summary = quickstart::run().await.expect("the scenario completes");
    assert!(summary.converged, "{summary:?}");
    assert_eq!(summary.delivered, 32);
    assert!(summary.removed_notified);
    assert!(
        summary
            .epochs
            .iter()
            .all(|&e| e == summary.epochs[0] && e >= 3)
    );
}
