"""The TUI's run model: what the screens show about one run, as immutable values.

``RunModel`` is the whole state of a run as the app holds it; every change makes a new one.
Training events change it through ``apply`` (a pure function: the event, the model and the
time in, the next model out), which hands each event to its handler in ``EVENT_STEPS``
through ``aecli.events.dispatcher``; the app's other messages and keys change it through
the small pure functions below (``loaded``, ``with_data``, ``paused``...). Nothing here
imports Textual or JAX, so the rules (how progress, speed and the status line follow the
events) are tested as plain functions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from aecli.events import (
    CheckpointSaved,
    Compiling,
    EpochEnd,
    EpochProgress,
    Event,
    RunStarted,
    TrainingFinished,
    TrainingStopped,
    dispatcher,
)
from aecli.latent.grid import grid_values

# Bars and progress_bars are re-exported: the screens and tests take them from here.
from aecli.tui.speed import Bars, Progress, measure, progress_bars  # noqa: F401


@dataclass(frozen=True, eq=False)
class Samples:
    """The fixed images the panels show: the first test image of each class."""

    images: np.ndarray  # (k, 28, 28) uint8
    labels: np.ndarray  # (k,)
    indices: np.ndarray  # (k,) positions in their split
    split: str


@dataclass(frozen=True, eq=False)
class Preview:
    """The digits panel's decodes after an epoch (computed in a worker thread)."""

    epoch: int
    grid_images: np.ndarray  # (n*n, 28, 28) in [0, 1], rows top->bottom = high->low z2
    recons: np.ndarray  # (k, 28, 28) in [0, 1]: reconstructions of the Samples
    errors: np.ndarray  # (k,) per-image squared error, in the loss's units
    view: Any  # the ModelView of this epoch's model (the explorer decodes with it)


@dataclass(frozen=True, eq=False)
class Codes:
    """The explorer's split, encoded with the model of ``epoch``."""

    epoch: int
    points: np.ndarray  # (n, code_dim)
    labels: np.ndarray  # (n,)
    split: str


@dataclass(frozen=True)
class Status:
    """The status line: a sentence, its rich style, and whether a spinner runs.

    ``style`` names theme colours as ``$warning``, ``$success``, ``$error`` (resolved by the
    status line with ``aecli.tui.themes.resolve``), never terminal colour names."""

    text: str = ""
    style: str = ""
    busy: bool = False


@dataclass(frozen=True)
class RunInfo:
    """What the training loop or the checkpoint said about the run (None: not said yet)."""

    name: str | None = None
    dataset: str | None = None
    source: str | None = None
    device: str | None = None
    n_params: int | None = None


@dataclass(frozen=True)
class InfoLine:
    """The info bar's facts, with the fallbacks filled in."""

    name: str
    dataset: str
    source: str
    device: str
    n_params: int | None


@dataclass(frozen=True, eq=False)
class RunModel:
    """Everything the screens show about one run. Make changed copies with ``replace``.

    ``progress`` is None until this session trains; ``paused``/``stopping``/``interrupted``
    record what the user asked of the loop (the loop itself obeys a ``TrainControl``).
    """

    run_dir: Path
    config: Any = None  # aecli.config.Config
    info: RunInfo = RunInfo()
    status: Status = Status()
    idle_status: str = ""
    history: tuple[dict[str, Any], ...] = ()
    progress: Progress | None = None
    epochs_done: int = 0
    has_checkpoint: bool = False
    last_checkpoint: Path | None = None
    final_event: Any = None  # TrainingFinished or TrainingStopped
    training_active: bool = False
    run_started: bool = False
    paused: bool = False
    stopping: bool = False
    interrupted: bool = False
    splits: Any = None  # DatasetSplits
    samples: Samples | None = None
    class_names: tuple[str, ...] = ()
    preview: Preview | None = None
    codes: Codes | None = None
    explorer_note: str = ""
    error: BaseException | None = None

    @property
    def run_name(self) -> str:
        """The run's name (config name, else the directory name)."""
        return self.config.name if self.config is not None else self.run_dir.name

    @property
    def total_epochs(self) -> int:
        """Epochs the run is configured for (0 without a config)."""
        return int(self.config.train.epochs) if self.config is not None else 0

    @property
    def can_resume(self) -> bool:
        """True when training is idle, unfinished, and there is a checkpoint to resume from."""
        return (
            not self.training_active
            and self.config is not None
            and self.has_checkpoint
            and self.epochs_done < self.total_epochs
        )

    @property
    def grid_values(self) -> tuple[float, ...]:
        """The code values along each axis of the config's decode grid (() without one)."""
        if self.config is None:
            return ()
        g = self.config.grid
        return tuple(grid_values(g.low, g.high, g.step))

    @property
    def view(self) -> Any:
        """The ModelView of the newest model, or None before the first one."""
        return self.preview.view if self.preview is not None else None

    def captions(self, labels: np.ndarray) -> list[str]:
        """Class names for ``labels`` (the label numbers while the names are unknown)."""
        names = self.class_names or tuple(str(i) for i in range(int(labels.max()) + 1))
        return [str(names[int(c)]) for c in labels]


