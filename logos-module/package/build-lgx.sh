#!/usr/bin/env bash
# Builds demls_module.lgx from a release build of the module image, then checks it.
# usage: logos-module/package/build-lgx.sh [--debug] [OUT]
#   OUT      default: target/lgx/demls_module.lgx
#   --debug  package the debug image instead (faster to build; for trying the package out)
set -euo pipefail
here="$(cd -- "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
profile=release
if [[ "${1:-}" == "--debug" ]]; then
  profile=debug
  shift
fi
out="${1:-$root/target/lgx/demls_module.lgx}"
if [[ "$profile" == release ]]; then
  cargo build --release -p demls-logos-module --manifest-path "$root/Cargo.toml"
else
  cargo build -p demls-logos-module --manifest-path "$root/Cargo.toml"
fi
python3 "$here/build-lgx.py" --image "$root/target/$profile/libdemls_module.so" --out "$out"
python3 "$here/check-lgx.py" "$out" --expect-name demls_module
