//! The switch: reads every IPv4 packet a member's TUN device emits, finds the member that owns
//! the destination address, asks the [`Model`] for the packet's fate and, for a delivered one,
//! writes it into the destination's TUN device once its latency elapsed. It owns its threads
//! (one reader per device, one delivery thread with a time-ordered queue) and the traffic
//! counters; it creates no devices or namespaces.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::model::{Fate, Model};
use super::tun::Tun;

/// The address of member `index`: `10.213.<index / 250>.<index % 250 + 1>` (a /16 on-link).
pub fn address(index: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 213, (index / 250) as u8, (index % 250 + 1) as u8)
}

/// The member that owns `addr`, if it is a lab address.
pub fn member_of(addr: [u8; 4], members: usize) -> Option<usize> {
    if addr[0] != 10 || addr[1] != 213 || addr[3] == 0 || addr[3] > 250 {
        return None;
    }
    let i = addr[2] as usize * 250 + (addr[3] as usize - 1);
    (i < members).then_some(i)
}

/// Per-member and switch-wide packet counters.
#[derive(Debug, Default)]
pub struct Counters {
    /// Bytes each member sent (every packet read from its device).
    pub bytes_out: Vec<AtomicU64>,
    /// Bytes delivered to each member.
    pub bytes_in: Vec<AtomicU64>,
    /// Packets each member sent.
    pub packets_out: Vec<AtomicU64>,
    /// Packets delivered to each member.
    pub packets_in: Vec<AtomicU64>,
    /// Packets dropped by loss.
    pub lost: AtomicU64,
    /// Packets dropped by a partition.
    pub partitioned: AtomicU64,
    /// Packets to addresses of no member, or not IPv4.
    pub unroutable: AtomicU64,
    /// Packets the destination device refused.
    pub write_errors: AtomicU64,
}

fn zeros(n: usize) -> Vec<AtomicU64> {
    (0..n).map(|_| AtomicU64::new(0)).collect()
}

/// A snapshot of the switch-wide counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SwitchStats {
    /// Packets delivered.
    pub delivered: u64,
    /// Packets dropped at random (loss).
    pub lost: u64,
    /// Packets dropped by partitions.
    pub partitioned: u64,
    /// Packets for no member (or not IPv4).
    pub unroutable: u64,
}

type Queued = Reverse<(Instant, u64, usize, Vec<u8>)>;

struct Shared {
    tuns: Vec<Tun>,
    model: Mutex<Model>,
    queue: Mutex<BinaryHeap<Queued>>,
    wake: Condvar,
    stop: AtomicBool,
    seq: AtomicU64,
    counters: Counters,
}

/// The running switch. Dropping it stops and joins its threads, then closes the devices.
pub struct Switch {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Switch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Switch")
            .field("devices", &self.shared.tuns.len())
            .finish()
    }
}

impl Switch {
    /// Starts switching between `tuns` (member `i` owns `tuns[i]`).
    pub fn start(tuns: Vec<Tun>, model: Model) -> std::io::Result<Switch> {
        let n = tuns.len();
        let shared = Arc::new(Shared {
            tuns,
            model: Mutex::new(model),
            queue: Mutex::new(BinaryHeap::new()),
            wake: Condvar::new(),
            stop: AtomicBool::new(false),
            seq: AtomicU64::new(0),
            counters: Counters {
                bytes_out: zeros(n),
                bytes_in: zeros(n),
                packets_out: zeros(n),
                packets_in: zeros(n),
                ..Counters::default()
            },
        });
        let mut switch = Switch {
            shared: shared.clone(),
            threads: Vec::new(),
        };
        for i in 0..n {
            let s = shared.clone();
            switch.threads.push(
                std::thread::Builder::new()
                    .name(format!("lab-tun-{i}"))
                    .spawn(move || read_loop(&s, i))?,
            );
        }
        let s = shared;
        switch.threads.push(
            std::thread::Builder::new()
                .name("lab-deliver".into())
                .spawn(move || deliver_loop(&s))?,
        );
        Ok(switch)
    }

