"""The figure of ``aecli compare``: several runs' maps, decode grids and loss curves at once.

Top row: the 2-D maps of the same test images side by side, PCA and t-SNE first (no decoder),
then each run's codes, each titled with the paper's figures. Bottom row: the runs' loss curves
overlaid (training solid, validation dashed) under PCA and t-SNE, and under each run's map its
decode grid over the central 98 % of its training codes. A pure function of arrays, no pyplot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from aecli.render.decode_grid import draw_decode_grid
from aecli.render.figures import class_legend_handles, draw_embedding


@dataclass(frozen=True)
class MapPanel:
    """One 2-D map of the test images.

    Attributes:
        heading: the panel's title (name and figures).
        points: ``(n, 2)`` coordinates of the test images (None: skipped, e.g. no t-SNE).
        axes: the axis names, e.g. ``("code 1", "code 2")``.
    """

    heading: str
    points: np.ndarray | None
    axes: tuple[str, str]


@dataclass(frozen=True)
class RunPanel:
    """What the figure shows of one run.

    Attributes:
        map: its codes of the test images.
        grid: decoded images ``(rows, cols, 28, 28)`` in [0, 1]; ``grid[r, c]`` decodes
            ``(xs[c], ys[r])``.
        xs, ys: the grid's code values (xs ascending, ys descending).
        metrics: its per-epoch history (``train_loss``, ``val_loss``).
        label: its name in the loss legend.
    """

    map: MapPanel
    grid: np.ndarray
    xs: np.ndarray
    ys: np.ndarray
    metrics: Sequence[dict[str, Any]]
    label: str


def runs_comparison(
    references: Sequence[MapPanel],
    runs: Sequence[RunPanel],
    labels: np.ndarray,
    class_names: Sequence[str],
    *,
    title: str,
    seed: int = 0,
) -> Figure:
    """The comparison figure (see the module docstring).

    Args:
        references: the maps without a decoder (PCA, t-SNE), shown first.
        runs: one entry per run, in the order given on the command line.
        labels: class of each test image (shared by every map).
        class_names: names indexed by label.
        title: figure title.
        seed: order in which points are drawn.
    """
    cols = len(references) + len(runs)
    fig = Figure(figsize=(4.6 * cols + 1.4, 9.6), layout="constrained")
    grid = fig.add_gridspec(2, cols, height_ratios=[1.0, 1.0])
    panels = [*references, *(r.map for r in runs)]
    for c, panel in enumerate(panels):
        ax = fig.add_subplot(grid[0, c])
        if panel.points is None:
            ax.text(0.5, 0.5, "skipped", ha="center", va="center", transform=ax.transAxes)
            ax.set_axis_off()
        else:
            xl, yl = panel.axes
            draw_embedding(ax, panel.points, labels, class_names, seed=seed, xlabel=xl, ylabel=yl)
        ax.set_title(panel.heading, fontsize=9)
    if references:
        _loss_panel(fig.add_subplot(grid[1, : len(references)]), runs)
    for c, run in enumerate(runs, start=len(references)):
        _grid_panel(fig.add_subplot(grid[1, c]), run)
    fig.legend(
        handles=class_legend_handles(class_names),
        title="class",
        loc="outside right center",
        frameon=False,
    )
    fig.suptitle(title, fontsize=12)
    return fig


def _loss_panel(ax, runs: Sequence[RunPanel]) -> None:
    """Every run's loss per image against epoch: training solid, validation dashed."""
    for i, run in enumerate(runs):
        color = f"C{i % 10}"
        rows = [m for m in run.metrics if m.get("train_loss") is not None]
        ax.plot([m["epoch"] for m in rows], [m["train_loss"] for m in rows], color=color,
                label=f"{run.label}: training")  # fmt: skip
        val = [m for m in rows if m.get("val_loss") is not None]
        if val:
            ax.plot([m["epoch"] for m in val], [m["val_loss"] for m in val], color=color,
                    linestyle="--", label=f"{run.label}: validation")  # fmt: skip
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss per image (squared error + l2 x |code|²)")
    ax.set_title("loss curves (map runs: without the UMAP term)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    finite = [m["train_loss"] for r in runs for m in r.metrics if m.get("train_loss") is not None]
    if finite:  # epoch 1 is far above the rest: show the part where runs differ
        top = np.percentile(finite, 97)
        ax.set_ylim(min(finite) * 0.97, top * 1.05)


def _grid_panel(ax, run: RunPanel) -> None:
    """A run's decode grid in code coordinates, round ticks (``draw_decode_grid``)."""
    rows, cols = run.grid.shape[:2]
    draw_decode_grid(ax, run.grid, run.xs, run.ys, max_ticks=6)
    ax.set_aspect("auto")
    ax.tick_params(labelsize=8)
    ax.set_xlabel("code 1")
    ax.set_ylabel("code 2")
    ax.set_title(f"{run.label}: decode grid, {rows}x{cols} codes", fontsize=9)
