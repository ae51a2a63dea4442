"""The training loop: a generator of ``aecli.events`` that writes the run directory as it goes.

What is reported: the training loss of an epoch is the mean loss per image of its batches,
each taken before its own update (the running figure the original printed while training);
validation and test losses are per image with the final weights of the epoch (see
``aecli.training.evaluate``). Both include the code penalty. A map run (``[map] kind =
"umap"``, ``aecli.training.map``) reports the same figures without its UMAP term, which is
logged apart as ``map_loss`` (cross-entropy per edge), so its curves compare with a plain run's.
The map's k-NN graph is read from the run directory, or built and stored there first.

Checkpoints: ``latest.ckpt`` at epoch 0 (before training) and after every epoch, ``best.ckpt``
whenever the validation loss improves. A stop or Ctrl-C during an epoch discards that partial
epoch: ``latest.ckpt`` is the last complete epoch, so ``--resume`` continues bit for bit as if
never interrupted (same machine, same device count). A diverging loss (non-finite, or above
``DIVERGED_LOSS`` per image) stops the run at once and keeps the last sane checkpoint.

In a job of several processes every process runs this same loop (the compiled steps are
collective), and only the one that ``Session.writes`` (process 0) touches the run directory.
"""

from __future__ import annotations

import contextlib
import shlex
import statistics
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np

from aecli.atomic import remove_stale_temps
from aecli.checkpoint import save_checkpoint
from aecli.config import Config, ModelConfig, TrainConfig
from aecli.events import (
    CheckpointSaved,
    Compiling,
    EpochEnd,
    EpochProgress,
    Event,
    RunStarted,
    TrainControl,
    TrainingFinished,
    TrainingStopped,
)
from aecli.reference import ORIGINAL
from aecli.rundir import RunDir
from aecli.training.devices import put
from aecli.training.evaluate import EVAL_BATCH, EvalSet
from aecli.training.graph import FuzzyGraph
from aecli.training.map import MapTerm, make_map_term, run_graph
from aecli.training.session import Session, TrainState, open_session
from aecli.training.step import DIVERGED_LOSS, Layout, epoch_order, train_chunk

if TYPE_CHECKING:
    from aecli.data import DatasetSplits


def train(
    config: Config,
    *,
    run_dir: str | Path,
    data: DatasetSplits,
    resume: bool = False,
    control: TrainControl | None = None,
    report: Callable[[str], None] | None = None,
) -> Iterator[Event]:
    """Train (or resume) on ``data`` and yield events; writes everything into ``run_dir``.

    Args:
        config: the resolved config. On resume the run's own config (from its checkpoint) is
            used, except the keys in ``aecli.config.RESUME_KEYS``, taken from ``config``.
        run_dir: the run directory (created). A fresh run refuses a directory that already
            holds a checkpoint.
        data: the loaded dataset (``aecli.data.load_dataset``): ``["train"]`` with uint8
            ``images``, and ``["validation"]``, ``["test"]`` when it has them.
        resume: continue from ``RUN_DIR/latest.ckpt`` (model, optimizer and PRNG state).
        control: switches checked between chunks (pause, stop).
        report: receives one-line notices (device, resume point).

    Yields:
        RunStarted, Compiling, EpochProgress (after each chunk), EpochEnd, CheckpointSaved,
        then TrainingFinished or TrainingStopped.

    Raises:
        TrainingError: locked or already used run directory, device problems, data mismatch.
        ConfigError: batch size larger than the training set.
        CheckpointError: ``resume`` without a loadable checkpoint.
    """
    report = report or _noop
    control = control or TrainControl()
    wall_start = time.perf_counter()
    run = RunDir(run_dir)
    writes = jax.process_index() == 0  # only process 0 of a job writes the run directory
    # Lock first, then look: "does this directory hold a run?" is answered under the lock.
    with run.lock() if writes else contextlib.nullcontext():
        session, state = open_session(config, run_dir, data, resume=resume, report=report)
        if session.writes:
            remove_stale_temps(run.path)  # left by a writer that was killed mid-write
            run.write_config(session.config.to_dict())
            run.write_metrics(list(state.metrics))  # drops lines past the checkpoint
        graph = run_graph(session.config.map, run, session.images, report)
        state, dev = _to_device(session, state, graph)
        report(f"device: {session.placement.name}")
        yield _run_started(session, state)
        if session.fresh:
            _save(run.latest, session, state)
        done = yield from _epochs(session, dev, state, control)
        if done is None:
            return
        state, seconds = done
        summary = _summary(session, dev, state, seconds, wall_start)
        if session.writes:
            run.write_summary(summary)
        yield TrainingFinished(summary=summary, model=state.model)


