"""What the TUI needs from the rest of aecli, behind small callables that tests replace.

The app never imports JAX itself: it calls a ``Backend`` whose default members import
``aecli.training``, ``aecli.data``, ``aecli.checkpoint`` and JAX lazily, inside the functions,
and only from worker threads (``aecli.latent.codes`` imports JAX on its first call). Pilot
tests build a ``Backend`` from a scripted trainer and a numpy "model" that already has
``encode`` / ``decode`` / ``reconstruct`` on arrays, so they run without JAX.

A *model view* is anything with ``decode(codes (n, d)) -> images (n, 28, 28) in [0, 1]``,
``encode(images uint8 (n, 28, 28)) -> codes (n, d)`` and ``reconstruct(images) -> (images,
per-image errors)``, all plain numpy in and out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from aecli.latent import codes as latent_codes


class ModelView(Protocol):
    """A trained model seen as numpy functions (what the panels and the explorer draw)."""

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """(n, d) codes -> (n, 28, 28) float images in [0, 1]."""

    def encode(self, images: np.ndarray) -> np.ndarray:
        """(n, 28, 28) uint8 images -> (n, d) codes."""

    def reconstruct(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(n, 28, 28) uint8 images -> their reconstructions in [0, 1] and per-image errors."""


@dataclass(frozen=True)
class RunSnapshot:
    """A run directory as the explorer needs it (from ``load_run``)."""

    run_dir: Path
    config: Any  # aecli.config.Config
    model: Any
    epoch: int  # epochs completed
    header: dict[str, Any]
    history: list[dict[str, Any]]  # [{"epoch", "train_loss", "val_loss", ...}]
    n_params: int

    @property
    def finished(self) -> bool:
        """True when every configured epoch is done."""
        return self.epoch >= self.config.train.epochs


class JaxModelView:
    """``ModelView`` over a ``TiedAutoencoder`` through ``aecli.latent.codes``: the same
    jitted encode, decode and per-image error as ``aecli reconstruct`` (safe in threads)."""

    def __init__(self, model: Any):
        self.model = model

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Codes (n, code_dim) to images (n, 28, 28) in [0, 1]."""
        return latent_codes.decode(self.model, codes)

    def encode(self, images: np.ndarray) -> np.ndarray:
        """uint8 images (n, 28, 28) to codes (n, code_dim)."""
        return latent_codes.encode(self.model, images)

    def reconstruct(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Reconstructions in [0, 1] and the per-image squared errors of the unclipped
        reconstructions, in the loss's units (what ``aecli reconstruct`` prints)."""
        r = latent_codes.reconstruct(self.model, images)
        return r.images, r.errors


def jax_view(model: Any) -> ModelView:
    """The default model view factory (imports JAX on first use)."""
    return JaxModelView(model)


def default_trainer(config: Any, **kwargs: Any) -> Iterator[Any]:
    """``aecli.training.train`` (keywords: run_dir, data, resume, control, report), imported
    when training starts."""
    from aecli.training import train

    return train(config, **kwargs)


def default_load_data(config: Any, report: Callable[[str], None] | None = None) -> Any:
    """Load the run's dataset as its config says (``aecli.data.load_dataset``)."""
    from aecli.data import load_dataset

    d = config.data
    # progress=False: rich progress bars would draw over the TUI
    return load_dataset(
        d.dataset,
        data_dir=d.data_dir,
        offline=d.offline,
        report=report or _quiet,
        progress=False,
        invert=d.invert,
    )


def _quiet(_line: str) -> None:
    pass


def read_history(run_dir: Path, header: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Per-epoch metrics of a run up to its checkpoint's epoch (``RunDir.read_metrics``)."""
    from aecli.rundir import RunDir

    return RunDir(run_dir).read_metrics(upto_epoch=(header or {}).get("epoch"))


def default_load_history(run_dir: Path) -> list[dict[str, Any]]:
    """The metrics a resume of ``run_dir`` continues: those up to its latest checkpoint."""
    from aecli.checkpoint import read_header, resolve_path

    header, _ = read_header(resolve_path(run_dir))
    return read_history(run_dir, header)


def default_load_run(run_dir: Path) -> RunSnapshot:
    """Load a run directory's latest checkpoint and its metrics (imports JAX)."""
    from aecli.checkpoint import load_checkpoint
    from aecli.model import count_parameters

    ckpt = load_checkpoint(run_dir)
    return RunSnapshot(
        run_dir=ckpt.run_dir,
        config=ckpt.config,
        model=ckpt.model,
        epoch=ckpt.epoch,
        header=ckpt.header,
        history=read_history(ckpt.run_dir, ckpt.header),
        n_params=int(ckpt.header.get("n_params") or count_parameters(ckpt.model)),
    )


@dataclass
class Backend:
    """The five things the app calls; every one runs in a worker thread, never the UI thread.

    Attributes:
        trainer: ``trainer(config, run_dir=, data=, resume=, control=)`` -> iterator of
            ``aecli.events`` values (``aecli.training.train`` by default).
        load_data: ``load_data(config, report)`` -> ``DatasetSplits``.
        make_view: ``make_view(model)`` -> ``ModelView``.
        load_run: ``load_run(run_dir)`` -> ``RunSnapshot``.
        load_history: ``load_history(run_dir)`` -> the metrics rows a resume continues.
    """

    trainer: Callable[..., Iterator[Any]] = default_trainer
    load_data: Callable[..., Any] = default_load_data
    make_view: Callable[[Any], ModelView] = jax_view
    load_run: Callable[[Path], RunSnapshot] = default_load_run
    load_history: Callable[[Path], list[dict[str, Any]]] = default_load_history