    /// Changes the model (partition, loss, latency) for the packets that follow.
    pub fn with_model<T>(&self, f: impl FnOnce(&mut Model) -> T) -> T {
        f(&mut self
            .shared
            .model
            .lock()
            .unwrap_or_else(PoisonError::into_inner))
    }

    /// The counters.
    pub fn counters(&self) -> &Counters {
        &self.shared.counters
    }

    /// The switch-wide counters now.
    pub fn stats(&self) -> SwitchStats {
        let c = &self.shared.counters;
        SwitchStats {
            delivered: c.packets_in.iter().map(|a| a.load(Ordering::Relaxed)).sum(),
            lost: c.lost.load(Ordering::Relaxed),
            partitioned: c.partitioned.load(Ordering::Relaxed),
            unroutable: c.unroutable.load(Ordering::Relaxed),
        }
    }
}

impl Drop for Switch {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.wake.notify_all();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn read_loop(s: &Shared, from: usize) {
    let n = s.tuns.len();
    let mut buf = vec![0u8; 65_536];
    while !s.stop.load(Ordering::Relaxed) {
        let len = match s.tuns[from].recv(&mut buf, 100) {
            Ok(Some(len)) => len,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(member = from, error = %e, "reading a TUN device failed; its reader stops");
                return;
            }
        };
        let c = &s.counters;
        c.bytes_out[from].fetch_add(len as u64, Ordering::Relaxed);
        c.packets_out[from].fetch_add(1, Ordering::Relaxed);
        let packet = &buf[..len];
        let to = (len >= 20 && packet[0] >> 4 == 4)
            .then(|| member_of([packet[16], packet[17], packet[18], packet[19]], n))
            .flatten();
        let Some(to) = to else {
            c.unroutable.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let fate = s
            .model
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .fate(from, to);
        match fate {
            Fate::Lost => {
                c.lost.fetch_add(1, Ordering::Relaxed);
            }
            Fate::Partitioned => {
                c.partitioned.fetch_add(1, Ordering::Relaxed);
            }
            Fate::Deliver(us) => {
                let due = Instant::now() + Duration::from_micros(us);
                let seq = s.seq.fetch_add(1, Ordering::Relaxed);
                s.queue
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(Reverse((due, seq, to, packet.to_vec())));
                s.wake.notify_one();
            }
        }
    }
}

fn deliver_loop(s: &Shared) {
    let mut queue = s.queue.lock().unwrap_or_else(PoisonError::into_inner);
    while !s.stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        let wait = match queue.peek() {
            Some(Reverse((due, ..))) if *due <= now => Duration::ZERO,
            Some(Reverse((due, ..))) => *due - now,
            None => Duration::from_millis(100),
        };
        if !wait.is_zero() {
            queue = s
                .wake
                .wait_timeout(queue, wait)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            continue;
        }
        let Some(Reverse((_, _, to, packet))) = queue.pop() else {
            continue;
        };
        drop(queue);
        let c = &s.counters;
        match s.tuns[to].send(&packet) {
            Ok(()) => {
                c.bytes_in[to].fetch_add(packet.len() as u64, Ordering::Relaxed);
                c.packets_in[to].fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                c.write_errors.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(member = to, error = %e, "a TUN device refused a packet");
            }
        }
        queue = s.queue.lock().unwrap_or_else(PoisonError::into_inner);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_map_back_to_their_members() {
        for i in [0, 1, 249, 250, 251, 999] {
            assert_eq!(member_of(address(i).octets(), 1000), Some(i));
        }
        assert_eq!(member_of(address(5).octets(), 5), None);
        assert_eq!(member_of([10, 213, 0, 0], 5), None);
        assert_eq!(member_of([10, 214, 0, 1], 5), None);
    }
}
