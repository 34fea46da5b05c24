#!/usr/bin/env python3
"""Draws the README's scale plots (SVG, log-log) from the benchmarks' JSON lines.

    python3 bench/plots/plot.py            # the SVGs
    python3 bench/plots/plot.py --tables   # Markdown tables of the scale results

reads bench/results/vs-reference.jsonl (bench/vs-reference) and bench/results/scale.jsonl
(the sim's `scale` example) and writes bench/plots/*.svg. Standard library only. The
OpenMLS-raw points are the anchors of ../shared/FACTS.md §2 (openmls 0.9.2 alone, no de-MLS),
drawn as given, not measured by these scripts.
"""
import json
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "..", "results")

# openmls 0.9.2 alone on this class of machine (FACTS §2): n -> seconds / milliseconds.
OPENMLS = {
    "bulk_add_s": {1000: 0.20, 10000: 24.7},
    "commit_create_ms": {1000: 6.7, 10000: 66.0},
    "commit_process_ms": {1000: 4.2, 10000: 69.0},
    "join_ms": {1000: 69.0, 10000: 1130.0},
}

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf", "#7f7f7f"]


def load(name):
    path = os.path.join(RESULTS, name)
    rows = []
    if not os.path.exists(path):
        return rows
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                rows.append(json.loads(line))
    return rows


def ticks(lo, hi, mantissas):
    """Tick values m·10^d within [10^lo, 10^hi] (log axes), for m in `mantissas`."""
    for d in range(math.floor(lo), math.ceil(hi) + 1):
        for m in mantissas:
            v = m * 10 ** d
            if 10 ** lo * 0.999 <= v <= 10 ** hi * 1.001:
                yield v


def limits(lo, hi):
    """Log-axis limits: the nearest 1, 2 or 5 × 10^k below `lo` and above `hi`."""
    steps = [m * 10 ** d for d in range(-6, 8) for m in (1, 2, 5)]
    a = max(v for v in steps if v <= lo * 1.0001)
    b = min(v for v in steps if v >= hi / 1.0001)
    if a == b:
        b = min(v for v in steps if v > b)
    return math.log10(a), math.log10(b)


def fmt(v):
    if v >= 1000:
        return f"{v/1000:g}k"
    if v >= 1:
        return f"{v:g}"
    return f"{v:g}"


