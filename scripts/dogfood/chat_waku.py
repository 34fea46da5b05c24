"""Dogfood artefact (a): three `demls chat` members over the Waku (`logos`) transport.

    python3 scripts/dogfood/chat_waku.py record   # in tmux; writes docs/dogfood/chat-waku/
    python3 scripts/dogfood/chat_waku.py check --demls <path>   # on pipes; compares

`record` starts the three members (alice, bob, carol) in three panes of one tmux session,
types every command into its pane as a person would (`tmux send-keys`, short pauses), waits
for the events that should follow by polling `tmux capture-pane`, then writes
`transcript.txt` (see `transcript.py` for the format) and `screenshot.svg` (the final panes,
rendered by `svg.py`).

`check` runs the same SCENARIO (the one definition below) with the members on pipes instead
of tmux panes, writes the fresh transcript next to the scratch configs, and compares it with
the recorded one (`transcript.compare`); it exits non-zero with the differences. It is run by
`cargo test -p demls-cli --test dogfood_chat`.

Python 3 standard library only.
"""

import argparse
import base64
import datetime
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import svg  # noqa: E402
import transcript  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "dogfood" / "chat-waku"
NAMES = ("alice", "bob", "carol")
STEP_SECS = 60
LAUNCH = "demls chat {name}.toml --wait-peers 2 --wait-secs 60 2>{name}.err"
RECORD_COMMAND = "python3 scripts/dogfood/chat_waku.py record"


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%H:%M:%S.%f")[:-3]


# ---------------------------------------------------------------------------------------
# The scenario: what each person types, and what they wait to see before going on.


def events(log, who, kind=None):
    """The JSON objects `who` printed so far (of one "type" if given)."""
    return [e for e in log[who] if kind is None or e.get("type") == kind]


def members(log, who):
    """The group size `who` last saw (from `joined` / `epoch_advanced`), or None."""
    for e in reversed(log[who]):
        if e.get("type") in ("joined", "epoch_advanced") and "members" in e:
            return e["members"]
    return None


