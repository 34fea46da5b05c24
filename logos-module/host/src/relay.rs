//! The relay hub: a Unix-socket broadcast point standing in for the delivery network.
//!
//! Owns the hub's connections and its forwarding rule; the frame format is [`crate::frame`]'s,
//! and what a host does with a forwarded frame is [`crate::delivery`]'s.
//!
//! Every frame a connected host publishes is forwarded to every connected host, the publisher
//! included (as a Waku relay node delivers its own messages to its own subscriptions). A
//! malformed frame, a failed or timed-out write (5 s) drops that one connection, never the hub.

use std::collections::HashMap;
use std::io::{self, BufRead, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::frame::{self, FrameError, Publication};

/// How long a write to one host may block before that host is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// The most hosts one hub serves at once.
const MAX_PEERS: usize = 64;

/// Why the hub could not run.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The socket could not be bound.
    #[error("cannot listen on {path}: {source}")]
    Bind {
        /// The socket path.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

type Peers = Arc<Mutex<HashMap<u64, Arc<Mutex<UnixStream>>>>>;

/// Runs the hub on `socket` until the process ends (or, with `exit_on_stdin_eof`, until stdin
/// closes: how a parent that dies takes its hub with it). Prints one JSON line
/// `{"relay":"listening","socket":…}` on stdout once it accepts connections.
pub fn run(socket: &Path, exit_on_stdin_eof: bool) -> Result<(), RelayError> {
    if socket.exists() {
        // A stale socket from an earlier run; binding over it would fail.
        let _ = std::fs::remove_file(socket);
    }
    let listener = UnixListener::bind(socket).map_err(|source| RelayError::Bind {
        path: socket.to_path_buf(),
        source,
    })?;
    let peers: Peers = Arc::default();
    let next_id = AtomicU64::new(1);
    if exit_on_stdin_eof {
        let path = socket.to_path_buf();
        std::thread::Builder::new()
            .name("relay-stdin".into())
            .spawn(move || {
                let stdin = io::stdin();
                let mut line = String::new();
                while matches!(stdin.lock().read_line(&mut line), Ok(n) if n > 0) {
                    line.clear();
                }
                tracing::info!("stdin closed: relay exits");
                let _ = std::fs::remove_file(&path);
                std::process::exit(0);
            })
            .ok();
    }
    {
        let mut out = io::stdout().lock();
        let line =
            serde_json::json!({"relay": "listening", "socket": socket.display().to_string()});
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
    for conn in listener.incoming() {
        let stream = match conn {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                continue;
            }
        };
        if peers.lock().map(|p| p.len()).unwrap_or(MAX_PEERS) >= MAX_PEERS {
            tracing::warn!("too many hosts: connection refused");
            continue;
        }
        let id = next_id.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = add_peer(id, stream, &peers) {
            tracing::warn!(peer = id, error = %e, "cannot serve a host");
        }
    }
    Ok(())
}

fn add_peer(id: u64, stream: UnixStream, peers: &Peers) -> io::Result<()> {
    stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
    let reader = stream.try_clone()?;
    let writer = Arc::new(Mutex::new(stream));
    if let Ok(mut p) = peers.lock() {
        p.insert(id, writer);
    }
    tracing::info!(peer = id, "host connected");
    let peers = Arc::clone(peers);
    std::thread::Builder::new()
        .name(format!("relay-peer-{id}"))
        .spawn(move || serve_peer(id, reader, &peers))?;
    Ok(())
}

fn serve_peer(id: u64, mut reader: UnixStream, peers: &Peers) {
    loop {
        let body = match frame::read_body(&mut reader) {
            Ok(body) => body,
            Err(FrameError::Closed) => {
                tracing::info!(peer = id, "host disconnected");
                break;
            }
            Err(e) => {
                tracing::warn!(peer = id, error = %e, "dropping the host");
                break;
            }
        };
        let publication = match Publication::decode(&body) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(peer = id, error = %e, "dropping the host");
                break;
            }
        };
        let Ok(frame) = publication.encode() else {
            break;
        };
        broadcast(&frame, peers);
    }
    drop_peer(id, peers);
}

fn broadcast(frame: &[u8], peers: &Peers) {
    let targets: Vec<(u64, Arc<Mutex<UnixStream>>)> = match peers.lock() {
        Ok(p) => p.iter().map(|(id, w)| (*id, Arc::clone(w))).collect(),
        Err(_) => return,
    };
    for (id, writer) in targets {
        let written = writer
            .lock()
            .map_err(|_| FrameError::Malformed("poisoned"))
            .and_then(|mut w| frame::write_frame(&mut *w, frame));
        if let Err(e) = written {
            tracing::warn!(peer = id, error = %e, "write failed: dropping the host");
            drop_peer(id, peers);
        }
    }
}

fn drop_peer(id: u64, peers: &Peers) {
    let removed = peers.lock().ok().and_then(|mut p| p.remove(&id));
    if let Some(writer) = removed
        && let Ok(w) = writer.lock()
    {
        let _ = w.shutdown(std::net::Shutdown::Both);
    }
}
