"""Dogfood transcripts: their file format, the normaliser and the comparison (one
implementation, shared by every dogfood artefact: `chat_waku.py` and `c_example.py`).

A transcript is a header of `#` comment lines, then one section per actor (a member, or the
shell of the C example):

    == alice
    01:55:00.123 $ demls chat alice.toml --wait-peers 2 --wait-secs 60 2>alice.err
    01:55:01.200 < {"type":"listening",...}
    01:55:02.004 > create demo
    01:55:02.031 < {"command":"create demo","result":null,"type":"ok"}

Each entry is a wall-clock time (UTC, `HH:MM:SS.mmm`), a kind and the text:
  `$`  a command typed at a shell prompt,
  `>`  a line typed into the running program (`demls chat` reads commands on stdin),
  `<`  a line the program printed.

The comparison (`compare`) of a recorded transcript with a fresh run, actor by actor, after
normalising every text with `normalise`:
  1. the actors are the same, in the same order;
  2. the ORDERED lines are equal, in order. Ordered are: every typed line (`$`, `>`), every
     printed line that is a command's reply (a JSON object whose "type" is "ok" or "error";
     `demls chat` answers its commands one at a time, in order, and the drivers wait for each
     reply before typing on), and every printed line that is not a JSON object (the C
     example's output, where one thread prints in program order);
  3. the EVENTS (every other printed line: the JSON objects a node emits asynchronously) are
     equal as multisets: the same normalised events, each as many times, in any order and in
     any interleaving with the ordered lines. Only the interleaving of asynchronous events
     may vary; an event that is missing, extra, or of a changed shape fails the comparison;
  4. left out on both sides: `rejected` events with reason `unknown_group` for a group the
     actor has already printed `removed` for (traffic of the group still in flight when the
     member was removed or left; whether any arrives is a matter of timing).
Timestamps are not compared.

`normalise` replaces what legitimately differs between runs by placeholders: first the ids
the transcript itself attributes to an actor (`known_ids`: `<member:alice>`,
`<peer:alice>`), then other peer ids (`<PEER>`), IPv4 addresses and ports in multiaddrs and
`host:port` (`<IP>`, `<PORT>`), de-MLS content topics under `/demls/1/` or `/logos-chat/1/`
(`<TOPIC>`), invitations (`demls-invite:1:<INVITATION>`), base64 and hex strings of at
least 16 characters (`<B64>`, `<HEX>`) unless they decode to printable text (message
contents stay compared) or are snake_case words (event names), integers of 10 digits or
more (millisecond timestamps, `<N>`), durations such as `1.23s` or `4m 02s`
(`<DURATION>`), absolute paths of the scratch directory (`<DIR>`) and the version string
(`demls <VERSION>`).
"""

import base64
import binascii
import json
import re
import sys
from collections import Counter

KINDS = ("$", ">", "<")

_ENTRY = re.compile(r"^(\d\d:\d\d:\d\d\.\d\d\d) ([$<>]) ?(.*)$")

# Order matters: the specific shapes first, then the generic byte strings, then the short
# values (durations, big integers), so that these never match inside a base64 id.
_RULES = [
    (re.compile(r"\b(?:12D3KooW|Qm)[1-9A-HJ-NP-Za-km-z]{40,}"), "<PEER>"),
    (re.compile(r"/ip4/\d{1,3}(?:\.\d{1,3}){3}/tcp/\d+"), "/ip4/<IP>/tcp/<PORT>"),
    (re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}:\d+\b"), "<IP>:<PORT>"),
    (re.compile(r"/(?:demls|logos-chat)/1/[^\s\"',]+"), "<TOPIC>"),
    (re.compile(r"demls-invite:1:[A-Za-z0-9_\-=:]+"), "demls-invite:1:<INVITATION>"),
]
_HEX = re.compile(r"\b(?:0x)?[0-9a-fA-F]{16,}\b")
_B64 = re.compile(r"(?<![A-Za-z0-9+/_\-])[A-Za-z0-9+/_\-]{16,}={0,2}")
_NOT_IN_TOKEN = r"(?<![A-Za-z0-9+/=_.<-])", r"(?![A-Za-z0-9+/=_<-])"
_LATE = [
    (re.compile(r"\bdemls \d+\.\d+\.\d+\S*"), "demls <VERSION>"),
    (re.compile(_NOT_IN_TOKEN[0] + r"\d+(?:m \d+|\.\d+)?m?s" + _NOT_IN_TOKEN[1]), "<DURATION>"),
    (re.compile(_NOT_IN_TOKEN[0] + r"\d{10,}" + _NOT_IN_TOKEN[1]), "<N>"),
]


