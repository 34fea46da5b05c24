//! Progress reporting: a runner says how far it is; the command shows a bar on stderr. This
//! module owns the [`Progress`] contract and the terminal bar; runners never print.

use std::io::{IsTerminal, Write};
use std::time::Instant;

/// Receives a run's progress. Implementations must be cheap: runners call `update` often.
pub trait Progress {
    /// `done` of `total` units (virtual or wall milliseconds) are behind; `status` says what
    /// is happening, in a few words.
    fn update(&mut self, done: u64, total: u64, status: &str);
    /// The run is over.
    fn finish(&mut self, status: &str);
}

/// No progress reporting.
#[derive(Debug, Default)]
pub struct Silent;

impl Progress for Silent {
    fn update(&mut self, _: u64, _: u64, _: &str) {}
    fn finish(&mut self, _: &str) {}
}

/// A bar on stderr, redrawn at most every 100 ms: `[#####     ] 42% seed 3 · 12.0/30.0 s · forming`.
/// When stderr is not a terminal it prints one line per 10 % instead.
#[derive(Debug)]
pub struct Bar {
    label: String,
    last_draw: Option<Instant>,
    last_decile: Option<u64>,
    tty: bool,
}

impl Bar {
    /// A bar whose lines start with `label`.
    pub fn new(label: impl Into<String>) -> Bar {
        Bar {
            label: label.into(),
            last_draw: None,
            last_decile: None,
            tty: std::io::stderr().is_terminal(),
        }
    }

    /// A new label (e.g. the next seed); the bar starts over.
    pub fn relabel(&mut self, label: impl Into<String>) {
        self.label = label.into();
        self.last_draw = None;
        self.last_decile = None;
    }
}

fn line(label: &str, done: u64, total: u64, status: &str) -> String {
    const WIDTH: usize = 30;
    let frac = if total == 0 {
        1.0
    } else {
        (done as f64 / total as f64).clamp(0.0, 1.0)
    };
    let filled = (frac * WIDTH as f64).round() as usize;
    format!(
        "{label} [{}{}] {:>3.0}% {:.1}/{:.1} s {status}",
        "#".repeat(filled),
        " ".repeat(WIDTH - filled),
        frac * 100.0,
        done as f64 / 1000.0,
        total as f64 / 1000.0,
    )
}

impl Progress for Bar {
    fn update(&mut self, done: u64, total: u64, status: &str) {
        let mut err = std::io::stderr().lock();
        if self.tty {
            if self
                .last_draw
                .is_some_and(|t| t.elapsed().as_millis() < 100)
            {
                return;
            }
            self.last_draw = Some(Instant::now());
            let _ = write!(err, "\r\x1b[2K{}", line(&self.label, done, total, status));
        } else {
            let decile = (done.saturating_mul(10)).checked_div(total).unwrap_or(10);
            if self.last_decile == Some(decile) {
                return;
            }
            self.last_decile = Some(decile);
            let _ = writeln!(err, "{}", line(&self.label, done, total, status));
        }
        let _ = err.flush();
    }

    fn finish(&mut self, status: &str) {
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = write!(err, "\r\x1b[2K");
        }
        let _ = writeln!(err, "{} {status}", self.label);
        let _ = err.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_line_shows_fraction_and_times() {
        let l = line("seed 3", 15_000, 30_000, "forming");
        assert!(l.starts_with("seed 3 ["), "{l}");
        assert!(l.contains(" 50% 15.0/30.0 s forming"), "{l}");
        assert!(line("x", 5, 0, "").contains("100%"));
    }
}
