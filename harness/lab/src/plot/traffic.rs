//! Bytes per member over time: one line per series, seconds on x, bytes on y in the binary
//! unit (B, KiB, MiB, GiB) that suits the largest value. Owns the drawing only; the caller
//! computes the points.

use plotters::prelude::*;

use super::axis::{self, FONT, LABEL_SIZE, TICK_SIZE, TITLE_SIZE};
use super::{Area, DrawError, Series};

/// The traffic plot's size in pixels.
pub const SIZE: (u32, u32) = (900, 500);

/// Finite points of a series.
fn finite(points: &[(f64, f64)]) -> impl Iterator<Item = (f64, f64)> + '_ {
    points
        .iter()
        .copied()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
}

/// Draws the traffic plot of `series` on `root`.
pub fn draw(root: &Area, title: &str, y_label: &str, series: &[Series]) -> Result<(), DrawError> {
    let (mut x_max, mut y_max) = (0.0f64, 0.0f64);
    let mut x_min = 0.0f64;
    let mut any = false;
    for s in series {
        for (x, y) in finite(&s.points) {
            any = true;
            x_min = x_min.min(x);
            x_max = x_max.max(x);
            y_max = y_max.max(y);
        }
    }
    let unit = axis::byte_unit(y_max);
    let y_top = if y_max > 0.0 {
        y_max / unit.bytes * 1.08
    } else {
        1.0
    };
    let x_end = if x_max > x_min { x_max } else { x_min + 1.0 };

    let mut chart = ChartBuilder::on(root)
        .caption(title, (FONT, TITLE_SIZE))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(x_min..x_end, 0.0..y_top)?;
    chart
        .configure_mesh()
        .x_desc("time (s)")
        .y_desc(format!("{y_label} ({})", unit.name))
        .axis_desc_style((FONT, LABEL_SIZE))
        .label_style((FONT, TICK_SIZE))
        .x_label_formatter(&|v| axis::tick(*v))
        .y_label_formatter(&|v| axis::tick(*v))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;

    for (i, s) in series.iter().enumerate() {
        let style = axis::line_colour(i).stroke_width(2);
        let mut pts: Vec<(f64, f64)> = finite(&s.points)
            .map(|(x, y)| (x, y / unit.bytes))
            .collect();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        let label = if pts.is_empty() {
            format!("{} (no data)", s.label)
        } else {
            s.label.to_owned()
        };
        chart
            .draw_series(LineSeries::new(pts, style))?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
    }
    if !series.is_empty() {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .label_font((FONT, TICK_SIZE))
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(160, 160, 160))
            .draw()?;
    }
    if !any {
        axis::note(&chart.plotting_area().strip_coord_spec(), "no data")?;
    }
    Ok(())
}
