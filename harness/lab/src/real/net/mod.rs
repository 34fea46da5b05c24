//! The emulated network: one network namespace per member, each with `lo` and a TUN device
//! holding the member's address, and a [`Switch`] in the lab process that carries the
//! packets between the devices through the link model. This module owns creating and
//! removing the namespaces and devices; [`Net`] removes everything it made when dropped
//! (also on error and panic).
//!
//! # Why a switch in user space and not `tc netem`
//!
//! The usual way to emulate latency and loss is a `netem` qdisc on veth pairs. The kernels the
//! lab was built on lack it (`CONFIG_NET_SCH_NETEM` unset: `tc qdisc add … netem` answers
//! "Specified qdisc kind is unknown"), while TUN devices and namespaces are always there. So
//! every packet leaves a member's namespace through its TUN device into this process, where
//! the switch applies what netem's `delay D J` + `loss P` would: a latency drawn uniformly in
//! `D ± J` per packet (so packets may reorder, as with netem's jitter), an independent loss
//! draw per packet, per-link overrides, and partitions (drops between sets). Where netem
//! exists it could do the delay and loss instead; the lab does not use it, since it could not
//! be tested here, and the switch also counts every member's packets, which the traffic
//! metrics need.

pub mod model;
pub mod switch;
pub mod tun;

use std::process::Command;

pub use model::Model;
pub use switch::{Switch, SwitchStats, address};
use tun::Tun;

use super::LabError;

/// The prefix of every namespace and device name the lab makes.
pub const PREFIX: &str = "dl";

