#!/bin/sh
# A few seconds of every fuzz target: checks that they build, that the seeds pass and that
# nothing obvious breaks. Not part of CI (it needs nightly). Usage: fuzz/smoke.sh [seconds]
set -u
cd "$(dirname "$0")"
seconds="${1:-5}"
targets="envelope frame group_proposal commit_info fork_notice consensus_message certificate
bundle sealed key_package welcome waku metadata segment reassembly config engine"
[ -d corpus ] || cargo +nightly run --release --bin seed || exit 1
mkdir -p target/smoke
status=0
for t in $targets; do
    log="target/smoke/$t.log"
    if cargo +nightly fuzz run "$t" -- -max_total_time="$seconds" -max_len=65536 \
        -jobs=1 -workers=1 -print_final_stats=1 >"$log" 2>&1; then
        echo "ok     $t: $(grep -o 'number_of_executed_units: [0-9]*' "$log" | tail -1)"
    else
        echo "FAILED $t (see fuzz/$log)"
        status=1
    fi
done
exit $status
