"""``--ascii``: the jobs' images printed as terminal text (``aecli.render.textart``), sized to
the terminal, on a rich console from ``output.console``.

``--text-mode`` chooses the renderer, as ``m`` does in the TUI: ``blocks`` (grey half blocks,
two pixels a cell), ``shades`` (`` ░▒▓█`` in the terminal's own colours) or ``ascii``
(`` .:-=+*#%@``). Without it a terminal gets blocks when it shows colour (else shades), and
anything else (a file, a pipe) gets plain ASCII: no escape codes, readable in any editor. An
output whose encoding cannot show the chosen characters (``LANG=C``) gets ASCII with a notice.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from enum import Enum
from typing import Any


class TextMode(str, Enum):
    """``--text-mode``: how ``--ascii`` draws an image."""

    blocks = "blocks"
    shades = "shades"
    ascii = "ascii"


# The CLI's names for ``aecli.render.textart.MODES`` (the TUI's ``m`` key cycles the same).
_RENDERER = {"blocks": "blocks", "shades": "shade", "ascii": "ascii"}
_NEEDS = {"blocks": "▀▄█", "shade": "░▒▓█", "ascii": ""}


def _term_width() -> int:
    return max(40, shutil.get_terminal_size((100, 40)).columns)


def _encodes(console: Any, chars: str) -> bool:
    """Whether the console's encoding has ``chars`` (not on an ASCII-only ``LANG=C`` stdout)."""
    try:
        chars.encode(console.encoding or "ascii")
    except (LookupError, UnicodeEncodeError):
        return False
    return True


def _unicode(console: Any) -> bool:
    """Whether the console's encoding has arrows."""
    return _encodes(console, "→↑")


def pick_mode(
    console: Any, requested: TextMode | str | None, notice: Callable[[str], None]
) -> tuple[str, str]:
    """The textart ``(mode, palette)`` for ``console``: ``--text-mode``, or the default.

    The default is ``blocks`` on a terminal with colour, ``shade`` on one without, and
    ``ascii`` when the output is not a terminal or cannot encode the Unicode characters.
    The palette is ``"plain"`` (no colour: blocks become two-pixel ink shapes) unless the
    console shows colour.
    """
    name = requested.value if isinstance(requested, TextMode) else requested
    if name is None:
        from aecli.render import textart

        mode = (
            textart.auto_mode(console.color_system, console.encoding)
            if console.is_terminal
            else "ascii"
        )
    else:
        mode = _RENDERER[name]
    if not _encodes(console, _NEEDS[mode]):
        if name is not None:
            notice(
                f"--text-mode {name}: the output's encoding ({console.encoding}) cannot show "
                "its characters; using ascii (set a UTF-8 locale, e.g. LANG=C.UTF-8)"
            )
        mode = "ascii"
    return mode, ("truecolor" if console.color_system else "plain")


def reconstruct_pairs(console: Any, r: Any, mode: tuple[str, str]) -> None:
    """A ``ReconstructResult``'s originals and reconstructions side by side, in pairs, with
    class and error captions; ``mode`` from ``pick_mode``."""
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
    console.print("original | reconstruction (squared error), in pairs")
    console.print(
        textart.grid(
            images,
            cols=2 * pairs,
            width=cell,
            captions=captions,
            row_gap=1,
            mode=mode[0],
            palette=mode[1],
        )  # fmt: skip
    )


def _row_labels(ys: Any, lines_per_row: int) -> dict[int, str]:
    """Round code 2 values by the text line where they lie (row 0's top line is line 0)."""
    from aecli.render.ticks import nice_ticks, tick_label

    rows = len(ys)
    step = float(ys[0] - ys[1]) if rows > 1 else 1.0
    top = float(ys[0]) + step / 2
    total = rows * lines_per_row
    out = {}
    for v in nice_ticks(ys[-1], ys[0], max(2, total // 4)):
        line = min(total - 1, int((top - v) / step * lines_per_row))
        out.setdefault(line, tick_label(v))
    return out


def _column_axis(xs: Any, cell: int) -> str:
    """Round code 1 values centred under the text columns where they lie."""
    from aecli.render.ticks import nice_ticks, tick_label

    cols = len(xs)
    step = float(xs[1] - xs[0]) if cols > 1 else 1.0
    left = float(xs[0]) - step / 2
    width = cols * cell
    widest = max(len(tick_label(v)) for v in (xs[0], xs[-1], -abs(step)))
    axis = [" "] * width
    free = 0  # the first column a label may use (one blank between labels)
    for v in nice_ticks(xs[0], xs[-1], max(2, width // (widest + 2))):
        s = tick_label(v)
        start = int((v - left) / step * cell) - len(s) // 2
        start = min(max(start, free), width - len(s))
        if start < free:
            continue
        axis[start : start + len(s)] = s
        free = start + len(s) + 1
    return "".join(axis).rstrip()


def decode_grid(console: Any, images: Any, xs: Any, ys: Any, mode: tuple[str, str]) -> None:
    """The decode grid as text: round code 2 values down the left, code 1 values along the
    bottom, each at the line or column where that value lies; ``mode`` from ``pick_mode``."""
    from rich.text import Text

    from aecli.render import textart

    rows, cols = images.shape[:2]
    cell = textart.fit_grid(cols, cols, _term_width() - 7, 10**6, gap=0, max_cell=14)
    cell = max(cell, 2)
    blocks = [
        textart.row(list(images[r]), width=cell, gap=0, mode=mode[0], palette=mode[1]).split(
            "\n", allow_blank=True
        )
        for r in range(rows)
    ]
    labels = _row_labels(ys, len(blocks[0]))
    label_w = max((len(s) for s in labels.values()), default=0) + 1
    k = 0
    for block in blocks:
        for line in block:
            out = Text(labels.get(k, "").rjust(label_w - 1) + " ")
            out.append_text(line)
            console.print(out)
            k += 1
    console.print(" " * label_w + _column_axis(xs, cell))
    right, up = ("→", "↑") if _unicode(console) else ("->", "^")
    console.print(" " * label_w + f"code 1 {right}   (code 2 {up} on the left)")


def strip(console: Any, start: Any, decoded: Any, end: Any, codes: Any, mode: tuple[str, str]):
    """The interpolation strip as text: original, decoded line, original."""
    from aecli.render import textart

    images = [start, *decoded, end]
    n = len(images)
    # At least 5 columns a cell, so the "start" caption is never cut.
    cell = max(5, min(12, textart.fit_grid(n, n, _term_width(), 10**6, caption_lines=1)))
    captions = ["start", *[f"{a:.1f},{b:.1f}" for a, b in codes], "end"]
    cols = max(1, min(n, (_term_width() + 1) // (cell + 1)))
    console.print(
        textart.grid(
            images, cols=cols, width=cell, captions=captions, mode=mode[0], palette=mode[1]
        )
    )
