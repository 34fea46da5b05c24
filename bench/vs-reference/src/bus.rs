//! The ideal network both drivers run on: every publication reaches every *other* member
//! subscribed to its topic when it was published, instantly and in publish order (one FIFO
//! queue of copies), and a virtual millisecond clock that jumps to the next timer deadline
//! whenever nothing is queued, so timers cost no wall-clock time.
//!
//! This file is also compiled into the reference driver (included by path), so both
//! implementations run on exactly the same bus, scheduler and counting.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, VecDeque};
use std::rc::Rc;

use crate::measure::Traffic;

/// How far [`settle`] runs between its checks of the virtual-time limit and of a stall.
pub const SLICE_MS: u64 = 50;

/// One published payload, shared by all its copies.
pub struct Publication<T> {
    /// Where it was published.
    pub topic: T,
    /// The member that published it.
    #[allow(dead_code)] // read by the reference driver only
    pub from: usize,
    /// The bytes.
    pub payload: Vec<u8>,
    /// A transport-level message id, if the implementation needs one (else empty).
    #[allow(dead_code)] // read by the demls driver only
    pub id: Vec<u8>,
}

/// Topics, subscriptions, the FIFO queue of copies, the timers and the virtual clock.
pub struct Core<T> {
    subscribers: BTreeMap<T, BTreeSet<usize>>,
    queue: VecDeque<(usize, Rc<Publication<T>>)>,
    timers: BinaryHeap<Reverse<(u64, usize, u64)>>,
    /// Per member: its scheduled deadline and that entry's generation.
    scheduled: Vec<(Option<u64>, u64)>,
    /// Virtual time, in milliseconds.
    pub now: u64,
    /// Traffic so far.
    pub traffic: Traffic,
}

impl<T: Ord + Clone> Core<T> {
    /// An empty network at virtual time `now` (milliseconds).
    pub fn new(now: u64) -> Core<T> {
        Core {
            subscribers: BTreeMap::new(),
            queue: VecDeque::new(),
            timers: BinaryHeap::new(),
            scheduled: Vec::new(),
            now,
            traffic: Traffic::default(),
        }
    }

    /// `node` receives what is published on `topic` from now on.
    pub fn subscribe(&mut self, node: usize, topic: T) {
        self.subscribers.entry(topic).or_default().insert(node);
    }

    /// `node` stops receiving `topic` (copies still queued for it are dropped).
    pub fn unsubscribe(&mut self, node: usize, topic: &T) {
        if let Some(set) = self.subscribers.get_mut(topic) {
            set.remove(&node);
        }
    }

    /// Whether `node` is subscribed to `topic`.
    pub fn is_subscribed(&self, node: usize, topic: &T) -> bool {
        self.subscribers
            .get(topic)
            .is_some_and(|set| set.contains(&node))
    }

    /// Publishes `payload` (with transport id `id`) from `from`: one copy is queued for every
    /// other subscriber.
    pub fn publish(&mut self, from: usize, topic: T, payload: Vec<u8>, id: Vec<u8>) {
        self.traffic.published += 1;
        self.traffic.bytes_published += payload.len() as u64;
        let receivers: Vec<usize> = self
            .subscribers
            .get(&topic)
            .map(|set| set.iter().copied().filter(|&n| n != from).collect())
            .unwrap_or_default();
        if receivers.is_empty() {
            return;
        }
        let publication = Rc::new(Publication {
            topic,
            from,
            payload,
            id,
        });
        for to in receivers {
            self.queue.push_back((to, publication.clone()));
        }
    }

    /// The next copy to hand over, counted as delivered. Copies for a member that has
    /// unsubscribed from the topic meanwhile are dropped uncounted.
    pub fn next_delivery(&mut self) -> Option<(usize, Rc<Publication<T>>)> {
        while let Some((to, p)) = self.queue.pop_front() {
            if self.is_subscribed(to, &p.topic) {
                self.traffic.delivered += 1;
                self.traffic.bytes_delivered += p.payload.len() as u64;
                return Some((to, p));
            }
        }
        None
    }

    /// Copies waiting to be handed over.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Sets `node`'s next timer deadline (absolute virtual milliseconds, `None` for none).
    /// After a tick, a deadline that is still due is moved 1 ms ahead so that a member that
    /// keeps reporting a past deadline cannot freeze virtual time.
    pub fn schedule(&mut self, node: usize, deadline: Option<u64>, after_tick: bool) {
        if self.scheduled.len() <= node {
            self.scheduled.resize(node + 1, (None, 0));
        }
        let now = self.now;
        let wanted = deadline.map(|d| match d > now {
            true => d,
            false if after_tick => now + 1,
            false => now,
        });
        let entry = &mut self.scheduled[node];
        if entry.0 == wanted {
            return;
        }
        entry.1 += 1;
        entry.0 = wanted;
        if let Some(at) = wanted {
            self.timers.push(Reverse((at, node, entry.1)));
        }
    }

    /// Removes the earliest live timer due at or before `end`, advancing the clock to it.
    pub fn next_timer(&mut self, end: u64) -> Option<usize> {
        while let Some(Reverse((at, node, generation))) = self.timers.peek().copied() {
            if at > end {
                return None;
            }
            self.timers.pop();
            let entry = &mut self.scheduled[node];
            if entry.1 != generation || entry.0 != Some(at) {
                continue;
            }
            entry.0 = None;
            self.now = self.now.max(at);
            return Some(node);
        }
        None
    }

    /// Whether any timer is pending.
    pub fn has_timers(&self) -> bool {
        self.scheduled.iter().any(|(d, _)| d.is_some())
    }
}

