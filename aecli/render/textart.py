"""Images as terminal text: pure functions from arrays to rich ``Text`` or plain strings.

Shared by the CLI (``--ascii`` options) and the TUI. Three renderings of a grey image:

- ``"blocks"``: Unicode upper half blocks (``▀``), the top pixel as foreground colour and the
  bottom pixel as background colour, so one cell shows two pixels with the terminal's greys
  (truecolor, or the 24-step grey ramp of 256-colour terminals). The image carries its own
  paper, so it reads the same on dark and light themes; ``invert=True`` draws dark ink on
  white paper to sit quietly on a light theme.
- ``"shade"``: a Unicode shading ramp (`` ░▒▓█``) in the default foreground colour on the
  default background: ink follows the theme (light ink on dark, dark ink on light), no colour.
- ``"ascii"``: the same idea with a plain-ASCII ramp (`` .:-=+*#%@``), for pipes and logs.

Every cell covers one pixel column and two pixel rows of the resampled image, so with the
usual 1:2 cell shape square images stay square. Images are resampled by area averaging (exact
for any factor, up or down), so thin strokes fade instead of vanishing. ``scatter`` draws
labelled 2-D points as coloured braille dots (the TUI's code-space map).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
from rich.color import Color
from rich.style import Style
from rich.text import Text

from aecli.render.palette import CLASS_COLORS, to_unit

MODES = ("blocks", "shade", "ascii")
SHADE_RAMP = " ░▒▓█"
ASCII_RAMP = " .:-=+*#%@"
UPPER_HALF = "▀"


def _square(image: np.ndarray) -> np.ndarray:
    """One image as (h, w) float32 in [0, 1]; a flat (h*w,) image must be square."""
    a = np.asarray(image)
    if a.ndim == 1:
        side = int(round(a.size**0.5))
        if side * side != a.size:
            raise ValueError(f"a flat image must be square, got {a.size} pixels")
        a = a.reshape(side, side)
    if a.ndim != 2:
        raise ValueError(f"expected one 2-D image, got shape {a.shape}")
    return to_unit(a)


@functools.lru_cache(maxsize=256)
def _area_weights(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) matrix: each output bin averages the input pixels it overlaps, by overlap."""
    edges = np.linspace(0.0, n_in, n_out + 1)
    lo, hi = edges[:-1, None], edges[1:, None]
    j = np.arange(n_in)[None, :]
    overlap = np.clip(np.minimum(hi, j + 1) - np.maximum(lo, j), 0.0, None)
    return (overlap / overlap.sum(axis=1, keepdims=True)).astype(np.float32)


