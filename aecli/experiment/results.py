"""The typed results of the jobs in ``aecli.experiment.jobs``; ``to_json()`` is each command's
``--json`` object (before the CLI rounds its floats), key for key and in order.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

GRID_LAYOUT = (
    "row r, column c decodes (xs[c], ys[r]); xs ascend left to right, ys descend "
    "top to bottom (the scatter plot's orientation)"
)


@dataclass(frozen=True)
class ReconstructResult:
    """Reconstructions of seeded random images and the mean error over their whole split.

    ``originals``, ``reconstructions``, ``errors`` and ``labels`` are those of the shown images
    (``indices``); the means are over all ``images_in_split`` images.
    """

    png: Path
    checkpoint: Path
    epoch: int
    dataset: str
    split: str
    images_in_split: int
    indices: np.ndarray
    originals: np.ndarray
    reconstructions: np.ndarray
    errors: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    mean_squared_error: float
    mean_loss: float
    l2_weight: float
    seconds: float

    def to_json(self) -> dict[str, Any]:
        """The ``aecli reconstruct --json`` object."""
        return {
            "command": "reconstruct",
            "png": str(self.png),
            "checkpoint": str(self.checkpoint),
            "epoch": self.epoch,
            "dataset": self.dataset,
            "split": self.split,
            "images_in_split": self.images_in_split,
            "indices": [int(i) for i in self.indices],
            "labels": [self.class_names[int(c)] for c in self.labels],
            "errors": [float(e) for e in self.errors],
            "mean_squared_error": self.mean_squared_error,
            "mean_loss": self.mean_loss,
            "l2_weight": self.l2_weight,
            "seconds": self.seconds,
        }


@dataclass(frozen=True)
class EmbedResult:
    """The codes of a whole split, their scatter, and how well they keep the classes apart."""

    png: Path
    npz: Path
    checkpoint: Path
    epoch: int
    dataset: str
    split: str
    codes: np.ndarray
    measures: Any  # aecli.latent.embed.Measures
    grid_box: tuple[float, float] | None
    fraction_inside_grid: float | None
    seconds: dict[str, float]
    protocol: Any = None  # aecli.latent.protocol.Protocol; None without train and test splits

    def to_json(self) -> dict[str, Any]:
        """The ``aecli embed --json`` object."""
        return {
            "command": "embed",
            "png": str(self.png),
            "codes": str(self.npz),
            "checkpoint": str(self.checkpoint),
            "epoch": self.epoch,
            "dataset": self.dataset,
            "split": self.split,
            "n": len(self.codes),
            "measures": self.measures.to_dict(),
            "code_min": [float(v) for v in self.codes.min(axis=0)],
            "code_max": [float(v) for v in self.codes.max(axis=0)],
            "grid_box": list(self.grid_box) if self.grid_box else None,
            "fraction_inside_grid": self.fraction_inside_grid,
            "seconds": dict(self.seconds),
            "protocol": self.protocol.to_dict() if self.protocol is not None else None,
        }


@dataclass(frozen=True)
class TsneMapResult:
    """A t-SNE map of a split (or a stratified subsample), optionally beside PCA and the codes.

    ``measures`` maps ``"tsne"`` (and with the comparison ``"pca"`` and ``"autoencoder"``) to
    ``aecli.latent.embed.Measures``; ``compare_png`` is None without the comparison.
    """

    png: Path
    npz: Path
    dataset: str
    split: str
    n: int
    engine: str
    params: dict[str, Any]
    seconds: float
    measures: dict[str, Any]
    compare_png: Path | None
    checkpoint: Path
    epoch: int

    def to_json(self) -> dict[str, Any]:
        """The ``aecli tsne --json`` object (checkpoint and epoch only with the comparison)."""
        payload: dict[str, Any] = {
            "command": "tsne",
            "png": str(self.png),
            "npz": str(self.npz),
            "dataset": self.dataset,
            "split": self.split,
            "n": self.n,
            "engine": self.engine,
            "params": self.params,
            "seconds": self.seconds,
            "measures": {k: m.to_dict() for k, m in self.measures.items()},
        }
        if self.compare_png is not None:
            payload["compare_png"] = str(self.compare_png)
            payload["checkpoint"] = str(self.checkpoint)
            payload["epoch"] = self.epoch
        return payload


@dataclass(frozen=True)
class GenerateResult:
    """A decoded grid of codes: ``images[r, c]`` decodes ``grid.codes[r, c]``."""

    png: Path
    checkpoint: Path
    epoch: int
    grid: Any  # aecli.latent.grid.CodeGrid
    images: np.ndarray
    seconds: float

    def to_json(self) -> dict[str, Any]:
        """The ``aecli generate --json`` object."""
        rows, cols = self.grid.shape
        return {
            "command": "generate",
            "png": str(self.png),
            "checkpoint": str(self.checkpoint),
            "epoch": self.epoch,
            "rows": rows,
            "cols": cols,
            "low": self.grid.low,
            "high": self.grid.high,
            "step": self.grid.step,
            "xs": [float(v) for v in self.grid.xs],
            "ys": [float(v) for v in self.grid.ys],
            "layout": GRID_LAYOUT,
            "seconds": self.seconds,
        }


@dataclass(frozen=True)
class InterpolateResult:
    """The straight line between two images' codes, decoded, with the two originals."""

    png: Path
    checkpoint: Path
    epoch: int
    dataset: str
    split: str
    between: tuple[int, int]
    labels: tuple[str, str]
    start: np.ndarray
    end: np.ndarray
    codes: np.ndarray
    decoded: np.ndarray

    def to_json(self) -> dict[str, Any]:
        """The ``aecli generate --between --json`` object."""
        return {
            "command": "generate",
            "png": str(self.png),
            "checkpoint": str(self.checkpoint),
            "epoch": self.epoch,
            "dataset": self.dataset,
            "split": self.split,
            "between": list(self.between),
            "labels": list(self.labels),
            "steps": len(self.codes),
            "codes": [[float(a), float(b)] for a, b in self.codes],
        }


