//! What the C tests share: where cargo put the built libraries, and compiling C against them.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The crate's directory.
pub fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The directory cargo built `libdemls_c.so` / `libdemls_c.a` into for this test: the test
/// binary's own directory (`target/<profile>/deps`). Cargo builds the package's library (all
/// its crate types; the `rlib` makes the tests depend on it) before its integration tests and
/// leaves them there; `cargo build` copies them up to `target/<profile>`.
pub fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let dir = exe.parent().expect("target/<profile>/deps").to_path_buf();
    for lib in ["libdemls_c.so", "libdemls_c.a"] {
        assert!(
            dir.join(lib).exists(),
            "{} missing: cargo did not build the library before the tests",
            dir.join(lib).display()
        );
    }
    dir
}

/// Where the tests put what they compile.
pub fn out_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("demls-c");
    std::fs::create_dir_all(&dir).expect("an output directory");
    dir
}

/// How the program links the library.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    /// `-ldemls_c` against `libdemls_c.so` (with an rpath to it).
    Shared,
    /// `libdemls_c.a` and the system libraries the Rust standard library needs.
    Static,
}

/// The strict warnings every C file of the project compiles with.
pub const STRICT: &[&str] = &["-Wall", "-Wextra", "-Werror", "-std=c11", "-g"];

/// The sanitizers of the C tests.
pub const SANITIZERS: &[&str] = &[
    "-fsanitize=address,undefined",
    "-fno-omit-frame-pointer",
    "-fno-sanitize-recover=undefined",
];

/// Compiles `sources` into the executable `name` with gcc, `flags` added to the strict ones.
pub fn compile(name: &str, sources: &[PathBuf], link: Link, flags: &[&str]) -> PathBuf {
    let lib = lib_dir();
    let exe = out_dir().join(name);
    let mut cmd = Command::new("gcc");
    cmd.args(STRICT)
        .args(flags)
        .arg("-I")
        .arg(crate_dir().join("include"))
        .arg("-I")
        .arg(crate_dir().join("tests/c"))
        .args(sources)
        .arg("-o")
        .arg(&exe);
    match link {
        Link::Shared => {
            cmd.arg("-L")
                .arg(&lib)
                .arg("-ldemls_c")
                .arg(format!("-Wl,-rpath,{}", lib.display()));
        }
        Link::Static => {
            cmd.arg(lib.join("libdemls_c.a"));
        }
    }
    // What `rustc --print native-static-libs` lists for this target (harmless for the .so).
    cmd.args(["-lpthread", "-ldl", "-lm", "-lrt", "-lutil", "-lgcc_s"]);
    let out = cmd.output().expect("gcc runs");
    assert!(
        out.status.success(),
        "compiling {name} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

/// Runs a program to its end (the environment as given), failing the test on a non-zero
/// exit with its output.
pub fn run(cmd: &mut Command, what: &str) -> Output {
    let out = cmd.output().expect("the program runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("--- {what}: stdout\n{stdout}--- {what}: stderr\n{stderr}");
    assert!(out.status.success(), "{what} failed: {:?}", out.status);
    out
}

/// The sanitizers' run-time options: leak detection on, stop at the first report.
pub fn sanitized(cmd: &mut Command) -> &mut Command {
    cmd.env(
        "ASAN_OPTIONS",
        "detect_leaks=1:abort_on_error=0:halt_on_error=1:exitcode=23",
    )
    .env("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    .env("LSAN_OPTIONS", "exitcode=23")
}

/// Whether a program is on PATH.
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}
