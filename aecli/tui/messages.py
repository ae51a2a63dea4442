"""Textual messages that worker threads post to the app (``post_message`` is thread-safe).

Workers never touch widgets: they post one of these, and the app's handlers (on the UI
thread) update state and widgets. Arrays in them are plain numpy, computed in the worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from textual.message import Message


class TrainerEvent(Message):
    """One ``aecli.events`` value from the training loop, as it came."""

    def __init__(self, event: Any) -> None:
        super().__init__()
        self.event = event


class Status(Message):
    """A one-line notice for the status line (``loading data``, a data-source report...)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


@dataclass(frozen=True)
class Samples:
    """The fixed images the panels show: the first test image of each class."""

    images: np.ndarray  # (k, 28, 28) uint8
    labels: np.ndarray  # (k,)
    indices: np.ndarray  # (k,) positions in their split
    split: str


class DataReady(Message):
    """The dataset is loaded (``splits`` is a ``DatasetSplits``)."""

    def __init__(self, splits: Any, samples: Samples) -> None:
        super().__init__()
        self.splits = splits
        self.samples = samples


class PreviewReady(Message):
    """Decoded images for the digits panel after an epoch (computed in the worker)."""

    def __init__(
        self,
        epoch: int,
        grid_images: np.ndarray,
        recons: np.ndarray,
        errors: np.ndarray,
        view: Any,
    ) -> None:
        super().__init__()
        self.epoch = epoch
        self.grid_images = grid_images  # (n*n, 28, 28) in [0, 1], rows top->bottom = high->low z2
        self.recons = recons  # (k, 28, 28) in [0, 1]
        self.errors = errors  # (k,) per-image squared error, in the loss's units
        self.view = view  # the ModelView of this epoch's model (for the explorer)


class RunLoaded(Message):
    """A run's checkpoint (a ``RunSnapshot``, or None) and/or its metrics history was read."""

    def __init__(self, snapshot: Any, history: list[dict[str, Any]] | None = None) -> None:
        super().__init__()
        self.snapshot = snapshot
        self.history = history or []


class CodesReady(Message):
    """The explorer's split is encoded with the model of ``epoch``."""

    def __init__(self, epoch: int, codes: np.ndarray, labels: np.ndarray, split: str) -> None:
        super().__init__()
        self.epoch = epoch
        self.codes = codes
        self.labels = labels
        self.split = split


class WorkerFailed(Message):
    """A worker raised; ``error`` is the exception (shown, and re-raised after exit)."""

    def __init__(self, error: BaseException, where: str) -> None:
        super().__init__()
        self.error = error
        self.where = where


class TrainingEnded(Message):
    """The training thread returned (after its last event, or after an error)."""


class Saved(Message):
    """PNG files were written (by a worker)."""

    def __init__(self, paths: list[Any]) -> None:
        super().__init__()
        self.paths = paths
