//! The run loop: what the simulator does with each queued item, and how an engine's
//! [`Output`] is carried out — subscriptions, publication fan-out through the network, events
//! into the node's log — and how each node's next timer tick is kept scheduled.

use std::sync::Arc;

use demls::{GroupEvent, Inbound, Output, Timestamp, Topic};

use crate::error::{Activity, Failure, SimError};
use crate::faults::Fault;
use crate::network::Verdict;
use crate::node::NodeId;
use crate::sim::Sim;
use crate::stats::{Fate, MessageKind};

/// Something scheduled on the event queue.
pub(crate) enum Item {
    /// A message copy arriving at a node.
    Deliver(Delivery),
    /// A node's timer; ignored unless `generation` is still the node's current one.
    Tick { node: NodeId, generation: u64 },
    /// A fault scheduled with [`Sim::at`].
    Fault(Fault),
    /// A consensus message reaching the light-voter pool (see `light.rs`).
    Light {
        from: NodeId,
        publication: Arc<Publication>,
    },
}

/// One copy of a publication on its way to one node.
pub(crate) struct Delivery {
    from: NodeId,
    to: NodeId,
    /// The receiver's incarnation when sent: a copy to an earlier incarnation is dropped.
    incarnation: u64,
    publication: Arc<Publication>,
}

/// A published message, shared by all its copies.
pub(crate) struct Publication {
    pub(crate) seq: u64,
    pub(crate) topic: Topic,
    pub(crate) payload: Vec<u8>,
    pub(crate) kind: MessageKind,
    /// SHA-256 of topic, a zero byte and the payload (as a content-addressed transport would).
    id: Vec<u8>,
}

impl Sim {
    /// Processes the earliest queued item, advancing virtual time to it. Returns `false` when
    /// nothing is queued.
    pub fn step(&mut self) -> bool {
        let Some((at, item)) = self.queue.pop() else {
            return false;
        };
        self.now = self.now.max(at);
        match item {
            // In CPU-charging mode a busy node takes its deliveries and ticks when it is free.
            Item::Deliver(delivery) => match self.busy_until(delivery.to) {
                Some(free) => self.queue.push(free, Item::Deliver(delivery)),
                None => self.deliver(delivery),
            },
            Item::Tick { node, generation } => match self.busy_until(node) {
                Some(free) => self.queue.push(free, Item::Tick { node, generation }),
                None => self.tick(node, generation),
            },
            Item::Light { from, publication } => self.light_receive(from, &publication),
            Item::Fault(fault) => {
                self.stats.items += 1;
                if let Err(error) = self.fault(fault.clone()) {
                    self.fail(Activity::Fault(fault), error);
                }
            }
        }
        true
    }

    /// Runs everything due within the next `ms` milliseconds, then sets the clock to that time.
    pub fn run_for(&mut self, ms: u64) {
        let end = self.now.plus_ms(ms);
        while self.queue.peek_time().is_some_and(|t| t <= end) {
            self.step();
        }
        self.now = self.now.max(end);
    }

    /// Runs for at most `max_ms` milliseconds, stopping as soon as `done` holds; `done` is
    /// checked first and after every processed item. Returns whether it held. When it never
    /// does, the clock ends `max_ms` later.
    pub fn run_until(&mut self, max_ms: u64, mut done: impl FnMut(&Sim) -> bool) -> bool {
        if done(self) {
            return true;
        }
        let end = self.now.plus_ms(max_ms);
        while self.queue.peek_time().is_some_and(|t| t <= end) {
            self.step();
            if done(self) {
                return true;
            }
        }
        self.now = self.now.max(end);
        done(self)
    }

