"""Matplotlib figure builders: pure functions of arrays that return ``Figure`` objects.

No pyplot anywhere (no global state, safe in threads and tests): figures are made with
``matplotlib.figure.Figure`` and written with ``save_figure``, which writes atomically so a
failed save never leaves a half-written PNG or replaces a good one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure


def save_figure(fig: Figure, path: str | Path, *, dpi: int = 120) -> Path:
    """Write ``fig`` to ``path`` atomically (temporary file in the same folder, then rename).

    Args:
        fig: the figure to write.
        path: destination; the format follows the suffix (``.png``, ``.svg``, ``.pdf``).
        dpi: resolution for raster formats.

    Returns:
        The destination path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = path.suffix.lstrip(".").lower() or "png"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            fig.savefig(f, format=fmt, dpi=dpi, bbox_inches="tight")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def to_unit(images: np.ndarray) -> np.ndarray:
    """Images to float [0, 1] for display: uint8 0..255, or model units (pixels/255 - 0.5)."""
    a = np.asarray(images)
    if a.dtype == np.uint8:
        return a.astype(np.float32) / 255.0
    return np.clip(a.astype(np.float32) + 0.5, 0.0, 1.0)


def tile(images: np.ndarray, rows: int, cols: int, *, pad: int = 1, fill: float = 1.0) -> np.ndarray:
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


def sample_sheet(
    images: np.ndarray,
    labels: Sequence[int],
    class_names: Sequence[str],
    *,
    title: str,
    cols: int = 10,
) -> Figure:
    """A grid of images, each titled with its class name: the experiment's first look at the data.

    Args:
        images: (n, 28, 28) uint8 or float images.
        labels: class index per image.
        class_names: names indexed by label ("0".."9" or "A".."J").
        title: figure title (say dataset and split).
        cols: images per row.
    """
    imgs = to_unit(images)
    n = len(imgs)
    rows = max(1, -(-n // cols))
    fig = Figure(figsize=(cols * 0.9, rows * 1.0 + 0.6), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if i < n:
            ax.imshow(imgs[i], cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
            ax.set_title(str(class_names[int(labels[i])]), fontsize=9, pad=2)
    fig.suptitle(title, fontsize=11)
    return fig
