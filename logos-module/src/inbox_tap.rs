//! [`InboxTap`]: the node's transport, with this instance's inbox taken out of it. Messages
//! on the inbox topic go to the module (a bounded channel; dropped when full), never to the
//! node; everything else passes through unchanged.

use std::sync::Arc;
use std::sync::mpsc::SyncSender;

use async_trait::async_trait;
use demls::{Inbound, Topic, Transport, TransportError};

/// Inbox frames that may wait for the module.
pub const INBOX_QUEUE: usize = 64;

/// A transport wrapper diverting one topic.
pub struct InboxTap {
    inner: Arc<dyn Transport>,
    inbox: Topic,
    frames: SyncSender<Vec<u8>>,
}

impl InboxTap {
    /// Wraps `inner`, diverting `inbox` into `frames`.
    pub fn new(inner: Arc<dyn Transport>, inbox: Topic, frames: SyncSender<Vec<u8>>) -> InboxTap {
        InboxTap {
            inner,
            inbox,
            frames,
        }
    }
}

#[async_trait]
impl Transport for InboxTap {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn max_payload(&self) -> usize {
        self.inner.max_payload()
    }

    async fn publish(&self, topic: &Topic, payload: Vec<u8>) -> Result<(), TransportError> {
        self.inner.publish(topic, payload).await
    }

    async fn subscribe(&self, topic: &Topic) -> Result<(), TransportError> {
        self.inner.subscribe(topic).await
    }

    async fn unsubscribe(&self, topic: &Topic) -> Result<(), TransportError> {
        if *topic == self.inbox {
            return Ok(());
        }
        self.inner.unsubscribe(topic).await
    }

    async fn recv(&self) -> Result<Inbound, TransportError> {
        loop {
            let message = self.inner.recv().await?;
            if message.topic != self.inbox {
                return Ok(message);
            }
            if self.frames.try_send(message.payload).is_err() {
                tracing::warn!("inbox queue full (or module stopped): an inbox frame was dropped");
            }
        }
    }

    async fn close(&self) {
        self.inner.close().await;
    }
}