@dataclass(frozen=True)
class _OnDevice:
    """What the compiled code reads, placed on the device(s) once per session."""

    images: jax.Array
    shuffle_key: jax.Array
    validation: EvalSet | None
    map: MapTerm | None  # the map mode's term (None: the original objective)


def _to_device(
    session: Session, state: TrainState, graph: FuzzyGraph | None
) -> tuple[TrainState, _OnDevice]:
    where = session.placement.replicated
    model, opt_state = put((state.model, state.opt_state), where)
    images = put(session.images, where)
    shuffle_key = put(session.shuffle_key, where)
    validation = None
    if session.validation is not None:
        validation = EvalSet(session.validation, EVAL_BATCH, where)
    state = replace(state, model=model, opt_state=opt_state)
    term = make_map_term(session.config.map, graph, session.config.train.seed, where)
    return state, _OnDevice(images, shuffle_key, validation, term)


def _epochs(
    session: Session, dev: _OnDevice, state: TrainState, control: TrainControl
) -> Generator[Event, None, tuple[TrainState, list[float]] | None]:
    """Train the remaining epochs; return the final state and epoch times, None if stopped."""
    run, tc = session.run, session.config.train
    orders = _Orders(dev.shuffle_key, session.layout, last=tc.epochs)
    seconds: list[float] = []
    completed = first = state.epoch
    try:
        for epoch in range(first + 1, tc.epochs + 1):
            if control.stopped:
                yield _stopped(run, epoch - 1, "stopped", "stopped before epoch", epoch)
                return None
            if epoch == first + 1:
                yield Compiling()
            clock = _Clock()
            trained = yield from _train_epoch(session, dev, state, orders, epoch, control, clock)
            if trained is None:
                return None
            state, is_best = _end_epoch(session, dev, state, trained, clock)
            row = state.metrics[-1]
            seconds.append(row["seconds"])
            if session.writes:
                run.append_metrics(row)
            yield _epoch_end(row, tc.epochs, state.model)
            _save(run.latest, session, state)
            completed = epoch
            yield CheckpointSaved(path=run.latest, epoch=epoch)
            if is_best:
                _save(run.best, session, state)
                yield CheckpointSaved(path=run.best, epoch=epoch, best=True)
    except KeyboardInterrupt:
        # Ctrl-C while the loop itself runs: the partial epoch is discarded, latest.ckpt
        # already holds the last complete one.
        yield _stopped(run, completed, "interrupted", "interrupted during epoch", completed + 1)
        return None
    finally:
        _save_loss_curve(session, list(state.metrics))  # finished or not: the curve so far
    return state, seconds


