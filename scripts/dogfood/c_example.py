"""Dogfood artefact (c): the C example `examples/c/hello.c`, built and run as a user would.

    python3 scripts/dogfood/c_example.py record                # writes docs/dogfood/c-example/
    python3 scripts/dogfood/c_example.py check --lib-dir <dir>  # reruns and compares

The commands are the ones of the first ```sh block of `examples/c/README.md` (its build
line), read from the README itself so that the recording follows it. `record` runs them from
the repository root, one after the other as typed at a shell (`bash -c`), and writes
`transcript.txt` (see `transcript.py`): each command, then every line it printed (stdout
and stderr together) with the time it appeared. The `hello` program it builds is removed
afterwards.

`check` reruns the same commands, except the `cargo build` ones (the test harness that runs
the check has just built the library; rebuilding it from inside a test would wait on cargo's
lock), in a scratch directory that looks like the repository to them: `c-bindings` and
`examples` link to the repository's, `target/debug` to `--lib-dir` (where cargo put
`libdemls_c.so` for the test). Skipped commands and their recorded output are left out of the
comparison on both sides; the rest is compared by `transcript.compare`. It is run by
`cargo test -p demls-c --test dogfood`.

Python 3 standard library only.
"""

import argparse
import datetime
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import transcript  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "examples" / "c" / "README.md"
OUT = ROOT / "docs" / "dogfood" / "c-example"
ACTOR = "shell"
RECORD_COMMAND = "python3 scripts/dogfood/c_example.py record"


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%H:%M:%S.%f")[:-3]


def commands():
    """The commands of the README's first ```sh block (continuation lines joined)."""
    text = README.read_text()
    block = text.split("```sh\n", 1)[1].split("\n```", 1)[0]
    out, current = [], ""
    for line in block.splitlines():
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1].rstrip() + " "
            continue
        current += line.strip()
        if current.strip():
            out.append(" ".join(current.split()))
        current = ""
    return out


def skipped_by_check(command):
    return command.startswith("cargo ")


def run(cmd, cwd, t):
    """Runs one typed command with bash; its output lines go into `t` as they appear."""
    t.add(ACTOR, now(), "$", cmd)
    p = subprocess.Popen(
        ["bash", "-c", cmd],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "CARGO_TERM_COLOR": "never", "PWD": str(cwd)},
    )
    try:
        for line in p.stdout:
            t.add(ACTOR, now(), "<", line.rstrip("\n"))
        code = p.wait(timeout=600)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    if code != 0:
        raise RuntimeError(f"`{cmd}` exited with {code}")


def without_skipped(t):
    """`t` without the commands the check skips and their output."""
    out = transcript.Transcript(t.header)
    skipping = False
    for actor, entries in t.sections.items():
        out.sections[actor] = []
        for entry in entries:
            if entry[1] == "$":
                skipping = skipped_by_check(entry[2])
            if not skipping:
                out.sections[actor].append(entry)
    return out


def header():
    return [
        "Dogfood artefact (c): the C example examples/c/hello.c, built and run as a user",
        "would, with the build line of examples/c/README.md, from the repository root.",
        f"Produced by: {RECORD_COMMAND}",
        f"Recorded: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')}",
        "Entries: `HH:MM:SS.mmm K text` (UTC), K = `$` typed at the shell prompt, `<` printed",
        "(stdout and stderr). Checked by: cargo test -p demls-c --test dogfood",
        "(the comparison is defined in scripts/dogfood/transcript.py).",
    ]


def scratch_checkout(lib_dir):
    d = Path(tempfile.mkdtemp(prefix="demls-dogfood-c-"))
    (d / "c-bindings").symlink_to(ROOT / "c-bindings")
    (d / "examples").symlink_to(ROOT / "examples")
    (d / "target").mkdir()
    (d / "target" / "debug").symlink_to(Path(lib_dir).resolve())
    return d


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mode", choices=["record", "check"])
    ap.add_argument("--lib-dir", help="check: where libdemls_c.so is")
    ap.add_argument("--out", default=str(OUT), help="where the recording lives")
    args = ap.parse_args(argv)
    out = Path(args.out)
    t = transcript.Transcript(header())
    if args.mode == "record":
        try:
            for cmd in commands():
                run(cmd, ROOT, t)
        finally:
            (ROOT / "hello").unlink(missing_ok=True)
        out.mkdir(parents=True, exist_ok=True)
        (out / "transcript.txt").write_text(t.render())
        print(f"wrote {out / 'transcript.txt'}")
        return 0
    if not args.lib_dir:
        print("check needs --lib-dir", file=sys.stderr)
        return 2
    scratch = scratch_checkout(args.lib_dir)
    try:
        for cmd in commands():
            if not skipped_by_check(cmd):
                run(cmd, scratch, t)
        recorded = transcript.Transcript.parse((out / "transcript.txt").read_text())
        problems = transcript.compare(
            without_skipped(recorded), t, scratch_dirs=[scratch, ROOT]
        )
    except RuntimeError as e:
        problems = [str(e)]
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        sys.stderr.write(t.render())
        return 1
    print("the recorded transcript matches a fresh run")
    shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
