"""Small immutable values that the training loop emits, and the control it obeys.

``train.py`` yields these; the CLI renders them with rich and the TUI's thread worker posts
them as Textual messages. Nothing here knows about either front end.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class RunStarted:
    """Training is about to begin (or resume)."""

    run_dir: Path
    name: str
    dataset: str
    source: str
    device: str
    n_params: int
    n_train: int
    epochs: int
    start_epoch: int  # epochs already done (0 for a fresh run)
    steps_per_epoch: int
    config: Any  # aecli.config.Config


@dataclass(frozen=True)
class Compiling:
    """XLA is compiling the epoch function (first epoch only); may take seconds."""

    message: str = "compiling the training step with XLA"


@dataclass(frozen=True)
class EpochProgress:
    """Part of an epoch is done (after each scanned chunk)."""

    epoch: int  # 1-based epoch being trained
    images_done: int
    images_total: int


@dataclass(frozen=True)
class EpochEnd:
    """One epoch finished; losses are per image (batch sum / images), as the original printed."""

    epoch: int  # 1-based
    epochs: int
    train_loss: float
    val_loss: float | None
    seconds: float
    images_per_second: float
    model: Any = field(repr=False, compare=False)  # the TiedAutoencoder after this epoch


@dataclass(frozen=True)
class CheckpointSaved:
    """A checkpoint file was written atomically."""

    path: Path
    epoch: int
    best: bool = False


@dataclass(frozen=True)
class TrainingFinished:
    """All epochs done; ``summary`` is the dict that ``aecli train --json`` prints."""

    summary: dict[str, Any]
    model: Any = field(repr=False, compare=False)


@dataclass(frozen=True)
class TrainingStopped:
    """Training ended early; ``checkpoint`` holds the last consistent state (if any)."""

    epoch: int  # epochs completed
    reason: str  # "stopped", "interrupted", "diverged"
    message: str
    checkpoint: Path | None


@dataclass
class TrainControl:
    """Thread-safe switches a front end flips to steer a running training loop.

    The loop checks them between scanned chunks, so a stop or pause takes effect within a
    fraction of an epoch, and a stop always ends on a consistent checkpoint.
    """

    stop_event: threading.Event = field(default_factory=threading.Event)
    resume_event: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.resume_event.set()  # not paused

    def stop(self) -> None:
        """Ask the loop to save a checkpoint and end."""
        self.stop_event.set()
        self.resume_event.set()  # wake a paused loop so it can stop

    def pause(self) -> None:
        """Hold the loop between chunks until ``resume``."""
        self.resume_event.clear()

    def resume(self) -> None:
        """Let a paused loop go on."""
        self.resume_event.set()

    @property
    def paused(self) -> bool:
        """True while paused."""
        return not self.resume_event.is_set()

    @property
    def stopped(self) -> bool:
        """True once a stop was asked for."""
        return self.stop_event.is_set()


Event = (
    RunStarted
    | Compiling
    | EpochProgress
    | EpochEnd
    | CheckpointSaved
    | TrainingFinished
    | TrainingStopped
)
