//! Transport cases about an endpoint's lifetime: `close` ends `recv`, does not disturb other
//! endpoints, and abandoning a `recv` midway loses nothing.

use std::time::Duration;

use tokio::time::{Instant, sleep};

use super::TransportHarness;
use super::routes::{PROBE, await_route, close_all, expect_next, fresh, publish, subscribe};
use crate::transport::TransportError;

/// `close` wakes a pending `recv` with [`TransportError::Closed`], and every later `recv`
/// returns `Closed` too.
pub async fn close_makes_pending_and_later_recv_return_closed(h: &dyn TransportHarness) {
    let eps = fresh(h, 1).await;
    let a = eps[0].clone();
    subscribe(h, a.as_ref(), &h.topic("closing")).await;
    let pending = {
        let a = a.clone();
        tokio::spawn(async move { a.recv().await })
    };
    // Let the task block in recv before closing.
    sleep(Duration::from_millis(20)).await;
    a.close().await;
    match tokio::time::timeout(h.timeout(), pending).await {
        Ok(Ok(Err(TransportError::Closed))) => {}
        Ok(Ok(other)) => panic!("a pending recv must return Closed, got {other:?}"),
        Ok(Err(e)) => panic!("the receiving task failed: {e}"),
        Err(_) => panic!("a pending recv was not woken by close"),
    }
    match tokio::time::timeout(h.timeout(), a.recv()).await {
        Ok(Err(TransportError::Closed)) => {}
        Ok(other) => panic!("recv after close must return Closed, got {other:?}"),
        Err(_) => panic!("recv after close hangs"),
    }
}

/// Closing one endpoint does not disturb delivery between the others.
pub async fn closing_one_endpoint_leaves_the_others_working(h: &dyn TransportHarness) {
    let eps = fresh(h, 3).await;
    let (a, b, c) = (&eps[0], &eps[1], &eps[2]);
    let topic = h.topic("survivors");
    subscribe(h, b.as_ref(), &topic).await;
    subscribe(h, c.as_ref(), &topic).await;
    await_route(h, a.as_ref(), &[b, c], &topic).await;
    c.close().await;
    publish(a.as_ref(), &topic, b"still here".to_vec()).await;
    let m = expect_next(
        h,
        b.as_ref(),
        "delivery stopped after another endpoint closed",
    )
    .await;
    assert_eq!(m.payload, b"still here".to_vec());
    close_all(&eps).await;
}

/// Dropping a `recv` future before it completes loses no message: a receiver that keeps
/// abandoning `recv` after about a millisecond still gets all 100 messages, in order.
pub async fn recv_is_cancel_safe(h: &dyn TransportHarness) {
    const COUNT: u32 = 100;
    let eps = fresh(h, 2).await;
    let (a, b) = (&eps[0], &eps[1]);
    let topic = h.topic("cancel");
    subscribe(h, b.as_ref(), &topic).await;
    await_route(h, a.as_ref(), &[b], &topic).await;
    let publisher = {
        let (a, topic) = (a.clone(), topic.clone());
        tokio::spawn(async move {
            for i in 0..COUNT {
                publish(a.as_ref(), &topic, i.to_be_bytes().to_vec()).await;
                if i % 4 == 0 {
                    sleep(Duration::from_millis(1)).await;
                }
            }
        })
    };
    let deadline = Instant::now() + h.timeout();
    let mut got = Vec::new();
    let mut abandoned = 0u32;
    while got.len() < COUNT as usize && Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_millis(1), b.recv()).await {
            Ok(Ok(m)) if m.payload.starts_with(PROBE) => {}
            Ok(Ok(m)) => got.push(m.payload),
            Ok(Err(e)) => panic!("recv failed: {e}"),
            Err(_) => abandoned += 1,
        }
    }
    publisher.await.expect("the publishing task panicked");
    let expected: Vec<Vec<u8>> = (0..COUNT).map(|i| i.to_be_bytes().to_vec()).collect();
    assert!(
        got.len() == expected.len(),
        "{} of {COUNT} messages were lost while {abandoned} recv calls were abandoned",
        COUNT as usize - got.len()
    );
    assert_eq!(
        got, expected,
        "messages were reordered around abandoned recv calls"
    );
    close_all(&eps).await;
}
