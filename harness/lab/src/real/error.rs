//! The lab's errors: every variant says which member (if any) and what failed.

use std::path::PathBuf;

/// Why the lab could not run or finish a scenario.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LabError {
    /// The machine cannot run the lab (not root, no `ip`, no network namespaces, no TUN).
    #[error("the lab cannot run here: {0}")]
    Unavailable(String),
    /// The scenario asks for something real processes cannot do.
    #[error("not supported on real processes: {0}")]
    Unsupported(String),
    /// Building the emulated network failed.
    #[error("network setup: {what}: {detail}")]
    Setup {
        /// The step (e.g. `ip netns add dl42-0`).
        what: String,
        /// What went wrong.
        detail: String,
    },
    /// A member's process failed.
    #[error("member {member}: {what}{}", tail(stderr_tail))]
    Process {
        /// The member.
        member: usize,
        /// What failed.
        what: String,
        /// The last lines of its stderr log.
        stderr_tail: String,
    },
    /// A file in the work directory could not be written or read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Something did not happen in time.
    #[error("timed out after {after_ms} ms: {what}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long the lab waited, ms.
        after_ms: u64,
    },
}

fn tail(t: &str) -> String {
    if t.is_empty() {
        String::new()
    } else {
        format!("; its stderr ends with:\n{t}")
    }
}
