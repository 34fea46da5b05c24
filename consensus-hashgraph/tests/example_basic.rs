//! The README example is `examples/basic.rs`; this runs it and checks the README shows it verbatim.
#![allow(clippy::unwrap_used)]

#[path = "../examples/basic.rs"]
mod basic;

#[test]
fn the_basic_example_runs_and_every_member_decides_yes() {
    basic::main().unwrap();
}

#[test]
fn the_readme_shows_the_basic_example_verbatim() {
    let readme = include_str!("../README.md");
    let example = include_str!("../examples/basic.rs");
    assert!(
        readme.contains(example.trim()),
        "README.md must contain examples/basic.rs unchanged"
    );
}
