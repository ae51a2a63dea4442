"""Matplotlib figure builders: pure functions of arrays that return ``Figure`` objects.

No pyplot anywhere (no global state, safe in threads and tests): figures are made with
``matplotlib.figure.Figure`` and written with ``save_figure``, which writes atomically so a
failed save never leaves a half-written PNG or replaces a good one.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from aecli.atomic import atomic_write_bytes

# tile is re-exported: sample sheets and older callers import it from here.
from aecli.render.decode_grid import decode_grid_figure, tile  # noqa: F401
from aecli.render.palette import CLASS_COLORS, to_unit


def figure_bytes(fig: Figure, path: str | Path, *, dpi: int = 120) -> bytes:
    """``fig`` encoded in the format that ``path``'s suffix names (``.png``, ``.svg``, ``.pdf``).

    Used to render every figure of a group before any of them is written.
    """
    fmt = Path(path).suffix.lstrip(".").lower() or "png"
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def save_figure(fig: Figure, path: str | Path, *, dpi: int = 120) -> Path:
    """Write ``fig`` to ``path`` atomically (temporary file in the same folder, then rename).

    Args:
        fig: the figure to write.
        path: destination; the format follows the suffix (``.png``, ``.svg``, ``.pdf``).
        dpi: resolution for raster formats.

    Returns:
        The destination path.
    """
    return atomic_write_bytes(path, figure_bytes(fig, path, dpi=dpi))


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
        if i >= n:
            ax.set_axis_off()
            continue
        ax.imshow(imgs[i], cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(str(class_names[int(labels[i])]), fontsize=9, pad=2)
        # A light frame instead of no axes: glyphs that fill the frame (notMNIST) stay apart.
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_edgecolor("#b0b0b0")
            spine.set_linewidth(0.6)
    fig.suptitle(title, fontsize=11)
    return fig


def loss_curve(
    metrics: Sequence[dict[str, Any]],
    *,
    title: str = "training loss",
    l2_weight: float = 0.1,
    reference: dict[int, float] | None = None,
    reference_label: str = "original (TensorFlow)",
    reference_note: str | None = None,
):
    """Figure of training and validation loss per image against epoch.

    Args:
        metrics: the run's metrics lines (``epoch``, ``train_loss``, ``val_loss``).
        title: figure title (say the dataset).
        l2_weight: the code penalty's weight, for the axis label.
        reference: optional ``{epoch: loss}`` points to mark (the original's printed figures):
            each inside the run's epochs gets a marker and its value written beside it; the
            others are named in the legend.
        reference_label: what those points are, for the legend and the annotations.
        reference_note: said after the label in the legend, e.g. that the original trained on
            more images than this run.
    """
    fig = Figure(figsize=(6.4, 4.0), layout="constrained")
    ax = fig.add_subplot()
    epochs = [m["epoch"] for m in metrics]
    ax.plot(epochs, [m["train_loss"] for m in metrics], label="training (mean over the epoch)")
    val = [(m["epoch"], m["val_loss"]) for m in metrics if m.get("val_loss") is not None]
    if val:
        best_epoch, best = min(val, key=lambda p: p[1])
        ax.plot(
            *zip(*val, strict=True),
            label=f"validation (end of epoch); best {best:.2f} at epoch {best_epoch}",
        )
        ax.scatter([best_epoch], [best], color="C1", zorder=3, s=18)
    if reference:
        _mark_reference(ax, reference, max(epochs, default=0), reference_label, reference_note)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))  # whole epochs
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"loss per image (squared error + {l2_weight:g} |code|²)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def _mark_reference(
    ax, reference: dict[int, float], last: int, label: str, note: str | None
) -> None:
    """The original's figures on the loss axes: a marker and its value at each epoch it printed.

    Points beyond the run's last epoch are not drawn (they would squeeze the curve into a
    corner); the legend entry names them instead.
    """
    inside = {e: v for e, v in sorted(reference.items()) if e <= max(last, 1)}
    beyond = {e: v for e, v in sorted(reference.items()) if e not in inside}
    words = ", ".join(f"{v:g} at epoch {e}" for e, v in inside.items())
    if beyond:
        words += ("; " if words else "") + ", ".join(
            f"{v:g} at epoch {e} (after this run's {last})" for e, v in beyond.items()
        )
    entry = f"{label}: {words}" + (f"\n{note}" if note else "")
    ax.scatter(list(inside), list(inside.values()), marker="x", color="k", s=40, zorder=4,
               label=entry)  # fmt: skip
    lo, hi = ax.get_ylim()
    for e, v in inside.items():
        # Beside the point, towards the middle of the axes (never into the title), on a light
        # box so the text reads where it crosses a curve.
        right = e <= 0.6 * max(last, 1)
        up = v < lo + 0.7 * (hi - lo)
        ax.annotate(
            f"original {v:g}\n(epoch {e})",
            xy=(e, v),
            xytext=(12 if right else -12, 12 if up else -30),
            textcoords="offset points",
            ha="left" if right else "right",
            fontsize=7,
            bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "0.7", "alpha": 0.85},
            arrowprops={"arrowstyle": "-", "color": "0.3", "linewidth": 0.6},
        )


# --------------------------------------------------------------------------------------------
# Latent-space figures (reconstructions, embeddings, decode grids, interpolation, comparison)
# --------------------------------------------------------------------------------------------


def class_colors(n_classes: int) -> list[tuple[float, float, float, float]]:
    """One RGBA colour per class from a qualitative palette (tab10, tab20 beyond 10)."""
    from matplotlib import colormaps
    from matplotlib.colors import to_rgba

    if n_classes <= 10:
        return [to_rgba(c) for c in CLASS_COLORS[:n_classes]]
    cmap = colormaps["tab20"]
    return [cmap(i % 20) for i in range(n_classes)]


def scatter_style(n_points: int) -> tuple[float, float]:
    """Marker area (points^2) and alpha for ``n_points`` on a ~7-inch axes.

    Few points get large opaque markers; 55,000 get 1.5 pt^2 markers at alpha 0.45, so a
    dense cluster still shows its inner structure instead of a solid blob, and a sparse class
    stays visible.
    """
    n = max(n_points, 1)
    size = float(np.clip(4.0e4 / n, 1.5, 30.0))
    alpha = float(np.clip(np.sqrt(1.1e4 / n), 0.45, 0.9))
    return size, alpha


def draw_embedding(
    ax,
    points: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str],
    *,
    seed: int = 0,
    xlabel: str = "code 1",
    ylabel: str = "code 2",
    equal: bool = True,
) -> None:
    """Scatter ``points`` (n, 2) on ``ax`` coloured by class, all points, in random order.

    Drawing in a seeded random order (instead of class by class) keeps the last class from
    painting over the others where clusters overlap.
    """
    points = np.asarray(points, dtype=np.float32)
    labels = np.asarray(labels)
    colors = np.asarray(class_colors(len(class_names)))
    order = np.random.default_rng(seed).permutation(len(points))
    size, alpha = scatter_style(len(points))
    ax.scatter(
        points[order, 0],
        points[order, 1],
        c=colors[labels[order]],
        s=size,
        alpha=alpha,
        linewidths=0,
        rasterized=True,  # 55,000 vector markers would make SVG/PDF huge and slow
    )
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if equal:
        ax.set_aspect("equal", adjustable="datalim")
    ax.grid(True, linewidth=0.4, alpha=0.4)
    ax.set_axisbelow(True)


def class_legend_handles(class_names: Sequence[str]) -> list:
    """Legend handles with opaque, readable markers (the plotted ones are tiny and faint)."""
    from matplotlib.lines import Line2D

    return [
        Line2D([], [], linestyle="", marker="o", markersize=7, color=c, label=str(name))
        for c, name in zip(class_colors(len(class_names)), class_names, strict=True)
    ]


def embedding_scatter(
    points: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str],
    *,
    title: str,
    xlabel: str = "code 1",
    ylabel: str = "code 2",
    grid_box: tuple[float, float] | None = None,
    seed: int = 0,
) -> Figure:
    """The 2-D embedding of a whole split, coloured by class, with a class legend.

    Args:
        points: (n, 2) codes (or t-SNE / PCA coordinates).
        labels: class index per point.
        class_names: names indexed by label.
        title: figure title (dataset, split, epoch, what the points are).
        xlabel, ylabel: axis labels (in code units for the autoencoder).
        grid_box: ``(low, high)`` of the decode grid: drawn as a dashed square, as on the
            original's cover figure, so one sees which part of the code space the sheet shows.
        seed: order in which points are drawn.
    """
    from matplotlib.patches import Rectangle

    fig = Figure(figsize=(8.6, 7.2), layout="constrained")
    ax = fig.subplots()
    draw_embedding(ax, points, labels, class_names, seed=seed, xlabel=xlabel, ylabel=ylabel)
    handles = class_legend_handles(class_names)
    if grid_box is not None:
        low, high = grid_box
        ax.add_patch(
            Rectangle(
                (low, low),
                high - low,
                high - low,
                fill=False,
                edgecolor="black",
                linestyle="--",
                linewidth=1.4,
                zorder=3,
            )
        )
        from matplotlib.lines import Line2D

        handles.append(
            Line2D([], [], color="black", linestyle="--", label=f"decode grid\n{low:g} to {high:g}")
        )
    ax.legend(
        handles=handles,
        title="class",
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        frameon=False,
        fontsize=10,
    )
    ax.set_title(title, fontsize=11)
    return fig


decode_grid_sheet = decode_grid_figure
"""The decode-grid sheet's earlier name (``aecli.render.decode_grid.decode_grid_figure``)."""


