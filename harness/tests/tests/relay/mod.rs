//! A relay network for the kill test: the group's other members run in this process on memory
//! storage, one member runs as a child process on SQLite, and every publication is delivered
//! in order to every subscribed member. Virtual time advances to the next deadline, as in the
//! framework's test network; the child gets the same clock in its commands.
#![allow(dead_code)]

#[path = "../../src/bin/demls-sqlite-member/protocol.rs"]
pub mod protocol;

pub mod child;

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use demls::engine::{Engine, EngineParams, GroupEvent, Output};
use demls::policy::single::SinglePolicyFactory;
use demls::{GroupId, Inbound, MemberId, Timestamp, Topic};
use demls_consensus_hashgraph::HashgraphFactory;
use demls_storage_memory::MemoryStorage;

use child::ChildMember;
use protocol::{Command, Reply, View};

/// An in-process member.
pub struct Local {
    /// Its engine (memory storage).
    pub engine: Engine,
    /// Topics it receives.
    pub topics: BTreeSet<Topic>,
    /// Still part of the run (removed members are dropped).
    pub active: bool,
}

/// Who published something.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum From {
    /// An in-process member.
    Local(usize),
    /// The child.
    Child,
}

/// When to kill the child: after it has been handed `commands` more commands, `fraction` of
/// the way into the next one (measured against the longest of its recent commands, so kills
/// spread over the whole of a step: decoding, cryptography, and the storage transaction).
#[derive(Clone, Copy, Debug)]
pub struct KillPoint {
    /// Commands the child completes first.
    pub commands: u32,
    /// How far into the next one SIGKILL strikes, in `[0, 1)`.
    pub fraction: f64,
}

/// The relay network.
pub struct Relay {
    /// In-process members.
    pub locals: Vec<Local>,
    /// The child, while it runs.
    pub child: Option<ChildMember>,
    /// Publications waiting for delivery.
    queue: VecDeque<(From, Topic, Vec<u8>)>,
    /// Virtual time (ms).
    pub now: u64,
    /// The armed kill point, if any.
    pub kill: Option<KillPoint>,
    /// Ids of messages the child reported delivered or sent (its acknowledged steps).
    pub child_acked: BTreeSet<Vec<u8>>,
    /// Storage batches the child reported committed (its last acknowledged count).
    pub child_steps: u64,
    /// Commands the child has completed (over all its runs).
    pub child_commands: u64,
    /// Kills that struck while the child was working on a command.
    pub kills_during_commands: u64,
    /// How long the child's latest commands took, newest last.
    recent: VecDeque<Duration>,
}

/// The identity seed of in-process member `i`.
pub fn seed(i: usize) -> [u8; 32] {
    let mut s = [0u8; 32];
    s[..8].copy_from_slice(&(i as u64 + 1).to_be_bytes());
    s
}

impl Relay {
    /// A relay with no members, its clock at `now`.
    pub fn new(now: u64) -> Relay {
        Relay {
            locals: Vec::new(),
            child: None,
            queue: VecDeque::new(),
            now,
            kill: None,
            child_acked: BTreeSet::new(),
            child_commands: 0,
            child_steps: 0,
            kills_during_commands: 0,
            recent: VecDeque::new(),
        }
    }

    /// Adds an in-process member with identity `seed(i)` and entropy from `run_seed`.
    pub fn add_local(&mut self, run_seed: u64) -> usize {
        let i = self.locals.len();
        let mut engine = Engine::open(
            Arc::new(MemoryStorage::new()),
            Arc::new(HashgraphFactory::default()),
            Arc::new(SinglePolicyFactory::new(Default::default())),
            EngineParams::default(),
            Some(seed(i)),
            Timestamp(self.now),
        )
        .unwrap();
        let mut entropy = seed(i);
        entropy[24..].copy_from_slice(&run_seed.to_be_bytes());
        engine.set_entropy_seed(entropy);
        self.locals.push(Local {
            engine,
            topics: BTreeSet::new(),
            active: true,
        });
        i
    }

    /// Carries out an in-process member's output.
    pub fn apply(&mut self, i: usize, out: Output) {
        let local = &mut self.locals[i];
        local.topics.extend(out.subscribe);
        for o in out.publish {
            self.queue.push_back((From::Local(i), o.topic, o.payload));
        }
        for t in out.unsubscribe {
            local.topics.remove(&t);
        }
        if out
            .events
            .iter()
            .any(|e| matches!(e, GroupEvent::Removed { .. }))
        {
            local.active = false;
        }
    }

