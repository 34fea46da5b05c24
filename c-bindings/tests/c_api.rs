//! The C API from C: `tests/c/api_test.c` compiled with `gcc -Wall -Wextra -Werror -std=c11`
//! and run under AddressSanitizer (leak detection on) and UndefinedBehaviorSanitizer, against
//! the shared and against the static library; and, when `valgrind` is on PATH, under valgrind
//! with no leak allowed.

mod common;

use std::process::Command;

use common::{Link, SANITIZERS, compile, crate_dir, on_path, run, sanitized};

fn api_test(link: Link, sanitizers: bool) -> std::path::PathBuf {
    let name = match (link, sanitizers) {
        (Link::Shared, true) => "api_test_shared_asan",
        (Link::Static, true) => "api_test_static_asan",
        (Link::Shared, false) => "api_test_shared",
        (Link::Static, false) => "api_test_static",
    };
    let flags: &[&str] = if sanitizers { SANITIZERS } else { &[] };
    compile(name, &[crate_dir().join("tests/c/api_test.c")], link, flags)
}

#[test]
fn the_c_test_program_passes_under_sanitizers_with_the_shared_library() {
    let exe = api_test(Link::Shared, true);
    run(
        sanitized(Command::new(&exe).arg("all")),
        "api_test (shared, asan)",
    );
}

#[test]
fn the_c_test_program_passes_under_sanitizers_with_the_static_library() {
    // Every backend must be registered although the linker dropped the inventory entries.
    let exe = api_test(Link::Static, true);
    run(
        sanitized(Command::new(&exe).arg("all")),
        "api_test (static, asan)",
    );
}

/// The README's command: `valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect
/// --error-exitcode=1 <program>`.
#[test]
fn valgrind_reports_no_error_and_no_leak() {
    if !on_path("valgrind") {
        eprintln!("skipped: valgrind is not on PATH");
        return;
    }
    let exe = api_test(Link::Shared, false);
    run(
        Command::new("valgrind")
            .args([
                "--leak-check=full",
                "--errors-for-leak-kinds=definite,indirect",
                "--error-exitcode=1",
                "--quiet",
            ])
            .arg(&exe)
            .arg("all"),
        "api_test (valgrind)",
    );
}