    fn deliver(&mut self, d: Delivery) {
        self.stats.items += 1;
        let p = &d.publication;
        let node = &self.nodes[d.to.0];
        let fate = if !self.network.connected(d.from, d.to) {
            Some(Fate::Partitioned)
        } else if node.incarnation != d.incarnation || !node.receives() {
            Some(Fate::Down)
        } else if !node.subscriptions.contains(&p.topic) {
            Some(Fate::Unsubscribed)
        } else {
            None
        };
        let link = self.link_stats.then_some((d.from, d.to));
        if let Some(fate) = fate {
            self.trace.line(
                self.now,
                format_args!("drop {}->{} #{} {fate} on arrival", d.from, d.to, p.seq),
            );
            self.stats.fate(p.kind, link, fate);
            return;
        }
        self.trace.line(
            self.now,
            format_args!("deliver {}->{} #{}", d.from, d.to, p.seq),
        );
        self.stats.fate(p.kind, link, Fate::Delivered);
        self.stats.delivered_bytes(p.kind, link, p.payload.len());
        self.stats.node_received(d.to, p.payload.len());
        let inbound = Inbound {
            topic: p.topic.clone(),
            payload: p.payload.clone(),
            message_id: p.id.clone(),
        };
        let now = self.now;
        let start = self.meter_start();
        let result = match self.nodes[d.to.0].engine.as_mut() {
            Some(engine) => {
                // Engine logs inside name the node and the virtual time.
                let _span = tracing::debug_span!("node", id = %d.to, t = now.0).entered();
                engine.handle(&inbound, now)
            }
            None => return,
        };
        self.meter_end(d.to, start, result.as_ref().map_or(0, |o| o.events.len()));
        self.after_step(
            d.to,
            result,
            Activity::Delivery {
                from: d.from,
                to: d.to,
            },
        );
        self.reschedule(d.to, false);
    }

    fn tick(&mut self, id: NodeId, generation: u64) {
        let node = &mut self.nodes[id.0];
        if node.tick_generation != generation {
            return;
        }
        node.tick_at = None;
        let now = self.now;
        let Some(engine) = node.engine.as_mut() else {
            return;
        };
        let start = (self.cpu_mode != crate::cpu::CpuMode::Off).then(crate::cpu::process_cpu_us);
        let result = {
            let _span = tracing::debug_span!("node", %id, t = now.0).entered();
            engine.tick(now)
        };
        self.meter_end(id, start, result.as_ref().map_or(0, |o| o.events.len()));
        self.stats.items += 1;
        self.stats.ticks += 1;
        self.trace.line(now, format_args!("tick {id}"));
        self.after_step(id, result, Activity::Tick { node: id });
        self.reschedule(id, true);
    }

    /// Carries out a step's output, or records its failure.
    fn after_step(
        &mut self,
        node: NodeId,
        result: Result<Output, demls::EngineError>,
        during: Activity,
    ) {
        match result {
            Ok(out) => self.apply(node, out),
            Err(source) => self.fail(during, SimError::Engine { node, source }),
        }
        self.emit_at = None;
    }

    /// Records a failure of the run (never panics, never stops the run).
    pub(crate) fn fail(&mut self, during: Activity, error: SimError) {
        tracing::warn!(?during, %error, "simulated step failed");
        self.trace
            .line(self.now, format_args!("failure {during:?}: {error}"));
        self.failures.push(Failure {
            at: self.now,
            during,
            error,
        });
    }

    /// Schedules `node`'s next timer tick from its engine's deadline. After a tick, a deadline
    /// that is still due is pushed 1 ms ahead, so an engine that keeps reporting a past
    /// deadline cannot stall virtual time.
    pub(crate) fn reschedule(&mut self, id: NodeId, after_tick: bool) {
        let now = self.now;
        let node = &mut self.nodes[id.0];
        let wanted = node
            .engine
            .as_ref()
            .and_then(|e| e.next_deadline())
            .map(|d| match d > now {
                true => d,
                false if after_tick => {
                    tracing::debug!(node = %id, "deadline still due after a tick");
                    now.plus_ms(1)
                }
                false => now,
            });
        if wanted == node.tick_at {
            return;
        }
        node.tick_generation += 1;
        node.tick_at = wanted;
        if let Some(at) = wanted {
            let generation = node.tick_generation;
            self.queue.push(
                at,
                Item::Tick {
                    node: id,
                    generation,
                },
            );
        }
    }

    /// Carries out an engine output of `node`: subscribe, publish, unsubscribe, log events.
    /// Publications leave, and events are stamped, at [`Sim::emit_time`].
    pub(crate) fn apply(&mut self, node: NodeId, out: Output) {
        for topic in out.subscribe {
            self.subscribe(node, topic);
        }
        let at = self.emit_time();
        for o in out.publish {
            self.publish_at(node, o.topic, o.payload, at);
        }
        for topic in out.unsubscribe {
            self.unsubscribe(node, &topic);
        }
        self.record_events(node, out.events);
    }

    pub(crate) fn subscribe(&mut self, node: NodeId, topic: Topic) {
        if self.nodes[node.0].subscriptions.insert(topic.clone()) {
            self.trace
                .line(self.now, format_args!("subscribe {node} {topic}"));
            self.subscribers.entry(topic).or_default().insert(node);
        }
    }

