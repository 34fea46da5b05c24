//! The C programs users copy: `examples/c/*.c` and the snippet of the README's "C API"
//! section, compiled with the strict flags and run (under the sanitizers) against the shared
//! library.

mod common;

use std::process::Command;

use common::{Link, SANITIZERS, compile, crate_dir, out_dir, run, sanitized};

#[test]
fn the_hello_example_runs() {
    let source = crate_dir().join("../examples/c/hello.c");
    let exe = compile("hello", &[source], Link::Shared, SANITIZERS);
    let out = run(sanitized(&mut Command::new(&exe)), "examples/c/hello.c");
    assert!(String::from_utf8_lossy(&out.stdout).contains("done"));
}

/// The first ```c block of the README's "## C API" section.
fn readme_snippet() -> String {
    let readme = std::fs::read_to_string(crate_dir().join("../README.md")).expect("README.md");
    let section = readme
        .split("\n## C API\n")
        .nth(1)
        .expect("a \"## C API\" section in README.md");
    let section = section.split("\n## ").next().unwrap_or(section);
    let code = section
        .split("```c\n")
        .nth(1)
        .and_then(|rest| rest.split("\n```").next())
        .expect("a ```c block in the C API section");
    code.to_owned()
}

#[test]
fn the_readme_snippet_compiles_and_runs() {
    let source = out_dir().join("readme_snippet.c");
    std::fs::write(&source, readme_snippet()).expect("writing the snippet");
    let exe = compile("readme_snippet", &[source], Link::Shared, SANITIZERS);
    let out = run(sanitized(&mut Command::new(&exe)), "the README's C snippet");
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"running\":true"));
}
