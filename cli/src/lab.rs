//! The researcher's commands: `simulate`, `simulate --compare`, `lab` and `campaign`. Argument
//! parsing and printing only; running, measuring and plotting live in `demls-lab`.
//!
//! ```text
//! demls simulate <scenario.toml> [--out DIR] [--seeds 1,2,3] [--start MS] [--observations] [--quiet]
//! demls simulate --compare <a.toml> <b.toml> [--out DIR] [--seeds ...] [--quiet]
//! demls lab <scenario.toml> [--out DIR] [--seeds ...] [--keep] [--observations] [--quiet]
//! demls campaign <scenario.toml> --runs N [--first S] [--out DIR] [--sim] [--quiet]
//! ```
//!
//! Results go to `--out` (default `results/<scenario file name>`); stdout gets one JSON line
//! per scenario (a Markdown table for `--compare`); progress and notes go to stderr.

use std::path::{Path, PathBuf};
use std::time::Instant;

use demls_lab::metrics::{Replay, Report, RunError};
use demls_lab::observe::{Backend, Observations};
use demls_lab::output;
use demls_lab::progress::{Bar, Progress, Silent};
use demls_lab::real::{self, LabOptions};
use demls_lab::scenario::{self, Loaded};
use demls_lab::simulate;
use serde_json::json;

/// Usage of the researcher's commands.
pub const USAGE: &str = "\
       demls simulate <scenario.toml> [--out DIR] [--seeds 1,2,3] [--start MS] [--observations] [--quiet]
       demls simulate --compare <a.toml> <b.toml> [--out DIR] [--seeds 1,2,3] [--quiet]
       demls lab <scenario.toml> [--out DIR] [--seeds 1,2,3] [--keep] [--observations] [--quiet]
       demls campaign <scenario.toml> --runs N [--first S] [--out DIR] [--sim] [--quiet]";

/// Parsed options.
#[derive(Debug, Default)]
struct Opts {
    files: Vec<PathBuf>,
    out: Option<PathBuf>,
    seeds: Option<Vec<u64>>,
    count: Option<u64>,
    first: u64,
    start: Option<u64>,
    compare: bool,
    observations: bool,
    keep: bool,
    quiet: bool,
    sim: bool,
}

fn parse(args: &[String]) -> Result<Opts, String> {
    let mut o = Opts {
        first: 1,
        ..Opts::default()
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match a.as_str() {
            "--out" => o.out = Some(PathBuf::from(value("--out")?)),
            "--seeds" => {
                let v = value("--seeds")?;
                o.seeds = Some(
                    v.split(',')
                        .map(|s| s.trim().parse().map_err(|_| format!("not a seed: {s}")))
                        .collect::<Result<_, _>>()?,
                );
            }
            "--runs" => {
                let v = value("--runs")?;
                o.count = Some(v.parse().map_err(|_| format!("not a count: {v}"))?);
            }
            "--first" => {
                let v = value("--first")?;
                o.first = v.parse().map_err(|_| format!("not a seed: {v}"))?;
            }
            "--start" => {
                let v = value("--start")?;
                o.start = Some(v.parse().map_err(|_| format!("not a time in ms: {v}"))?);
            }
            "--compare" => o.compare = true,
            "--observations" => o.observations = true,
            "--keep" => o.keep = true,
            "--quiet" => o.quiet = true,
            "--sim" => o.sim = true,
            flag if flag.starts_with("--") => return Err(format!("unknown option {flag}")),
            file => o.files.push(PathBuf::from(file)),
        }
    }
    Ok(o)
}

fn load(path: &Path) -> Loaded {
    scenario::load(path).unwrap_or_else(|e| super::fail(e))
}

fn out_dir(o: &Opts, path: &Path) -> PathBuf {
    o.out.clone().unwrap_or_else(|| {
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "scenario".into());
        PathBuf::from("results").join(stem)
    })
}

fn seeds(o: &Opts, loaded: &Loaded) -> Vec<u64> {
    o.seeds
        .clone()
        .unwrap_or_else(|| loaded.scenario.seeds.list())
}

fn progress(o: &Opts, label: &str) -> Box<dyn Progress> {
    if o.quiet {
        Box::new(Silent)
    } else {
        Box::new(Bar::new(label))
    }
}

