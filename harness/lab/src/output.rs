//! The results directory of a scenario run: `metrics.json`, the scenario's own text, the
//! plots, and (on request) the raw observations. Owns file names and writing; computes
//! nothing itself (metrics and plots do).

use std::path::{Path, PathBuf};

use crate::metrics::{self, Replay, Report, RunError, RunMetrics, Summary};
use crate::observe::{Backend, Observations};
use crate::plot::{self, Series};
use crate::scenario::Loaded;

/// Timelines are drawn for at most this many seeds (the first ones).
const TIMELINES: usize = 5;
/// CDF plots draw one line per seed up to this many seeds, plus all seeds pooled.
const CDF_LINES: usize = 5;

/// Errors writing results.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// A file or directory could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A plot could not be drawn.
    #[error(transparent)]
    Plot(#[from] plot::PlotError),
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), OutputError> {
    std::fs::write(path, bytes).map_err(|source| OutputError::Io {
        path: path.to_owned(),
        source,
    })
}

/// Creates `dir` (and its parents).
pub fn create_dir(dir: &Path) -> Result<(), OutputError> {
    std::fs::create_dir_all(dir).map_err(|source| OutputError::Io {
        path: dir.to_owned(),
        source,
    })
}

/// The report of a scenario's runs (`errors`: the runs that could not be completed).
pub fn report(
    loaded: &Loaded,
    backend: Backend,
    runs: &[Observations],
    replay: Vec<Replay>,
    errors: Vec<RunError>,
) -> Report {
    let metrics: Vec<RunMetrics> = runs.iter().map(metrics::compute).collect();
    let mut summary = Summary::of(&metrics);
    summary.runs += errors.len();
    Report {
        scenario: loaded.scenario.name.clone(),
        backend,
        steward: loaded.stack.steward_config.backend.clone(),
        consensus: loaded.stack.consensus_config.backend.clone(),
        members: loaded.scenario.members.count,
        summary,
        runs: metrics,
        replay,
        errors,
    }
}

/// Writes a results directory: `metrics.json`, `scenario.toml`, `decision_latency_cdf.svg`,
/// `bytes_per_member.svg`, `epoch_timeline-seed-<seed>.svg` (first seeds), and with
/// `keep_observations` one `observations-seed-<seed>.json` per run.
pub fn write_results(
    dir: &Path,
    loaded: &Loaded,
    report: &Report,
    runs: &[Observations],
    keep_observations: bool,
) -> Result<(), OutputError> {
    create_dir(dir)?;
    let json = serde_json::to_vec_pretty(report).unwrap_or_default();
    write(&dir.join("metrics.json"), &json)?;
    write(&dir.join("scenario.toml"), loaded.source.as_bytes())?;
    let title = &loaded.scenario.name;
    let backend = match report.backend {
        Backend::Simulator => "simulator",
        Backend::Lab => "lab",
    };

    let latencies: Vec<(String, Vec<f64>)> = runs
        .iter()
        .map(|o| (format!("seed {}", o.seed), metrics::decision_latencies(o)))
        .collect();
    let pooled: Vec<f64> = latencies
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .collect();
    let mut series: Vec<(&str, &[f64])> = vec![("all seeds", &pooled)];
    if runs.len() > 1 && runs.len() <= CDF_LINES {
        series.extend(latencies.iter().map(|(l, v)| (l.as_str(), v.as_slice())));
    }
    plot::latency_cdf(
        &dir.join("decision_latency_cdf.svg"),
        &format!("{title}: decision latency ({backend})"),
        &series,
    )?;

    let labels: Vec<String> = runs.iter().map(|o| format!("seed {}", o.seed)).collect();
    let traffic: Vec<Series> = runs
        .iter()
        .zip(&labels)
        .take(CDF_LINES)
        .map(|(o, label)| Series {
            label,
            points: metrics::bytes_per_member_over_time(o),
        })
        .collect();
    plot::bytes_over_time(
        &dir.join("bytes_per_member.svg"),
        &format!("{title}: bytes sent per member ({backend})"),
        unit_label(runs),
        &traffic,
    )?;

    for o in runs.iter().take(TIMELINES) {
        plot::epoch_timeline(
            &dir.join(format!("epoch_timeline-seed-{}.svg", o.seed)),
            &format!("{title}: epochs per member, seed {} ({backend})", o.seed),
            o,
        )?;
    }
    if keep_observations {
        for o in runs {
            let json = serde_json::to_vec(o).unwrap_or_default();
            write(
                &dir.join(format!("observations-seed-{}.json", o.seed)),
                &json,
            )?;
        }
    }
    Ok(())
}

