"""The TUI's messages, as dataclasses: workers post them up to the app, screens too.

Worker threads never touch the app or a widget: they post one of these (``post_message`` is
thread-safe) and the app's handlers, on the UI thread, make the new ``RunModel``. Arrays in
them are plain numpy, computed in the worker. Screens post the requests that need a worker
(``CodesWanted``, ``SaveDecoded``, ``SaveGrid``): messages up, attributes down.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from textual.message import Message

from aecli.events import EpochProgress
from aecli.tui.model import Codes, Preview, Samples


@dataclass
class TrainerEvent(Message):
    """One ``aecli.events`` value from the training loop, as it came, and ``at``: the clock
    when the training thread received it. Speeds are measured with ``at``, not with the time
    the UI thread gets round to the message (which lags by whatever else it was doing)."""

    event: Any
    at: float = 0.0

    def can_replace(self, message: Message) -> bool:
        # A flood of progress events coalesces: one still waiting is superseded by the next
        # progress of the same epoch (the bars only need the newest count).
        return (
            isinstance(self.event, EpochProgress)
            and isinstance(message, TrainerEvent)
            and isinstance(message.event, EpochProgress)
            and message.event.epoch == self.event.epoch
        )


@dataclass
class Notice(Message):
    """A one-line notice for the status line (``loading data``, a data-source report...)."""

    text: str


@dataclass
class DataReady(Message):
    """The dataset is loaded (``splits`` is a ``DatasetSplits``) with the panels' samples."""

    splits: Any
    samples: Samples


@dataclass
class PreviewReady(Message):
    """Decoded images for the digits panel after an epoch."""

    preview: Preview


@dataclass
class RunLoaded(Message):
    """A run's checkpoint (a ``RunSnapshot`` and its config with the data overrides, or
    None for both) and/or its metrics history was read."""

    snapshot: Any
    config: Any = None
    history: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class CodesReady(Message):
    """The explorer's split is encoded."""

    codes: Codes


@dataclass
class WorkerFailed(Message):
    """A worker raised; ``error`` is the exception (shown, and re-raised after exit)."""

    error: BaseException
    where: str


class TrainingEnded(Message):
    """The training thread returned (after its last event, or after an error)."""


@dataclass
class Saved(Message):
    """PNG files were written (by a worker)."""

    paths: list[Path]


class CodesWanted(Message):
    """The explorer is showing: encode its split if the newest model has not been yet."""


@dataclass
class SaveDecoded(Message):
    """Save the image decoded at ``code`` as PNG."""

    code: np.ndarray


@dataclass
class SaveGrid(Message):
    """Save a ``k`` x ``k`` decode grid with spacing ``step`` around ``center`` as PNG
    (``extra``: the values of the code's other dimensions)."""

    center: tuple[float, float]
    step: float
    k: int
    extra: np.ndarray