/// The runs of one scenario: what completed, what replays it, and what could not complete.
#[derive(Default)]
struct Runs {
    observations: Vec<Observations>,
    replay: Vec<Replay>,
    errors: Vec<RunError>,
}

impl Runs {
    /// Records a run that could not complete (the other seeds still run).
    fn failed(&mut self, loaded: &Loaded, seed: u64, error: String) {
        eprintln!("demls: {}: seed {seed}: {error}", loaded.scenario.name);
        self.errors.push(RunError { seed, error });
    }

    fn report(self, loaded: &Loaded, backend: Backend) -> (Vec<Observations>, Report) {
        let report = output::report(
            loaded,
            backend,
            &self.observations,
            self.replay,
            self.errors,
        );
        (self.observations, report)
    }
}

/// Runs every seed of `loaded` on the simulator.
fn simulate_all(o: &Opts, loaded: &Loaded, seeds: &[u64]) -> Runs {
    let mut runs = Runs::default();
    for &seed in seeds {
        let mut p = progress(o, &format!("{} · seed {seed}", loaded.scenario.name));
        match simulate::run(loaded, seed, o.start, p.as_mut()) {
            Ok(run) => {
                runs.replay.push(Replay {
                    seed,
                    start_ms: run.start_ms,
                    trace_digest: run.trace_digest,
                });
                runs.observations.push(run.observations);
            }
            Err(e) => runs.failed(loaded, seed, e.to_string()),
        }
    }
    runs
}

fn summary_line(report: &Report, dir: &Path, wall_ms: u128) -> serde_json::Value {
    let s = &report.summary;
    json!({
        "scenario": report.scenario,
        "backend": report.backend,
        "members": report.members,
        "steward": report.steward,
        "consensus": report.consensus,
        "runs": s.runs,
        "converged": s.converged,
        "messages_sent": s.sent,
        "messages_lost": s.lost,
        "decision_latency_p50_ms": s.decision_latency_p50_ms.mean,
        "decision_latency_p99_ms": s.decision_latency_p99_ms.mean,
        "time_to_convergence_ms": s.time_to_convergence_ms.mean,
        "bytes_per_member": s.bytes_per_member.mean,
        "bytes_per_member_per_decision": s.bytes_per_member_per_decision.mean,
        "wall_ms": wall_ms,
        "results": dir.display().to_string(),
    })
}

fn write(dir: &Path, loaded: &Loaded, report: &Report, runs: &[Observations], o: &Opts) {
    output::write_results(dir, loaded, report, runs, o.observations)
        .unwrap_or_else(|e| super::fail(e));
}

/// `demls simulate ...`
pub fn simulate(args: &[String]) {
    let o = parse(args).unwrap_or_else(|e| super::fail(format!("{e}\nusage:\n{USAGE}")));
    if o.compare {
        return compare(&o);
    }
    let [path] = o.files.as_slice() else {
        super::fail(format!("simulate takes one scenario file\nusage:\n{USAGE}"));
    };
    let started = Instant::now();
    let loaded = load(path);
    let seeds = seeds(&o, &loaded);
    let (runs, report) = simulate_all(&o, &loaded, &seeds).report(&loaded, Backend::Simulator);
    let dir = out_dir(&o, path);
    write(&dir, &loaded, &report, &runs, &o);
    super::emit(&summary_line(&report, &dir, started.elapsed().as_millis()));
    exit_on_errors(&report);
}

/// Exit status 1 when a run could not complete (its error is in `metrics.json`).
fn exit_on_errors(report: &Report) {
    if !report.errors.is_empty() {
        std::process::exit(1);
    }
}

fn compare(o: &Opts) {
    let [a, b] = o.files.as_slice() else {
        super::fail(format!(
            "--compare takes two scenario files\nusage:\n{USAGE}"
        ));
    };
    let dir = o
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("results").join("compare"));
    let (la, lb) = (load(a), load(b));
    let side = |loaded: &Loaded, path: &Path| {
        let seeds = seeds(o, loaded);
        let (runs, report) = simulate_all(o, loaded, &seeds).report(loaded, Backend::Simulator);
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        write(&dir.join(&stem), loaded, &report, &runs, o);
        (runs, report)
    };
    let (ra, rep_a) = side(&la, a);
    let (rb, rep_b) = side(&lb, b);
    output::write_comparison(&dir, (&rep_a.scenario, &ra), (&rep_b.scenario, &rb))
        .unwrap_or_else(|e| super::fail(e));
    let table = output::comparison_table(&rep_a, &rep_b);
    let _ = std::fs::write(dir.join("comparison.md"), &table);
    super::emit_line(table.trim_end());
}

