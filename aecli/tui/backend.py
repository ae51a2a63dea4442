"""What the TUI needs from the rest of aecli, behind small callables that tests replace.

The app never imports JAX itself: it calls a ``Backend`` whose default members import
``aecli.train``, ``aecli.data``, ``aecli.checkpoint`` and JAX lazily, inside the functions, and
only from worker threads. Pilot tests build a ``Backend`` from a scripted trainer and a numpy
"model" that already has ``encode``/``decode`` on arrays, so they run without JAX.

A *model view* is anything with ``decode(codes (n, d)) -> images (n, 28, 28) in [0, 1]`` and
``encode(images uint8 (n, 28, 28)) -> codes (n, d)``, both plain numpy in and out.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np


class ModelView(Protocol):
    """A trained model seen as numpy functions (what the panels and the explorer draw)."""

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """(n, d) codes -> (n, 28, 28) float images in [0, 1]."""

    def encode(self, images: np.ndarray) -> np.ndarray:
        """(n, 28, 28) uint8 images -> (n, d) codes."""


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


def _buckets(n: int) -> int:
    """Pad batch sizes to a few fixed shapes so the jitted functions compile once each."""
    size = 1
    while size < n and size < 4096:
        size *= 8
    return size if n <= 4096 else 4096


_JIT_LOCK = threading.Lock()
_JITTED: dict[str, Any] = {}


def _jitted() -> dict[str, Any]:
    """Build the jitted encode/decode once per process (the model is an argument, not baked in)."""
    with _JIT_LOCK:
        if not _JITTED:
            import equinox as eqx
            import jax

            from aecli.model import postprocess, preprocess

            @eqx.filter_jit
            def decode(model, codes):
                return postprocess(jax.vmap(model.decode)(codes)).reshape(-1, 28, 28)

            @eqx.filter_jit
            def encode(model, images):
                return jax.vmap(model.encode)(preprocess(images))

            _JITTED.update(decode=decode, encode=encode)
        return _JITTED


class JaxModelView:
    """``ModelView`` over a ``TiedAutoencoder``: jitted, batched, padded to fixed shapes."""

    def __init__(self, model: Any):
        self.model = model
        self.code_dim = int(model.code_dim)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Decode codes in padded batches; one jitted call for up to 4096 codes."""
        fn = _jitted()["decode"]
        codes = np.asarray(codes, np.float32).reshape(-1, self.code_dim)
        out = []
        for start in range(0, len(codes), 4096):
            part = codes[start : start + 4096]
            size = _buckets(len(part))
            padded = np.zeros((size, self.code_dim), np.float32)
            padded[: len(part)] = part
            out.append(np.asarray(fn(self.model, padded))[: len(part)])
        return np.concatenate(out) if out else np.zeros((0, 28, 28), np.float32)

    def encode(self, images: np.ndarray) -> np.ndarray:
        """Encode uint8 images in padded batches of up to 4096."""
        fn = _jitted()["encode"]
        images = np.asarray(images, np.uint8).reshape(-1, 28, 28)
        out = []
        for start in range(0, len(images), 4096):
            part = images[start : start + 4096]
            size = _buckets(len(part))
            padded = np.zeros((size, 28, 28), np.uint8)
            padded[: len(part)] = part
            out.append(np.asarray(fn(self.model, padded))[: len(part)])
        return np.concatenate(out) if out else np.zeros((0, self.code_dim), np.float32)


def jax_view(model: Any) -> ModelView:
    """The default model view factory (imports JAX on first use)."""
    return JaxModelView(model)


def default_trainer(config: Any, **kwargs: Any) -> Iterator[Any]:
    """``aecli.train.train`` (keywords: run_dir, data, resume, control, report), imported when
    training starts."""
    from aecli.train import train

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
    """Per-epoch metrics of a run: the checkpoint header's ``metrics``, else ``metrics.jsonl``.

    Returns a list of dicts with at least ``epoch`` and ``train_loss`` (``val_loss`` may be
    missing or None); an empty list when the run recorded none.
    """
    rows: list[dict[str, Any]] = []
    if header and isinstance(header.get("metrics"), list):
        rows = [r for r in header["metrics"] if isinstance(r, dict)]
    else:
        path = Path(run_dir) / "metrics.jsonl"
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a half-written last line after a crash
                if isinstance(row, dict):
                    rows.append(row)
    out = []
    for r in rows:
        if "epoch" in r and r.get("train_loss") is not None:
            out.append(r)
    # a resumed run may repeat epochs: keep the last record of each
    by_epoch = {int(r["epoch"]): r for r in out}
    return [by_epoch[k] for k in sorted(by_epoch)]


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
    """The four things the app calls; every one runs in a worker thread, never the UI thread.

    Attributes:
        trainer: ``trainer(config, run_dir=, data=, resume=, control=)`` -> iterator of
            ``aecli.events`` values (``aecli.train.train`` by default).
        load_data: ``load_data(config, report)`` -> ``DatasetSplits``.
        make_view: ``make_view(model)`` -> ``ModelView``.
        load_run: ``load_run(run_dir)`` -> ``RunSnapshot``.
    """

    trainer: Callable[..., Iterator[Any]] = default_trainer
    load_data: Callable[..., Any] = default_load_data
    make_view: Callable[[Any], ModelView] = jax_view
    load_run: Callable[[Path], RunSnapshot] = default_load_run