class Panel:
    """One log-log chart: series of (x, y) points with a legend."""

    def __init__(self, title, xlabel, ylabel):
        self.title, self.xlabel, self.ylabel = title, xlabel, ylabel
        self.series = []  # (label, points, dashed, guide)

    def add(self, label, points, dashed=False, guide=False):
        pts = sorted((x, y) for x, y in points if x and y and x > 0 and y > 0)
        if pts:
            self.series.append((label, pts, dashed, guide))

    def svg(self, ox, oy, w, h):
        out = []
        xs = [x for _, p, _, _ in self.series for x, _ in p]
        ys = [y for _, p, _, _ in self.series for _, y in p]
        if not xs:
            return ""
        xa, xb = limits(min(xs), max(xs))
        ya, yb = limits(min(ys), max(ys))
        left, right, top, bottom = 62, 12, 28, 40
        cols = 1 if max(len(label) for label, _, _, _ in self.series) > 26 else 2
        pw, ph = w - left - right, h - top - bottom - 16 * ((len(self.series) + cols - 1) // cols)

        def px(x):
            return ox + left + (math.log10(x) - xa) / (xb - xa) * pw

        def py(y):
            return oy + top + ph - (math.log10(y) - ya) / (yb - ya) * ph

        out.append(f'<text x="{ox + w/2}" y="{oy + 16}" text-anchor="middle" font-weight="bold">{self.title}</text>')
        out.append(f'<rect x="{ox+left}" y="{oy+top}" width="{pw}" height="{ph}" fill="none" stroke="#444"/>')
        for v in ticks(xa, xb, (1, 2, 5)):
            x = px(v)
            out.append(f'<line x1="{x:.1f}" y1="{oy+top}" x2="{x:.1f}" y2="{oy+top+ph}" stroke="#ddd"/>')
            out.append(f'<text x="{x:.1f}" y="{oy+top+ph+14}" text-anchor="middle" font-size="10">{fmt(v)}</text>')
        for v in ticks(ya, yb, (1, 2, 5) if yb - ya <= 3 else (1,)):
            y = py(v)
            out.append(f'<line x1="{ox+left}" y1="{y:.1f}" x2="{ox+left+pw}" y2="{y:.1f}" stroke="#ddd"/>')
            out.append(f'<text x="{ox+left-4}" y="{y+3:.1f}" text-anchor="end" font-size="10">{fmt(v)}</text>')
        out.append(f'<text x="{ox+left+pw/2}" y="{oy+top+ph+28}" text-anchor="middle" font-size="11">{self.xlabel}</text>')
        out.append(f'<text x="{ox+14}" y="{oy+top+ph/2}" text-anchor="middle" font-size="11" transform="rotate(-90 {ox+14} {oy+top+ph/2})">{self.ylabel}</text>')
        for i, (label, pts, dashed, guide) in enumerate(self.series):
            c = "#999" if guide else COLORS[i % len(COLORS)]
            dash = ' stroke-dasharray="5,4"' if dashed or guide else ""
            path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)
            out.append(f'<polyline points="{path}" fill="none" stroke="{c}" stroke-width="2"{dash}/>')
            if not guide:
                for x, y in pts:
                    out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{c}"/>')
            lx = ox + left + (i % cols) * pw / 2
            ly = oy + top + ph + 44 + 16 * (i // cols)
            out.append(f'<line x1="{lx}" y1="{ly-4}" x2="{lx+18}" y2="{ly-4}" stroke="{c}" stroke-width="2"{dash}/>')
            out.append(f'<text x="{lx+22}" y="{ly}" font-size="10">{label}</text>')
        return "\n".join(out)


def figure(path, panels, cols=2, w=430, h=330):
    rows = (len(panels) + cols - 1) // cols
    W, H = cols * w, rows * h
    body = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">',
        f'<rect width="{W}" height="{H}" fill="white"/>',
    ]
    for i, p in enumerate(panels):
        body.append(p.svg((i % cols) * w, (i // cols) * h, w, h))
    body.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(body) + "\n")
    print(f"wrote {os.path.relpath(path)}", file=sys.stderr)


def guide(points, power, label):
    """A dashed n^power line through the first point of `points`."""
    if not points:
        return None
    x0, y0 = min(points)
    x1 = max(x for x, _ in points)
    return (label, [(x0, y0), (x1, y0 * (x1 / x0) ** power)])


def vs_reference():
    rows = load("vs-reference.jsonl")
    if not rows:
        return
    panels = []
    for workload, title in (("grow", "W1: grow to N by voted adds"), ("remove", "W2: one voted removal at N")):
        p = Panel(title, "members N", "CPU s (all members)")
        series = {}
        for r in rows:
            if r.get("workload") != workload:
                continue
            name = "reference (de-mls 4.1.0)" if r["impl"].startswith("de-mls") else f"demls {r['config']}"
            series.setdefault(name, {}).setdefault(r["n"], []).append(r["cpu_s"])
        for name in sorted(series, key=lambda s: (not s.startswith("reference"), s)):
            pts = [(n, sorted(v)[len(v) // 2]) for n, v in series[name].items()]
            p.add(name, pts)
        demls = [pt for name, s in series.items() if name == "demls single" for pt in ((n, sorted(v)[len(v)//2]) for n, v in s.items()) if pt[0] >= 32]
        g = guide(demls, 2, "N² from demls single at 32")
        if g:
            p.add(*g, guide=True)
        panels.append(p)
    figure(os.path.join(HERE, "vs-reference.svg"), panels)


def scale():
    rows = load("scale.jsonl")
    if not rows:
        return
    pick = lambda **kw: [r for r in rows if all(r.get(k) == v for k, v in kw.items())]
    panels = []

    p = Panel("Build: all joiners in one commit", "members n", "CPU s")
    p.add("demls (creator's whole build)", [(r["n"], r["cpu_ms"] / 1000) for r in pick(part="build", kind="one_epoch")])
    p.add("openmls raw: one bulk add", OPENMLS["bulk_add_s"].items(), dashed=True)
    panels.append(p)

    p = Panel("Commit, committer's copath filled", "members n", "CPU ms")
    for kind in ("remove", "add"):
        rs = pick(part="commit", tree="filled", kind=kind)
        p.add(f"demls {kind}: create", [(r["n"], r["create_ms"]) for r in rs])
        p.add(f"demls {kind}: process", [(r["n"], r["process_ms"]) for r in rs])
    p.add("openmls raw: create", OPENMLS["commit_create_ms"].items(), dashed=True)
    p.add("openmls raw: process", OPENMLS["commit_process_ms"].items(), dashed=True)
    panels.append(p)

    p = Panel("Join from Welcome + tree", "members n", "CPU ms")
    p.add("demls: join (median)", [(r["n"], r["join_ms"]) for r in pick(part="join")])
    p.add("openmls raw: join", OPENMLS["join_ms"].items(), dashed=True)
    panels.append(p)

    p = Panel("One decision: one member's CPU", "members n", "CPU ms")
    for model in ("big", "small"):
        p.add(f"{model} model (votes + proposal)", [(r["n"], r["member_cpu_ms"]) for r in pick(part="votes", model=model)])
    panels.append(p)

    p = Panel("One decision end to end (Waku-like latency)", "members n", "seconds")
    for model in ("big", "small"):
        p.add(f"{model} model", [(r["n"], r["decision_ms"] / 1000) for r in pick(part="decision", model=model)])
    panels.append(p)

    p = Panel("One member's state", "members n", "MB")
    p.add("heap after joining", [(r["n"], r["heap_total_bytes"] / 1e6) for r in pick(part="memory", when="after_join")])
    p.add("storage after joining", [(r["n"], r["storage_bytes"] / 1e6) for r in pick(part="memory", when="after_join")])
    p.add("heap after all parts", [(r["n"], r["heap_total_bytes"] / 1e6) for r in pick(part="memory", when="after_all_parts")])
    panels.append(p)
    figure(os.path.join(HERE, "scale.svg"), panels, cols=3, w=400)




def tables():
    """Markdown tables of the results (printed, for specs/scale.md and the README)."""
    rows = load("scale.jsonl")
    pick = lambda **kw: [r for r in rows if all(r.get(k) == v for k, v in kw.items())]
    ns = sorted({r["n"] for r in rows})
    one = lambda rs, key, scale=1.0, digits=1: (f"{rs[0][key] * scale:.{digits}f}" if rs and rs[0].get(key) is not None else "–")
    print("| n | build, one epoch: CPU s (creator) | build by 100s: CPU s creator / member | join ms (median / max) | Welcome + tree KB (join of 15) |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for n in ns:
        b = pick(n=n, part="build", kind="one_epoch")
        bb = pick(n=n, part="build", kind="batches_of_100")
        j = pick(n=n, part="join")
        wt = f"{(j[0]['welcome_bytes'] + j[0]['tree_bytes']) / 1000:.0f}" if j else "–"
        print(f"| {n:,} | {one(b, 'cpu_ms', 1e-3)} | {one(bb, 'creator_cpu_ms', 1e-3)} / {one(bb, 'member_cpu_ms', 1e-3)} | {one(j, 'join_ms', 1, 0)} / {one(j, 'join_max_ms', 1, 0)} | {wt} |")
    print()
    print("| n | tree | commit | create ms | process ms (median / max of 15) | bytes |")
    print("| ---: | --- | --- | ---: | ---: | ---: |")
    for n in ns:
        for tree in ("sparse", "filled"):
            for kind in ("add", "remove", "mixed_10_10"):
                c = pick(n=n, part="commit", tree=tree, kind=kind)
                if c:
                    print(f"| {n:,} | {tree} | {kind.replace('_10_10', ' 10+10')} | {one(c, 'create_ms')} | {one(c, 'process_ms')} / {one(c, 'process_max_ms')} | {c[0]['bytes']:,} |")
    print()
    print("| n | model | voters | one member: CPU ms (votes + proposal) | received msgs / KB | decision end to end s | steward CPU ms |")
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    for n in ns:
        for model in ("big", "small"):
            v = pick(n=n, part="votes", model=model)
            d = pick(n=n, part="decision", model=model)
            if v or d:
                recv = f"{v[0]['received_messages']:,} / {v[0]['received_bytes'] / 1000:.0f}" if v else "–"
                print(f"| {n:,} | {model} | {(v or d)[0]['voters']:,} | {one(v, 'member_cpu_ms')} | {recv} | {one(d, 'decision_ms', 1e-3, 2)} | {one(d, 'steward_cpu_ms')} |")
    print()
    print("| n | after joining: heap MB / storage MB | after all parts: heap MB / storage MB (consensus, engine, mls) |")
    print("| ---: | ---: | ---: |")
    for n in ns:
        a = pick(n=n, part="memory", when="after_join")
        z = pick(n=n, part="memory", when="after_all_parts")
        if a and z:
            sp = z[0]["spaces"]
            print(f"| {n:,} | {a[0]['heap_total_bytes'] / 1e6:.1f} / {a[0]['storage_bytes'] / 1e6:.1f} | {z[0]['heap_total_bytes'] / 1e6:.1f} / {z[0]['storage_bytes'] / 1e6:.1f} ({sp['consensus'] / 1e6:.1f}, {sp['engine'] / 1e6:.1f}, {sp['mls'] / 1e6:.1f}) |")


if __name__ == "__main__":
    if "--tables" in sys.argv:
        tables()
    else:
        vs_reference()
        scale()