def resample(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Area-average an image (any size) to ``height`` x ``width`` pixels.

    Downsampling averages every source pixel into the output bins it overlaps (no aliasing,
    strokes fade rather than vanish); upsampling by an integer factor replicates pixels.
    """
    if height < 1 or width < 1:
        raise ValueError(f"target size must be positive, got {height}x{width}")
    a = _square(image)
    return _area_weights(a.shape[0], height) @ a @ _area_weights(a.shape[1], width).T


def fit_cells(
    max_width: int, max_height: int, *, shape: tuple[int, int] = (28, 28)
) -> tuple[int, int]:
    """The largest (width, height) in cells that shows an image of ``shape`` undistorted.

    A cell is one pixel wide and two pixels tall, so a square image needs twice as many
    columns as rows.

    Args:
        max_width: columns available (at least 1).
        max_height: rows available (at least 1).
        shape: (rows, cols) of the source image, for its aspect ratio.

    Returns:
        ``(width, height)`` with ``width <= max_width`` and ``height <= max_height``.
    """
    if max_width < 1 or max_height < 1:
        raise ValueError(f"need at least one cell, got {max_width}x{max_height}")
    aspect = shape[1] / shape[0]  # width / height in pixels
    height = max(1, min(max_height, int(max_width / (2 * aspect))))
    width = max(1, min(max_width, round(2 * height * aspect)))
    return width, height


def _size(image: np.ndarray, width: int | None, height: int | None) -> tuple[int, int]:
    shape = np.asarray(image).shape
    if np.asarray(image).ndim == 1:
        side = int(round(shape[0] ** 0.5))
        shape = (side, side)
    if width is None and height is None:
        return shape[1], max(1, shape[0] // 2)  # natural size: one pixel per column
    if width is None:
        return fit_cells(10**6, height, shape=shape)
    if height is None:
        return fit_cells(width, 10**6, shape=shape)
    return width, height


@functools.lru_cache(maxsize=8192)
def _block_style(top: int, bottom: int, palette: str) -> Style:
    return Style(color=_grey(top, palette), bgcolor=_grey(bottom, palette))


def _grey(level: int, palette: str) -> Color:
    """Grey ``level`` (0..255) as a rich colour: exact RGB, or the nearest 256-colour grey."""
    if palette == "256":
        # xterm: 16 is black, 232..255 are greys 8..238 in steps of 10, 231 is white.
        if level < 4:
            return Color.from_ansi(16)
        if level > 246:
            return Color.from_ansi(231)
        return Color.from_ansi(232 + min(23, max(0, round((level - 8) / 10))))
    return Color.from_rgb(level, level, level)


def _ramp_lines(cells: np.ndarray, ramp: str) -> list[str]:
    idx = np.clip(np.rint(cells * (len(ramp) - 1)), 0, len(ramp) - 1).astype(int)
    return ["".join(ramp[i] for i in row) for row in idx]


def render_lines(
    image: np.ndarray,
    *,
    width: int | None = None,
    height: int | None = None,
    mode: str = "shade",
) -> list[str]:
    """Plain text lines (no colour) for one image: ``"shade"``, ``"ascii"`` or ``"blocks"``.

    Without colour, ``"blocks"`` thresholds each pixel pair into `` ▀▄█`` (two pixels per cell,
    ink only); ``"shade"`` and ``"ascii"`` map the average of each cell to a density ramp.

    Args:
        image: (h, w) uint8 or float [0, 1] image (1 is ink).
        width: columns; height: rows. Give one to keep the aspect ratio, none for natural size.
        mode: ``"shade"`` (Unicode), ``"ascii"`` (pure ASCII) or ``"blocks"``.

    Returns:
        ``height`` strings of exactly ``width`` characters.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    w, h = _size(image, width, height)
    if mode == "blocks":
        px = resample(image, 2 * h, w) >= 0.5
        top, bottom = px[0::2], px[1::2]
        chars = np.array([" ", "▄", "▀", "█"])[top * 2 + bottom]
        return ["".join(row) for row in chars]
    cells = resample(image, h, w)
    return _ramp_lines(cells, SHADE_RAMP if mode == "shade" else ASCII_RAMP)


def render(
    image: np.ndarray,
    *,
    width: int | None = None,
    height: int | None = None,
    mode: str = "blocks",
    invert: bool = False,
    palette: str = "truecolor",
) -> Text:
    """One image as rich ``Text``: ``height`` lines of ``width`` cells.

    Args:
        image: (h, w) uint8 or float [0, 1] image; 1 (255) is ink, as in MNIST.
        width: columns; height: rows. Give one to keep the aspect ratio, none for natural size
            (28x28 -> 28 columns x 14 rows).
        mode: ``"blocks"`` (coloured half blocks), ``"shade"`` or ``"ascii"`` (ramps in the
            default colours, no style at all).
        invert: for ``"blocks"``: dark ink on white paper instead of white ink on black.
        palette: for ``"blocks"``: ``"truecolor"`` (exact greys), ``"256"`` (xterm greys) or
            ``"plain"`` (no colour, for an output that shows none: each cell's two pixels are
            thresholded into `` ▀▄█``, as ``render_lines`` does).

    Returns:
        A ``Text`` whose plain form is the lines joined by newlines.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if mode != "blocks" or palette == "plain":
        return Text("\n".join(render_lines(image, width=width, height=height, mode=mode)))
    w, h = _size(image, width, height)
    px = resample(image, 2 * h, w)
    if invert:
        px = 1.0 - px
    levels = np.rint(px * 255).astype(int)
    text = Text(no_wrap=True, overflow="crop")
    for r in range(h):
        top, bottom = levels[2 * r], levels[2 * r + 1]
        if r:
            text.append("\n")
        _append_runs(text, top, bottom, palette)
    return text


def _append_runs(text: Text, top: np.ndarray, bottom: np.ndarray, palette: str) -> None:
    """Append one row of half blocks, merging equal neighbours into one styled run."""
    start = 0
    n = len(top)
    for i in range(1, n + 1):
        if i == n or top[i] != top[start] or bottom[i] != bottom[start]:
            style = _block_style(int(top[start]), int(bottom[start]), palette)
            text.append(UPPER_HALF * (i - start), style)
            start = i


def _center(s: str, width: int) -> str:
    s = s[:width]
    left = (width - len(s)) // 2
    return " " * left + s + " " * (width - len(s) - left)


def grid(
    images: Sequence[np.ndarray] | np.ndarray,
    *,
    cols: int,
    width: int,
    height: int | None = None,
    captions: Sequence[str] | None = None,
    gap: int = 1,
    row_gap: int = 0,
    mode: str = "blocks",
    invert: bool = False,
    palette: str = "truecolor",
) -> Text:
    """Lay out images in rows of ``cols``, each ``width`` x ``height`` cells, captions below.

    Args:
        images: sequence or (n, h, w) array of images.
        cols: images per row.
        width: columns per image; height: rows per image (default keeps the aspect ratio).
        captions: one short string per image, centred under it (cut to ``width``).
        gap: blank columns between images; row_gap: blank lines between rows of images.
        mode, invert, palette: as in ``render``.

    Returns:
        ``Text`` of ``rows * (height + caption) + gaps`` lines, each
        ``cols * width + (cols - 1) * gap`` cells wide at most.
    """
    n = len(images)
    if n == 0:
        return Text()
    if cols < 1:
        raise ValueError(f"cols must be at least 1, got {cols}")
    if height is None:
        _, height = fit_cells(width, 10**6, shape=np.asarray(images[0]).shape[-2:])
    tiles = [
        render(im, width=width, height=height, mode=mode, invert=invert, palette=palette)
        for im in images
    ]
    tile_lines = [t.split("\n", allow_blank=True) for t in tiles]
    spacer = " " * gap
    out = Text(no_wrap=True, overflow="crop")
    first = True
    for r0 in range(0, n, cols):
        row = list(range(r0, min(n, r0 + cols)))
        if not first:
            out.append("\n" * (row_gap + 1))
        first = False
        for y in range(height):
            if y:
                out.append("\n")
            for k, i in enumerate(row):
                if k:
                    out.append(spacer)
                out.append_text(tile_lines[i][y])
        if captions is not None:
            out.append("\n")
            out.append(spacer.join(_center(str(captions[i]), width) for i in row))
    return out


def row(
    images: Sequence[np.ndarray] | np.ndarray,
    *,
    width: int,
    captions: Sequence[str] | None = None,
    gap: int = 1,
    mode: str = "blocks",
    invert: bool = False,
    palette: str = "truecolor",
) -> Text:
    """Images side by side in one row (``grid`` with ``cols=len(images)``)."""
    return grid(
        images,
        cols=max(1, len(images)),
        width=width,
        captions=captions,
        gap=gap,
        mode=mode,
        invert=invert,
        palette=palette,
    )


def hstack(blocks: Sequence[Text], *, gap: int = 2) -> Text:
    """Put multi-line ``Text`` blocks side by side, top-aligned, each padded to its width."""
    split = [b.split("\n", allow_blank=True) for b in blocks]
    widths = [max((line.cell_len for line in lines), default=0) for lines in split]
    height = max((len(lines) for lines in split), default=0)
    out = Text(no_wrap=True, overflow="crop")
    for y in range(height):
        if y:
            out.append("\n")
        for k, (lines, w) in enumerate(zip(split, widths, strict=True)):
            if k:
                out.append(" " * gap)
            line = lines[y] if y < len(lines) else Text()
            out.append_text(line)
            if k < len(split) - 1:
                out.append(" " * (w - line.cell_len))
    return out


def fit_grid(
    n: int,
    cols: int,
    max_width: int,
    max_height: int,
    *,
    gap: int = 1,
    row_gap: int = 0,
    caption_lines: int = 0,
    max_cell: int = 28,
) -> int:
    """The largest square-image width (in columns, even) so that ``n`` images in rows of
    ``cols`` fit in ``max_width`` x ``max_height`` cells; 0 when even 2 columns do not fit."""
    rows = -(-n // cols)
    best = 0
    for w in range(2, max_cell + 1, 2):
        total_w = cols * w + (cols - 1) * gap
        total_h = rows * (w // 2 + caption_lines) + (rows - 1) * row_gap
        if total_w <= max_width and total_h <= max_height:
            best = w
    return best


def auto_mode(color_system: str | None, encoding: str = "utf-8") -> str:
    """Pick a mode for a console: blocks with colour, shade on a Unicode pipe, else ASCII.

    Args:
        color_system: rich ``Console.color_system`` (None when colour is off or not a tty).
        encoding: the console's encoding.
    """
    if "utf" not in (encoding or "").lower():
        return "ascii"
    return "blocks" if color_system else "shade"


# Braille dot bits by (column, row) inside a 2x4 cell.
_BRAILLE_BITS = np.array([[0x01, 0x02, 0x04, 0x40], [0x08, 0x10, 0x20, 0x80]], dtype=np.int64)


def scatter(
    points: np.ndarray,
    labels: np.ndarray,
    *,
    width: int,
    height: int,
    bounds: tuple[float, float, float, float],
    colors: Sequence[str] = CLASS_COLORS,
    cursor: tuple[float, float] | None = None,
    cursor_style: str = "bold reverse",
) -> Text:
    """Labelled 2-D points as braille dots, each cell coloured by its most frequent class.

    Args:
        points: (n, 2) coordinates; labels: (n,) integer classes.
        width, height: size in cells (each cell holds 2x4 dots).
        bounds: ``(xmin, xmax, ymin, ymax)`` of the view; y grows upwards, as in a plot.
        colors: one colour per class (cycled if there are more classes).
        cursor: a point to mark with a ``+`` in ``cursor_style`` (if inside the view).

    Returns:
        ``Text`` of ``height`` lines of ``width`` cells.
    """
    xmin, xmax, ymin, ymax = bounds
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    lab = np.asarray(labels, dtype=np.int64).reshape(-1)
    n_classes = max(int(lab.max()) + 1 if lab.size else 1, 1)
    dx = (pts[:, 0] - xmin) / (xmax - xmin) * (2 * width)
    dy = (ymax - pts[:, 1]) / (ymax - ymin) * (4 * height)
    inside = (dx >= 0) & (dx < 2 * width) & (dy >= 0) & (dy < 4 * height)
    dx, dy, lab = dx[inside].astype(np.int64), dy[inside].astype(np.int64), lab[inside]
    cx, cy = dx // 2, dy // 4
    bits = np.zeros((height, width), dtype=np.int64)
    np.bitwise_or.at(bits, (cy, cx), _BRAILLE_BITS[dx % 2, dy % 4])
    counts = np.zeros((height, width, n_classes), dtype=np.int64)
    np.add.at(counts, (cy, cx, lab), 1)
    major = counts.argmax(axis=2)
    cur = None
    if cursor is not None:
        ux = int((cursor[0] - xmin) / (xmax - xmin) * width)
        uy = int((ymax - cursor[1]) / (ymax - ymin) * height)
        if 0 <= ux < width and 0 <= uy < height:
            cur = (uy, ux)
    styles = [Style.parse(colors[k % len(colors)]) for k in range(n_classes)]
    text = Text(no_wrap=True, overflow="crop")
    for r in range(height):
        if r:
            text.append("\n")
        for c in range(width):
            if cur == (r, c):
                text.append("+", Style.parse(cursor_style))
            elif bits[r, c]:
                text.append(chr(0x2800 + int(bits[r, c])), styles[major[r, c]])
            else:
                text.append(" ")
    return text


def legend(class_names: Sequence[str], colors: Sequence[str] = CLASS_COLORS) -> Text:
    """A one-line class legend: a coloured ``●`` before each class name."""
    text = Text(no_wrap=True, overflow="ellipsis")
    for k, name in enumerate(class_names):
        if k:
            text.append(" ")
        text.append("●", Style.parse(colors[k % len(colors)]))
        text.append(str(name))
    return text
