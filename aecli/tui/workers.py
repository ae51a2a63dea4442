"""The TUI's thread workers: training, opening a run, encoding a split, saving PNGs.

Each is a plain function the app runs with ``run_worker(..., thread=True)``. It receives
everything it needs as arguments and reports only by ``post`` (the app's thread-safe
``post_message``): it never reads or assigns app or widget state, as Textual's worker guide
asks. All JAX work (training, encoding, decoding) happens here, off the UI thread; the one
exception is the explorer's single-code decode, warmed up here so it is quick.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from textual.message import Message

from aecli.events import EpochEnd, TrainControl
from aecli.latent.grid import CodeGrid, code_grid, grid_around
from aecli.tui import export
from aecli.tui.backend import Backend
from aecli.tui.messages import (
    CodesReady,
    DataReady,
    Notice,
    PreviewReady,
    RunLoaded,
    Saved,
    SaveGrid,
    TrainerEvent,
    TrainingEnded,
    WorkerFailed,
)
from aecli.tui.model import Codes, Preview, RunModel, Samples, pick_samples

Post = Callable[[Message], Any]


def ensure_data(
    post: Post, backend: Backend, config: Any, splits: Any, samples: Samples | None
) -> tuple[Any, Samples]:
    """The run's dataset and the panels' samples, loading the data when ``splits`` is None.

    Posts ``DataReady`` whenever the app does not have these yet.
    """
    loaded = splits is None
    if loaded:
        post(Notice(f"loading dataset {config.data.dataset}…"))
        splits = backend.load_data(config, report=lambda line: post(Notice(str(line))))
    if samples is None or loaded:
        samples = pick_samples(splits)
        post(DataReady(splits, samples))
    return splits, samples


def make_preview(view: Any, epoch: int, samples: Samples, grid: CodeGrid) -> Preview:
    """Reconstruct the samples and decode the config's code grid with ``view``.

    The per-image errors are the view's ``reconstruct`` errors: for a real model, the same
    numbers ``aecli reconstruct`` prints for those images.
    """
    recons, errors = view.reconstruct(samples.images)
    code_dim = np.asarray(view.encode(samples.images[:1])).shape[-1]
    codes = grid.codes.reshape(-1, 2)  # rows from the highest code 2 down, as drawn
    if code_dim > 2:  # higher-dimensional codes: the grid varies the first two dims
        codes = np.concatenate([codes, np.zeros((len(codes), code_dim - 2), np.float32)], 1)
    grid_images = np.asarray(view.decode(codes), np.float32)
    view.decode(np.zeros((1, code_dim), np.float32))  # warm the explorer's one-code call
    return Preview(epoch, grid_images, np.asarray(recons, np.float32), np.asarray(errors), view)


def train(
    post: Post,
    backend: Backend,
    *,
    config: Any,
    run_dir: Path,
    splits: Any,
    samples: Samples | None,
    resume: bool,
    read_old_history: bool,
    control: TrainControl,
    done: threading.Event,
    clock: Callable[[], float],
) -> None:
    """Iterate the training loop, posting every event and a preview after every epoch.

    Each event is stamped with ``clock()`` as it arrives from the loop (the app's speed
    figures use that time). ``done`` is set when the thread ends, however it ends: after the
    app has exited no message is read any more, and ``run_training_tui`` waits on it for the
    checkpoint.
    """
    try:
        splits, samples = ensure_data(post, backend, config, splits, samples)
        if read_old_history:
            history = backend.load_history(run_dir)
            if history:
                post(RunLoaded(None, history=history))
        events = backend.trainer(
            config,
            run_dir=run_dir,
            data=splits,
            resume=resume,
            control=control,
            report=lambda line: post(Notice(str(line))),
        )
        grid = _grid(config)
        for event in events:
            post(TrainerEvent(event, clock()))
            if isinstance(event, EpochEnd) and event.model is not None:
                view = backend.make_view(event.model)
                post(PreviewReady(make_preview(view, event.epoch, samples, grid)))
    except BaseException as e:  # shown in the UI, re-raised by run_training_tui
        post(WorkerFailed(e, "training"))
    finally:
        done.set()
        post(TrainingEnded())


def open_run(
    post: Post, backend: Backend, *, run_dir: Path, splits: Any, overrides: dict[str, Any]
) -> None:
    """``aecli tui RUN_DIR``: the checkpoint, the data, the panels' decodes, in that order."""
    try:
        post(Notice(f"loading {run_dir}…"))
        snap = backend.load_run(run_dir)
        config = snap.config.replace(**overrides)
        post(RunLoaded(snap, config, snap.history))
        splits, samples = ensure_data(post, backend, config, splits, None)
        view = backend.make_view(snap.model)
        post(PreviewReady(make_preview(view, snap.epoch, samples, _grid(config))))
    except BaseException as e:
        post(WorkerFailed(e, "load"))


def encode_split(post: Post, view: Any, epoch: int, splits: Any, split: str) -> None:
    """Encode the explorer's split (validation when ``split`` is missing) with ``view``."""
    try:
        try:
            ds = splits[split]
        except Exception:  # no such split: fall back to validation
            split, ds = "validation", splits["validation"]
        points = np.asarray(view.encode(np.asarray(ds.images)), np.float32)
        view.decode(points[:1])  # warm the one-code decode before the cursor needs it
        post(CodesReady(Codes(epoch, points, np.asarray(ds.labels), split)))
    except BaseException as e:
        post(WorkerFailed(e, "explorer"))


def save_decoded(post: Post, view: Any, out_dir: Path, name: str, code: np.ndarray) -> None:
    """Decode ``code`` and write the image as PNG (``export.save_decoded``)."""

    def job() -> list[Path]:
        image = np.asarray(view.decode(code[None]))[0]
        return [export.save_decoded(out_dir, image, code[:2], name=name)]

    _save(post, job)


def save_grid(post: Post, view: Any, out_dir: Path, name: str, request: SaveGrid) -> None:
    """Decode a grid of codes around ``request.center`` and write it as PNG."""

    def job() -> list[Path]:
        grid = grid_around(request.center, request.k, request.step)
        codes = grid.codes.reshape(-1, 2)
        if len(request.extra):  # codes wider than 2-D keep the cursor's other coordinates
            extra = np.broadcast_to(
                np.asarray(request.extra, np.float32), (len(codes), len(request.extra))
            )
            codes = np.concatenate([codes, extra], axis=1)
        images = np.asarray(view.decode(codes))
        return [
            export.save_grid_around(out_dir, images, grid.xs, grid.ys, request.center, name=name)
        ]

    _save(post, job)


def save_training(post: Post, out_dir: Path, model: RunModel) -> None:
    """Write the training screen's figures (loss, decode grid, reconstructions) as PNG."""

    def job() -> list[Path]:
        p, s = model.preview, model.samples
        values = list(model.grid_values)
        return export.save_training_figures(
            out_dir,
            name=model.run_name,
            epoch=p.epoch if p else model.epochs_done,
            history=list(model.history),
            grid_images=p.grid_images if p else None,
            grid_xs=values,
            grid_ys=values[::-1],
            originals=s.images if (s is not None and p) else None,
            recons=p.recons if p else None,
            captions=model.captions(s.labels) if s is not None else [],
            errors=p.errors if p else [],
        )

    _save(post, job)


def _save(post: Post, job: Callable[[], list[Path]]) -> None:
    try:
        post(Saved(job()))
    except BaseException as e:
        post(WorkerFailed(e, "saving figures"))


def _grid(config: Any) -> CodeGrid:
    g = config.grid
    return code_grid(g.low, g.high, g.step)
