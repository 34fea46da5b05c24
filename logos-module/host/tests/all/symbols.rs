//! What the images export: `libdemls_module.so` defines every one of the 12 symbols of
//! `logos_module_impl.h`, and the host executable exports the `lp_*` consumer functions a
//! module resolves with `dlsym(RTLD_DEFAULT, …)`. Checked with `nm -D --defined-only`.

use crate::common;

use std::path::Path;
use std::process::Command;

use demls_module_host::exports::EXPORTED_NAMES;
use demls_module_host::loader::REQUIRED_SYMBOLS;

fn dynamic_symbols(file: &Path) -> Option<Vec<String>> {
    if !common::on_path("nm") {
        eprintln!("skipped: nm is not installed");
        return None;
    }
    let out = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(file)
        .output()
        .expect("nm runs");
    assert!(out.status.success(), "nm failed on {}", file.display());
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_whitespace().last().map(str::to_owned))
            .collect(),
    )
}

#[test]
fn the_module_image_exports_every_required_symbol() {
    let image = common::module_image();
    let Some(symbols) = dynamic_symbols(&image) else {
        return;
    };
    for name in REQUIRED_SYMBOLS {
        assert!(
            symbols.iter().any(|s| s == name),
            "{} does not export {name}",
            image.display()
        );
    }
}

#[test]
fn the_host_executable_exports_the_consumer_abi() {
    let Some(symbols) = dynamic_symbols(&common::host_bin()) else {
        return;
    };
    for name in EXPORTED_NAMES {
        assert!(
            symbols.iter().any(|s| s == name),
            "the host does not export {name}"
        );
    }
}