/// One member's view of the group, as the convergence check compares it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct View {
    /// The epoch.
    pub epoch: u64,
    /// Who is in the group, as [`World::roster_id`]s, sorted.
    pub roster: Vec<Vec<u8>>,
    /// What must also agree (the epoch authenticator).
    pub authenticator: Vec<u8>,
}

/// A set of members on a [`Core`]: how a copy is handed to a member and how a member's timer
/// fires (both must reschedule the member's timer with [`Core::schedule`]), and what the
/// convergence check needs to see.
pub trait World {
    /// The topic type.
    type Topic: Ord + Clone;
    /// The network.
    fn core(&mut self) -> &mut Core<Self::Topic>;
    /// Hands one copy to member `to`.
    fn deliver(&mut self, to: usize, publication: &Publication<Self::Topic>);
    /// Fires member `node`'s timer (the clock is already at its deadline).
    fn tick(&mut self, node: usize);
    /// The clock moved to `now` (virtual milliseconds); members reading a shared clock follow.
    fn clock_moved(&mut self, now: u64);
    /// Whether `node`'s group state (epoch, roster) may have changed since the last call for
    /// it; must be cheap (it runs after every step).
    fn changed(&mut self, node: usize) -> bool;
    /// `node`'s current view of the group (`None` if it is not in it).
    fn view(&self, node: usize) -> Option<View>;
    /// How `node` appears in a roster.
    fn roster_id(&self, node: usize) -> Vec<u8>;
}

/// Runs everything due within the next `ms` virtual milliseconds: every queued copy, and
/// timers in deadline order whenever the queue is empty. Returns whether anything ran.
pub fn run_for<W: World>(world: &mut W, ms: u64) -> bool {
    let end = world.core().now + ms;
    let mut worked = false;
    while step(world, end).is_some() {
        worked = true;
    }
    let core = world.core();
    if core.now < end {
        core.now = end;
        world.clock_moved(end);
    }
    worked
}

/// Processes one item: the next queued copy or, with nothing queued, the earliest timer due by
/// `end`. Returns the member that ran, or `None` if nothing was due.
fn step<W: World>(world: &mut W, end: u64) -> Option<usize> {
    if let Some((to, p)) = world.core().next_delivery() {
        world.deliver(to, &p);
        return Some(to);
    }
    let before = world.core().now;
    let node = world.core().next_timer(end)?;
    let now = world.core().now;
    if now != before {
        world.clock_moved(now);
    }
    world.tick(node);
    Some(node)
}

/// Runs until every member of `nodes` is in the group at one epoch with one authenticator and
/// exactly `nodes` as its roster, and stops at the very step that completes it.
///
/// The check is incremental: after each step only the member that ran is looked at, and only
/// if [`World::changed`] says its state may have moved; a changed member's view is read once
/// (linear in the group size). So the cost is constant per delivered message, the stop point
/// is exact, and no work that follows convergence is counted.
///
/// Fails after `max_ms` of virtual time, or when nothing is queued or scheduled and the group
/// has not converged.
pub fn settle<W: World>(
    world: &mut W,
    nodes: &[usize],
    max_ms: u64,
    what: &str,
) -> Result<(), String> {
    let start = world.core().now;
    let mut tracker = Tracker::new(world, nodes);
    if tracker.converged() {
        return Ok(());
    }
    loop {
        let end = world.core().now + SLICE_MS;
        while let Some(node) = step(world, end) {
            if tracker.look(world, node) && tracker.converged() {
                return Ok(());
            }
        }
        let core = world.core();
        if core.now < end {
            core.now = end;
            world.clock_moved(end);
        }
        let core = world.core();
        if core.queued() == 0 && !core.has_timers() {
            return Err(format!(
                "{what}: stalled after {} virtual ms (nothing queued or scheduled)",
                core.now - start
            ));
        }
        if core.now - start > max_ms {
            return Err(format!("{what}: not done after {max_ms} virtual ms"));
        }
    }
}

/// The incremental convergence check of [`settle`].
struct Tracker {
    want: Vec<Vec<u8>>,
    index: BTreeMap<usize, usize>,
    /// Per listed member: its (epoch, authenticator) if its roster is exactly `want`.
    good: Vec<Option<(u64, Vec<u8>)>>,
}

impl Tracker {
    fn new<W: World>(world: &mut W, nodes: &[usize]) -> Tracker {
        let mut want: Vec<Vec<u8>> = nodes.iter().map(|&n| world.roster_id(n)).collect();
        want.sort();
        let mut tracker = Tracker {
            want,
            index: nodes.iter().enumerate().map(|(i, &n)| (n, i)).collect(),
            good: vec![None; nodes.len()],
        };
        for &n in nodes {
            world.changed(n);
            tracker.read(world, n);
        }
        tracker
    }

    /// After `node` ran: re-reads its view if it is listed and may have changed. Returns
    /// whether it was re-read.
    fn look<W: World>(&mut self, world: &mut W, node: usize) -> bool {
        if !self.index.contains_key(&node) || !world.changed(node) {
            return false;
        }
        self.read(world, node);
        true
    }

    fn read<W: World>(&mut self, world: &W, node: usize) {
        let want = &self.want;
        self.good[self.index[&node]] = world
            .view(node)
            .filter(|v| &v.roster == want)
            .map(|v| (v.epoch, v.authenticator));
    }

    /// Every listed member has the wanted roster, at one epoch with one authenticator.
    fn converged(&self) -> bool {
        let Some(Some(first)) = self.good.first() else {
            return false;
        };
        self.good.iter().all(|g| g.as_ref() == Some(first))
    }
}
