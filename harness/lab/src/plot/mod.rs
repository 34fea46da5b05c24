//! SVG plots of a run for a paper draft: the empirical CDF of decision latencies, bytes per
//! member over time, and the epoch timeline of every member. This module owns the public plot
//! API and its errors; it computes plots from data the caller hands it (latencies, traffic
//! points, [`Observations`]) and must not compute metrics or touch the runners.
//!
//! Every plot is rendered into memory first and written in one go, so a failed plot leaves no
//! half-written file; the same input always gives a byte-identical SVG (no timestamps, no
//! random ids). Text is SVG `<text>` (no font library is linked).

mod axis;
mod cdf;
mod lanes;
mod timeline;
mod traffic;

use std::path::{Path, PathBuf};

use plotters::prelude::*;

use crate::observe::Observations;

pub use cdf::cdf_points;
pub use lanes::{Band, EpochSegment, Lane, LaneMark, LaneMarkKind, lanes, partition_bands};

/// Errors writing a plot.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// The SVG could not be written to its file.
    #[error("cannot write plot {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The plotting library refused to draw (for example a degenerate coordinate range).
    #[error("cannot draw plot {path}: {detail}")]
    Draw {
        /// The file the plot was meant for.
        path: PathBuf,
        /// The plotting library's message.
        detail: String,
    },
}

/// One labelled series for overlays (a run, or one side of a comparison).
#[derive(Clone, Debug, PartialEq)]
pub struct Series<'a> {
    /// The legend label.
    pub label: &'a str,
    /// The points, `(x, y)`, in the units the plot function documents.
    pub points: Vec<(f64, f64)>,
}

/// What drawing on the in-memory SVG backend can fail with.
type DrawError = DrawingAreaErrorKind<std::io::Error>;

/// The drawing area every plot draws on.
type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

/// Empirical CDF of decision latencies: one line per series (x: latency in ms, log or linear
/// scale chosen from the data; y: fraction 0..1), legend with labels. Series with no data are
/// drawn as a legend entry "(no data)". `samples` are raw latencies (ms), unsorted.
pub fn latency_cdf(path: &Path, title: &str, series: &[(&str, &[f64])]) -> Result<(), PlotError> {
    render(path, cdf::SIZE, |root| cdf::draw(root, title, series))
}

/// Bytes per member over time: x seconds, y bytes (human units on the axis: B/KiB/MiB), one
/// line per series; `points` are (seconds, bytes per member) already computed by the caller.
pub fn bytes_over_time(
    path: &Path,
    title: &str,
    y_label: &str,
    series: &[Series],
) -> Result<(), PlotError> {
    render(path, traffic::SIZE, |root| {
        traffic::draw(root, title, y_label, series)
    })
}

/// Epoch timeline: one horizontal lane per member (y), time in seconds (x); within a lane a
/// coloured segment per epoch with the epoch number as text when wide enough, gaps while the
/// member is not in the group or is down (a thin grey bar between a crash and its restart),
/// partitions shaded as vertical bands across all lanes, crash / restart / join / remove /
/// leave marks as small symbols on the member's lane, fork resolutions marked. For more than
/// 50 members the first 50 lanes are drawn and the title says "(first 50 of N members)". The
/// lanes are those of [`lanes`]; the bands those of [`partition_bands`].
pub fn epoch_timeline(path: &Path, title: &str, obs: &Observations) -> Result<(), PlotError> {
    let all = lanes(obs);
    let bands = partition_bands(obs);
    let size = timeline::size(all.len());
    render(path, size, |root| {
        timeline::draw(root, title, &all, &bands, obs.end_ms)
    })
}

/// Renders a plot of `size` pixels into memory with `draw`, then writes it to `path`.
fn render(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(&Area) -> Result<(), DrawError>,
) -> Result<(), PlotError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        let drawn = root
            .fill(&WHITE)
            .and_then(|()| draw(&root))
            .and_then(|()| root.present());
        drawn.map_err(|e| PlotError::Draw {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
    }
    std::fs::write(path, svg).map_err(|source| PlotError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    tracing::debug!(path = %path.display(), "plot written");
    Ok(())
}

#[cfg(test)]
mod tests;
