//! The empirical CDF of decision latencies: the step function's points, the choice of a log or
//! linear latency axis, and the drawing of one line per series with a legend.

use std::ops::Range;

use plotters::coord::combinators::BindKeyPoints;
use plotters::coord::ranged1d::{AsRangedCoord, Ranged, ValueFormatter};
use plotters::prelude::*;

use super::axis::{self, FONT, LABEL_SIZE, TICK_SIZE, TITLE_SIZE};
use super::{Area, DrawError};

/// The CDF plot's size in pixels.
pub const SIZE: (u32, u32) = (900, 500);

/// A latency axis switches to log scale when the largest latency is this many times the
/// smallest (and the smallest is above zero).
const LOG_RATIO: f64 = 50.0;

/// The empirical CDF of `samples`: for each distinct finite value `x` in ascending order, the
/// fraction of samples `<= x`. The last point has fraction 1. Non-finite samples are ignored.
pub fn cdf_points(samples: &[f64]) -> Vec<(f64, f64)> {
    let mut sorted: Vec<f64> = samples.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len() as f64;
    let mut points: Vec<(f64, f64)> = Vec::new();
    for (i, &x) in sorted.iter().enumerate() {
        let fraction = (i + 1) as f64 / n;
        match points.last_mut() {
            Some(last) if last.0 == x => last.1 = fraction,
            _ => points.push((x, fraction)),
        }
    }
    points
}

/// The step line of a CDF: from fraction 0 at the first value, up at every value.
fn steps(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut line = Vec::with_capacity(points.len() * 2);
    let mut below = 0.0;
    for &(x, fraction) in points {
        line.push((x, below));
        line.push((x, fraction));
        below = fraction;
    }
    line
}

/// How the latency axis is scaled.
#[derive(Clone, Debug, PartialEq)]
enum Scale {
    /// Linear over the range.
    Linear(Range<f64>),
    /// Logarithmic over the range (both ends above zero).
    Log(Range<f64>),
}

/// The latency axis for all `points` of all series.
fn scale(all: &[Vec<(f64, f64)>]) -> Scale {
    let xs = all.iter().flatten().map(|p| p.0);
    let (lo, hi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
        (lo.min(x), hi.max(x))
    });
    if !lo.is_finite() {
        return Scale::Linear(0.0..1.0);
    }
    if lo > 0.0 && hi / lo >= LOG_RATIO {
        return Scale::Log(lo / 1.25..hi * 1.25);
    }
    let start = lo.min(0.0);
    let end = if hi > start { hi * 1.05 } else { start + 1.0 };
    Scale::Linear(start..end.max(start + f64::EPSILON * 4.0))
}

/// The values `m * 10^k` inside `range` for each mantissa `m` in `mantissas`, ascending.
fn decade_points(range: &Range<f64>, mantissas: &[u32]) -> Vec<f64> {
    if !(range.start > 0.0 && range.end > range.start) {
        return Vec::new();
    }
    let first = range.start.log10().floor() as i32;
    let last = range.end.log10().ceil() as i32;
    let mut points = Vec::new();
    for k in first..=last {
        for &m in mantissas {
            let v = f64::from(m) * 10f64.powi(k);
            if range.contains(&v) {
                points.push(v);
            }
        }
    }
    points
}

/// Labelled ticks of a log axis: 1, 2 and 5 times powers of ten, only the powers of ten when
/// those would crowd the axis, every integer mantissa when the range is too short for two.
fn log_ticks(range: &Range<f64>) -> Vec<f64> {
    let ticks = decade_points(range, &[1, 2, 5]);
    if ticks.len() > 10 {
        decade_points(range, &[1])
    } else if ticks.len() < 3 {
        decade_points(range, &[1, 2, 3, 4, 5, 6, 7, 8, 9])
    } else {
        ticks
    }
}