# -- training events -------------------------------------------------------------------------

Step = Callable[[RunModel, float], RunModel]
"""A state change: the model and the current time in, the next model out."""


def _started(ev: RunStarted, m: RunModel, now: float) -> RunModel:
    verb = "resuming" if ev.start_epoch else "starting"
    return replace(
        m,
        run_started=True,
        config=ev.config if ev.config is not None else m.config,
        epochs_done=ev.start_epoch,
        has_checkpoint=m.has_checkpoint or ev.start_epoch > 0,
        info=replace(
            m.info,
            name=ev.name,
            dataset=ev.dataset,
            source=ev.source,
            device=ev.device,
            n_params=ev.n_params,
        ),
        progress=Progress(epoch=ev.start_epoch + 1, epochs=ev.epochs, n_train=ev.n_train),
        status=Status(f"{verb} at epoch {ev.start_epoch + 1} of {ev.epochs}", busy=True),
    )


def _compiling(ev: Compiling, m: RunModel, now: float) -> RunModel:
    return replace(
        m, status=Status(f"{ev.message} (first epoch only)…", style="bold $warning", busy=True)
    )


def _epoch_progress(ev: EpochProgress, m: RunModel, now: float) -> RunModel:
    p = m.progress or Progress()
    if p.epoch != ev.epoch:  # a new epoch: its images count from here, the old rate is gone
        p = replace(p, epoch=ev.epoch, t0=None, live_rate=None)
    p = measure(p, ev.images_done, now, paused=m.paused)
    p = replace(p, done=ev.images_done, n_train=ev.images_total or p.n_train)
    status = m.status
    if not m.paused and not m.stopping:  # keep "paused…"/"stopping…" until the loop obeys
        status = Status(f"training epoch {ev.epoch} of {p.epochs or '?'}")
    return replace(m, progress=p, status=status)


def history_row(event: EpochEnd) -> dict[str, Any]:
    """An ``EpochEnd`` as a metrics row (``map_loss`` only for a run with a map term)."""
    row = {
        "epoch": event.epoch,
        "train_loss": event.train_loss,
        "val_loss": event.val_loss,
        "seconds": event.seconds,
        "images_per_second": event.images_per_second,
    }
    if event.map_loss is not None:
        row["map_loss"] = event.map_loss
    return row


def _epoch_end(ev: EpochEnd, m: RunModel, now: float) -> RunModel:
    p = m.progress or Progress()
    last = ev.epoch >= ev.epochs
    p = replace(
        p,
        epoch=ev.epoch if last else ev.epoch + 1,
        done=p.n_train if last else 0,
        t0=None,
        rate=ev.images_per_second or p.rate,
        live_rate=None,
        epochs=ev.epochs,
    )
    history = tuple(r for r in m.history if int(r["epoch"]) != ev.epoch) + (history_row(ev),)
    return replace(m, epochs_done=ev.epoch, history=history, progress=p)


