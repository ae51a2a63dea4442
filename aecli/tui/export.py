"""PNG figures the TUI saves on request, built with ``aecli.render.figures`` (no pyplot).

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


def _grid(images: np.ndarray, xs: Sequence[float], ys: Sequence[float], *, title: str):
    """The shared decode-grid sheet for ``images`` given row-major, rows for ``ys`` (top first)."""
    from aecli.render.figures import decode_grid_sheet

    imgs = np.asarray(images, np.float32).reshape(len(ys), len(xs), 28, 28)
    return decode_grid_sheet(imgs, np.asarray(xs), np.asarray(ys), title=title)


def image_figure(image: np.ndarray, *, title: str):
    """One decoded image, large, drawn as every aecli figure draws images: black ink on white
    (``gray_r`` over ``aecli.render.palette.to_unit``) in a light frame, as the sample sheet
    and the reconstructions do."""
    from matplotlib.figure import Figure

    from aecli.render.palette import to_unit

    fig = Figure(figsize=(3.2, 3.4), layout="constrained")
    ax = fig.subplots()
    ax.imshow(to_unit(image), cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_edgecolor("#b0b0b0")
        spine.set_linewidth(0.6)
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
    from aecli.render.figures import loss_curve, reconstruction_grid, save_figure

    stem = Path(out_dir) / f"tui-epoch{epoch:03d}"
    paths = []
    if history:
        fig = loss_curve(list(history), title=f"{name}: loss per image")
        paths.append(save_figure(fig, f"{stem}-loss.png"))
    if grid_images is not None:
        fig = _grid(grid_images, grid_xs, grid_ys, title=f"{name}: decode grid, epoch {epoch}")
        paths.append(save_figure(fig, f"{stem}-grid.png"))
    if originals is not None and recons is not None:
        fig = reconstruction_grid(
            originals,
            recons,
            errors,
            title=f"{name}: reconstructions, epoch {epoch}",
            labels=list(range(len(originals))),
            class_names=list(captions),
            cols=len(originals),
        )
        paths.append(save_figure(fig, f"{stem}-reconstructions.png"))
    return paths


def save_decoded(out_dir: Path, image: np.ndarray, code: Sequence[float], *, name: str) -> Path:
    """Write the image decoded at ``code`` to ``<out_dir>/decoded-<code>.png``."""
    from aecli.render.figures import save_figure

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
    from aecli.render.figures import save_figure

    path = Path(out_dir) / f"grid-{'_'.join(_fmt(v) for v in center)}.png"
    label = ", ".join(f"{v:g}" for v in center)
    step = f", step {abs(xs[1] - xs[0]):g}" if len(xs) > 1 else ""
    title = f"{name}: {len(ys)}x{len(xs)} codes decoded around ({label}){step}"
    return save_figure(_grid(images, xs, ys, title=title), path)
