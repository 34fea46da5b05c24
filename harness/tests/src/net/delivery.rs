//! How bytes move in a [`Net`]: what a member publishes is queued ([`Net::apply`]), and
//! [`Net::flush`] hands every queued publication, in order, to every other online member
//! subscribed to its topic. Tests may also take the queue to inspect, tamper with or drop
//! publications, queue their own, or hand bytes straight to one member. It does not move time
//! (see [`time`](super::time)).

use demls::engine::Output;
use demls::{Inbound, Topic};

use super::Net;
use super::record::epoch_key;

/// One publication: who published it, where, and the encoded envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Publication {
    /// The publishing member's index.
    pub from: usize,
    /// The topic.
    pub topic: Topic,
    /// The encoded envelope.
    pub payload: Vec<u8>,
}

impl Net {
    /// Carries out an engine output of member `from`: its subscriptions change, what it
    /// publishes is queued (and recorded, when recording), its events are kept.
    pub fn apply(&mut self, from: usize, out: Output) {
        if let Some(keys) = &mut self.keys
            && let Some((epoch, key)) = epoch_key(self.members[from].store.as_ref(), &keys.group)
        {
            keys.by_epoch.insert(epoch, key);
        }
        let m = &mut self.members[from];
        m.subscribed.extend(out.subscribe);
        for o in out.publish {
            let p = Publication {
                from,
                topic: o.topic,
                payload: o.payload,
            };
            if let Some(log) = &mut self.recorded {
                log.push(p.clone());
            }
            self.queue.push_back(p);
        }
        for t in out.unsubscribe {
            m.subscribed.remove(&t);
        }
        m.events.extend(out.events);
    }

    /// Hands raw bytes to member `to` on `topic`, as if from the network, and returns what the
    /// engine made of them without carrying it out (see [`Net::apply`]). Members that are
    /// offline or not subscribed to `topic` get it too (a transport may deliver anything).
    pub fn inject(&mut self, to: usize, topic: &Topic, payload: Vec<u8>) -> Output {
        let inbound = Inbound {
            topic: topic.clone(),
            payload,
            message_id: Vec::new(),
        };
        self.members[to]
            .engine
            .handle(&inbound, self.now)
            .unwrap_or_else(|e| panic!("member {to} failed on an inbound message: {e}"))
    }

    /// [`Net::inject`], then carries out what member `to` does about it.
    pub fn deliver(&mut self, to: usize, topic: &Topic, payload: Vec<u8>) {
        let out = self.inject(to, topic, payload);
        self.apply(to, out);
    }

    /// Removes and returns every queued publication (tests inspect, tamper with or drop them).
    pub fn take_queue(&mut self) -> Vec<Publication> {
        self.queue.drain(..).collect()
    }

    /// Queues a publication as if member `from` had published it (it is not recorded).
    pub fn enqueue(&mut self, from: usize, topic: Topic, payload: Vec<u8>) {
        self.queue.push_back(Publication {
            from,
            topic,
            payload,
        });
    }

    /// Delivers every queued message (and what it causes) until the queue is empty.
    pub fn flush(&mut self) {
        while let Some(p) = self.queue.pop_front() {
            for to in 0..self.members.len() {
                if to == p.from
                    || !self.members[to].online
                    || !self.members[to].subscribed.contains(&p.topic)
                {
                    continue;
                }
                self.delivered += 1;
                self.deliver(to, &p.topic, p.payload.clone());
            }
        }
    }
}