def _checkpoint_saved(ev: CheckpointSaved, m: RunModel, now: float) -> RunModel:
    return replace(m, has_checkpoint=True, last_checkpoint=ev.path)


def finished_text(ev: TrainingFinished, epochs: int) -> str:
    """The status line after the last epoch: the summary's losses, short enough for 80
    columns (the keys to go on are in the keys bar)."""
    s = ev.summary or {}
    parts = []
    for key, label in (("train_loss", "train"), ("val_loss", "val"), ("test_loss", "test")):
        v = s.get(key)
        if isinstance(v, (int, float)):
            parts.append(f"{label} {v:.2f}")
    done = f"finished: {s.get('epochs', epochs)} epochs"
    return f"{done}; loss per image {', '.join(parts)}" if parts else done


def _finished(ev: TrainingFinished, m: RunModel, now: float) -> RunModel:
    status = Status(finished_text(ev, m.epochs_done), style="bold $success")
    return replace(m, final_event=ev, status=status)


def _stopped(ev: TrainingStopped, m: RunModel, now: float) -> RunModel:
    if m.interrupted and ev.reason == "stopped":  # Ctrl-C: say so to the CLI
        ev = replace(ev, reason="interrupted", message=f"Ctrl-C: {ev.message}")
    p = m.progress or Progress()
    where = f"checkpoint {ev.checkpoint}" if ev.checkpoint else "no checkpoint written"
    hint = "; press r to resume" if ev.epoch < m.total_epochs else ""
    return replace(
        m,
        final_event=ev,
        epochs_done=ev.epoch,
        # Stopped after epoch k: the epoch bar shows epoch k full (epoch 1 empty for k = 0).
        progress=replace(p, epoch=max(1, ev.epoch), done=p.n_train if ev.epoch else 0, t0=None),
        has_checkpoint=m.has_checkpoint or ev.checkpoint is not None,
        last_checkpoint=ev.checkpoint if ev.checkpoint is not None else m.last_checkpoint,
        status=Status(f"{ev.reason} after epoch {ev.epoch}: {where}{hint}", style="bold $warning"),
    )


def _step(handler: Callable[[Any, RunModel, float], RunModel]) -> Callable[[Any], Step]:
    """``handler(event, model, now)`` as ``event -> Step`` (what the dispatch table holds)."""
    return lambda event: partial(handler, event)


EVENT_STEPS: dict[type, Callable[[Any], Step]] = {
    RunStarted: _step(_started),
    Compiling: _step(_compiling),
    EpochProgress: _step(_epoch_progress),
    EpochEnd: _step(_epoch_end),
    CheckpointSaved: _step(_checkpoint_saved),
    TrainingFinished: _step(_finished),
    TrainingStopped: _step(_stopped),
}
"""The TUI's handler for every training event type: the event to its ``Step``."""

# Built once, here: a table missing an event type fails at import (aecli.events.dispatcher).
_dispatch = dispatcher(EVENT_STEPS)


def apply(model: RunModel, event: Event, now: float) -> RunModel:
    """The model after one training event; ``now`` is the clock (for the live speed).

    Pure: the same model, event and time always give the same result.
    """
    return _dispatch(event)(model, now)


# -- other changes -----------------------------------------------------------------------------


def with_status(model: RunModel, text: str, *, style: str = "", busy: bool = False) -> RunModel:
    """The model with a new status line."""
    return replace(model, status=Status(text, style, busy))


def with_data(model: RunModel, splits: Any, samples: Samples) -> RunModel:
    """The dataset is loaded: its samples and class names; the idle status comes back."""
    info = model.info
    m = replace(
        model,
        splits=splits,
        samples=samples,
        class_names=tuple(str(c) for c in splits.class_names),
        info=replace(
            info,
            dataset=info.dataset if info.dataset is not None else getattr(splits, "name", ""),
            source=info.source if info.source is not None else getattr(splits, "source", ""),
        ),
    )
    if not m.training_active and m.idle_status:
        m = with_status(m, m.idle_status)
    return m


