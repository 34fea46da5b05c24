//! CPU metering of engine calls, and optionally charging it to virtual time.
//!
//! Off by default ([`CpuMode::Off`]): virtual time only moves with latencies and timers, and a
//! run replays bit for bit.
//!
//! - [`CpuMode::Measure`] reads the process's CPU clock (`CLOCK_PROCESS_CPUTIME_ID`)
//!   around every engine call — the process, not the calling thread, because OpenMLS encrypts
//!   an UpdatePath's path secrets on rayon's worker threads (a sparse-tree commit's thousands of
//!   HPKE seals would not show in the calling thread's clock); the simulator itself runs on one
//!   thread, so nothing else is counted — deliveries, timer ticks and commands — and records it per node
//!   ([`Sim::cpu_us`], [`Sim::cpu_calls`], [`Sim::cpu_of_event`]). Virtual time is untouched,
//!   so the run itself stays deterministic; only the recorded numbers vary.
//! - [`CpuMode::Charge`] also charges each call to the node's own *busy clock*: a node does
//!   one thing at a time, so a delivery or tick that falls due while it is still busy waits
//!   until it is free, and what a call publishes and reports leaves when the call ends (its
//!   start plus its CPU time). The busy clock counts microseconds and the event queue
//!   milliseconds: calls within one millisecond run back to back on the busy clock, and a
//!   call's output leaves in the millisecond its busy clock ends in. End-to-end virtual times then
//!   include every node's processing, queueing behind its own earlier work included. Measured
//!   CPU time differs from run to run, so a charged run does **not** replay bit for bit:
//!   never use it in tests. Nodes are charged as if each had a core of its own; the host
//!   running the simulation may be slower or faster than the devices it stands for.
//!
//! Work done outside engines (the simulator's own bookkeeping, the light-voter pool) is not
//! charged.

use std::ops::Range;

use demls::Timestamp;

use crate::node::NodeId;
use crate::sim::Sim;

/// Whether engine calls are metered, and whether their CPU time moves virtual time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CpuMode {
    /// Nothing is measured (the default).
    #[default]
    Off,
    /// Every engine call's CPU time (the process's clock, see above) is recorded; virtual time is unaffected.
    Measure,
    /// Recorded, and charged to the node's busy clock (see the module docs). Not
    /// deterministic.
    Charge,
}

/// One metered engine call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallCost {
    /// Virtual time the call started at (in [`CpuMode::Charge`], after waiting for the node to
    /// be free).
    pub at: Timestamp,
    /// Thread CPU time it took, in microseconds.
    pub cpu_us: u64,
    /// The indices in [`Sim::events`] of the events it reported.
    pub events: Range<usize>,
}

/// A node's CPU account.
#[derive(Clone, Debug, Default)]
pub(crate) struct NodeCpu {
    /// CPU time of every metered call, in microseconds.
    total_us: u64,
    /// In [`CpuMode::Charge`]: virtual time (µs) until which the node is busy.
    busy_until_us: u64,
    calls: Vec<CallCost>,
}

/// The CPU time of the whole process (every thread, rayon's workers included), in microseconds.
pub(crate) fn process_cpu_us() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant the platform
    // defines. On failure `ts` keeps zeros, which only makes a measurement read 0.
    unsafe {
        libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts);
    }
    ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1_000
}

impl Sim {
    /// Switches CPU metering (see [`CpuMode`]). Switching to [`CpuMode::Charge`] starts every
    /// node's busy clock at the current time.
    pub fn set_cpu_mode(&mut self, mode: CpuMode) {
        if mode == CpuMode::Charge && self.cpu_mode != CpuMode::Charge {
            let now_us = self.now.0 * 1_000;
            for node in &mut self.nodes {
                node.cpu.busy_until_us = now_us;
            }
        }
        self.cpu_mode = mode;
    }

    /// The current CPU metering mode.
    pub fn cpu_mode(&self) -> CpuMode {
        self.cpu_mode
    }

    /// Thread CPU time `node`'s engine calls took while metering was on, in microseconds.
    pub fn cpu_us(&self, node: NodeId) -> u64 {
        self.node(node).cpu.total_us
    }

    /// Every metered engine call of `node`, oldest first.
    pub fn cpu_calls(&self, node: NodeId) -> &[CallCost] {
        &self.node(node).cpu.calls
    }

    /// CPU time (µs) of the metered call that reported `node`'s event number `index` (an index
    /// into [`Sim::events`]).
    pub fn cpu_of_event(&self, node: NodeId, index: usize) -> Option<u64> {
        let calls = &self.node(node).cpu.calls;
        let i = calls.partition_point(|c| c.events.end <= index);
        calls
            .get(i)
            .filter(|c| c.events.contains(&index))
            .map(|c| c.cpu_us)
    }

    /// In [`CpuMode::Charge`], the time `node` becomes free if it is busy now.
    pub(crate) fn busy_until(&self, node: NodeId) -> Option<Timestamp> {
        if self.cpu_mode != CpuMode::Charge {
            return None;
        }
        // The queue has millisecond resolution, the busy clock microseconds: a node takes
        // several short calls within one millisecond back to back, and waits only once its
        // busy clock has passed into a later millisecond.
        let free_ms = self.nodes.get(node.0)?.cpu.busy_until_us / 1_000;
        (free_ms > self.now.0).then_some(Timestamp(free_ms))
    }

    /// Starts metering an engine call (`None` when metering is off).
    pub(crate) fn meter_start(&self) -> Option<u64> {
        (self.cpu_mode != CpuMode::Off).then(process_cpu_us)
    }

    /// Ends metering an engine call of `node` that reported `events` events; in
    /// [`CpuMode::Charge`], sets the time its output leaves.
    pub(crate) fn meter_end(&mut self, node: NodeId, start: Option<u64>, events: usize) {
        let Some(start) = start else {
            return;
        };
        let cpu_us = process_cpu_us().saturating_sub(start);
        let now_us = self.now.0 * 1_000;
        let charge = self.cpu_mode == CpuMode::Charge;
        let Some(n) = self.nodes.get_mut(node.0) else {
            return;
        };
        let first = n.log.len();
        n.cpu.total_us += cpu_us;
        let begin_us = if charge {
            n.cpu.busy_until_us.max(now_us)
        } else {
            now_us
        };
        n.cpu.calls.push(CallCost {
            at: Timestamp(begin_us / 1_000),
            cpu_us,
            events: first..first + events,
        });
        if charge {
            n.cpu.busy_until_us = begin_us + cpu_us;
            self.emit_at = Some(Timestamp(n.cpu.busy_until_us / 1_000));
        }
    }

    /// The time the output of the call being carried out leaves: when the call ended in
    /// [`CpuMode::Charge`], else now.
    pub(crate) fn emit_time(&self) -> Timestamp {
        self.emit_at.unwrap_or(self.now).max(self.now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thread_clock_moves_with_work() {
        let start = process_cpu_us();
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        assert!(process_cpu_us() >= start);
    }
}
