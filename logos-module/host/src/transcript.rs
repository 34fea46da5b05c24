//! Transcripts: what each member typed and saw, with timestamps, and how two are compared.
//!
//! Owns the transcript's text format and its normalisation; producing the entries is
//! [`crate::harness`]'s.
//!
//! A line is `<UTC timestamp> <member> <mark> <text>` with mark `>` (typed), `<` (a result),
//! `*` (an event) or `#` (a host line: ready, stopped). Lines starting with `;` are comments.
//!
//! Two transcripts match when, per member, the typed commands and the answers are the same in
//! the same order, and the same distinct events were seen, after normalising timestamps,
//! hex identifiers, keys and addresses (any run of 16+ hex digits), byte strings and large
//! integers (times) to placeholders. Events are compared as sets because their number and
//! interleaving depend on scheduling (a roster change may be announced once or twice).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

/// One transcript line.
#[derive(Debug, Clone)]
pub struct Entry {
    /// When it was typed or seen.
    pub at: SystemTime,
    /// The member (`alice`, `bob`, `carol`).
    pub member: String,
    /// `>` typed, `<` answer, `*` event, `#` host.
    pub mark: char,
    /// The text.
    pub text: String,
}

/// A shared, append-only transcript.
#[derive(Debug, Clone, Default)]
pub struct Transcript {
    entries: Arc<Mutex<Vec<Entry>>>,
}

impl Transcript {
    /// Appends a line stamped now.
    pub fn push(&self, member: &str, mark: char, text: impl Into<String>) {
        let entry = Entry {
            at: SystemTime::now(),
            member: member.to_owned(),
            mark,
            text: text.into(),
        };
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(entry);
    }

    /// The transcript as text, with `header` comment lines first.
    pub fn render(&self, header: &[&str]) -> String {
        let mut out = String::new();
        for h in header {
            out.push_str("; ");
            out.push_str(h);
            out.push('\n');
        }
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        for e in entries.iter() {
            out.push_str(&format!(
                "{} {:<5} {} {}\n",
                utc(e.at),
                e.member,
                e.mark,
                e.text
            ));
        }
        out
    }
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn utc(at: SystemTime) -> String {
    let d = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Replaces the run-dependent parts of a line's text with placeholders.
pub fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        // "_bytes":"…" → "_bytes":"<bytes>"
        if text_at(&chars, i, "\"_bytes\":\"") {
            out.push_str("\"_bytes\":\"<bytes>\"");
            i += "\"_bytes\":\"".len();
            while i < chars.len() && chars[i] != '"' {
                i += 1;
            }
            i += 1;
            continue;
        }
        let c = chars[i];
        if c.is_ascii_alphanumeric() {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            out.push_str(&normalise_word(&word));
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

fn text_at(chars: &[char], i: usize, pat: &str) -> bool {
    pat.chars()
        .enumerate()
        .all(|(k, p)| chars.get(i + k) == Some(&p))
}

fn normalise_word(word: &str) -> String {
    let hex = word.strip_prefix("0x").unwrap_or(word);
    if hex.len() >= 16 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return "<hex>".into();
    }
    if word.len() >= 11 && word.chars().all(|c| c.is_ascii_digit()) {
        return "<ts>".into();
    }
    word.to_owned()
}

/// One member's view of a transcript, normalised: its typed/answer/host lines in order, and
/// the set of distinct events.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct MemberView {
    /// Typed commands, answers and host lines, in order.
    pub dialogue: Vec<String>,
    /// Distinct events.
    pub events: BTreeSet<String>,
}

/// Parses a rendered transcript into per-member views (comments and blank lines skipped).
pub fn views(text: &str) -> BTreeMap<String, MemberView> {
    let mut out: BTreeMap<String, MemberView> = BTreeMap::new();
    for line in text.lines() {
        if line.starts_with(';') || line.trim().is_empty() {
            continue;
        }
        let mut parts = line.splitn(2, ' ');
        let (Some(_stamp), Some(rest)) = (parts.next(), parts.next()) else {
            continue;
        };
        let rest = rest.trim_start();
        let Some((member, rest)) = rest.split_once(' ') else {
            continue;
        };
        let rest = rest.trim_start();
        let (mark, body) = rest.split_at(rest.len().min(1));
        let entry = format!("{mark} {}", normalise(body.trim_start()));
        let view = out.entry(member.to_owned()).or_default();
        if mark == "*" {
            view.events.insert(entry);
        } else {
            view.dialogue.push(entry);
        }
    }
    out
}

/// The differences between a recorded and a fresh transcript (empty when they match).
pub fn differences(recorded: &str, fresh: &str) -> Vec<String> {
    let (a, b) = (views(recorded), views(fresh));
    let mut diffs = Vec::new();
    let members: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for m in members {
        let empty = MemberView::default();
        let (va, vb) = (a.get(m).unwrap_or(&empty), b.get(m).unwrap_or(&empty));
        let n = va.dialogue.len().max(vb.dialogue.len());
        for i in 0..n {
            let (x, y) = (va.dialogue.get(i), vb.dialogue.get(i));
            if x != y {
                diffs.push(format!(
                    "{m}: line {i}: recorded {x:?}, now {y:?}",
                    x = x.map(String::as_str).unwrap_or("<none>"),
                    y = y.map(String::as_str).unwrap_or("<none>")
                ));
                break;
            }
        }
        for e in va.events.difference(&vb.events) {
            diffs.push(format!("{m}: event no longer seen: {e}"));
        }
        for e in vb.events.difference(&va.events) {
            diffs.push(format!("{m}: new event: {e}"));
        }
    }
    diffs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_hides_ids_bytes_and_times() {
        let line = r#"["0a1b2c3d4e5f60718293a4b5c6d7e8f9","hi",1733450000123,{"_bytes":"AbC-_"}]"#;
        assert_eq!(
            normalise(line),
            r#"["<hex>","hi",<ts>,{"_bytes":"<bytes>"}]"#
        );
        assert_eq!(
            normalise("count 3 of 0xdeadbeefdeadbeef00"),
            "count 3 of <hex>"
        );
    }

    #[test]
    fn transcripts_compare_per_member_modulo_event_order() {
        let a = "; c\n2026-01-01T00:00:00.000Z alice > x\n2026-01-01T00:00:00.001Z bob   * e [1]\n\
                 2026-01-01T00:00:00.002Z bob   * e [2]\n2026-01-01T00:00:00.003Z alice < 1\n";
        let b = "2026-02-01T00:00:00.000Z bob   * e [2]\n2026-02-01T00:00:00.000Z alice > x\n\
                 2026-02-01T00:00:00.001Z bob   * e [1]\n2026-02-01T00:00:00.003Z alice < 1\n";
        assert!(differences(a, b).is_empty());
        let c = b.replace("alice < 1", "alice < 2");
        assert_eq!(differences(a, &c).len(), 1);
        assert!(utc(UNIX_EPOCH).starts_with("1970-01-01T00:00:00.000Z"));
    }
}