def loaded(model: RunModel, snapshot: Any, config: Any) -> RunModel:
    """A run directory's checkpoint was read (``snapshot`` a RunSnapshot; ``config`` its
    config with the command line's data overrides)."""
    ds = snapshot.header.get("dataset")
    ds = ds if isinstance(ds, dict) else {"name": ds}
    state = "finished" if snapshot.finished else "interrupted"
    idle = f"{state} run: {snapshot.epoch}/{snapshot.config.train.epochs} epochs" + (
        "" if snapshot.finished else "; press r to resume training"
    )
    info = replace(
        model.info,
        name=snapshot.config.name,
        n_params=snapshot.n_params,
        device=str(snapshot.header.get("device") or "-"),
        dataset=str(ds.get("name") or snapshot.config.data.dataset),
    )
    if ds.get("source"):
        info = replace(info, source=str(ds["source"]))
    return replace(
        model,
        config=config,
        epochs_done=snapshot.epoch,
        has_checkpoint=True,
        info=info,
        idle_status=idle,
        status=Status(idle),
    )


def with_history(model: RunModel, history: list[dict[str, Any]]) -> RunModel:
    """Metrics read from the run directory replace the history (an empty list keeps it)."""
    return replace(model, history=tuple(history)) if history else model


def training_started(model: RunModel) -> RunModel:
    """A training worker starts: nothing asked of it yet."""
    return replace(
        model,
        training_active=True,
        paused=False,
        stopping=False,
        status=Status("starting…", busy=True),
    )


def paused(model: RunModel) -> RunModel:
    """The user paused the loop (it holds after the current chunk)."""
    text = "paused after the current chunk: press p to go on"
    return replace(model, paused=True, status=Status(text, "bold $warning"))


def unpaused(model: RunModel, now: float) -> RunModel:
    """The loop goes on at ``now``; the speed is measured afresh, from events after it."""
    p = model.progress
    if p is not None:
        p = replace(p, t0=None, live_rate=None, not_before=now)
    return replace(model, paused=False, progress=p, status=Status("resumed", busy=True))


def stopping(model: RunModel, text: str) -> RunModel:
    """The user asked the loop to stop (after its chunk, with a checkpoint)."""
    return replace(model, stopping=True, status=Status(text, "bold $warning", busy=True))


def failed(model: RunModel, error: BaseException, where: str) -> RunModel:
    """A worker raised: say so; keep the error of training or loading (re-raised at exit)."""
    text = f"error ({where}): {' '.join(str(error).split()) or type(error).__name__}"
    return replace(
        model,
        error=error if where in ("training", "load") else model.error,
        status=Status(text, "bold $error"),
        explorer_note=text if model.codes is None else model.explorer_note,
    )


# -- derived views -----------------------------------------------------------------------------


def info_line(m: RunModel) -> InfoLine:
    """The info bar's contents (the config and '?' stand in for what is not known yet)."""
    i = m.info
    return InfoLine(
        name=i.name or m.run_name,
        dataset=i.dataset or (m.config.data.dataset if m.config is not None else "?"),
        source=i.source or "",
        device=i.device or "?",
        n_params=i.n_params,
    )


def pick_samples(splits: Any, split: str = "test", per_class: int = 1, limit: int = 10) -> Samples:
    """The first image of each class in ``split`` (validation when there is no test split)."""
    name = split
    try:
        ds = splits[split]
    except Exception:  # no such split (DataError, KeyError): fall back to validation
        name, ds = "validation", splits["validation"]
    labels = np.asarray(ds.labels)
    chosen: list[int] = []
    for c in range(len(splits.class_names)):
        chosen.extend(np.flatnonzero(labels == c)[:per_class].tolist())
    chosen = sorted(chosen, key=lambda i: (labels[i], i))[:limit]
    idx = np.asarray(chosen, dtype=np.int64)
    return Samples(np.asarray(ds.images)[idx], labels[idx], idx, name)
