//! `specs/api.md` documents the C API: every function of the header appears in its
//! "## 9. C mapping" section, and every event type of the API appears in the spec.

mod common;

use common::crate_dir;

fn spec() -> String {
    std::fs::read_to_string(crate_dir().join("../specs/api.md")).expect("specs/api.md")
}

/// Every `demls_*` function the header declares (an identifier followed by `(`, not the
/// callback typedef `(*demls_event_callback)`).
fn header_functions() -> Vec<String> {
    let header =
        std::fs::read_to_string(crate_dir().join("include/demls.h")).expect("include/demls.h");
    let mut names = Vec::new();
    for (at, _) in header.match_indices("demls_") {
        let rest = &header[at..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let before = header[..at].chars().next_back();
        if rest[end..].starts_with('(') && before != Some('*') && before != Some('_') {
            let name = rest[..end].to_owned();
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names
}

#[test]
fn every_header_function_is_documented_in_the_c_mapping_of_the_spec() {
    let spec = spec();
    let section = spec
        .split("\n## 9. C mapping\n")
        .nth(1)
        .expect("a \"## 9. C mapping\" section in specs/api.md");
    let section = section.split("\n## ").next().unwrap_or(section);
    let functions = header_functions();
    assert!(functions.len() > 20, "parsed only {functions:?}");
    let missing: Vec<&String> = functions
        .iter()
        .filter(|f| !section.contains(&format!("`{f}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "not in specs/api.md \"## 9. C mapping\": {missing:?}"
    );
}

/// Depends on the event schema written in the language-neutral part of the spec (after the
/// merge with the API spec); the C mapping only says how events reach C.
#[test]
fn every_event_type_appears_in_the_spec() {
    let spec = spec();
    let missing: Vec<&&str> = demls_core::api::EVENT_TYPES
        .iter()
        .filter(|t| !spec.contains(&format!("`{t}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "event types not in specs/api.md: {missing:?}"
    );
}
