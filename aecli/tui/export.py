"""PNG figures the TUI saves on request, built with ``aecli.figures`` (matplotlib, no pyplot).

Called from worker threads (matplotlib's ``Figure`` API keeps no global state). Every file
name carries the epoch or the code, so saving again never overwrites an earlier figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def _fmt(v: float) -> str:
    return f"{v:+.2f}".replace("+", "p").replace("-", "m").replace(".", "_")


def loss_figure(history: Sequence[dict[str, Any]], *, title: str):
    """Training and validation loss per image against epoch."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3.6), layout="constrained")
    ax = fig.subplots()
    epochs = [int(r["epoch"]) for r in history]
    ax.plot(epochs, [r["train_loss"] for r in history], marker=".", label="training")
    val = [(int(r["epoch"]), r["val_loss"]) for r in history if r.get("val_loss") is not None]
    if val:
        ax.plot(*zip(*val, strict=True), marker=".", label="validation")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss per image")
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(title, fontsize=10)
    return fig


def grid_figure(images: np.ndarray, xs: Sequence[float], ys: Sequence[float], *, title: str):
    """A decode grid: ``images`` row-major with rows for ``ys`` (top = first) and columns for
    ``xs``; code values on the axes so it lines up with the code-space scatter."""
    from matplotlib.figure import Figure

    from aecli.figures import tile

    rows, cols = len(ys), len(xs)
    sheet = tile(np.asarray(images), rows, cols, pad=0)
    size = min(9.0, 0.55 * max(rows, cols) + 1.5)
    fig = Figure(figsize=(size, size + 0.4), layout="constrained")
    ax = fig.subplots()
    ax.imshow(sheet, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    h, w = sheet.shape
    step = max(1, max(rows, cols) // 10)
    ax.set_xticks([(i + 0.5) * w / cols for i in range(0, cols, step)])
    ax.set_xticklabels([f"{xs[i]:.2f}" for i in range(0, cols, step)], rotation=90, fontsize=7)
    ax.set_yticks([(i + 0.5) * h / rows for i in range(0, rows, step)])
    ax.set_yticklabels([f"{ys[i]:.2f}" for i in range(0, rows, step)], fontsize=7)
    ax.set_xlabel("code 1")
    ax.set_ylabel("code 2")
    ax.set_title(title, fontsize=10)
    return fig


def reconstruction_figure(
    originals: np.ndarray,
    recons: np.ndarray,
    captions: Sequence[str],
    errors: Sequence[float],
    *,
    title: str,
):
    """Originals above, reconstructions below, each reconstruction titled with its error."""
    from matplotlib.figure import Figure

    from aecli.figures import to_unit

    n = len(originals)
    fig = Figure(figsize=(max(3.0, 1.0 * n), 2.6), layout="constrained")
    axes = fig.subplots(2, n, squeeze=False)
    for i in range(n):
        for r, img in ((0, to_unit(originals[i])), (1, np.asarray(recons[i], np.float32))):
            ax = axes[r, i]
            ax.imshow(img, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        axes[0, i].set_title(str(captions[i]), fontsize=9)
        axes[1, i].set_title(f"{errors[i]:.1f}", fontsize=8)
    axes[0, 0].set_ylabel("test", fontsize=8)
    axes[1, 0].set_ylabel("decoded", fontsize=8)
    fig.suptitle(title, fontsize=10)
    return fig


def image_figure(image: np.ndarray, *, title: str):
    """One decoded image, large."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3.2, 3.4), layout="constrained")
    ax = fig.subplots()
    ax.imshow(np.asarray(image, np.float32), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    ax.set_title(title, fontsize=9)
    return fig


def save_training_figures(
    out_dir: Path,
    *,
    name: str,
    epoch: int,
    history: Sequence[dict[str, Any]],
    grid_images: np.ndarray | None,
    grid_xs: Sequence[float],
    grid_ys: Sequence[float],
    originals: np.ndarray | None,
    recons: np.ndarray | None,
    captions: Sequence[str],
    errors: Sequence[float],
) -> list[Path]:
    """Write the training screen's figures (loss, decode grid, reconstructions) as PNG.

    Returns:
        The paths written, ``<out_dir>/tui-epoch<NNN>-{loss,grid,reconstructions}.png``.
    """
    from aecli.figures import save_figure

    stem = Path(out_dir) / f"tui-epoch{epoch:03d}"
    paths = []
    if history:
        paths.append(
            save_figure(loss_figure(history, title=f"{name}: loss per image"), f"{stem}-loss.png")
        )
    if grid_images is not None:
        fig = grid_figure(
            grid_images, grid_xs, grid_ys, title=f"{name}: decode grid, epoch {epoch}"
        )
        paths.append(save_figure(fig, f"{stem}-grid.png"))
    if originals is not None and recons is not None:
        fig = reconstruction_figure(
            originals, recons, captions, errors, title=f"{name}: reconstructions, epoch {epoch}"
        )
        paths.append(save_figure(fig, f"{stem}-reconstructions.png"))
    return paths


def save_decoded(out_dir: Path, image: np.ndarray, code: Sequence[float], *, name: str) -> Path:
    """Write the image decoded at ``code`` to ``<out_dir>/decoded-<code>.png``."""
    from aecli.figures import save_figure

    label = ", ".join(f"{v:.3f}" for v in code)
    path = Path(out_dir) / f"decoded-{'_'.join(_fmt(v) for v in code)}.png"
    return save_figure(image_figure(image, title=f"{name}: decoded at ({label})"), path)


def save_grid_around(
    out_dir: Path,
    images: np.ndarray,
    xs: Sequence[float],
    ys: Sequence[float],
    center: Sequence[float],
    *,
    name: str,
) -> Path:
    """Write a decode grid around ``center`` to ``<out_dir>/grid-<code>.png``."""
    from aecli.figures import save_figure

    path = Path(out_dir) / f"grid-{'_'.join(_fmt(v) for v in center)}.png"
    label = ", ".join(f"{v:.2f}" for v in center)
    return save_figure(grid_figure(images, xs, ys, title=f"{name}: around ({label})"), path)