def _train_epoch(
    session: Session,
    dev: _OnDevice,
    state: TrainState,
    orders: _Orders,
    epoch: int,
    control: TrainControl,
    clock: _Clock,
) -> Generator[Event, None, tuple[Any, Any, float] | None]:
    """Train one epoch chunk by chunk, yielding progress after each chunk.

    Returns:
        ``(model, opt_state, loss_sum, map_sum)`` after the epoch (``map_sum`` the sum of the
        map term's per-step loss, None without one), or None after yielding the
        ``TrainingStopped`` of a divergence or a stop.
    """
    layout, tc = session.layout, session.config.train
    rows, weights = orders.take(epoch)
    term = dev.map.for_epoch(epoch) if dev.map is not None else None

    def chunk(params, c):
        return train_chunk(
            *params, dev.images, rows, weights, jnp.int32(c),
            session.optimizer, tc.l2_weight, session.placement.batch, term,
        )  # fmt: skip

    # JAX dispatches asynchronously: the next chunk (and the next epoch's shuffle) is queued
    # before this one's losses are read, so the device never waits for Python.
    pending = chunk((state.model, state.opt_state), 0)
    orders.queue(epoch + 1)
    loss_sum, map_sum = 0.0, None if term is None else 0.0
    for c in range(layout.chunks):
        out = pending
        if c + 1 < layout.chunks:
            pending = chunk(out[:2], c + 1)
        losses, ok, worst, map_losses = jax.device_get(out[2:])
        if not ok:
            yield _diverged(session, epoch, worst)
            return None
        loss_sum += float(np.sum(losses, dtype=np.float64))
        if map_sum is not None:
            map_sum += float(np.sum(map_losses, dtype=np.float64))
        paused_at = time.perf_counter()
        yield EpochProgress(
            epoch=epoch, images_done=layout.images_after_chunk(c), images_total=layout.n
        )
        if control.paused:
            control.wait_while_paused()
        clock.leave_out(paused_at)  # time in the consumer is not training
        if control.stopped and c < layout.chunks - 1:
            yield _stopped(session.run, epoch - 1, "stopped", "stopped during epoch", epoch)
            return None
    return out[0], out[1], loss_sum, map_sum


def _end_epoch(
    session: Session, dev: _OnDevice, state: TrainState, trained: tuple, clock: _Clock
) -> tuple[TrainState, bool]:
    """The state after an epoch (its metrics row appended) and whether it is the best yet."""
    model, opt_state, loss_sum, map_sum = trained
    n, l2_weight = session.layout.n, session.config.train.l2_weight
    # The original printed the loss averaged over the epoch's batches as it trained: the mean
    # per-image loss of the batches before each one's update.
    train_loss = loss_sum / n
    val = dev.validation.evaluate(model, l2_weight) if dev.validation else None
    seconds = clock.seconds()
    row = {
        "epoch": state.epoch + 1,
        "train_loss": train_loss,
        "val_loss": val.loss if val else None,
        "seconds": seconds,
        "images_per_second": n / seconds,
    }
    if map_sum is not None:  # the UMAP cross-entropy, mean over the epoch's steps
        row["map_loss"] = map_sum / session.layout.steps
    score = val.loss if val else train_loss
    is_best = state.best_val is None or score < state.best_val
    new = TrainState(
        model,
        opt_state,
        epoch=state.epoch + 1,
        step=state.step + session.layout.steps,
        metrics=(*state.metrics, row),
        best_val=score if is_best else state.best_val,
    )
    return new, is_best


class _Orders:
    """Each epoch's (rows, weights); the next epoch's is queued while this one trains."""

    def __init__(self, key: jax.Array, layout: Layout, last: int):
        self.key, self.layout, self.last = key, layout, last
        self.next: tuple[jax.Array, jax.Array] | None = None

    def take(self, epoch: int) -> tuple[jax.Array, jax.Array]:
        order = self.next if self.next is not None else self._make(epoch)
        self.next = None
        return order

    def queue(self, epoch: int) -> None:
        if epoch <= self.last:
            self.next = self._make(epoch)

    def _make(self, epoch: int) -> tuple[jax.Array, jax.Array]:
        return epoch_order(self.key, jnp.int32(epoch), self.layout)


