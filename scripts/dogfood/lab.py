#!/usr/bin/env python3
"""Records the lab dogfood session (docs/dogfood/lab/): a researcher runs one scenario on the
simulator and the lab's own scenario on real processes, and keeps what the commands printed
and wrote.

    python3 scripts/dogfood/lab.py record      # as root for the lab part; needs a built demls
    python3 scripts/dogfood/lab.py check DIR   # reruns the simulator part into DIR

The simulator part is deterministic (seed and virtual start time are fixed), so `check`
reruns it and the test compares metrics.json byte for byte; the lab part runs real processes
on wall-clock time and is recorded once.
"""
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "dogfood" / "lab"
SCENARIO = "examples/scenarios/partition-fork-heal.toml"
LAB_SCENARIO = "examples/scenarios/lab-five.toml"
# 2026-11-15T00:00:00Z: the simulator's virtual start, fixed so that the run replays exactly.
START_MS = "1795046400000"


def demls():
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    built = [target / p / "demls" for p in ("release", "debug")]
    built = [b for b in built if b.exists()]
    if not built:
        sys.exit("build demls first: cargo build -p demls-cli")
    return str(max(built, key=lambda b: b.stat().st_mtime))  # the newest build


def simulate(out_dir, binary=None):
    cmd = [binary or demls(), "simulate", SCENARIO, "--seeds", "1", "--start", START_MS,
           "--out", str(out_dir)]
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    return cmd, p


def transcript(cmd, p, started):
    shown = ["demls"] + [str(c) for c in cmd[1:]]
    lines = [f"# recorded {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(started))}",
             "$ " + " ".join(shown), "## stderr"]
    lines += p.stderr.rstrip("\n").splitlines()
    lines += ["## stdout"] + p.stdout.rstrip("\n").splitlines()
    lines.append(f"## exit status {p.returncode}")
    return "\n".join(lines) + "\n"


def record():
    shutil.rmtree(OUT / "simulate", ignore_errors=True)
    shutil.rmtree(OUT / "lab", ignore_errors=True)
    OUT.mkdir(parents=True, exist_ok=True)
    started = time.time()
    cmd, p = simulate(pathlib.Path("docs/dogfood/lab/simulate"))
    if p.returncode != 0:
        sys.exit(p.stderr)
    (OUT / "simulate.txt").write_text(transcript(cmd, p, started))
    started = time.time()
    cmd = [demls(), "lab", LAB_SCENARIO, "--out", "docs/dogfood/lab/lab"]
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    (OUT / "lab.txt").write_text(transcript(cmd, p, started))
    if p.returncode != 0:
        sys.exit(p.stderr)


def check(out_dir, binary):
    cmd, p = simulate(pathlib.Path(out_dir), binary)
    if p.returncode != 0:
        sys.exit(p.stderr)
    line = json.loads(p.stdout)
    print(json.dumps({"converged": line["converged"], "messages_lost": line["messages_lost"]}))


if __name__ == "__main__":
    if sys.argv[1:2] == ["record"]:
        record()
    elif sys.argv[1:2] == ["check"] and len(sys.argv) >= 3:
        check(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)
    else:
        sys.exit(__doc__)
