//! The epoch timeline's drawing: one lane per member, coloured epoch segments with their
//! numbers, down bars, partition bands, symbols for marks, and a legend panel on the right.
//! Owns the drawing only; the lanes come from `lanes.rs`.

use plotters::coord::CoordTranslate;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::axis::{self, FONT, LABEL_SIZE, TICK_SIZE, TITLE_SIZE};
use super::lanes::{Band, Lane, LaneMarkKind};
use super::{Area, DrawError};

/// At most this many lanes are drawn; the title says so when there are more members.
pub const MAX_LANES: usize = 50;

/// Width of the plot, and of the legend panel on its right, in pixels.
const WIDTH: u32 = 900;
const LEGEND_WIDTH: u32 = 170;

/// Pixels per lane once the lanes no longer fit the minimum height.
const LANE_PX: u32 = 22;

/// Height of a segment as a fraction of the lane.
const SEGMENT: f64 = 0.36;

/// Partition bands' colour.
const BAND: RGBColor = RGBColor(255, 190, 110);

/// Down bars' colour.
const DOWN: RGBColor = RGBColor(150, 150, 150);

/// The timeline's size for `members` lanes: 900 wide, at least 500 high, growing with lanes.
pub fn size(members: usize) -> (u32, u32) {
    let shown = u32::try_from(members.min(MAX_LANES)).unwrap_or(50);
    (WIDTH, (150 + LANE_PX * shown).max(500))
}

/// Everything a symbol can stand for, in legend order.
#[derive(Clone, Copy, PartialEq)]
enum Symbol {
    Join,
    Crash,
    Restart,
    Remove,
    Leave,
    ForkKept,
    ForkLost,
}

impl Symbol {
    const ALL: [Symbol; 7] = [
        Symbol::Join,
        Symbol::Crash,
        Symbol::Restart,
        Symbol::Remove,
        Symbol::Leave,
        Symbol::ForkKept,
        Symbol::ForkLost,
    ];

    fn of(kind: LaneMarkKind) -> Symbol {
        match kind {
            LaneMarkKind::Join => Symbol::Join,
            LaneMarkKind::Crash => Symbol::Crash,
            LaneMarkKind::Restart => Symbol::Restart,
            LaneMarkKind::Remove => Symbol::Remove,
            LaneMarkKind::Leave => Symbol::Leave,
            LaneMarkKind::ForkResolved { survived: true } => Symbol::ForkKept,
            LaneMarkKind::ForkResolved { survived: false } => Symbol::ForkLost,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Symbol::Join => "join requested",
            Symbol::Crash => "crash",
            Symbol::Restart => "restart",
            Symbol::Remove => "removal proposed",
            Symbol::Leave => "leave requested",
            Symbol::ForkKept => "fork resolved (kept)",
            Symbol::ForkLost => "fork resolved (lost)",
        }
    }
}

/// Draws `symbol` of radius `r` pixels at `at` on `area`.
fn draw_symbol<CT: CoordTranslate>(
    area: &DrawingArea<SVGBackend, CT>,
    at: CT::From,
    symbol: Symbol,
    r: i32,
) -> Result<(), DrawError> {
    let blue = RGBColor(0, 114, 178);
    let red = RGBColor(200, 30, 30);
    let green = RGBColor(0, 140, 100);
    let purple = RGBColor(150, 60, 160);
    let orange = RGBColor(213, 94, 0);
    let diamond = vec![(0, -r - 1), (r + 1, 0), (0, r + 1), (-r - 1, 0)];
    match symbol {
        Symbol::Join => area.draw(&(EmptyElement::at(at) + Circle::new((0, 0), r, blue.filled()))),
        Symbol::Crash => area.draw(&Cross::new(at, r, red.stroke_width(2))),
        Symbol::Restart => area.draw(&TriangleMarker::new(at, r + 1, green.filled())),
        Symbol::Remove => {
            area.draw(&(EmptyElement::at(at) + Rectangle::new([(-r, -r), (r, r)], purple.filled())))
        }
        Symbol::Leave => area.draw(
            &(EmptyElement::at(at) + Rectangle::new([(-r, -r), (r, r)], BLACK.stroke_width(2))),
        ),
        Symbol::ForkKept => {
            area.draw(&(EmptyElement::at(at) + Polygon::new(diamond, orange.filled())))
        }
        Symbol::ForkLost => {
            let mut outline = diamond;
            outline.push((0, -r - 1));
            area.draw(&(EmptyElement::at(at) + PathElement::new(outline, orange.stroke_width(2))))
        }
    }
}