/// Runs `ip args…`, returning its stdout, or a `Setup` error with its stderr.
pub fn ip(args: &[&str]) -> Result<String, LabError> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| LabError::Setup {
            what: format!("ip {}", args.join(" ")),
            detail: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(LabError::Setup {
            what: format!("ip {}", args.join(" ")),
            detail: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The namespaces present (`ip netns list`), names only.
pub fn namespaces() -> Result<Vec<String>, LabError> {
    Ok(ip(&["netns", "list"])?
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect())
}

/// Removes namespaces `dl<pid>-…` left by lab processes that no longer run.
pub fn remove_stale() -> Result<(), LabError> {
    for ns in namespaces()? {
        let Some(rest) = ns.strip_prefix(PREFIX) else {
            continue;
        };
        let Some((pid, _)) = rest.split_once('-') else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            tracing::info!(namespace = %ns, "removing a namespace left by an earlier lab run");
            ip(&["netns", "del", &ns])?;
        }
    }
    Ok(())
}

/// The namespace of member `i` of this process.
pub fn namespace(i: usize) -> String {
    format!("{PREFIX}{}-{i}", std::process::id())
}

/// The emulated network of one run.
#[derive(Debug)]
pub struct Net {
    namespaces: Vec<String>,
    switch: Option<Switch>,
}

impl Net {
    /// Builds the namespaces and devices of `members` members and starts the switch on `model`.
    pub fn build(members: usize, model: Model) -> Result<Net, LabError> {
        remove_stale()?;
        let mut net = Net {
            namespaces: Vec::new(),
            switch: None,
        };
        let mut tuns = Vec::with_capacity(members);
        for i in 0..members {
            let ns = namespace(i);
            // A namespace of this very pid can only be ours from an earlier run in-process
            // that failed to clean up; start afresh.
            if namespaces()?.contains(&ns) {
                ip(&["netns", "del", &ns])?;
            }
            ip(&["netns", "add", &ns])?;
            net.namespaces.push(ns.clone());
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
            let dev = format!("{PREFIX}{}t{i}", std::process::id());
            let tun = Tun::create(&dev).map_err(|e| LabError::Setup {
                what: format!("creating TUN device {dev}"),
                detail: e.to_string(),
            })?;
            ip(&["link", "set", "dev", &dev, "netns", &ns])?;
            let addr = format!("{}/16", address(i));
            ip(&["-n", &ns, "addr", "add", &addr, "dev", &dev])?;
            ip(&["-n", &ns, "link", "set", "dev", &dev, "up"])?;
            tuns.push(tun);
        }
        net.switch = Some(Switch::start(tuns, model).map_err(|e| LabError::Setup {
            what: "starting the switch threads".into(),
            detail: e.to_string(),
        })?);
        Ok(net)
    }

    /// The switch.
    pub fn switch(&self) -> Option<&Switch> {
        self.switch.as_ref()
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        // Threads first (they hold the devices), then the devices, then the namespaces.
        self.switch.take();
        for ns in self.namespaces.drain(..) {
            if let Err(e) = ip(&["netns", "del", &ns]) {
                tracing::warn!(namespace = %ns, error = %e, "could not remove a namespace");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::UdpSocket;
    use std::os::fd::AsRawFd;
    use std::sync::atomic::Ordering;
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    use super::*;
    use crate::scenario::Network;

    /// Moves the calling thread into namespace `ns`.
    fn enter(ns: &str) {
        let f = std::fs::File::open(format!("/var/run/netns/{ns}")).unwrap();
        // SAFETY: a valid namespace descriptor; only this thread changes namespace.
        assert_eq!(unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) }, 0);
    }

    #[test]
    fn packets_cross_the_switch_after_their_latency_and_never_across_a_partition() {
        if let Err(e) = crate::real::available() {
            tracing::warn!("skipped: {e}");
            return;
        }
        let network = Network {
            latency_ms: 40.0,
            jitter_ms: 0.0,
            loss: 0.0,
            links: Vec::new(),
        };
        let net = Net::build(2, Model::new(&network, 2, 1)).unwrap();
        let names = [namespace(0), namespace(1)];
        assert!(names.iter().all(|n| namespaces().unwrap().contains(n)));
        let (ready_tx, ready_rx) = mpsc::channel();
        let ns1 = names[1].clone();
        let receiver = std::thread::spawn(move || {
            enter(&ns1);
            let s = UdpSocket::bind((address(1), 5000)).unwrap();
            s.set_read_timeout(Some(Duration::from_millis(800)))
                .unwrap();
            ready_tx.send(()).unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 64];
            while let Ok((n, _)) = s.recv_from(&mut buf) {
                got.push((Instant::now(), buf[..n].to_vec()));
            }
            got
        });
        ready_rx.recv().unwrap();
        let ns0 = names[0].clone();
        let switch = net.switch().unwrap();
        let (go_tx, go_rx) = mpsc::channel::<&'static [u8]>();
        let (sent_tx, sent_rx) = mpsc::channel();
        let sender = std::thread::spawn(move || {
            enter(&ns0);
            let s = UdpSocket::bind((address(0), 0)).unwrap();
            for payload in go_rx {
                sent_tx.send(Instant::now()).unwrap();
                s.send_to(payload, (address(1), 5000)).unwrap();
            }
        });
        go_tx.send(b"one").unwrap();
        let first_sent = sent_rx.recv().unwrap();
        std::thread::sleep(Duration::from_millis(200));
        switch.with_model(|m| m.partition(&[vec![0]]));
        go_tx.send(b"two").unwrap();
        sent_rx.recv().unwrap();
        std::thread::sleep(Duration::from_millis(200));
        switch.with_model(|m| m.heal());
        go_tx.send(b"three").unwrap();
        sent_rx.recv().unwrap();
        drop(go_tx);
        sender.join().unwrap();
        let got = receiver.join().unwrap();
        let payloads: Vec<&[u8]> = got.iter().map(|(_, p)| p.as_slice()).collect();
        assert_eq!(payloads, [b"one".as_slice(), b"three".as_slice()]);
        let latency = got[0].0 - first_sent;
        assert!(latency >= Duration::from_millis(40), "{latency:?}");
        let stats = switch.stats();
        assert_eq!(stats.partitioned, 1, "{stats:?}");
        assert_eq!(switch.counters().packets_in[1].load(Ordering::Relaxed), 2);
        drop(net);
        assert!(names.iter().all(|n| !namespaces().unwrap().contains(n)));
    }
}
