#!/usr/bin/env bash
# Builds demls_module.lgx from a release build of the module image, then checks it.
# usage: logos-module/package/build-lgx.sh [--debug] [OUT]
#   OUT      default: <target dir>/lgx/demls_module.lgx
#   --debug  package the debug image as built (faster to build; for trying the package out)
# The release image keeps line-table debug info (the workspace's release profile); the package
# gets a copy with the debug sections stripped (`strip --strip-debug`, or $STRIP): the symbol
# table stays for readable backtraces, and the exported logos_module_* symbols (the dynamic
# symbol table) are untouched, which check-lgx.py verifies.
set -euo pipefail
here="$(cd -- "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
profile=release
if [[ "${1:-}" == "--debug" ]]; then
  profile=debug
  shift
fi
out="${1:-$target/lgx/demls_module.lgx}"
if [[ "$profile" == release ]]; then
  cargo build --release -p demls-logos-module --manifest-path "$root/Cargo.toml"
else
  cargo build -p demls-logos-module --manifest-path "$root/Cargo.toml"
fi
image="$target/$profile/libdemls_module.so"
if [[ "$profile" == release ]]; then
  mkdir -p "$target/lgx"
  stripped="$target/lgx/libdemls_module.so"
  "${STRIP:-strip}" --strip-debug -o "$stripped" "$image"
  exports() { nm -D --defined-only "$1" | grep ' logos_module_' | sort; }
  if ! diff <(exports "$image") <(exports "$stripped") >/dev/null; then
    echo "stripping changed the exported logos_module_* symbols" >&2
    exit 1
  fi
  echo "image $(stat -c %s "$image") bytes, stripped $(stat -c %s "$stripped") bytes," \
    "$(exports "$stripped" | wc -l) logos_module_* exports kept"
  image="$stripped"
fi
python3 "$here/build-lgx.py" --image "$image" --out "$out"
python3 "$here/check-lgx.py" "$out" --expect-name demls_module
