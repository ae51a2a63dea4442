"""``--ascii``: the jobs' images printed as terminal text (``aecli.render.textart``), sized to
the terminal, on a rich console from ``output.console``.
"""

from __future__ import annotations

import shutil
from typing import Any


def _term_width() -> int:
    return max(40, shutil.get_terminal_size((100, 40)).columns)


def _unicode(console: Any) -> bool:
    """Whether the console's encoding has arrows (not on an ASCII-only ``LANG=C`` stdout)."""
    try:
        "→↑".encode(console.encoding or "ascii")
    except (LookupError, UnicodeEncodeError):
        return False
    return True


def reconstruct_pairs(console: Any, r: Any) -> None:
    """A ``ReconstructResult``'s originals and reconstructions side by side, in pairs, with
    class and error captions."""
    from aecli.render import textart

    n = len(r.originals)
    width = _term_width()
    pairs = max(1, min(n, 5))
    # Fewer pairs per row rather than cells too small to read (12 columns x 6 lines at least).
    while pairs > 1 and textart.fit_grid(2 * pairs, 2 * pairs, width, 10**6, caption_lines=1) < 12:
        pairs -= 1
    pairs = -(-n // -(-n // pairs))  # balance the rows: 4 images as 2 + 2, not 3 + 1
    cell = min(16, max(4, textart.fit_grid(2 * pairs, 2 * pairs, width, 10**6, caption_lines=1)))
    images, captions = [], []
    for k in range(n):
        images += [r.originals[k], r.reconstructions[k]]
        captions += [f"{r.class_names[int(r.labels[k])]}", f"err {r.errors[k]:.1f}"]
    mode = textart.auto_mode(console.color_system, console.encoding)
    console.print("original | reconstruction (squared error), in pairs")
    console.print(
        textart.grid(images, cols=2 * pairs, width=cell, captions=captions, row_gap=1, mode=mode)
    )


def decode_grid(console: Any, images: Any, xs: Any, ys: Any) -> None:
    """The decode grid as text, code 2 values down the left, code 1 values along the bottom."""
    from rich.text import Text

    from aecli.render import textart

    rows, cols = images.shape[:2]
    label_w = max(len(f"{v:g}") for v in ys) + 1
    cell = textart.fit_grid(cols, cols, _term_width() - label_w, 10**6, gap=0, max_cell=14)
    cell = max(cell, 2)
    mode = textart.auto_mode(console.color_system, console.encoding)
    for r in range(rows):
        block = textart.row(list(images[r]), width=cell, gap=0, mode=mode)
        lines = block.split("\n", allow_blank=True)
        mid = len(lines) // 2
        for k, line in enumerate(lines):
            label = f"{ys[r]:g}" if k == mid else ""
            out = Text(label.rjust(label_w - 1) + " ")
            out.append_text(line)
            console.print(out)
    # Column labels: every column's value when it fits, else every other one.
    every = 1 if cell >= 5 else 2
    axis = [" "] * (cols * cell)
    for c in range(0, cols, every):
        s = f"{xs[c]:g}"
        start = max(0, c * cell + (cell - len(s)) // 2)
        for k, ch in enumerate(s):
            if start + k < len(axis):
                axis[start + k] = ch
    console.print(" " * label_w + "".join(axis).rstrip())
    right, up = ("→", "↑") if _unicode(console) else ("->", "^")
    console.print(" " * label_w + f"code 1 {right}   (code 2 {up} on the left)")


def strip(console: Any, start: Any, decoded: Any, end: Any, codes: Any) -> None:
    """The interpolation strip as text: original, decoded line, original."""
    from aecli.render import textart

    images = [start, *decoded, end]
    n = len(images)
    cell = max(4, min(12, textart.fit_grid(n, n, _term_width(), 10**6, caption_lines=1)))
    captions = ["start", *[f"{a:.1f},{b:.1f}" for a, b in codes], "end"]
    mode = textart.auto_mode(console.color_system, console.encoding)
    cols = max(1, min(n, (_term_width() + 1) // (cell + 1)))
    console.print(textart.grid(images, cols=cols, width=cell, captions=captions, mode=mode))
