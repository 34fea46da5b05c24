"""Renders terminal panes (text with ANSI SGR colour codes, as `tmux capture-pane -e -p`
prints it) into one SVG image laid out like the panes: monospace text, the 8/16 ANSI colours,
256-colour and true-colour codes, bold; a title bar above and a separator between panes.

Python 3 standard library only. `render(panes)` takes `(title, left, width, height, text)` per
pane, `left`/`width`/`height` in terminal cells.
"""

import re
from xml.sax.saxutils import escape

CELL_W, CELL_H, FONT = 7.8, 16, 13
PAD, TITLE_H = 8, 24
BG, FG = "#1e1f29", "#e6e6e6"
BASE = [
    "#2e3436", "#ef5959", "#6ad16a", "#e5c07b", "#5c9cf5", "#c678dd", "#56b6c2", "#d3d7cf",
    "#7f848e", "#ff7b7b", "#8ae68a", "#f2d58f", "#82b4ff", "#da9cf0", "#7fd4dc", "#ffffff",
]
_SGR = re.compile(r"\x1b\[([0-9;]*)m")
_OTHER_ESC = re.compile(r"\x1b\[[0-9;?]*[A-Za-ln-z]|\x1b[()][A-Z0-9]|\x1b[=>]")


def _color256(n):
    if n < 16:
        return BASE[n]
    if n < 232:
        n -= 16
        steps = [0, 95, 135, 175, 215, 255]
        return "#%02x%02x%02x" % (steps[n // 36], steps[n // 6 % 6], steps[n % 6])
    v = 8 + (n - 232) * 10
    return "#%02x%02x%02x" % (v, v, v)


def _apply(codes, st):
    codes = [int(c) if c else 0 for c in codes.split(";")] if codes else [0]
    i = 0
    while i < len(codes):
        c = codes[i]
        if c == 0:
            st.update(fg=None, bg=None, bold=False)
        elif c == 1:
            st["bold"] = True
        elif c == 22:
            st["bold"] = False
        elif 30 <= c <= 37:
            st["fg"] = BASE[c - 30]
        elif 90 <= c <= 97:
            st["fg"] = BASE[c - 90 + 8]
        elif 40 <= c <= 47:
            st["bg"] = BASE[c - 40]
        elif 100 <= c <= 107:
            st["bg"] = BASE[c - 100 + 8]
        elif c == 39:
            st["fg"] = None
        elif c == 49:
            st["bg"] = None
        elif c in (38, 48) and i + 1 < len(codes):
            key = "fg" if c == 38 else "bg"
            if codes[i + 1] == 5 and i + 2 < len(codes):
                st[key] = _color256(codes[i + 2])
                i += 2
            elif codes[i + 1] == 2 and i + 4 < len(codes):
                st[key] = "#%02x%02x%02x" % tuple(codes[i + 2:i + 5])
                i += 4
        i += 1


def _runs(line):
    """`line` as (text, style) runs."""
    st = {"fg": None, "bg": None, "bold": False}
    runs, pos = [], 0
    line = _OTHER_ESC.sub("", line)
    for m in _SGR.finditer(line):
        if m.start() > pos:
            runs.append((line[pos:m.start()], dict(st)))
        _apply(m.group(1), st)
        pos = m.end()
    if pos < len(line):
        runs.append((line[pos:], dict(st)))
    return runs


def render(panes, title=""):
    """The SVG document of `panes`: [(title, left, width, height, text)]."""
    cols = max(left + width for _, left, width, _, _ in panes)
    rows = max(height for *_, height, _ in panes)
    w = PAD * 2 + cols * CELL_W
    h = PAD * 2 + TITLE_H + rows * CELL_H
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0f}" height="{h:.0f}" '
        f'viewBox="0 0 {w:.0f} {h:.0f}" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" '
        f'font-size="{FONT}">',
        f"<title>{escape(title)}</title>",
        f'<rect width="100%" height="100%" rx="6" fill="{BG}"/>',
        f'<rect width="100%" height="{TITLE_H}" rx="6" fill="#3a3c4e"/>',
        f'<text x="{w / 2:.0f}" y="{TITLE_H - 7}" fill="#c8c8c8" text-anchor="middle">'
        f"{escape(title)}</text>",
    ]
    top = PAD + TITLE_H
    for name, left, width, height, text in panes:
        x0 = PAD + left * CELL_W
        if left > 0:
            sx = x0 - CELL_W / 2
            out.append(
                f'<line x1="{sx:.1f}" y1="{top}" x2="{sx:.1f}" y2="{top + rows * CELL_H}" '
                f'stroke="#5a5d73" stroke-width="1"/>'
            )
        out.append(f"<!-- pane {escape(name)} -->")
        for row, line in enumerate(text.split("\n")[:height]):
            col = 0
            y = top + (row + 1) * CELL_H - 4
            for chunk, st in _runs(line):
                chunk = chunk[: max(0, width - col)]
                if not chunk:
                    continue
                x = x0 + col * CELL_W
                if st["bg"]:
                    out.append(
                        f'<rect x="{x:.1f}" y="{y - CELL_H + 4}" width="{len(chunk) * CELL_W:.1f}" '
                        f'height="{CELL_H}" fill="{st["bg"]}"/>'
                    )
                if chunk.strip():
                    attrs = f'fill="{st["fg"] or FG}"'
                    if st["bold"]:
                        attrs += ' font-weight="bold"'
                    out.append(
                        f'<text x="{x:.1f}" y="{y}" {attrs} xml:space="preserve" '
                        f'textLength="{len(chunk) * CELL_W:.1f}" lengthAdjust="spacingAndGlyphs">'
                        f"{escape(chunk)}</text>"
                    )
                col += len(chunk)
    out.append("</svg>")
    return "\n".join(out) + "\n"
