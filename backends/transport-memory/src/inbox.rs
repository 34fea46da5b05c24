//! One endpoint's bounded inbound queue: the hub pushes without ever waiting, the endpoint's
//! `recv` waits for the next message, and `close` wakes every waiter.
//!
//! This module owns the queue bound and the drop counter; it knows nothing about topics or
//! about which endpoints exist.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use demls::TransportError;
use tokio::sync::Notify;

use crate::message::Message;

/// A bounded FIFO of messages for one endpoint.
#[derive(Debug)]
pub(crate) struct Inbox {
    /// The endpoint's label, for logs.
    label: String,
    /// The most messages queued at once; more are dropped.
    capacity: usize,
    state: Mutex<State>,
    /// Signalled on every push and on close.
    ready: Notify,
    /// Messages dropped because the queue was full.
    dropped: AtomicU64,
}

#[derive(Debug, Default)]
struct State {
    queue: VecDeque<Arc<Message>>,
    closed: bool,
    /// True from the first drop until the queue has room again (one warning per episode).
    overflowing: bool,
}

impl Inbox {
    /// An empty, open inbox holding at most `capacity` messages.
    pub(crate) fn new(label: String, capacity: usize) -> Inbox {
        Inbox {
            label,
            capacity,
            state: Mutex::new(State::default()),
            ready: Notify::new(),
            dropped: AtomicU64::new(0),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Every critical section below leaves the state consistent, so a panic elsewhere while
        // holding the lock cannot have torn it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `message` unless the inbox is closed or full; never waits. Returns whether it was
    /// queued.
    pub(crate) fn push(&self, message: &Arc<Message>) -> bool {
        let mut state = self.state();
        if state.closed {
            return false;
        }
        if state.queue.len() >= self.capacity {
            let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if !state.overflowing {
                state.overflowing = true;
                tracing::warn!(
                    endpoint = %self.label,
                    topic = %message.topic(),
                    capacity = self.capacity,
                    dropped_total = dropped,
                    "memory transport inbox full; dropping inbound messages until it drains"
                );
            }
            return false;
        }
        state.queue.push_back(message.clone());
        drop(state);
        self.ready.notify_one();
        true
    }

    /// Waits for the next message; `Closed` once the inbox is closed.
    pub(crate) async fn pop(&self) -> Result<Arc<Message>, TransportError> {
        loop {
            // Register for a wake-up before looking, so a push or close that happens between
            // the look and the wait is not missed.
            let notified = self.ready.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut state = self.state();
                if state.closed {
                    return Err(TransportError::Closed);
                }
                if let Some(message) = state.queue.pop_front() {
                    state.overflowing = false;
                    return Ok(message);
                }
            }
            notified.await;
        }
    }

    /// Closes the inbox: queued messages are discarded, and pending and later `pop`s return
    /// `Closed`. Idempotent.
    pub(crate) fn close(&self) {
        let mut state = self.state();
        state.closed = true;
        state.queue.clear();
        drop(state);
        self.ready.notify_waiters();
    }

    /// Messages dropped so far because the inbox was full.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Messages currently queued.
    pub(crate) fn len(&self) -> usize {
        self.state().queue.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use demls::Topic;

    fn message(n: u8) -> Arc<Message> {
        Arc::new(Message::new(Topic::new("t"), vec![n]))
    }

    #[tokio::test]
    async fn a_full_inbox_drops_and_counts_without_waiting() {
        let inbox = Inbox::new("x".into(), 2);
        assert!(inbox.push(&message(1)));
        assert!(inbox.push(&message(2)));
        assert!(!inbox.push(&message(3)));
        assert!(!inbox.push(&message(4)));
        assert_eq!((inbox.len(), inbox.dropped()), (2, 2));
        assert_eq!(
            Message::into_inbound(inbox.pop().await.unwrap()).payload,
            vec![1]
        );
        assert!(inbox.push(&message(5)));
        assert_eq!(
            Message::into_inbound(inbox.pop().await.unwrap()).payload,
            vec![2]
        );
        assert_eq!(
            Message::into_inbound(inbox.pop().await.unwrap()).payload,
            vec![5]
        );
        assert_eq!(inbox.dropped(), 2);
    }

    #[tokio::test]
    async fn close_discards_the_queue_and_refuses_pushes() {
        let inbox = Inbox::new("x".into(), 4);
        assert!(inbox.push(&message(1)));
        inbox.close();
        assert!(!inbox.push(&message(2)));
        assert_eq!(inbox.len(), 0);
        assert!(matches!(inbox.pop().await, Err(TransportError::Closed)));
        assert_eq!(
            inbox.dropped(),
            0,
            "a closed inbox refuses, it does not count drops"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_waiting_pop_is_woken_by_a_push() {
        let inbox = Arc::new(Inbox::new("x".into(), 4));
        let waiter = {
            let inbox = inbox.clone();
            tokio::spawn(async move { inbox.pop().await.map(Message::into_inbound) })
        };
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        assert!(inbox.push(&message(9)));
        let got = tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("woken")
            .unwrap()
            .unwrap();
        assert_eq!(got.payload, vec![9]);
    }
}
