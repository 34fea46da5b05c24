//! The run's trace: one canonical line per processed item, drop decision, command, fault and
//! engine event, folded into a SHA-256 digest (and optionally kept as text). Two runs with the
//! same seed and start time produce the same digest; the first differing line, when lines are
//! kept, shows where two runs parted.

use std::fmt;

use demls::Timestamp;

/// The trace digest and, optionally, its lines.
pub(crate) struct Trace {
    start: Timestamp,
    digest: ring::digest::Context,
    lines: Option<Vec<String>>,
}

impl Trace {
    pub(crate) fn new(start: Timestamp, keep_lines: bool) -> Trace {
        Trace {
            start,
            digest: ring::digest::Context::new(&ring::digest::SHA256),
            lines: keep_lines.then(Vec::new),
        }
    }

    /// Adds the line `+<ms since start> <text>`.
    pub(crate) fn line(&mut self, now: Timestamp, text: fmt::Arguments<'_>) {
        let line = format!("+{} {}", now.since(self.start), text);
        tracing::trace!(target: "demls_sim::trace", "{line}");
        self.digest.update(line.as_bytes());
        self.digest.update(b"\n");
        if let Some(lines) = &mut self.lines {
            lines.push(line);
        }
    }

    /// Adds raw bytes (a published payload) to the digest only.
    pub(crate) fn bytes(&mut self, bytes: &[u8]) {
        self.digest.update(&(bytes.len() as u64).to_be_bytes());
        self.digest.update(bytes);
    }

    /// The digest of everything so far.
    pub(crate) fn digest(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(self.digest.clone().finish().as_ref());
        out
    }

    /// The kept lines (empty unless kept).
    pub(crate) fn lines(&self) -> &[String] {
        self.lines.as_deref().unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_depends_on_every_line_and_byte_in_order() {
        let run = |lines: &[&str], bytes: &[u8]| {
            let mut t = Trace::new(Timestamp(100), true);
            for l in lines {
                t.line(Timestamp(105), format_args!("{l}"));
            }
            t.bytes(bytes);
            (t.digest(), t.lines().to_vec())
        };
        let (a, lines) = run(&["x", "y"], b"p");
        assert_eq!(lines, ["+5 x", "+5 y"]);
        assert_eq!(a, run(&["x", "y"], b"p").0);
        assert_ne!(a, run(&["y", "x"], b"p").0);
        assert_ne!(a, run(&["x", "y"], b"q").0);
        let t = Trace::new(Timestamp(0), false);
        assert!(t.lines().is_empty());
    }
}