def reconstruction_grid(
    originals: np.ndarray,
    reconstructions: np.ndarray,
    errors: Sequence[float],
    *,
    title: str,
    labels: Sequence[int] | None = None,
    class_names: Sequence[str] | None = None,
    cols: int = 10,
) -> Figure:
    """Originals above, their reconstructions below, each reconstruction titled with its error.

    Args:
        originals: (n, 28, 28) uint8 or [0, 1] images.
        reconstructions: (n, 28, 28) in [0, 1].
        errors: per-image squared error (model units).
        title: figure title (dataset, split, epoch, mean error).
        labels, class_names: when given, originals are titled with their class.
        cols: images per row; more images wrap into further original/reconstruction pairs.
    """
    orig = to_unit(originals)
    rec = np.asarray(reconstructions, dtype=np.float32)
    n = len(orig)
    blocks = max(1, -(-n // cols))
    ncols = min(cols, n)
    fig = Figure(figsize=(1.05 * ncols + 1.3, 2.35 * blocks + 0.5), layout="constrained")
    axes = fig.subplots(2 * blocks, ncols, squeeze=False)
    for b in range(blocks):
        for c in range(ncols):
            i = b * cols + c
            top, bottom = axes[2 * b, c], axes[2 * b + 1, c]
            for ax in (top, bottom):
                ax.set_xticks([])
                ax.set_yticks([])
                for spine in ax.spines.values():
                    spine.set_visible(False)
            if i >= n:
                top.set_axis_off()
                bottom.set_axis_off()
                continue
            top.imshow(orig[i], cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
            bottom.imshow(rec[i], cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
            if labels is not None and class_names is not None:
                top.set_title(str(class_names[int(labels[i])]), fontsize=9, pad=2)
            bottom.set_title(f"{float(errors[i]):.1f}", fontsize=9, pad=2)
        axes[2 * b, 0].set_ylabel("original", fontsize=9)
        axes[2 * b + 1, 0].set_ylabel("reconstruction\n(squared error)", fontsize=9)
    fig.suptitle(title, fontsize=11)
    return fig


def interpolation_strip(
    start_image: np.ndarray,
    end_image: np.ndarray,
    decoded: np.ndarray,
    codes: np.ndarray,
    *,
    title: str,
    start_label: str,
    end_label: str,
) -> Figure:
    """The straight line between two images' codes, decoded, between the two original images.

    Args:
        start_image, end_image: the two originals (28, 28), uint8 or [0, 1].
        decoded: (k, 28, 28) in [0, 1], decoded from ``codes`` (k, 2), endpoints included.
        title: figure title.
        start_label, end_label: what the endpoints are (e.g. "test #3: 7").
    """
    dec = np.asarray(decoded, dtype=np.float32)
    k = len(dec)
    fig = Figure(figsize=(0.95 * (k + 2) + 0.4, 2.1), layout="constrained")
    axes = fig.subplots(1, k + 2, squeeze=False)[0]
    panels = [(to_unit(start_image), start_label, "original")]
    panels += [(dec[i], f"({codes[i][0]:.2f},\n{codes[i][1]:.2f})", None) for i in range(k)]
    panels += [(to_unit(end_image), end_label, "original")]
    for ax, (img, label, kind) in zip(axes, panels, strict=True):
        ax.imshow(img, cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(label, fontsize=8, pad=2)
        for spine in ax.spines.values():
            # Originals get a thick frame so the decoded line between them stands apart.
            spine.set_linewidth(2.0 if kind else 0.5)
            spine.set_edgecolor("#d62728" if kind else "#999999")
    fig.suptitle(title, fontsize=10)
    return fig


def comparison_figure(
    panels: Sequence[tuple[str, np.ndarray, str, str]],
    labels: np.ndarray,
    class_names: Sequence[str],
    *,
    title: str,
    seed: int = 0,
) -> Figure:
    """Side-by-side embeddings of the same images (e.g. PCA / autoencoder / t-SNE).

    Args:
        panels: ``(heading, points (n, 2), xlabel, ylabel)`` per panel; put the measures in
            the heading (e.g. "autoencoder codes\\n5-NN acc 0.712 · trust. 0.912").
        labels: class index per point (shared by all panels).
        class_names: names indexed by label.
        title: figure title.
        seed: order in which points are drawn.
    """
    k = len(panels)
    fig = Figure(figsize=(5.2 * k + 1.2, 5.6), layout="constrained")
    axes = fig.subplots(1, k, squeeze=False)[0]
    for ax, (heading, pts, xl, yl) in zip(axes, panels, strict=True):
        draw_embedding(ax, pts, labels, class_names, seed=seed, xlabel=xl, ylabel=yl)
        ax.set_title(heading, fontsize=10)
    fig.legend(
        handles=class_legend_handles(class_names),
        title="class",
        loc="outside right center",
        frameon=False,
    )
    fig.suptitle(title, fontsize=12)
    return fig


def frame_cells(fig: Figure) -> None:
    """Draw a thin grey frame around every image of a sample sheet.

    notMNIST glyphs fill their 28x28 frame edge to edge; without a frame, neighbouring images
    on the white page run into each other and a reader cannot tell where one ends.
    """
    from matplotlib.patches import Rectangle

    for ax in fig.axes:
        if ax.images:
            ax.add_patch(
                Rectangle(
                    (0, 0),
                    1,
                    1,
                    transform=ax.transAxes,
                    fill=False,
                    edgecolor="0.6",
                    linewidth=0.6,
                    clip_on=False,
                )
            )