def loss_at(rows: list[dict[str, Any]], epoch: int, key: str = "train_loss") -> float | None:
    """``key`` of the metrics row of ``epoch``, when the run recorded one."""
    for row in rows:
        if row.get("epoch") == epoch and isinstance(row.get(key), (int, float)):
            return float(row[key])
    return None


@dataclass(frozen=True)
class ExperimentResult:
    """Everything ``aecli experiment`` made and measured, as ``report.md`` and ``--json`` show it.

    Attributes:
        trained: ``"new"``, ``"resume"`` or ``"reuse"`` (``runner.run_state``).
        model: ``{"sizes", "activation", "n_params", "l2_weight"}`` of the trained model.
        metrics: the run's per-epoch history up to the checkpoint (``RunDir.read_metrics``).
        measures: ``{"pca"?, "autoencoder", "tsne"?}`` -> the measures as JSON-ready dicts.
        seconds: wall time per step, in the order the steps ran.
    """

    name: str
    run_dir: Path
    report: Path
    trained: str
    checkpoint: Path
    epoch: int
    dataset: str
    source: str
    model: dict[str, Any]
    metrics: list[dict[str, Any]]
    samples_png: Path
    reconstruct: ReconstructResult
    embed: EmbedResult
    tsne: TsneMapResult | None
    generate: GenerateResult
    measures: dict[str, dict[str, Any]]
    seconds: dict[str, float]
    compare: Any = None  # aecli.experiment.compare.CompareResult of a map run, else None
    earlier_tsne: Any = None  # aecli.experiment.earlier.EarlierTsne kept by --skip-tsne

    @property
    def figures(self) -> dict[str, str]:
        """Every figure written, by step name, in the order they were made."""
        out = {
            "samples": str(self.samples_png),
            "reconstruct": str(self.reconstruct.png),
            "embed": str(self.embed.png),
        }
        if self.tsne is not None:
            out["tsne"] = str(self.tsne.png)
            out["compare"] = str(self.tsne.compare_png)
        out["generate"] = str(self.generate.png)
        if self.compare is not None:
            out["comparison"] = str(self.compare.png)
        return out

    def to_json(self) -> dict[str, Any]:
        """The ``aecli experiment --json`` object."""
        rows = self.metrics
        return {
            "command": "experiment",
            "run_dir": str(self.run_dir),
            "report": str(self.report),
            "trained": self.trained,
            "epoch": self.epoch,
            "dataset": self.dataset,
            "loss_epoch_1": loss_at(rows, 1),
            "loss_last": rows[-1].get("train_loss") if rows else None,
            "test_loss": self.reconstruct.mean_loss,
            "test_mse": self.reconstruct.mean_squared_error,
            "measures": self.measures,
            "figures": self.figures,
            "seconds": self.seconds,
            "protocol": self.embed.protocol.to_dict() if self.embed.protocol else None,
            "comparison": self.compare.to_json() if self.compare is not None else None,
            "earlier_tsne": self.earlier_tsne.to_json() if self.earlier_tsne else None,
        }
