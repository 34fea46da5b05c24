#!/usr/bin/env bash
# Records the Logos Core module dogfood session: three demls-module-host processes (alice, bob,
# carol), each loading libdemls_module.so as Logos Core's plain host does, over one relay hub;
# commands are typed with short pauses, as a person would, and everything each member typed
# and saw is written with timestamps to docs/dogfood/logos-core-module/transcript.txt.
# usage: logos-module/host/dogfood.sh [PAUSE_MS]   (default 400)
set -euo pipefail
here="$(cd -- "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
pause="${1:-400}"
cargo build -p demls-logos-module -p demls-module-host --manifest-path "$root/Cargo.toml"
mkdir -p "$root/docs/dogfood/logos-core-module"
"$root/target/debug/demls-module-host" dogfood \
  --module "$root/target/debug/libdemls_module.so" \
  --out "$root/docs/dogfood/logos-core-module/transcript.txt" \
  --pause-ms "$pause"