def _printable(data):
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(c.isprintable() or c in "\n\t" for c in text)


def _b64(match):
    token = match.group(0)
    for decode in (base64.b64decode, base64.urlsafe_b64decode):
        try:
            data = decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            continue
        if _printable(data):
            return token
    # A snake_case word (an event or field name) is text, not bytes.
    if re.fullmatch(r"[a-z_]+", token):
        return token
    return "<B64>"


def normalise(text, scratch_dirs=(), names=None):
    """The text with run-specific values replaced by placeholders (see the module doc);
    `names` maps values known to stand for an actor (see `known_ids`) to their placeholder."""
    for value, placeholder in (names or {}).items():
        text = text.replace(value, placeholder)
    for d in scratch_dirs:
        if d:
            text = text.replace(str(d), "<DIR>")
    for pattern, placeholder in _RULES:
        text = pattern.sub(placeholder, text)
    text = _HEX.sub("<HEX>", text)
    text = _B64.sub(_b64, text)
    for pattern, placeholder in _LATE:
        text = pattern.sub(placeholder, text)
    return text


def is_ordered(kind, text):
    """Whether an entry keeps its place in the comparison (rule 2 of the module doc)."""
    if kind != "<":
        return True
    try:
        value = json.loads(text)
    except ValueError:
        return True
    if not isinstance(value, dict):
        return True
    return value.get("type") in ("ok", "error")


class Transcript:
    """Sections of entries: `{actor: [(time, kind, text), ...]}`, actors in order."""

    def __init__(self, header=None):
        self.header = list(header or [])
        self.sections = {}

    def add(self, actor, time, kind, text):
        assert kind in KINDS, kind
        self.sections.setdefault(actor, []).append((time, kind, text))

    def render(self):
        out = [f"# {h}" if h else "#" for h in self.header]
        for actor, entries in self.sections.items():
            out.append("")
            out.append(f"== {actor}")
            for time, kind, text in entries:
                out.append(f"{time} {kind} {text}".rstrip())
        return "\n".join(out) + "\n"

    @staticmethod
    def parse(text):
        t = Transcript()
        actor = None
        for n, line in enumerate(text.splitlines(), 1):
            if line.startswith("#"):
                if actor is None:
                    t.header.append(line[2:] if line.startswith("# ") else "")
                continue
            if not line.strip():
                continue
            if line.startswith("== "):
                actor = line[3:].strip()
                t.sections.setdefault(actor, [])
                continue
            m = _ENTRY.match(line)
            if actor is None or not m:
                raise ValueError(f"transcript line {n}: not an entry: {line[:80]}")
            t.add(actor, m.group(1), m.group(2), m.group(3))
        return t


def known_ids(t):
    """The ids a transcript itself names: each actor's member id (from its `ready` line) as
    `<member:actor>` and its peer id (from `listening`) as `<peer:actor>`, so that the
    comparison still tells who was added, removed or sent a message."""
    names = {}
    for actor, entries in t.sections.items():
        for _, kind, text in entries:
            if kind != "<" or not text.startswith("{"):
                continue
            try:
                v = json.loads(text)
            except ValueError:
                continue
            if not isinstance(v, dict):
                continue
            if v.get("type") == "ready" and isinstance(v.get("member_id"), str):
                names[v["member_id"]] = f"<member:{actor}>"
            if v.get("type") == "listening" and isinstance(v.get("peer_id"), str):
                names[v["peer_id"]] = f"<peer:{actor}>"
    return names


def _departed_traffic(value, departed):
    """Whether a printed JSON object is a `rejected` event with reason `unknown_group` for a
    group the actor already printed `removed` for: traffic of the group that was in flight
    when the member left (a vote, a commit, a message). Whether any arrives depends on
    timing only, so the comparison leaves these out on both sides (rule 4)."""
    return (
        value.get("type") == "rejected"
        and value.get("reason") == "unknown_group"
        and value.get("group") in departed
    )


