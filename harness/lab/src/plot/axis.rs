//! Helpers the plots share: the colour palette, fonts, human units for bytes and milliseconds,
//! and the "no data" note. Owns presentation constants only; draws nothing by itself except the
//! note.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{Area, DrawError};

/// The font family of every text (the SVG viewer picks the face).
pub const FONT: &str = "sans-serif";

/// Caption size (plotters divides it by 1.24 for the SVG `font-size`: about 19 px).
pub const TITLE_SIZE: u32 = 24;

/// Axis label size (about 14.5 px in the SVG).
pub const LABEL_SIZE: u32 = 18;

/// Tick label and legend size (about 13 px in the SVG).
pub const TICK_SIZE: u32 = 16;

/// Line colours for series, colour-blind safe (Okabe and Ito's palette), then cycled.
const LINE_COLOURS: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(230, 159, 0),
    RGBColor(0, 0, 0),
    RGBColor(120, 120, 120),
];

/// The colour of the `i`th series.
pub fn line_colour(i: usize) -> RGBColor {
    LINE_COLOURS[i % LINE_COLOURS.len()]
}

/// Light fills for epoch segments: neighbouring epochs always differ.
const EPOCH_FILLS: [RGBColor; 6] = [
    RGBColor(166, 206, 227),
    RGBColor(178, 223, 138),
    RGBColor(253, 191, 111),
    RGBColor(202, 178, 214),
    RGBColor(251, 154, 153),
    RGBColor(255, 255, 153),
];

/// The fill of epoch `epoch`'s segments.
pub fn epoch_fill(epoch: u64) -> RGBColor {
    // The remainder is below the palette's length, so it fits a usize.
    EPOCH_FILLS[(epoch % EPOCH_FILLS.len() as u64) as usize]
}

/// A byte unit for an axis: its name and how many bytes it holds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ByteUnit {
    /// "B", "KiB", "MiB" or "GiB".
    pub name: &'static str,
    /// Bytes per unit.
    pub bytes: f64,
}

/// The largest binary unit in which `max` bytes is at least 1 (bytes below 1 KiB).
pub fn byte_unit(max: f64) -> ByteUnit {
    const UNITS: [(&str, f64); 4] = [
        ("GiB", 1024.0 * 1024.0 * 1024.0),
        ("MiB", 1024.0 * 1024.0),
        ("KiB", 1024.0),
        ("B", 1.0),
    ];
    UNITS
        .iter()
        .find(|(_, bytes)| max >= *bytes)
        .map(|&(name, bytes)| ByteUnit { name, bytes })
        .unwrap_or(ByteUnit {
            name: "B",
            bytes: 1.0,
        })
}

/// A tick value with as few digits as show it: `1500` → "1500", `2.5` → "2.5", `0.125` →
/// "0.125".
pub fn tick(v: f64) -> String {
    let a = v.abs();
    let s = if a == 0.0 || a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.1}")
    } else if a >= 0.01 {
        format!("{v:.3}")
    } else {
        format!("{v:.1e}")
    };
    if s.contains('.') && !s.contains('e') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

/// Writes `text` (e.g. "no data") centred in `area`, in grey.
pub fn note(area: &Area, text: &str) -> Result<(), DrawError> {
    let (w, h) = area.dim_in_pixel();
    let style = TextStyle::from((FONT, LABEL_SIZE + 3).into_font())
        .color(&RGBColor(110, 110, 110))
        .pos(Pos::new(HPos::Center, VPos::Center));
    let x = i32::try_from(w / 2).unwrap_or(0);
    let y = i32::try_from(h / 2).unwrap_or(0);
    area.draw(&Text::new(text.to_owned(), (x, y), style))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_units_switch_at_powers_of_1024() {
        assert_eq!(byte_unit(0.0).name, "B");
        assert_eq!(byte_unit(1023.0).name, "B");
        assert_eq!(byte_unit(1024.0).name, "KiB");
        assert_eq!(byte_unit(5.0 * 1024.0 * 1024.0).name, "MiB");
        assert_eq!(byte_unit(3.0 * 1024.0 * 1024.0 * 1024.0).name, "GiB");
    }

    #[test]
    fn ticks_drop_trailing_zeros() {
        assert_eq!(tick(1500.0), "1500");
        assert_eq!(tick(2.5), "2.5");
        assert_eq!(tick(2.0), "2");
        assert_eq!(tick(0.125), "0.125");
        assert_eq!(tick(0.0), "0");
    }
}