/// Draws the timeline of `lanes` (the first [`MAX_LANES`]) with partition `bands`, over a run
/// of `end_ms`, on `root`.
pub fn draw(
    root: &Area,
    title: &str,
    lanes: &[Lane],
    bands: &[Band],
    end_ms: u64,
) -> Result<(), DrawError> {
    let shown = &lanes[..lanes.len().min(MAX_LANES)];
    let caption = if lanes.len() > MAX_LANES {
        format!("{title} (first {MAX_LANES} of {} members)", lanes.len())
    } else {
        title.to_owned()
    };
    let body = root.titled(&caption, (FONT, TITLE_SIZE))?;
    let (plot, panel) = body.split_horizontally(WIDTH - LEGEND_WIDTH);

    let n = shown.len();
    // A mark reported after the run's end still gets room.
    let last_mark = shown.iter().flat_map(|l| &l.marks).map(|m| m.at_ms).max();
    let end_s = end_ms.max(last_mark.unwrap_or(0)).max(1) as f64 / 1000.0;
    let y_of = |i: usize| (n - 1 - i) as f64;
    let mut chart = ChartBuilder::on(&plot)
        .margin(10)
        .x_label_area_size(45)
        .y_label_area_size(62)
        .build_cartesian_2d(0.0..end_s, -0.5..(n.max(1) as f64 - 0.5))?;
    let lane_name = |v: &f64| {
        let r = v.round();
        if (v - r).abs() > 1e-6 || r < 0.0 || r >= n as f64 {
            return String::new();
        }
        // `r` is a whole number in 0..n here.
        let lane = n - 1 - r as usize;
        format!("m{}", shown[lane].member)
    };
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_desc("time (s)")
        .y_desc("member")
        .axis_desc_style((FONT, LABEL_SIZE))
        .label_style((FONT, TICK_SIZE.min(15)))
        .x_label_formatter(&|v| axis::tick(*v))
        .y_labels(n.max(1))
        .y_label_formatter(&lane_name)
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;

    let area = chart.plotting_area();
    let (y_lo, y_hi) = (-0.5, n.max(1) as f64 - 0.5);
    for band in bands {
        let (s, e) = (band.start_ms as f64 / 1000.0, band.end_ms as f64 / 1000.0);
        area.draw(&Rectangle::new(
            [(s, y_lo), (e, y_hi)],
            BAND.mix(0.35).filled(),
        ))?;
    }

    // Pixel sizes, to decide what fits.
    let px = |x: f64, y: f64| chart.backend_coord(&(x, y));
    let lane_px = (px(0.0, 0.0).1 - px(0.0, 1.0).1).abs();
    let r = (lane_px / 4).clamp(3, 6);
    let font_px = (lane_px * 7 / 10).clamp(10, 15);
    let text =
        TextStyle::from((FONT, font_px).into_font()).pos(Pos::new(HPos::Center, VPos::Center));

    for (i, lane) in shown.iter().enumerate() {
        let y = y_of(i);
        area.draw(&PathElement::new(
            vec![(0.0, y), (end_s, y)],
            RGBColor(225, 225, 225),
        ))?;
        for &(s, e) in &lane.down {
            let (s, e) = (s as f64 / 1000.0, e as f64 / 1000.0);
            area.draw(&Rectangle::new(
                [(s, y - 0.07), (e, y + 0.07)],
                DOWN.filled(),
            ))?;
        }
        for seg in &lane.segments {
            let (s, e) = (seg.start_ms as f64 / 1000.0, seg.end_ms as f64 / 1000.0);
            let corners = [(s, y - SEGMENT), (e, y + SEGMENT)];
            area.draw(&Rectangle::new(
                corners,
                axis::epoch_fill(seg.epoch).filled(),
            ))?;
            area.draw(&Rectangle::new(
                corners,
                RGBColor(110, 110, 110).stroke_width(1),
            ))?;
            let label = seg.epoch.to_string();
            let width = px(e, y).0 - px(s, y).0;
            // A digit is about half the font size wide (the SVG font size is font_px / 1.24).
            let needed = i32::try_from(label.len()).unwrap_or(i32::MAX / 8) * font_px / 2 + 4;
            if width >= needed && lane_px >= 12 {
                area.draw(&Text::new(label, ((s + e) / 2.0, y), text.clone()))?;
            }
        }
        for mark in &lane.marks {
            let at = (mark.at_ms as f64 / 1000.0, y);
            draw_symbol(area, at, Symbol::of(mark.kind), r)?;
        }
    }
    if shown.is_empty() {
        axis::note(&area.strip_coord_spec(), "no data (no members)")?;
    }
    legend(&panel, shown, !bands.is_empty())
}

/// The legend panel: epoch segments, down bars, partitions, then the symbols that occur.
fn legend(panel: &Area, shown: &[Lane], partitions: bool) -> Result<(), DrawError> {
    let text =
        TextStyle::from((FONT, TICK_SIZE).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    let mut y = 40;
    let row = 22;
    let (x0, tx) = (8, 36);
    panel.draw(&Rectangle::new(
        [(x0, y - 7), (x0 + 10, y + 7)],
        axis::epoch_fill(0).filled(),
    ))?;
    panel.draw(&Rectangle::new(
        [(x0 + 10, y - 7), (x0 + 20, y + 7)],
        axis::epoch_fill(1).filled(),
    ))?;
    panel.draw(&Text::new("epoch (number)", (tx, y), text.clone()))?;
    y += row;
    let down = shown.iter().any(|l| !l.down.is_empty());
    if down {
        panel.draw(&Rectangle::new(
            [(x0, y - 2), (x0 + 20, y + 2)],
            DOWN.filled(),
        ))?;
        panel.draw(&Text::new("down", (tx, y), text.clone()))?;
        y += row;
    }
    if partitions {
        panel.draw(&Rectangle::new(
            [(x0, y - 8), (x0 + 20, y + 8)],
            BAND.mix(0.35).filled(),
        ))?;
        panel.draw(&Text::new("partition", (tx, y), text.clone()))?;
        y += row;
    }
    for symbol in Symbol::ALL {
        let used = shown
            .iter()
            .any(|l| l.marks.iter().any(|m| Symbol::of(m.kind) == symbol));
        if used {
            draw_symbol(panel, (x0 + 10, y), symbol, 5)?;
            panel.draw(&Text::new(symbol.label(), (tx, y), text.clone()))?;
            y += row;
        }
    }
    Ok(())
}