def _split(entries, scratch_dirs, names):
    ordered, events = [], Counter()
    departed = set()
    for _, kind, text in entries:
        value = None
        if kind == "<" and text.startswith("{"):
            try:
                value = json.loads(text)
            except ValueError:
                value = None
        if isinstance(value, dict):
            if value.get("type") == "removed":
                departed.add(value.get("group"))
            if _departed_traffic(value, departed):
                continue
        norm = f"{kind} {normalise(text, scratch_dirs, names)}"
        if is_ordered(kind, text):
            ordered.append(norm)
        else:
            events[norm] += 1
    return ordered, events


def compare(recorded, fresh, scratch_dirs=(), skip=()):
    """The differences between two transcripts (an empty list when they match).

    `skip` names actors left out of the comparison on both sides."""
    problems = []
    r_names, f_names = known_ids(recorded), known_ids(fresh)
    ra = [a for a in recorded.sections if a not in skip]
    fa = [a for a in fresh.sections if a not in skip]
    if ra != fa:
        problems.append(f"actors differ: recorded {ra}, now {fa}")
    for actor in ra:
        if actor not in fresh.sections:
            continue
        r_ord, r_ev = _split(recorded.sections[actor], scratch_dirs, r_names)
        f_ord, f_ev = _split(fresh.sections[actor], scratch_dirs, f_names)
        for i in range(max(len(r_ord), len(f_ord))):
            r = r_ord[i] if i < len(r_ord) else "(nothing)"
            f = f_ord[i] if i < len(f_ord) else "(nothing)"
            if r != f:
                problems.append(
                    f"{actor}: ordered line {i + 1} differs\n  recorded: {r}\n  now:      {f}"
                )
                break
        for line, n in sorted((r_ev - f_ev).items()):
            problems.append(f"{actor}: event recorded {n}x more than now: {line}")
        for line, n in sorted((f_ev - r_ev).items()):
            problems.append(f"{actor}: event now {n}x more than recorded: {line}")
    return problems


def self_test(recorded):
    """Checks that `compare` accepts the transcript against itself and against a copy with its
    events reordered, and refuses copies with an event missing or a reply of another shape.
    Returns the list of failures (empty when the comparison behaves)."""
    failures = []
    if compare(recorded, recorded):
        failures.append("a transcript differs from itself")

    def mutated(change):
        t = Transcript(recorded.header)
        for actor, entries in recorded.sections.items():
            t.sections[actor] = change(actor, list(entries))
        return t

    def events_of(entries):
        return [i for i, (_, k, x) in enumerate(entries) if not is_ordered(k, x)]

    def reorder(_, entries):
        idx = events_of(entries)
        moved = [entries[i] for i in reversed(idx)]
        for i, e in zip(idx, moved):
            entries[i] = e
        return entries

    if compare(recorded, mutated(reorder)):
        failures.append("reordering the asynchronous events made the comparison fail")

    actor_with_events = next(
        (a for a, e in recorded.sections.items() if events_of(e)), None
    )
    if actor_with_events:

        def drop(actor, entries):
            if actor == actor_with_events:
                del entries[events_of(entries)[0]]
            return entries

        if not compare(recorded, mutated(drop)):
            failures.append("a missing event went unnoticed")

    def reshape(_, entries):
        # The first printed ordered line: a reply with its "result" renamed, else any line
        # with a word added.
        for i, (t, k, x) in enumerate(entries):
            if k == "<" and is_ordered(k, x):
                changed = x.replace('"result"', '"value"', 1)
                entries[i] = (t, k, changed if changed != x else x + " (changed)")
                break
        return entries

    if not compare(recorded, mutated(reshape)):
        failures.append("a printed line of another shape went unnoticed")
    return failures


def main(argv):
    """`python3 transcript.py selftest <transcript>...`: runs `self_test` on each file."""
    if len(argv) < 2 or argv[0] != "selftest":
        print("usage: transcript.py selftest <transcript>...", file=sys.stderr)
        return 2
    bad = 0
    for path in argv[1:]:
        with open(path, encoding="utf-8") as f:
            failures = self_test(Transcript.parse(f.read()))
        for failure in failures:
            print(f"{path}: {failure}", file=sys.stderr)
        bad += len(failures)
        if not failures:
            print(f"{path}: the comparison accepts reordered events and refuses changes")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
