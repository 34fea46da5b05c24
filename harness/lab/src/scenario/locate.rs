//! Where in a scenario file a key is: key paths (`schedule[2].sets`) to line and column, and
//! byte offsets back to the innermost key path. Only error reporting uses this; it reads the
//! file's text and nothing else.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// A position in the file, 1-based.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    /// Line, from 1.
    pub line: usize,
    /// Column (in characters), from 1.
    pub column: usize,
}

/// The line and column of byte `offset` in `src`.
pub fn position(src: &str, offset: usize) -> Position {
    let mut offset = offset.min(src.len());
    while !src.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Position { line, column }
}

/// One step of a key path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seg {
    /// A table key.
    Key(String),
    /// An array index.
    Index(usize),
}

/// A key path written as in messages: `schedule[2].sets`.
pub fn render(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// Builds a path from `"schedule"`, `2`, `"sets"`-like parts.
#[macro_export]
#[doc(hidden)]
macro_rules! key_path {
    ($($seg:expr),* $(,)?) => {
        ::std::vec::Vec::from([$($crate::scenario::locate::IntoSeg::into_seg($seg)),*])
    };
}

/// Turns a `&str` or `usize` into a [`Seg`] (for [`key_path!`]).
pub trait IntoSeg {
    /// The segment.
    fn into_seg(self) -> Seg;
}

impl IntoSeg for &str {
    fn into_seg(self) -> Seg {
        Seg::Key(self.to_owned())
    }
}

impl IntoSeg for usize {
    fn into_seg(self) -> Seg {
        Seg::Index(self)
    }
}

/// The span of the value at `path` (or of the deepest ancestor that exists).
pub fn span_of(src: &str, path: &[Seg]) -> Option<Range<usize>> {
    let root = DeTable::parse(src).ok()?;
    let mut best: Option<Range<usize>> = None;
    let mut table: Option<&DeTable<'_>> = Some(root.get_ref());
    let mut array: Option<&[Spanned<DeValue<'_>>]> = None;
    for seg in path {
        let next: Option<&Spanned<DeValue<'_>>> = match (seg, table, array) {
            (Seg::Key(k), Some(t), _) => t
                .iter()
                .find(|(key, _)| key.get_ref().as_ref() == k.as_str())
                .map(|(key, v)| {
                    // A key's own span is more useful for tables spread over many lines.
                    best = Some(key.span());
                    v
                }),
            (Seg::Index(i), _, Some(a)) => a.get(*i),
            _ => None,
        };
        let Some(value) = next else { break };
        if !matches!(value.get_ref(), DeValue::Table(_)) || matches!(seg, Seg::Index(_)) {
            best = Some(value.span());
        }
        table = None;
        array = None;
        match value.get_ref() {
            DeValue::Table(t) => table = Some(t),
            DeValue::Array(a) => array = Some(a),
            _ => {}
        }
    }
    best
}

/// The innermost key path whose value contains byte `offset`.
pub fn path_at(src: &str, offset: usize) -> Option<String> {
    let root = DeTable::parse(src).ok()?;
    let mut path = Vec::new();
    walk_table(root.get_ref(), offset, &mut path);
    (!path.is_empty()).then(|| render(&path))
}

fn contains(span: &Range<usize>, offset: usize) -> bool {
    span.start <= offset && offset < span.end.max(span.start + 1)
}

fn walk_table(t: &DeTable<'_>, offset: usize, path: &mut Vec<Seg>) {
    for (key, value) in t.iter() {
        if contains(&key.span(), offset) {
            path.push(Seg::Key(key.get_ref().to_string()));
            return;
        }
        if contains(&value.span(), offset) {
            path.push(Seg::Key(key.get_ref().to_string()));
            walk_value(value.get_ref(), offset, path);
            return;
        }
    }
    // Tables written as `[section]` or `[[array]]` headers: their value spans may not cover
    // the keys below them, so look inside every table.
    for (key, value) in t.iter() {
        let mut inner = vec![Seg::Key(key.get_ref().to_string())];
        let before = inner.len();
        walk_value(value.get_ref(), offset, &mut inner);
        if inner.len() > before {
            path.extend(inner);
            return;
        }
    }
}

fn walk_value(v: &DeValue<'_>, offset: usize, path: &mut Vec<Seg>) {
    match v {
        DeValue::Table(t) => walk_table(t, offset, path),
        DeValue::Array(a) => {
            for (i, item) in a.iter().enumerate() {
                let mut inner = vec![Seg::Index(i)];
                if contains(&item.span(), offset) {
                    walk_value(item.get_ref(), offset, &mut inner);
                    path.extend(inner);
                    return;
                }
                if let DeValue::Table(t) = item.get_ref() {
                    walk_table(t, offset, &mut inner);
                    if inner.len() > 1 {
                        path.extend(inner);
                        return;
                    }
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = "name = \"x\"\nduration_s = 10\n\n[members]\ncount = 5\n\n[[schedule]]\nat_s = 1\naction = \"heal\"\n\n[[schedule]]\nat_s = 2\naction = \"partition\"\nsets = [[0, 9]]\n";

    #[test]
    fn positions_are_one_based_lines_and_columns() {
        assert_eq!(position(SRC, 0), Position { line: 1, column: 1 });
        let at = SRC.find("count").unwrap();
        assert_eq!(position(SRC, at), Position { line: 5, column: 1 });
    }

    #[test]
    fn a_key_path_leads_to_its_line() {
        let span = span_of(SRC, &key_path!["schedule", 1usize, "sets"]).unwrap();
        assert_eq!(position(SRC, span.start).line, 14);
        let span = span_of(SRC, &key_path!["members", "count"]).unwrap();
        assert_eq!(position(SRC, span.start).line, 5);
        // A missing key points at its deepest existing ancestor.
        let span = span_of(SRC, &key_path!["members", "nothing"]).unwrap();
        assert_eq!(position(SRC, span.start).line, 4);
    }

    #[test]
    fn an_offset_leads_back_to_its_key_path() {
        let at = SRC.find("[[0, 9]]").unwrap() + 5;
        assert_eq!(path_at(SRC, at).unwrap(), "schedule[1].sets[0][1]");
        let at = SRC.find("count").unwrap();
        assert_eq!(path_at(SRC, at).unwrap(), "members.count");
    }
}