class _Clock:
    """Seconds spent training one epoch: time in the consumer, or paused, is left out."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    def leave_out(self, since: float) -> None:
        self.start += time.perf_counter() - since

    def seconds(self) -> float:
        return time.perf_counter() - self.start


def _save(path: Path, session: Session, state: TrainState) -> None:
    if not session.writes:
        return
    save_checkpoint(
        path, model=state.model, opt_state=state.opt_state, header=session.header(state)
    )


def _run_started(session: Session, state: TrainState) -> RunStarted:
    return RunStarted(
        run_dir=session.run.path,
        name=session.config.name,
        dataset=session.dataset["name"],
        source=session.dataset["source"],
        device=session.placement.name,
        n_params=session.n_params,
        n_train=session.layout.n,
        epochs=session.config.train.epochs,
        start_epoch=state.epoch,
        steps_per_epoch=session.layout.steps,
        config=session.config,
    )


def _epoch_end(row: dict[str, Any], epochs: int, model: Any) -> EpochEnd:
    return EpochEnd(
        epoch=row["epoch"],
        epochs=epochs,
        train_loss=row["train_loss"],
        val_loss=row["val_loss"],
        seconds=row["seconds"],
        images_per_second=row["images_per_second"],
        model=model,
        map_loss=row.get("map_loss"),
    )


def _stopped(run: RunDir, done: int, reason: str, what: str, epoch: int) -> TrainingStopped:
    return TrainingStopped(
        epoch=done,
        reason=reason,
        message=(
            f"training {what} {epoch}; the run is saved after epoch {done} (a partial epoch "
            f"is discarded so that a resume is exact): continue with "
            f"aecli train --resume {shlex.quote(str(run.path))}"
        ),
        checkpoint=run.latest,
    )


def _diverged(session: Session, epoch: int, worst: Any) -> TrainingStopped:
    what = (
        f"loss per image {float(worst):.3g} > {DIVERGED_LOSS:g}"
        if np.isfinite(worst)
        else "non-finite loss or weights"
    )
    latest = session.run.latest
    return TrainingStopped(
        epoch=epoch - 1,
        reason="diverged",
        message=(
            f"training diverged in epoch {epoch} ({what}); {latest.name} keeps the last sane "
            f"state, epoch {epoch - 1}: lower the learning rate (--lr, now "
            f"{session.config.train.lr:g})"
        ),
        checkpoint=latest,
    )


def _summary(
    session: Session, dev: _OnDevice, state: TrainState, seconds: list[float], wall_start: float
) -> dict[str, Any]:
    """What ``aecli train --json`` prints and ``summary.json`` holds."""
    run, n = session.run, session.layout.n
    test = None
    if session.test is not None:
        where = session.placement.replicated
        test = EvalSet(session.test, EVAL_BATCH, where).evaluate(
            state.model, session.config.train.l2_weight
        )
    later = seconds[1:] or seconds  # epoch 1 of a session compiles
    median = statistics.median(later) if later else None
    last = state.metrics[-1] if state.metrics else {}
    return {
        "run_dir": str(run.path),
        "checkpoint": str(run.latest),
        "best_checkpoint": str(run.best) if run.best.exists() else None,
        "epochs": len(state.metrics),
        "train_loss": last.get("train_loss"),
        "val_loss": last.get("val_loss"),
        "test_loss": test.loss if test else None,
        "test_recon_error": test.recon if test else None,
        "test_recon_mse_per_pixel": test.recon / 784 if test else None,
        "best_val_loss": state.best_val if dev.validation else None,
        "median_epoch_seconds": median,
        "images_per_second": n / median if median else None,
        "wall_seconds": time.perf_counter() - wall_start,
        "device": session.placement.name,
        "dataset": session.dataset["name"],
        "dataset_source": session.dataset["source"],
        "n_train": n,
        "n_params": session.n_params,
    }


def _save_loss_curve(session: Session, metrics: list[dict[str, Any]]) -> None:
    """Write the run's loss curve (atomically), with the original's points when they compare."""
    if not metrics or not session.writes:
        return
    from aecli.render.figures import loss_curve, save_figure

    title = f"{session.dataset['name']} ({session.layout.n:,} training images): loss per image"
    reference = ORIGINAL["mnist"].losses if _is_original_setup(session) else None
    tc = session.config.train
    figure = loss_curve(metrics, title=title, l2_weight=tc.l2_weight, reference=reference)
    save_figure(figure, session.run.loss_curve)


def _is_original_setup(session: Session) -> bool:
    """Full MNIST with the original model and optimiser settings: its figures compare."""
    config, dataset = session.config, session.dataset
    t, d = config.train, TrainConfig()
    return (
        dataset["name"] == "mnist"
        and dataset["n_train"] == 55_000
        and config.model == ModelConfig()
        and (t.batch_size, t.lr, t.l2_weight) == (d.batch_size, d.lr, d.l2_weight)
    )


def _noop(_: str) -> None:
    pass
