//! The JSON-lines driver: commands on stdin, results and events on stdout, one line each.
//!
//! Owns the host process's conversation with whoever drives it (a test, the dogfood recorder,
//! a person). Loading is [`crate::loader`]'s, the input syntax [`crate::command`]'s.
//!
//! Output lines (JSON form; `--human` prints the same facts as `< …`, `* …`, `# …` lines):
//! - `{"host":"ready","module":…,"protocol_version":…,"instance":…}` once loaded;
//! - `{"host":"load_failed","error":…}` (exit status 2) when the image is refused;
//! - `{"call":…,"id":…,"result":<value>}` per call (`"structural_failure":true` and a null
//!   result when the image returned NULL);
//! - `{"event":…,"data":<value>}` per module event, from any thread, whole lines only;
//! - `{"host":"error","error":…}` for a line that is not a command;
//! - `{"host":"stopped","drained":…,"unloaded":…}` after `stop`, the end of input, SIGTERM,
//!   SIGINT or SIGHUP (the stop handlers Logos Core's plain host installs), then exit 0.

use std::io::{self, BufRead, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{RecvTimeoutError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::command::{self, Command, CommandError};
use crate::loader::{LoadOptions, Module};

/// How long a stop may take (draining calls and the unload handshake share it), as in Logos
/// Core's plain host.
pub const STOP_DEADLINE: Duration = Duration::from_secs(3);

/// Where output lines go: stdout, whole lines, in JSON or human form.
#[derive(Clone)]
pub struct Output {
    human: bool,
    out: Arc<Mutex<io::Stdout>>,
}

impl Output {
    /// Writes to stdout; `human` selects the human form.
    pub fn stdout(human: bool) -> Self {
        Self {
            human,
            out: Arc::new(Mutex::new(io::stdout())),
        }
    }

    /// Writes one line: `value` in JSON form, or `human` in human form.
    pub fn line(&self, value: &Value, human: impl FnOnce() -> String) {
        let text = if self.human {
            human()
        } else {
            value.to_string()
        };
        let out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = out.lock();
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }
}

/// Set by a stop signal; the input loop checks it between lines.
static STOP_REQUESTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_stop_signal(_: libc::c_int) {
    // Async-signal-safe: an atomic store only.
    STOP_REQUESTED.store(true, Ordering::SeqCst);
}

fn install_stop_handlers() {
    for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
        // SAFETY: installing a handler that only stores to an atomic.
        unsafe { libc::signal(sig, on_stop_signal as *const () as libc::sighandler_t) };
    }
}

/// The input lines, read on their own thread so that a stop signal is noticed while the
/// driver waits for input; `None` at the end of input.
fn input_lines() -> std::sync::mpsc::Receiver<Option<String>> {
    let (tx, rx) = sync_channel(64);
    let spawned = std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || {
            for line in io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                if tx.send(Some(line)).is_err() {
                    return;
                }
            }
            let _ = tx.send(None);
        });
    if spawned.is_err() {
        tracing::error!("cannot read stdin");
    }
    rx
}

fn parse_or_text(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// Loads the module and serves stdin until `stop` or end of input; the exit status.
pub fn run(options: &LoadOptions, human: bool) -> i32 {
    // Before `ready` is printed, so that whoever saw it may signal a stop.
    install_stop_handlers();
    let output = Output::stdout(human);
    let events = output.clone();
    let sink = Box::new(move |event: &str, data: &str| {
        let data = parse_or_text(data);
        let line = json!({"event": event, "data": data});
        events.line(&line, || format!("* {event} {data}"));
    });
    let module = match Module::start(options, sink) {
        Ok(m) => m,
        Err(e) => {
            let line = json!({"host": "load_failed", "error": e.to_string()});
            output.line(&line, || format!("# load failed: {e}"));
            return 2;
        }
    };
    let instance = options
        .persistence
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let version = module.protocol_version().unwrap_or_default();
    let ready = json!({"host": "ready", "module": module.name(),
                       "protocol_version": version, "instance": instance});
    output.line(&ready, || {
        format!(
            "# {} loaded (protocol {version}, instance '{instance}')",
            module.name()
        )
    });

    let lines = input_lines();
    loop {
        if STOP_REQUESTED.load(Ordering::SeqCst) {
            break;
        }
        let line = match lines.recv_timeout(Duration::from_millis(100)) {
            Ok(Some(line)) => line,
            Ok(None) | Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => continue,
        };
        match command::parse(&line) {
            Ok(Command::Stop) => break,
            Ok(Command::Ping) => output.line(&json!({"host": "pong"}), || "# pong".into()),
            Ok(Command::Methods) => {
                let methods = module.methods().map_or(Value::Null, |m| parse_or_text(&m));
                let line = json!({"host": "methods", "result": methods});
                output.line(&line, || format!("# methods {methods}"));
            }
            Ok(Command::Call {
                method,
                args,
                id,
                caller,
            }) => {
                let args_json = Value::Array(args).to_string();
                let caller = caller.map(|c| c.to_string());
                let answer = module.dispatch(&method, &args_json, caller.as_deref());
                let mut line = json!({"call": method});
                if let Some(id) = id {
                    line["id"] = id;
                }
                match &answer {
                    Some(text) => line["result"] = parse_or_text(text),
                    None => {
                        line["result"] = Value::Null;
                        line["structural_failure"] = Value::Bool(true);
                    }
                }
                let result = line["result"].clone();
                output.line(&line, || format!("< {method}: {result}"));
            }
            Err(CommandError::Empty) => {}
            Err(e) => {
                let line = json!({"host": "error", "error": e.to_string()});
                output.line(&line, || format!("# error: {e}"));
            }
        }
    }
    let outcome = module.stop(Instant::now() + STOP_DEADLINE);
    let line = json!({"host": "stopped", "drained": outcome.drained, "unloaded": outcome.unloaded});
    output.line(&line, || {
        format!(
            "# stopped (drained: {}, unloaded: {})",
            outcome.drained, outcome.unloaded
        )
    });
    0
}
