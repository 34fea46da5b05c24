//! Side-by-side benchmark of demls against the de-mls 4.1.0 reference implementation.
//!
//! The runner builds the reference driver (`reference/`, a separate crate: its OpenMLS stack
//! cannot share one dependency resolution with demls's), then for each group size starts one
//! worker process per implementation and configuration — the reference driver, and this
//! binary in worker mode for each demls configuration — and drives them alternately: every
//! worker's W1 (grow) in turn, then every worker's W2 (remove), so slow drifts of a shared
//! machine hit both sides alike. Each worker is single-threaded and measures its own process
//! CPU time. Records are printed as JSON lines, then a summary table. See README.md.

mod bus;
mod demls_driver;
mod measure;
mod workload;

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use measure::Record;

const USAGE: &str = "\
usage: vs-reference [--sizes 8,32,64] [--reps R] [--configs single,multi-big,multi-small]
                    [--workloads grow,remove] [--reference-bin PATH] [--no-reference]

  --sizes          group sizes N (default 8,32,64)
  --reps           repetitions per size, interleaved (default 1)
  --configs        demls configurations: single, or multi-<model> for any ConsensusModel
                   (default single,multi-big,multi-small, plus multi-auto when it exists)
  --workloads      grow, remove or both (default both; remove needs grow)
  --reference-bin  use this reference driver binary instead of building reference/
  --no-reference   run demls only";

/// The reference implementation's name in the records.
const REFERENCE: &str = "de-mls-4.1.0";

struct Options {
    sizes: Vec<usize>,
    reps: u32,
    configs: Vec<String>,
    remove: bool,
    reference: bool,
    reference_bin: Option<PathBuf>,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("worker") {
        let config = args.get(1).cloned().unwrap_or_else(|| "single".into());
        workload::serve(|rep| demls_driver::DemlsBench::new(&config, unix_ms(), rep));
        return;
    }
    let options = match parse(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}\n\n{USAGE}");
            std::process::exit(2);
        }
    };
    if cfg!(debug_assertions) {
        eprintln!("warning: this is a debug build; measure with --release");
    }
    let reference_bin = match (&options.reference_bin, options.reference) {
        (Some(path), true) => Some(path.clone()),
        (None, true) => match build_reference() {
            Ok(path) => Some(path),
            Err(e) => {
                eprintln!("building the reference driver failed: {e}");
                std::process::exit(1);
            }
        },
        (_, false) => None,
    };
    let records = run(&options, reference_bin.as_ref());
    println!();
    print!(
        "{}",
        measure::summary_table(&records, REFERENCE, &options.configs)
    );
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        sizes: vec![8, 32, 64],
        reps: 1,
        configs: default_configs(),
        remove: true,
        reference: true,
        reference_bin: None,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().cloned().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--sizes" => {
                options.sizes = value()?
                    .split(',')
                    .map(|s| s.trim().parse().map_err(|_| format!("bad size {s:?}")))
                    .collect::<Result<_, _>>()?;
                if options.sizes.iter().any(|&n| n < 2) {
                    return Err("sizes must be at least 2".into());
                }
            }
            "--reps" => {
                options.reps = value()?.parse().map_err(|_| "bad --reps")?;
                if options.reps == 0 {
                    return Err("--reps must be at least 1".into());
                }
            }
            "--configs" => {
                options.configs = value()?.split(',').map(|s| s.trim().to_string()).collect();
                for c in &options.configs {
                    demls_driver::policy_for(c)?;
                }
            }
            "--workloads" => {
                let v = value()?;
                let list: Vec<&str> = v.split(',').map(str::trim).collect();
                if !list.contains(&"grow") || list.iter().any(|w| *w != "grow" && *w != "remove") {
                    return Err("--workloads takes grow or grow,remove".into());
                }
                options.remove = list.contains(&"remove");
            }
            "--reference-bin" => options.reference_bin = Some(PathBuf::from(value()?)),
            "--no-reference" => options.reference = false,
            "-h" | "--help" => return Err("help".into()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(options)
}

