#!/bin/sh
# The C API benchmark: builds the release library, compiles bench.c against it, and prints
# JSON lines (the cost of a demls_node_call round trip, of polling, of an event delivered to a
# callback, and the size of the release shared library). Run from anywhere:
#   c-bindings/bench/run.sh
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
cargo build --release -p demls-c >&2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
gcc -O2 -Wall -Wextra -Werror -std=c11 -I c-bindings/include c-bindings/bench/bench.c \
    -L target/release -ldemls_c -Wl,-rpath,"$root/target/release" -lpthread -o "$out/bench"
"$out/bench"
size=$(stat -c %s target/release/libdemls_c.so)
strip -o "$out/stripped.so" target/release/libdemls_c.so
stripped=$(stat -c %s "$out/stripped.so")
static=$(stat -c %s target/release/libdemls_c.a)
echo "{\"bench\":\"c_library_size\",\"shared_bytes\":$size,\"shared_stripped_bytes\":$stripped,\"static_bytes\":$static}"