/// Draws the CDF plot of `series` on `root`.
pub fn draw(root: &Area, title: &str, series: &[(&str, &[f64])]) -> Result<(), DrawError> {
    let points: Vec<Vec<(f64, f64)>> = series.iter().map(|(_, s)| cdf_points(s)).collect();
    match scale(&points) {
        Scale::Linear(range) => draw_on(root, title, range, "latency (ms)", series, &points),
        Scale::Log(range) => draw_on(
            root,
            title,
            range
                .clone()
                .log_scale()
                .with_key_points(log_ticks(&range))
                .with_light_points(decade_points(&range, &[1, 2, 3, 4, 5, 6, 7, 8, 9])),
            "latency (ms, log scale)",
            series,
            &points,
        ),
    }
}

fn draw_on<X>(
    root: &Area,
    title: &str,
    x_range: X,
    x_desc: &str,
    series: &[(&str, &[f64])],
    points: &[Vec<(f64, f64)>],
) -> Result<(), DrawError>
where
    X: AsRangedCoord<Value = f64>,
    X::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FONT, TITLE_SIZE))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(x_range, 0.0..1.02)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc("fraction of decisions")
        .axis_desc_style((FONT, LABEL_SIZE))
        .label_style((FONT, TICK_SIZE))
        .x_label_formatter(&|v| axis::tick(*v))
        .y_label_formatter(&|v| axis::tick(*v))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;

    for (i, ((label, _), pts)) in series.iter().zip(points).enumerate() {
        let colour = axis::line_colour(i);
        let style = colour.stroke_width(2);
        let legend = if pts.is_empty() {
            format!("{label} (no data)")
        } else {
            format!(
                "{label} (n={})",
                series[i].1.iter().filter(|v| v.is_finite()).count()
            )
        };
        chart
            .draw_series(LineSeries::new(steps(pts), style))?
            .label(legend)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
    }
    if !series.is_empty() {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .label_font((FONT, TICK_SIZE))
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(160, 160, 160))
            .draw()?;
    }
    if points.iter().all(Vec::is_empty) {
        axis::note(&chart.plotting_area().strip_coord_spec(), "no data")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cdf_of_one_to_four_reaches_one_at_four() {
        let points = cdf_points(&[3.0, 1.0, 4.0, 2.0]);
        assert_eq!(
            points,
            vec![(1.0, 0.25), (2.0, 0.5), (3.0, 0.75), (4.0, 1.0)]
        );
    }

    #[test]
    fn equal_samples_are_one_step_and_non_finite_ones_are_ignored() {
        let points = cdf_points(&[5.0, f64::NAN, 5.0, 1.0, f64::INFINITY]);
        assert_eq!(points, vec![(1.0, 1.0 / 3.0), (5.0, 1.0)]);
        assert!(cdf_points(&[]).is_empty());
    }

    #[test]
    fn wide_ranges_get_a_log_axis_and_narrow_ones_a_linear_axis() {
        assert!(matches!(
            scale(&[cdf_points(&[1.0, 1000.0])]),
            Scale::Log(_)
        ));
        assert!(matches!(
            scale(&[cdf_points(&[100.0, 900.0])]),
            Scale::Linear(_)
        ));
        assert!(matches!(
            scale(&[cdf_points(&[0.0, 1000.0])]),
            Scale::Linear(_)
        ));
        assert_eq!(scale(&[]), Scale::Linear(0.0..1.0));
    }

    #[test]
    fn log_ticks_are_one_two_five_per_decade_and_thin_out_over_many_decades() {
        assert_eq!(
            log_ticks(&(30.0..3000.0)),
            vec![50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0]
        );
        assert_eq!(
            log_ticks(&(0.5..2_000_000.0)),
            vec![1.0, 10.0, 100.0, 1000.0, 10_000.0, 100_000.0, 1_000_000.0]
        );
        assert_eq!(log_ticks(&(2.5..4.5)), vec![3.0, 4.0]);
    }
}