/// `single`, `multi-big`, `multi-small`, and `multi-auto` if this demls has that model.
fn default_configs() -> Vec<String> {
    let mut configs: Vec<String> = ["single", "multi-big", "multi-small"]
        .into_iter()
        .map(String::from)
        .collect();
    if demls_driver::policy_for("multi-auto").is_ok() {
        configs.push("multi-auto".into());
    }
    configs
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Builds `reference/` in release mode and returns its executable.
fn build_reference() -> Result<PathBuf, String> {
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/reference/Cargo.toml");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!("building the reference driver ({manifest})…");
    let output = Command::new(cargo)
        .args(["build", "--release", "--manifest-path", manifest])
        .arg("--message-format=json-render-diagnostics")
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("running cargo: {e}"))?;
    if !output.status.success() {
        return Err(format!("cargo build exited with {}", output.status));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .lines()
        .filter(|l| l.contains("\"reason\":\"compiler-artifact\""))
        .filter(|l| l.contains("de-mls-reference-driver"))
        .find_map(|l| json_string(l, "executable"))
        .map(PathBuf::from)
        .ok_or_else(|| "cargo reported no reference executable".into())
}

/// The string value of `key` in one line of cargo's JSON (paths: only `\\` and `\"` escapes).
fn json_string(line: &str, key: &str) -> Option<String> {
    let start = line.find(&format!("\"{key}\":\""))? + key.len() + 4;
    let mut out = String::new();
    let mut chars = line[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => out.push(chars.next()?),
            c => out.push(c),
        }
    }
    None
}

/// One worker process: an implementation and configuration.
struct Worker {
    label: String,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    alive: bool,
}

impl Worker {
    fn spawn(label: String, mut command: Command) -> Result<Worker, String> {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("starting {label}: {e}"))?;
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().ok_or("no worker stdout")?);
        Ok(Worker {
            label,
            child,
            stdin,
            stdout,
            alive: true,
        })
    }

    /// Sends one command and waits for its record.
    fn ask(&mut self, command: &str) -> Result<Record, String> {
        if !self.alive {
            return Err(format!("{}: skipped (failed earlier)", self.label));
        }
        let result = self.exchange(command);
        if result.is_err() {
            self.alive = false;
        }
        result
    }

    fn exchange(&mut self, command: &str) -> Result<Record, String> {
        let stdin = self.stdin.as_mut().ok_or("worker stdin closed")?;
        writeln!(stdin, "{command}")
            .and_then(|_| stdin.flush())
            .map_err(|e| format!("{}: {e}", self.label))?;
        let mut line = String::new();
        let read = self
            .stdout
            .read_line(&mut line)
            .map_err(|e| format!("{}: {e}", self.label))?;
        if read == 0 {
            return Err(format!("{}: worker exited", self.label));
        }
        if let Some(e) = line.trim().strip_prefix("error: ") {
            return Err(format!("{}: {e}", self.label));
        }
        Record::parse(&line).ok_or_else(|| format!("{}: unreadable answer {line:?}", self.label))
    }

    fn finish(mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

/// For each size and repetition: one worker per implementation and configuration, W1 on each
/// in turn, then W2 on each in turn. Prints every record as it comes.
fn run(options: &Options, reference_bin: Option<&PathBuf>) -> Vec<Record> {
    let exe = std::env::current_exe().expect("the runner's own path");
    let mut records = Vec::new();
    for &n in &options.sizes {
        for rep in 1..=options.reps {
            let mut workers = Vec::new();
            if let Some(bin) = reference_bin {
                let mut command = Command::new(bin);
                command.arg("worker");
                workers.push(Worker::spawn(REFERENCE.to_string(), command));
            }
            for config in &options.configs {
                let mut command = Command::new(&exe);
                command.args(["worker", config]);
                workers.push(Worker::spawn(format!("demls {config}"), command));
            }
            let mut workers: Vec<Worker> = workers
                .into_iter()
                .filter_map(|w| w.map_err(|e| eprintln!("{e}")).ok())
                .collect();
            let mut phases = vec![format!("grow {n} {rep}")];
            if options.remove {
                phases.push("remove".into());
            }
            for phase in &phases {
                for worker in &mut workers {
                    eprintln!("[{}] {phase}…", worker.label);
                    match worker.ask(phase) {
                        Ok(record) => {
                            println!("{}", record.to_json());
                            let _ = std::io::stdout().flush();
                            records.push(record);
                        }
                        Err(e) => eprintln!("FAILED {e}"),
                    }
                }
            }
            for worker in workers {
                worker.finish();
            }
        }
    }
    records
}
