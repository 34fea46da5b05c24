//! [`MemoryTransport`]: one node's endpoint on a [`MemoryNetwork`], implementing
//! [`demls::Transport`].
//!
//! This module owns the checks a publication must pass (topic, size, open endpoint) and the
//! endpoint's lifetime; fan-out is the hub's and queueing the inbox's.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use demls::{Inbound, Topic, Transport, TransportError};

use crate::inbox::Inbox;
use crate::message::Message;
use crate::network::{EndpointId, Hub, MemoryNetwork};

/// One node's endpoint on a [`MemoryNetwork`], made by [`MemoryNetwork::endpoint`].
///
/// Publishing queues the message, without waiting, in the bounded inbox of every *other*
/// endpoint subscribed to the topic at that moment; a full inbox drops it and counts the drop
/// ([`dropped`](Self::dropped)). Closing or dropping the endpoint removes it from the network.
pub struct MemoryTransport {
    id: EndpointId,
    label: String,
    hub: Arc<Hub>,
    inbox: Arc<Inbox>,
    max_payload: usize,
}

impl MemoryTransport {
    pub(crate) fn new(
        id: EndpointId,
        label: String,
        hub: Arc<Hub>,
        inbox: Arc<Inbox>,
        max_payload: usize,
    ) -> MemoryTransport {
        MemoryTransport {
            id,
            label,
            hub,
            inbox,
            max_payload,
        }
    }

    /// The label given at creation.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Inbound messages dropped so far because this endpoint's queue was full.
    pub fn dropped(&self) -> u64 {
        self.inbox.dropped()
    }

    /// Inbound messages queued and not yet received.
    pub fn queued(&self) -> usize {
        self.inbox.len()
    }

    /// The network this endpoint belongs to.
    pub fn network(&self) -> MemoryNetwork {
        MemoryNetwork::from_hub(self.hub.clone())
    }

    fn shut_down(&self) {
        self.inbox.close();
        self.hub.detach(self.id);
    }
}

fn check_topic(topic: &Topic) -> Result<(), TransportError> {
    if topic.as_str().is_empty() {
        return Err(TransportError::InvalidTopic {
            topic: String::new(),
            reason: "topics must not be empty",
        });
    }
    Ok(())
}

#[async_trait]
impl Transport for MemoryTransport {
    fn name(&self) -> &str {
        crate::NAME
    }

    fn max_payload(&self) -> usize {
        self.max_payload
    }

    async fn publish(&self, topic: &Topic, payload: Vec<u8>) -> Result<(), TransportError> {
        check_topic(topic)?;
        if payload.len() > self.max_payload {
            return Err(TransportError::PayloadTooLarge {
                size: payload.len(),
                limit: self.max_payload,
            });
        }
        let size = payload.len();
        let message = Arc::new(Message::new(topic.clone(), payload));
        let queued = self.hub.publish(self.id, &message)?;
        tracing::trace!(endpoint = %self.label, %topic, size, queued, "memory publish");
        Ok(())
    }

    async fn subscribe(&self, topic: &Topic) -> Result<(), TransportError> {
        check_topic(topic)?;
        self.hub.subscribe(self.id, topic)
    }

    async fn unsubscribe(&self, topic: &Topic) -> Result<(), TransportError> {
        check_topic(topic)?;
        self.hub.unsubscribe(self.id, topic)
    }

    async fn recv(&self) -> Result<Inbound, TransportError> {
        self.inbox.pop().await.map(Message::into_inbound)
    }

    async fn close(&self) {
        self.shut_down();
    }
}

impl Drop for MemoryTransport {
    fn drop(&mut self) {
        self.shut_down();
    }
}

impl fmt::Debug for MemoryTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryTransport")
            .field("label", &self.label)
            .field("network", &self.hub.name())
            .field("max_payload", &self.max_payload)
            .field("queued", &self.queued())
            .field("dropped", &self.dropped())
            .finish()
    }
}