def texts(log, who):
    """The message texts `who` received."""
    out = []
    for e in events(log, who, "message_received"):
        try:
            out.append(base64.b64decode(e.get("payload", "")).decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            out.append("")
    return out


def replies(log, who, command):
    """The replies of `who` to `command` so far, oldest first."""
    return [e for e in log[who] if e.get("type") in ("ok", "error") and e.get("command") == command]


def reply(log, who, command):
    """The last reply of `who` to `command`, or None."""
    r = replies(log, who, command)
    return r[-1] if r else None


# Each step: (who types, the line (formatted with `vars`), what must hold before the next
# step, a description). The driver also waits for the reply to every line but `quit`.
SCENARIO = [
    ("alice", "create demo", lambda l: events(l, "alice", "group_created"), "alice created demo"),
    ("alice", "invite demo", lambda l: True, "alice has an invitation for bob"),
    ("bob", "join {invitation}", lambda l: events(l, "bob", "joined"), "bob joined"),
    ("alice", "invite demo", lambda l: True, "alice has an invitation for carol"),
    (
        "carol",
        "join {invitation}",
        lambda l: all(members(l, w) == 3 for w in NAMES),
        "all three see three members",
    ),
    ("alice", "send demo hello from alice", lambda l: True, "alice sent"),
    ("bob", "send demo hi alice, bob here", lambda l: True, "bob sent"),
    (
        "carol",
        "send demo carol says hi",
        lambda l: all(len(texts(l, w)) == 2 for w in NAMES),
        "everyone read the two others",
    ),
    (
        "alice",
        "remove demo {carol}",
        lambda l: events(l, "carol", "removed")
        and members(l, "alice") == 2
        and members(l, "bob") == 2,
        "carol removed; alice and bob at two members",
    ),
    ("bob", "send demo carol is gone", lambda l: "carol is gone" in texts(l, "alice"), "alice read bob"),
    ("bob", "leave demo", lambda l: members(l, "alice") == 1, "bob left; alice alone"),
    ("alice", "quit", None, "alice quits"),
    ("bob", "quit", None, "bob quits"),
    ("carol", "quit", None, "carol quits"),
]


def learn(log, vars_):
    """Values later lines need: carol's member id, alice's last invitation."""
    for e in log["carol"]:
        if e.get("type") == "ready":
            vars_["carol"] = e["member_id"]
    r = reply(log, "alice", "invite demo")
    if r and r.get("type") == "ok":
        vars_["invitation"] = r["result"]["invitation"]


def run_scenario(driver):
    """Runs SCENARIO on a driver (`Tmux` or `Pipes`); raises on a timeout or an error reply."""
    wait(driver, "three members ready", lambda l: all(events(l, w, "ready") for w in NAMES))
    vars_ = {}
    for who, line, until, what in SCENARIO:
        learn(driver.log(), vars_)
        text = line.format(**vars_)
        before = len(replies(driver.log(), who, text))
        time.sleep(0.4)  # a person reads the screen before typing
        driver.type(who, text)
        if until is None:
            continue
        wait(
            driver,
            f"{who}'s reply to `{line}`",
            lambda l: len(replies(l, who, text)) > before,
        )
        r = reply(driver.log(), who, text)
        if r.get("type") != "ok":
            raise RuntimeError(f"{who}: `{text}` failed: {json.dumps(r)}")
        wait(driver, what, until)
    driver.wait_exit(timeout=15)


def wait(driver, what, cond):
    deadline = time.monotonic() + STEP_SECS
    while True:
        if cond(driver.log()):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for: {what}")
        time.sleep(0.1)


# ---------------------------------------------------------------------------------------
# The members' configuration (static peers on 127.0.0.1, free ports).


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def config(name, port, peers):
    peers = ", ".join(json.dumps(p) for p in peers)
    return f"""[node]
name = "{name}"
profile = "logos"

[transport]
listen = "/ip4/127.0.0.1/tcp/{port}"
static_peers = [{peers}]
cluster_id = 66
shard = 5
node_key_file = "{name}.key"

[transport.gossipsub]
heartbeat_ms = 200

[steward]
backend = "single"
commit_delay_ms = 150

[group]
vote_timeout_ms = 5000
"""


def prepare(dir_, demls):
    """Writes the node keys and configs into `dir_`; alice listens first, each next member
    dials the earlier ones."""
    addrs = []
    for name in NAMES:
        out = subprocess.run(
            [demls, "keygen", str(dir_ / f"{name}.key")],
            check=True,
            capture_output=True,
            text=True,
        )
        port = free_port()
        (dir_ / f"{name}.toml").write_text(config(name, port, addrs))
        addrs.append(f"/ip4/127.0.0.1/tcp/{port}/p2p/{out.stdout.strip()}")


def environment(demls):
    env = dict(os.environ)
    env["PATH"] = f"{Path(demls).resolve().parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("RUST_LOG", None)
    return env


def parse_json(line):
    if not line.startswith("{"):
        return None
    try:
        v = json.loads(line)
    except ValueError:
        return None
    return v if isinstance(v, dict) else None


# ---------------------------------------------------------------------------------------
# Driver 1: processes on pipes (the check).


class Pipes:
    def __init__(self, dir_, demls):
        self.lock = threading.Lock()
        self.t = transcript.Transcript()
        self.events = {n: [] for n in NAMES}
        self.procs = {}
        env = environment(demls)
        for name in NAMES:
            cmd = LAUNCH.format(name=name)
            self.t.add(name, now(), "$", cmd)
            p = subprocess.Popen(
                ["sh", "-c", cmd],
                cwd=dir_,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                bufsize=1,
                start_new_session=True,
            )
            self.procs[name] = p
            threading.Thread(target=self._read, args=(name, p), daemon=True).start()

    def _read(self, name, p):
        for line in p.stdout:
            line = line.rstrip("\n")
            with self.lock:
                self.t.add(name, now(), "<", line)
                v = parse_json(line)
                if v is not None:
                    self.events[name].append(v)

    def log(self):
        with self.lock:
            return {n: list(e) for n, e in self.events.items()}

    def type(self, who, line):
        with self.lock:
            self.t.add(who, now(), ">", line)
        self.procs[who].stdin.write(line + "\n")
        self.procs[who].stdin.flush()

    def wait_exit(self, timeout):
        deadline = time.monotonic() + timeout
        for name, p in self.procs.items():
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        time.sleep(0.2)  # the readers reach the end of the output

    def transcript(self):
        with self.lock:
            return self.t

    def close(self):
        """Kills every member still running (its whole process group, by id)."""
        for p in self.procs.values():
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()


# ---------------------------------------------------------------------------------------
# Driver 2: three tmux panes (the recording).


class Tmux:
    SOCKET = f"demls-dogfood-{os.getpid()}"
    WIDTH, HEIGHT = 100, 48

    def __init__(self, dir_, demls):
        self.dir = dir_
        self.env = environment(demls)
        self.panes = {}
        self.seen = {n: [] for n in NAMES}  # (time, line) of the lines complete so far
        self.typed = {n: [] for n in NAMES}  # (time, line) of what was typed, when typed
        self.prompt = {n: f"{n}$ " for n in NAMES}
        width = self.WIDTH * 3 + 2
        self._tmux("new-session", "-d", "-s", "dogfood", "-x", str(width), "-y", str(self.HEIGHT),
                   "-c", str(dir_), self._shell("alice"))
        self.panes["alice"] = self._tmux("display", "-p", "-t", "dogfood", "#{pane_id}").strip()
        for name in NAMES[1:]:
            self.panes[name] = self._tmux(
                "split-window", "-h", "-t", "dogfood", "-c", str(dir_), "-P", "-F", "#{pane_id}",
                self._shell(name),
            ).strip()
        self._tmux("select-layout", "-t", "dogfood", "even-horizontal")
        self._tmux("set", "-t", "dogfood", "status", "off")
        time.sleep(0.5)
        for name in NAMES:
            self.type(name, LAUNCH.format(name=name))

    def _shell(self, name):
        # A plain bash with a coloured prompt naming the member; PATH has `demls`.
        ps1 = f"\\[\\e[1;{ {'alice': 32, 'bob': 34, 'carol': 35}[name] }m\\]{name}$\\[\\e[0m\\] "
        return (
            f"env -i PATH={shlex.quote(self.env['PATH'])} HOME={shlex.quote(str(self.dir))} "
            f"TERM=xterm-256color PS1={shlex.quote(ps1)} bash --norc --noprofile"
        )

    def _tmux(self, *args):
        out = subprocess.run(
            ["tmux", "-L", self.SOCKET, *args], check=True, capture_output=True, text=True,
            env=self.env,
        )
        return out.stdout

    def _capture(self, name):
        """The pane's lines (wrapped lines joined) and whether the cursor is at column 0."""
        out = self._tmux(
            "capture-pane", "-p", "-J", "-S", "-", "-t", self.panes[name], ";",
            "display", "-p", "-t", self.panes[name], "#{cursor_x}",
        )
        lines = out.rstrip("\n").split("\n")
        cursor_x = lines.pop()
        while lines and not lines[-1].strip():
            lines.pop()
        return [l.rstrip() for l in lines], cursor_x.strip() == "0"

    def _poll(self, name):
        lines, at_line_start = self._capture(name)
        complete = len(lines) if at_line_start else len(lines) - 1
        seen = self.seen[name]
        for line in lines[len(seen):complete]:
            seen.append((now(), line))
        return lines

    def log(self):
        out = {}
        for name in NAMES:
            lines = self._poll(name)
            out[name] = [v for v in map(parse_json, lines) if v is not None]
        return out

    def type(self, who, line):
        self._poll(who)
        self.typed[who].append((now(), line))
        pane = self.panes[who]
        # A person types, then presses Enter.
        for i in range(0, len(line), 200):
            self._tmux("send-keys", "-t", pane, "-l", "--", line[i:i + 200])
        time.sleep(0.15)
        self._tmux("send-keys", "-t", pane, "Enter")

    def wait_exit(self, timeout):
        deadline = time.monotonic() + timeout
        for name in NAMES:
            while True:
                lines = self._poll(name)
                if lines and lines[-1] == self.prompt[name].rstrip() and len(lines) > 1:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name}'s demls did not exit")
                time.sleep(0.1)

    def transcript(self):
        t = transcript.Transcript()
        for name in NAMES:
            self._poll(name)
            typed = list(self.typed[name])

            def when(text, seen_at):
                # A typed line is stamped when it was typed (its echo is seen a poll later).
                for i, (stamp, line) in enumerate(typed):
                    if line == text:
                        del typed[i]
                        return stamp
                return seen_at

            for stamp, line in self.seen[name]:
                p = self.prompt[name]
                if line.startswith(p.rstrip()):
                    cmd = line[len(p):].strip()
                    if cmd:
                        t.add(name, when(cmd, stamp), "$", cmd)
                elif line.startswith("{"):
                    t.add(name, stamp, "<", line)
                elif line.strip():
                    t.add(name, when(line, stamp), ">", line)
        return t

    def screenshot(self):
        """The visible panes with their colours, as SVG."""
        panes = []
        for name in NAMES:
            text = self._tmux("capture-pane", "-p", "-e", "-t", self.panes[name])
            geometry = self._tmux(
                "display", "-p", "-t", self.panes[name], "#{pane_left} #{pane_width} #{pane_height}"
            ).split()
            panes.append((name, int(geometry[0]), int(geometry[1]), int(geometry[2]), text))
        return svg.render(panes, title="three demls chat members over Waku (tmux)")

    def close(self):
        subprocess.run(["tmux", "-L", self.SOCKET, "kill-server"], capture_output=True)