    pub(crate) fn unsubscribe(&mut self, node: NodeId, topic: &Topic) {
        if self.nodes[node.0].subscriptions.remove(topic) {
            self.trace
                .line(self.now, format_args!("unsubscribe {node} {topic}"));
            if let Some(set) = self.subscribers.get_mut(topic) {
                set.remove(&node);
                if set.is_empty() {
                    self.subscribers.remove(topic);
                }
            }
        }
    }

    fn record_events(&mut self, node: NodeId, events: Vec<GroupEvent>) {
        let at = self.emit_time();
        for event in events {
            self.trace.line(at, format_args!("event {node} {event:?}"));
            if let GroupEvent::MessageReceived {
                group_id,
                message_id,
                ..
            } = &event
            {
                self.ledger.receive(group_id, message_id, node, at);
            }
            self.nodes[node.0].log.push((at, event));
        }
    }

    /// Publishes arbitrary bytes as if `from` had published them (fault injection: forged or
    /// replayed messages). Fans out like any publication.
    pub fn publish_as(&mut self, from: NodeId, topic: Topic, payload: Vec<u8>) {
        self.publish_at(from, topic, payload, self.now);
    }

    /// Fans a publication sent at `at` (now, or later when the sender's CPU time is charged)
    /// out to every other node subscribed to `topic` now, deciding each copy's fate through the
    /// network. `from` may be the light-voter pool; consensus messages on the pool's group
    /// topic also reach the pool.
    pub(crate) fn publish_at(
        &mut self,
        from: NodeId,
        topic: Topic,
        payload: Vec<u8>,
        at: Timestamp,
    ) {
        let seq = self.publications;
        self.publications += 1;
        let kind = MessageKind::of(&payload);
        self.trace.line(
            at,
            format_args!("publish {from} #{seq} {kind} {topic} {}B", payload.len()),
        );
        self.trace.bytes(&payload);
        self.stats.publication(kind, payload.len());
        self.stats.node_published(from, payload.len());
        let targets: Vec<NodeId> = self
            .subscribers
            .get(&topic)
            .map(|set| set.iter().copied().filter(|&n| n != from).collect())
            .unwrap_or_default();
        let to_pool = from != crate::light::LIGHT_POOL
            && kind == MessageKind::Consensus
            && self.light.as_ref().is_some_and(|l| l.listens_to(&topic));
        if targets.is_empty() && !to_pool {
            return;
        }
        let id = content_id(&topic, &payload);
        let bytes = payload.len();
        let publication = Arc::new(Publication {
            seq,
            topic,
            payload,
            kind,
            id,
        });
        let muted = self
            .nodes
            .get(from.0)
            .is_some_and(|n| n.muted || n.suppressed.contains(&kind));
        if to_pool && !muted {
            // The pool stands for every light member; it draws each one's latency itself.
            self.queue.push(
                at,
                Item::Light {
                    from,
                    publication: publication.clone(),
                },
            );
        }
        for to in targets {
            let link = self.link_stats.then_some((from, to));
            self.stats.copy(kind, link);
            let receiver = &self.nodes[to.0];
            let (listens, incarnation) = (receiver.receives(), receiver.incarnation);
            match self
                .network
                .route(from, to, at, muted, listens, bytes, &mut self.rng)
            {
                Verdict::Arrive(arrive) => {
                    self.trace.line(
                        at,
                        format_args!("send {from}->{to} #{seq} arrives +{}", arrive.since(at)),
                    );
                    self.queue.push(
                        arrive,
                        Item::Deliver(Delivery {
                            from,
                            to,
                            incarnation,
                            publication: publication.clone(),
                        }),
                    );
                }
                Verdict::Drop(fate) => {
                    self.trace
                        .line(at, format_args!("drop {from}->{to} #{seq} {fate}"));
                    self.stats.fate(kind, link, fate);
                }
            }
        }
    }

    /// Queues `fault` at `at`, or now if `at` has passed.
    pub(crate) fn schedule_fault(&mut self, at: Timestamp, fault: Fault) {
        self.queue.push(at.max(self.now), Item::Fault(fault));
    }
}

/// The transport-level id of a publication: SHA-256 over topic, a zero byte and payload.
fn content_id(topic: &Topic, payload: &[u8]) -> Vec<u8> {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(topic.as_str().as_bytes());
    ctx.update(&[0]);
    ctx.update(payload);
    ctx.finish().as_ref().to_vec()
}
