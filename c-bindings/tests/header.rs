//! The checked-in header `include/demls.h` is what the pinned cbindgen generates from the
//! crate now. On a difference this test fails and says how to refresh it.

use std::path::Path;

#[test]
fn the_checked_in_header_is_what_cbindgen_generates() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_crate(dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header");
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let generated = String::from_utf8(generated).expect("utf-8");
    let path = dir.join("include/demls.h");
    if std::env::var_os("DEMLS_BLESS_HEADER").is_some() {
        std::fs::write(&path, &generated).expect("writing include/demls.h");
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "c-bindings/include/demls.h is stale: refresh it with\n  \
         DEMLS_BLESS_HEADER=1 cargo test -p demls-c --test header\nand commit it"
    );
}