# ---------------------------------------------------------------------------------------


def header(mode):
    return [
        "Dogfood artefact (a): three `demls chat` members (alice, bob, carol) over the Waku",
        "(`logos`) transport on 127.0.0.1, driven as a person would in three tmux panes.",
        f"Produced by: {RECORD_COMMAND}   (mode: {mode})",
        f"Recorded: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')}",
        "Entries: `HH:MM:SS.mmm K text` (UTC), K = `$` typed at the shell prompt, `>` typed",
        "into demls chat, `<` printed by it. Checked by: cargo test -p demls-cli --test dogfood_chat",
        "(the comparison is defined in scripts/dogfood/transcript.py).",
    ]


def default_demls():
    return str(ROOT / "target" / "debug" / "demls")


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mode", choices=["record", "check"])
    ap.add_argument("--demls", default=default_demls(), help="the demls binary")
    ap.add_argument("--out", default=str(OUT), help="where the recording lives")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = ap.parse_args(argv)
    if not Path(args.demls).is_file():
        print(f"no demls binary at {args.demls} (cargo build -p demls-cli)", file=sys.stderr)
        return 2
    out = Path(args.out)
    scratch = Path(tempfile.mkdtemp(prefix="demls-dogfood-chat-"))
    prepare(scratch, args.demls)
    driver = (Tmux if args.mode == "record" else Pipes)(scratch, args.demls)
    try:
        run_scenario(driver)
        fresh = driver.transcript()
        fresh.header = header("tmux" if args.mode == "record" else "pipes")
        if args.mode == "record":
            out.mkdir(parents=True, exist_ok=True)
            (out / "transcript.txt").write_text(fresh.render())
            (out / "screenshot.svg").write_text(driver.screenshot())
            print(f"wrote {out / 'transcript.txt'} and {out / 'screenshot.svg'}")
            return 0
        (scratch / "transcript.txt").write_text(fresh.render())
        recorded = transcript.Transcript.parse((out / "transcript.txt").read_text())
        problems = transcript.compare(recorded, fresh, scratch_dirs=[scratch])
        for p in problems:
            print(p, file=sys.stderr)
        if problems:
            print(f"the fresh transcript: {scratch / 'transcript.txt'}", file=sys.stderr)
            args.keep = True
            return 1
        print("the recorded transcript matches a fresh run")
        return 0
    except Exception as e:  # report, then clean up below
        print(f"dogfood chat-waku: {e}", file=sys.stderr)
        try:
            sys.stderr.write(driver.transcript().render())
        except Exception:
            pass
        for name in NAMES:
            err = scratch / f"{name}.err"
            if err.exists() and err.read_text().strip():
                print(f"--- {name}.err\n{err.read_text()}", file=sys.stderr)
        args.keep = True
        return 1
    finally:
        driver.close()
        if args.keep:
            print(f"scratch directory kept: {scratch}", file=sys.stderr)
        else:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