    /// Calls the child, unless the armed kill point falls on this command: then the child is
    /// killed while working on it. Returns the reply when the child answered.
    pub fn call_child(&mut self, command: Command) -> Option<Reply> {
        let child = self.child.as_mut()?;
        if let Some(kill) = &mut self.kill {
            if kill.commands == 0 {
                let longest = self.recent.iter().max().copied().unwrap_or_default();
                let after = longest.mul_f64(kill.fraction);
                self.kill = None;
                if let Some(child) = self.child.take() {
                    child.kill_during(&command, after);
                    self.kills_during_commands += 1;
                }
                return None;
            }
            kill.commands -= 1;
        }
        let started = std::time::Instant::now();
        let reply = child.call(&command);
        self.recent.push_back(started.elapsed());
        if self.recent.len() > 16 {
            self.recent.pop_front();
        }
        self.child_commands += 1;
        if let Reply::Done {
            publish,
            received,
            sent,
            steps,
            ..
        } = &reply
        {
            self.child_steps = *steps;
            for (topic, payload) in publish {
                self.queue
                    .push_back((From::Child, topic.clone(), payload.clone()));
            }
            self.child_acked.extend(received.iter().cloned());
            self.child_acked.extend(sent.iter().cloned());
        }
        Some(reply)
    }

    /// Delivers everything queued (and what it causes) until the queue is empty.
    pub fn flush(&mut self) {
        while let Some((from, topic, payload)) = self.queue.pop_front() {
            for i in 0..self.locals.len() {
                if from == From::Local(i)
                    || !self.locals[i].active
                    || !self.locals[i].topics.contains(&topic)
                {
                    continue;
                }
                let inbound = Inbound {
                    topic: topic.clone(),
                    payload: payload.clone(),
                    message_id: Vec::new(),
                };
                let out = self.locals[i]
                    .engine
                    .handle(&inbound, Timestamp(self.now))
                    .unwrap();
                self.apply(i, out);
            }
            let child_listens = self
                .child
                .as_ref()
                .is_some_and(|c| c.topics.contains(&topic));
            if from != From::Child && child_listens {
                let now = self.now;
                self.call_child(Command::Deliver {
                    topic,
                    payload,
                    now,
                });
            }
        }
    }

    /// Runs until nothing is queued and no deadline falls within `ms` from now.
    pub fn run(&mut self, ms: u64) {
        let end = self.now + ms;
        loop {
            self.flush();
            let locals = self
                .locals
                .iter()
                .filter(|l| l.active)
                .filter_map(|l| l.engine.next_deadline().map(|t| t.0));
            let child = self.child.as_ref().and_then(|c| c.deadline);
            match locals.chain(child).min() {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    self.tick_due();
                }
                _ => break,
            }
        }
        self.now = end;
    }

    fn tick_due(&mut self) {
        let now = Timestamp(self.now);
        for i in 0..self.locals.len() {
            let due = self.locals[i].active
                && self.locals[i]
                    .engine
                    .next_deadline()
                    .is_some_and(|d| d <= now);
            if due {
                let out = self.locals[i].engine.tick(now).unwrap();
                self.apply(i, out);
            }
        }
        if self
            .child
            .as_ref()
            .and_then(|c| c.deadline)
            .is_some_and(|d| d <= self.now)
        {
            self.call_child(Command::Tick { now: self.now });
        }
    }

    /// Sends a message from in-process member `i`; returns its id.
    pub fn send_local(&mut self, i: usize, g: &GroupId, text: &str) -> Vec<u8> {
        let (id, out) = self.locals[i]
            .engine
            .send_message(g, text.as_bytes(), Timestamp(self.now))
            .unwrap();
        self.apply(i, out);
        id
    }

    /// The child's view of `g` and its history, if it is running (and not killed by the
    /// query itself: queries never count toward a kill point).
    pub fn query_child(&mut self, g: &GroupId) -> Option<(Option<View>, BTreeSet<Vec<u8>>)> {
        let child = self.child.as_mut()?;
        match child.call(&Command::Query { group: g.clone() }) {
            Reply::State { view, history } => Some((view, history.into_iter().collect())),
            other => panic!("query answered {other:?}"),
        }
    }

    /// The view of in-process member `i`.
    pub fn view(&self, i: usize, g: &GroupId) -> Option<View> {
        self.locals[i].engine.group_summary(g).map(|s| View {
            epoch: s.epoch,
            members: s.members,
            authenticator: s.authenticator,
        })
    }

    /// Member id of in-process member `i`.
    pub fn id(&self, i: usize) -> MemberId {
        self.locals[i].engine.member_id()
    }
}
