//! What one engine step asks the outside world to do.

use super::event::{GroupEvent, RejectReason};
use super::silent::Silent;
use crate::types::{GroupId, Topic};

/// A payload to publish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outbound {
    /// Where to publish it.
    pub topic: Topic,
    /// The encoded envelope.
    pub payload: Vec<u8>,
}

/// The effects of one engine step, to be carried out in order by the driver.
#[derive(Debug, Default)]
pub struct Output {
    /// Topics to subscribe to (before publishing).
    pub subscribe: Vec<Topic>,
    /// Payloads to publish, in order.
    pub publish: Vec<Outbound>,
    /// Topics to unsubscribe from (after publishing).
    pub unsubscribe: Vec<Topic>,
    /// Events for the application, in order.
    pub events: Vec<GroupEvent>,
    /// Inputs of this step passed over without an event, one entry each, and why.
    pub silent: Vec<Silent>,
}

impl Output {
    /// An output that only refuses an input (for logs, `detail` says why).
    pub(crate) fn rejected(
        group_id: Option<GroupId>,
        reason: RejectReason,
        detail: impl Into<String>,
    ) -> Output {
        let detail = detail.into();
        tracing::debug!(?reason, %detail, "inbound message rejected");
        let mut out = Output::default();
        out.event(GroupEvent::Rejected {
            group_id,
            reason,
            detail,
        });
        out
    }

    /// Appends everything of `other`.
    pub fn append(&mut self, other: Output) {
        self.subscribe.extend(other.subscribe);
        self.publish.extend(other.publish);
        self.unsubscribe.extend(other.unsubscribe);
        self.events.extend(other.events);
        self.silent.extend(other.silent);
    }

    /// Notes an input passed over silently.
    pub(crate) fn silent(&mut self, why: Silent) {
        self.silent.push(why);
    }

    /// An output that only notes an input passed over silently.
    pub(crate) fn only_silent(why: Silent) -> Output {
        let mut out = Output::default();
        out.silent(why);
        out
    }

    /// Queues a publication.
    pub(crate) fn publish(&mut self, topic: &Topic, payload: Vec<u8>) {
        self.publish.push(Outbound {
            topic: topic.clone(),
            payload,
        });
    }

    /// Queues an event.
    pub(crate) fn event(&mut self, event: GroupEvent) {
        self.events.push(event);
    }
}