fn lab_options(o: &Opts, dir: &Path) -> LabOptions {
    LabOptions {
        demls_bin: std::env::current_exe().unwrap_or_else(|e| super::fail(e)),
        work_dir: dir.join("work"),
        keep_work_dir: o.keep,
    }
}

fn lab_runs(o: &Opts, loaded: &Loaded, seeds: &[u64], dir: &Path) -> Runs {
    if let Err(e) = real::available() {
        super::fail(format!("the lab cannot run here: {e}"));
    }
    let mut runs = Runs::default();
    for &seed in seeds {
        let mut p = progress(o, &format!("{} · lab · seed {seed}", loaded.scenario.name));
        let options = lab_options(o, &dir.join(format!("seed-{seed}")));
        let result = real::run(&loaded.scenario, seed, &options, p.as_mut());
        if !o.keep {
            let _ = std::fs::remove_dir_all(dir.join(format!("seed-{seed}")));
        }
        match result {
            Ok(obs) => runs.observations.push(obs),
            Err(e) => runs.failed(loaded, seed, e.to_string()),
        }
    }
    runs
}

/// `demls lab ...`
pub fn lab(args: &[String]) {
    let o = parse(args).unwrap_or_else(|e| super::fail(format!("{e}\nusage:\n{USAGE}")));
    let [path] = o.files.as_slice() else {
        super::fail(format!("lab takes one scenario file\nusage:\n{USAGE}"));
    };
    let started = Instant::now();
    let loaded = load(path);
    let seeds = seeds(&o, &loaded);
    let dir = out_dir(&o, path);
    let (runs, report) = lab_runs(&o, &loaded, &seeds, &dir).report(&loaded, Backend::Lab);
    write(&dir, &loaded, &report, &runs, &o);
    super::emit(&summary_line(&report, &dir, started.elapsed().as_millis()));
    exit_on_errors(&report);
}

/// `demls campaign ...`: N seeded runs (lab by default), one JSON line; exit status 1 unless
/// every run converged with nothing lost.
pub fn campaign(args: &[String]) {
    let o = parse(args).unwrap_or_else(|e| super::fail(format!("{e}\nusage:\n{USAGE}")));
    let [path] = o.files.as_slice() else {
        super::fail(format!("campaign takes one scenario file\nusage:\n{USAGE}"));
    };
    let Some(count) = o.count else {
        super::fail(format!("campaign needs --runs N\nusage:\n{USAGE}"));
    };
    let started = Instant::now();
    let loaded = load(path);
    let seeds: Vec<u64> = (0..count).map(|i| o.first + i).collect();
    let dir = out_dir(&o, path);
    let (runs, report) = if o.sim {
        simulate_all(&o, &loaded, &seeds).report(&loaded, Backend::Simulator)
    } else {
        lab_runs(&o, &loaded, &seeds, &dir).report(&loaded, Backend::Lab)
    };
    write(&dir, &loaded, &report, &runs, &o);
    let mut line = summary_line(&report, &dir, started.elapsed().as_millis());
    line["campaign"] = json!(report.scenario);
    let failed: Vec<&demls_lab::metrics::RunMetrics> = report
        .runs
        .iter()
        .filter(|r| !r.convergence.converged || r.delivery.lost > 0)
        .collect();
    line["failed_runs"] = json!(failed.len() + report.errors.len());
    // The first five, to keep the line short (metrics.json has every run).
    let failures: Vec<String> = report
        .errors
        .iter()
        .map(|e| format!("seed {}: {}", e.seed, e.error))
        .chain(failed.iter().map(|r| {
            format!(
                "seed {}: {}",
                r.seed,
                r.convergence
                    .detail
                    .clone()
                    .unwrap_or_else(|| format!("{} lost", r.delivery.lost))
            )
        }))
        .take(5)
        .collect();
    line["failures"] = json!(failures);
    super::emit(&line);
    if !report.summary.all_good() {
        std::process::exit(1);
    }
}
