//! The LGX package: `logos-module/package/build-lgx.py` builds `demls_module.lgx` from the
//! (debug) module image, and the package checks out against the LGX spec
//! (`check-lgx.py`: layout, manifest, variants ↔ main, content hashes, determinism), is
//! byte-identical when built twice, and lists as `tar` expects.

use crate::common;

use std::process::Command;

fn python() -> Option<&'static str> {
    if common::on_path("python3") {
        Some("python3")
    } else {
        eprintln!("skipped: python3 is not installed");
        None
    }
}

#[test]
fn the_package_follows_the_lgx_spec_and_is_deterministic() {
    let Some(py) = python() else { return };
    let package_dir = common::crate_dir().join("../package");
    let dir = tempfile::tempdir().unwrap();
    // The debug image carries hundreds of MB of debug info; packaging a stripped copy keeps
    // this test fast and changes nothing the check looks at.
    let image = dir.path().join("libdemls_module.so");
    std::fs::copy(common::module_image(), &image).unwrap();
    if common::on_path("strip") {
        let stripped = Command::new("strip")
            .arg("--strip-debug")
            .arg(&image)
            .status();
        assert!(stripped.is_ok_and(|s| s.success()), "strip failed");
    }
    let build = |out: &str| {
        let out = dir.path().join(out);
        let status = Command::new(py)
            .arg(package_dir.join("build-lgx.py"))
            .arg("--image")
            .arg(&image)
            .arg("--out")
            .arg(&out)
            .args(["--variant", "linux-amd64"])
            .status()
            .unwrap();
        assert!(status.success(), "build-lgx.py failed");
        out
    };
    let first = build("one/demls_module.lgx");
    let second = build("two/demls_module.lgx");
    assert_eq!(
        std::fs::read(&first).unwrap(),
        std::fs::read(&second).unwrap(),
        "two builds from the same image differ"
    );

    let check = Command::new(py)
        .arg(package_dir.join("check-lgx.py"))
        .arg(&first)
        .args([
            "--expect-name",
            "demls_module",
            "--expect-variant",
            "linux-amd64",
        ])
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "check-lgx.py: {}",
        String::from_utf8_lossy(&check.stdout)
    );

    if common::on_path("tar") {
        let listing = Command::new("tar")
            .arg("-tzf")
            .arg(&first)
            .output()
            .unwrap();
        assert!(listing.status.success());
        let listing = String::from_utf8_lossy(&listing.stdout);
        let names: Vec<&str> = listing.lines().collect();
        for expected in [
            "manifest.json",
            "variants/",
            "variants/linux-amd64/",
            "variants/linux-amd64/libdemls_module.so",
            "variants/linux-amd64/metadata.json",
            "variants/linux-amd64/demls_module.lidl",
            "variants/linux-amd64/deps/delivery_module.lidl",
            "docs/demls_module.lidl",
        ] {
            assert!(
                names.contains(&expected),
                "{expected} missing from {names:?}"
            );
        }
        let manifest = Command::new("tar")
            .arg("-xOzf")
            .arg(&first)
            .arg("manifest.json")
            .output()
            .unwrap();
        let manifest: serde_json::Value = serde_json::from_slice(&manifest.stdout).unwrap();
        assert_eq!(manifest["manifestVersion"], "0.3.0");
        assert_eq!(manifest["name"], "demls_module");
        assert_eq!(
            manifest["dependencies"],
            serde_json::json!(["delivery_module"])
        );
        assert_eq!(
            manifest["main"],
            serde_json::json!({"linux-amd64": "libdemls_module.so"})
        );
        assert!(
            manifest["hashes"]["root"]
                .as_str()
                .is_some_and(|h| h.len() == 64)
        );
    }
}
