"""Decode grids drawn in code coordinates, with round tick values: the one builder of them all.

``aecli generate``, ``aecli experiment``, ``aecli compare`` and the TUI's grid export (``g``)
draw their sheets with ``draw_decode_grid`` / ``decode_grid_figure``; the ``--ascii`` sheet
labels its axes with the same ``aecli.render.ticks.nice_ticks``.

The grid's cells sit at evenly spaced codes (``numpy.linspace``), which are rarely round
numbers: a 15 x 15 grid over -2..2 has cells at -2, -1.714, -1.429, ... Labelling cells would
print ``1.42857``. Instead the axes are labelled at round code values (chosen as matplotlib's
``MaxNLocator`` does, from steps of 1, 2 and 5 times a power of ten) placed where those values
truly lie: the sheet is drawn with each cell centred on its code, so a tick at code 0.5 sits
between the cells at 0.43 and 0.71, where 0.5 would be. Small unlabelled ticks mark every
cell's centre.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from aecli.render.ticks import nice_ticks, tick_label


def tile(
    images: np.ndarray, rows: int, cols: int, *, pad: int = 1, fill: float = 1.0
) -> np.ndarray:
    """Tile ``rows * cols`` images (n, h, w) in [0, 1] into one array, row-major, with padding."""
    images = np.asarray(images, dtype=np.float32)
    n, h, w = images.shape[0], images.shape[-2], images.shape[-1]
    images = images.reshape(n, h, w)
    sheet = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad), fill, np.float32)
    for i in range(min(n, rows * cols)):
        r, c = divmod(i, cols)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        sheet[y : y + h, x : x + w] = images[i]
    return sheet


def draw_decode_grid(
    ax, images: np.ndarray, xs: np.ndarray, ys: np.ndarray, *, max_ticks: int = 11
) -> tuple[float, float, float, float]:
    """Draw a decoded grid on ``ax`` in code coordinates, black ink on white, round ticks.

    Args:
        ax: a matplotlib ``Axes``.
        images: (rows, cols, 28, 28) in [0, 1]; ``images[r, c]`` decoded from ``(xs[c], ys[r])``.
        xs: code 1 values, ascending (left to right), evenly spaced.
        ys: code 2 values, descending (top to bottom), evenly spaced: code 2 grows upwards,
            as on the scatter plot.
        max_ticks: the most labelled ticks per axis.

    Returns:
        The sheet's extent ``(left, right, bottom, top)`` in code units.
    """
    images = np.asarray(images, dtype=np.float32)
    rows, cols = images.shape[:2]
    xs, ys = np.asarray(xs, np.float64), np.asarray(ys, np.float64)
    sheet = tile(images.reshape(rows * cols, *images.shape[-2:]), rows, cols, pad=0)
    step_x = float(xs[1] - xs[0]) if cols > 1 else 1.0
    step_y = float(ys[0] - ys[1]) if rows > 1 else 1.0
    # Each cell is centred on its code: the sheet lives in code coordinates, so its ticks,
    # and a box drawn on the scatter plot, mean the same thing.
    extent = (
        float(xs[0]) - step_x / 2,
        float(xs[-1]) + step_x / 2,
        float(ys[-1]) - step_y / 2,
        float(ys[0]) + step_y / 2,
    )
    ax.imshow(sheet, cmap="gray_r", vmin=0, vmax=1, extent=extent, interpolation="nearest")
    # Hairlines between cells: glyphs that fill their whole 28x28 frame (notMNIST) would
    # otherwise run into each other.
    line = {"color": "#b0b0b0", "linewidth": 0.5}
    ax.vlines([extent[0] + k * step_x for k in range(1, cols)], extent[2], extent[3], **line)
    ax.hlines([extent[2] + k * step_y for k in range(1, rows)], extent[0], extent[1], **line)
    tx = nice_ticks(xs[0], xs[-1], max_ticks)
    ty = nice_ticks(ys[-1], ys[0], max_ticks)
    ax.set_xticks(tx, [tick_label(v) for v in tx])
    ax.set_yticks(ty, [tick_label(v) for v in ty])
    ax.set_xticks(xs, minor=True)  # every cell's centre, unlabelled
    ax.set_yticks(ys, minor=True)
    ax.tick_params(which="minor", length=2, width=0.5, color="0.5")
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    return extent


def decode_grid_figure(images: np.ndarray, xs: np.ndarray, ys: np.ndarray, *, title: str) -> Figure:
    """The decoded grid as one sheet whose axes are the code values (``draw_decode_grid``).

    Args:
        images: (rows, cols, 28, 28) in [0, 1]; ``images[r, c]`` decoded from ``(xs[c], ys[r])``.
        xs: code 1 values, ascending (left to right).
        ys: code 2 values, descending (top to bottom), so the sheet has the scatter's
            orientation: code 2 grows upwards.
        title: figure title.
    """
    rows, cols = np.asarray(images).shape[:2]
    side = float(np.clip(0.42 * max(rows, cols), 5.0, 11.0))
    fig = Figure(figsize=(side + 0.9, side + 0.8), layout="constrained")
    ax = fig.subplots()
    # About one label per half inch: labels such as -0.8 stay apart at font size 9.
    draw_decode_grid(ax, images, xs, ys, max_ticks=int(np.clip(side / 0.5, 6, 11)))
    ax.tick_params(labelsize=9)
    ax.set_xlabel("code 1 (left to right)")
    ax.set_ylabel("code 2 (bottom to top)")
    ax.set_title(title, fontsize=11)
    return fig
