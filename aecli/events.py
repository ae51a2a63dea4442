"""Small immutable values that the training loop emits, the control it obeys, and dispatch.

``aecli.training.train`` yields ``Event`` values; the CLI renders them with rich, the TUI's
thread worker posts them as Textual messages and the experiment runner reports progress from
them. Each consumer handles them through ``dispatcher``, which refuses a handler table that
misses an event type, so a new event type cannot be dropped silently by one of them. Nothing
here knows about any front end.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias


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
    map_loss: float | None = None  # the map term's mean per step ([map] kind != "none")


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
    fraction of an epoch, and a stop always ends on a consistent checkpoint. (Pausing holds
    a running loop; it has nothing to do with resuming a run from its checkpoint.)
    """

    stop_event: threading.Event = field(default_factory=threading.Event)
    running_event: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.running_event.set()  # not paused

    def stop(self) -> None:
        """Ask the loop to save a checkpoint and end."""
        self.stop_event.set()
        self.running_event.set()  # wake a paused loop so it can stop

    def pause(self) -> None:
        """Hold the loop between chunks until ``unpause``."""
        self.running_event.clear()

    def unpause(self) -> None:
        """Let a paused loop go on."""
        self.running_event.set()

    def wait_while_paused(self) -> None:
        """Block the calling (training) thread until the loop is not paused."""
        self.running_event.wait()

    @property
    def paused(self) -> bool:
        """True while paused."""
        return not self.running_event.is_set()

    @property
    def stopped(self) -> bool:
        """True once a stop was asked for."""
        return self.stop_event.is_set()


Event: TypeAlias = (
    RunStarted
    | Compiling
    | EpochProgress
    | EpochEnd
    | CheckpointSaved
    | TrainingFinished
    | TrainingStopped
)
"""Everything the training loop yields."""

EVENT_TYPES: tuple[type, ...] = Event.__args__
"""The members of ``Event``, in the order a run emits them first."""


def dispatcher(handlers: Mapping[type, Callable[[Any], Any]]) -> Callable[[Event], Any]:
    """One function that hands each event to the handler for its type.

    Build the table once per consumer: a table that misses an event type, or names a type
    that is not an event, is refused here rather than silently dropping events later.

    Args:
        handlers: one callable per type in ``EVENT_TYPES``.

    Returns:
        ``dispatch(event)``, which returns what the event's handler returns.

    Raises:
        TypeError: at construction, when the table lacks an event type or names another
            type; at dispatch, when given something that is not an event.
    """
    table = dict(handlers)
    extra = [t for t in table if t not in EVENT_TYPES]
    if extra:
        names = ", ".join(getattr(t, "__name__", repr(t)) for t in extra)
        raise TypeError(f"not training event types: {names}")
    missing = [t.__name__ for t in EVENT_TYPES if t not in table]
    if missing:
        raise TypeError(f"no handler for training event types: {', '.join(missing)}")

    def dispatch(event: Event) -> Any:
        handler = table.get(type(event))
        if handler is None:
            raise TypeError(f"not a training event: {event!r}")
        return handler(event)

    return dispatch