fn unit_label(runs: &[Observations]) -> &'static str {
    match runs.first().map(|o| o.traffic_unit) {
        Some(crate::observe::TrafficUnit::IpPackets) => "IP bytes sent per member (cumulative)",
        _ => "envelope bytes published per member (cumulative)",
    }
}

/// Writes the overlays comparing two scenarios' runs into `dir`.
pub fn write_comparison(
    dir: &Path,
    a: (&str, &[Observations]),
    b: (&str, &[Observations]),
) -> Result<(), OutputError> {
    create_dir(dir)?;
    let pooled = |runs: &[Observations]| -> Vec<f64> {
        runs.iter().flat_map(metrics::decision_latencies).collect()
    };
    let (la, lb) = (pooled(a.1), pooled(b.1));
    plot::latency_cdf(
        &dir.join("decision_latency_cdf.svg"),
        &format!("decision latency: {} vs {}", a.0, b.0),
        &[(a.0, &la), (b.0, &lb)],
    )?;
    let first = |runs: &[Observations]| {
        runs.first()
            .map(metrics::bytes_per_member_over_time)
            .unwrap_or_default()
    };
    plot::bytes_over_time(
        &dir.join("bytes_per_member.svg"),
        &format!("bytes sent per member (first seed): {} vs {}", a.0, b.0),
        unit_label(a.1),
        &[
            Series {
                label: a.0,
                points: first(a.1),
            },
            Series {
                label: b.0,
                points: first(b.1),
            },
        ],
    )?;
    Ok(())
}

/// A side-by-side table of two reports (Markdown).
pub fn comparison_table(a: &Report, b: &Report) -> String {
    let fmt = |v: Option<f64>| v.map_or_else(|| "–".to_owned(), |v| format!("{v}"));
    let rows: Vec<(&str, String, String)> = vec![
        (
            "backend",
            format!("{:?}", a.backend),
            format!("{:?}", b.backend),
        ),
        (
            "steward / consensus",
            format!("{} / {}", a.steward, a.consensus),
            format!("{} / {}", b.steward, b.consensus),
        ),
        ("members", a.members.to_string(), b.members.to_string()),
        (
            "runs converged",
            format!("{}/{}", a.summary.converged, a.summary.runs),
            format!("{}/{}", b.summary.converged, b.summary.runs),
        ),
        (
            "messages sent / lost",
            format!("{} / {}", a.summary.sent, a.summary.lost),
            format!("{} / {}", b.summary.sent, b.summary.lost),
        ),
        (
            "decision latency p50 (ms, mean over runs)",
            fmt(a.summary.decision_latency_p50_ms.mean),
            fmt(b.summary.decision_latency_p50_ms.mean),
        ),
        (
            "decision latency p99 (ms)",
            fmt(a.summary.decision_latency_p99_ms.mean),
            fmt(b.summary.decision_latency_p99_ms.mean),
        ),
        (
            "commit latency p50 (ms)",
            fmt(a.summary.commit_latency_p50_ms.mean),
            fmt(b.summary.commit_latency_p50_ms.mean),
        ),
        (
            "delivery latency p50 (ms)",
            fmt(a.summary.delivery_latency_p50_ms.mean),
            fmt(b.summary.delivery_latency_p50_ms.mean),
        ),
        (
            "time to form (ms)",
            fmt(a.summary.formed_at_ms.mean),
            fmt(b.summary.formed_at_ms.mean),
        ),
        (
            "time to convergence (ms)",
            fmt(a.summary.time_to_convergence_ms.mean),
            fmt(b.summary.time_to_convergence_ms.mean),
        ),
        (
            "epochs",
            fmt(a.summary.commits.mean),
            fmt(b.summary.commits.mean),
        ),
        (
            "elections",
            fmt(a.summary.elections.mean),
            fmt(b.summary.elections.mean),
        ),
        (
            "forks resolved",
            fmt(a.summary.forks_resolved.mean),
            fmt(b.summary.forks_resolved.mean),
        ),
        (
            "bytes per member",
            fmt(a.summary.bytes_per_member.mean),
            fmt(b.summary.bytes_per_member.mean),
        ),
        (
            "bytes per member per decision",
            fmt(a.summary.bytes_per_member_per_decision.mean),
            fmt(b.summary.bytes_per_member_per_decision.mean),
        ),
        (
            "messages per member per decision",
            fmt(a.summary.messages_per_member_per_decision.mean),
            fmt(b.summary.messages_per_member_per_decision.mean),
        ),
    ];
    let mut out = format!("| | {} | {} |\n|---|---|---|\n", a.scenario, b.scenario);
    for (k, x, y) in rows {
        out.push_str(&format!("| {k} | {x} | {y} |\n"));
    }
    out
}
