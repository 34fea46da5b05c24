#!/usr/bin/env bash
# Builds demls_module.lgx from a release build of the module image.
# usage: logos-module/package/build-lgx.sh [OUT]   (default: target/lgx/demls_module.lgx)
set -euo pipefail
here="$(cd -- "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${1:-$root/target/lgx/demls_module.lgx}"
cargo build --release -p demls-logos-module --manifest-path "$root/Cargo.toml"
python3 "$here/build-lgx.py" --image "$root/target/release/libdemls_module.so" --out "$out"
python3 "$here/check-lgx.py" "$out"
