//! # The lab on real processes
//!
//! Runs a scenario on real `demls chat` processes, one per member, each in a network
//! namespace of its own, over the real Logos transport (libp2p, gossipsub) and SQLite
//! storage. The members' packets cross an emulated network in this process ([`net`]: TUN
//! devices and a switch with latency, jitter, loss and partitions, since the kernel may lack
//! `tc netem`); crashes are SIGKILLs and restarts start the same command on the same storage.
//! The run follows the same [`crate::plan`] as the simulator and produces the same
//! [`Observations`], timed in wall milliseconds from its start.
//!
//! Needs root (namespaces, TUN devices), the `ip` command and `/dev/net/tun`: [`available`]
//! says what is missing. Malicious behaviours are simulator-only ([`LabError::Unsupported`]).
//!
//! Layout: [`net`] (namespaces, devices, switch, link model), `member.rs` (one process),
//! `driver.rs` (lines, events, commands), `run.rs` (the schedule), `steps.rs` (what each
//! step does).

mod driver;
mod error;
mod member;
pub mod net;
mod run;
mod steps;

use std::path::PathBuf;

pub use error::LabError;
pub use net::SwitchStats;
pub use run::{LabRun, run_detailed};

use crate::observe::Observations;
use crate::progress::Progress;
use crate::scenario::Scenario;

/// Where the lab finds `demls` and keeps its files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabOptions {
    /// The `demls` binary.
    pub demls_bin: PathBuf,
    /// Where each member's directory (`m<i>/`: key, config, database, stderr log) goes.
    /// Existing member directories there are replaced.
    pub work_dir: PathBuf,
    /// Keep the member directories after the run (for their logs and databases).
    pub keep_work_dir: bool,
}

/// Checks that this machine can run the lab: root, the `ip` command, network namespace
/// creation (a probe namespace is made and removed) and `/dev/net/tun`. Starts nothing else.
pub fn available() -> Result<(), LabError> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(LabError::Unavailable(
            "not root: network namespaces and TUN devices need root".into(),
        ));
    }
    match std::process::Command::new("ip").arg("-V").output() {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            return Err(LabError::Unavailable(format!(
                "`ip -V` failed ({}): {}",
                o.status,
                String::from_utf8_lossy(&o.stderr).trim()
            )));
        }
        Err(e) => {
            return Err(LabError::Unavailable(format!(
                "no `ip` command (iproute2): {e}"
            )));
        }
    }
    if let Err(e) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")
    {
        return Err(LabError::Unavailable(format!(
            "cannot open /dev/net/tun: {e}"
        )));
    }
    let probe = format!("{}{}-probe", net::PREFIX, std::process::id());
    let _ = net::ip(&["netns", "del", &probe]);
    net::ip(&["netns", "add", &probe])
        .map_err(|e| LabError::Unavailable(format!("cannot create a network namespace: {e}")))?;
    net::ip(&["netns", "del", &probe])
        .map_err(|e| LabError::Unavailable(format!("cannot remove a network namespace: {e}")))?;
    Ok(())
}

/// Runs `scenario` with `seed` on real processes and returns what it observed. Everything it
/// creates (processes, namespaces, devices, threads) is gone when it returns.
pub fn run(
    scenario: &Scenario,
    seed: u64,
    options: &LabOptions,
    progress: &mut dyn Progress,
) -> Result<Observations, LabError> {
    run_detailed(scenario, seed, options, progress).map(|r| r.observations)
}
