//! Exports the host's `lp_*` functions from its executable's dynamic symbol table.
//!
//! A module image resolves the consumer ABI with `dlsym(RTLD_DEFAULT, "lp_…")`, which only sees
//! an executable's symbols when they are in its dynamic symbol table. Rust executables export
//! nothing by default; `-rdynamic` (`--export-dynamic`) makes the linker export every global
//! symbol it keeps, and `main.rs` keeps the `lp_*` functions by taking their addresses.

fn main() {
    println!("cargo:rustc-link-arg-bins=-rdynamic");
    println!("cargo:rerun-if-changed=build.rs");
}
