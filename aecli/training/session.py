"""Opening a training session: a fresh run or a resumed one, checked against the data it gets.

``open_session`` turns (config, run directory, data, resume?) into a ``Session`` (what stays
fixed for the whole session: config, devices, data, layout, optimizer, PRNG) and the
``TrainState`` to start from (model, optimizer state, epochs done, history). A fresh run
refuses a directory that already holds a run; a resume takes the run's own config from its
checkpoint (except ``config.RESUME_KEYS``) and refuses data other than the run was trained on.
The checkpoint header that every later command reads is built here too.
"""

from __future__ import annotations

import hashlib
import math
import platform
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import equinox as eqx
import jax
import numpy as np
import optax

from aecli import __version__
from aecli.checkpoint import LATEST, Checkpoint, load_checkpoint
from aecli.config import RESUME_KEYS, Config
from aecli.errors import CheckpointError, ConfigError, TrainingError
from aecli.model import TiedAutoencoder, count_parameters
from aecli.optim import make_optimizer
from aecli.rundir import RunDir
from aecli.training.devices import Placement, place
from aecli.training.step import Layout

if TYPE_CHECKING:
    from aecli.data import DatasetSplits


@dataclass(frozen=True)
class TrainState:
    """Where training stands after a number of complete epochs (what a checkpoint holds).

    Attributes:
        model: the ``TiedAutoencoder``.
        opt_state: the optimizer state.
        epoch: epochs completed.
        step: optimizer steps taken.
        metrics: one row per completed epoch (the rows of ``RunDir.read_metrics``).
        best_val: the best validation loss so far (the training loss without a validation
            split); None before the first epoch.
    """

    model: Any
    opt_state: Any
    epoch: int
    step: int
    metrics: tuple[dict[str, Any], ...]
    best_val: float | None


@dataclass(frozen=True)
class Session:
    """What stays fixed while one call of ``train`` runs.

    Attributes:
        config: the resolved config (on resume: the run's own, with ``RESUME_KEYS`` given).
        run: the run directory.
        fresh: True for a new run, False for a resumed one.
        placement: the devices and shardings.
        dataset: the header's description of the data (name, source, split sizes).
        images: the training images, uint8 ``(n, 28, 28)``.
        validation, test: their images, or None when the split is absent or empty.
        layout: how an epoch is laid out in steps and chunks.
        optimizer: the run's optimizer.
        shuffle_key: the key every epoch's permutation folds its epoch number into.
        prng: the header's record of the seed and shuffle key.
        n_params: number of model parameters.
    """

    config: Config
    run: RunDir
    fresh: bool
    placement: Placement
    dataset: dict[str, Any]
    images: np.ndarray
    validation: np.ndarray | None
    test: np.ndarray | None
    layout: Layout
    optimizer: optax.GradientTransformation
    shuffle_key: jax.Array
    prng: dict[str, Any]
    n_params: int

    def header(self, state: TrainState) -> dict[str, Any]:
        """The checkpoint header of ``state``: all a later command needs to use the run."""
        metrics = list(state.metrics)
        return {
            "config": self.config.to_dict(),
            "epoch": state.epoch,
            "step": state.step,
            "prng": self.prng,
            "dataset": self.dataset,
            "versions": library_versions(),
            "device": self.placement.name,
            "n_params": self.n_params,
            "metrics": metrics,
            "best_val_loss": state.best_val,
            "best_epoch": min(metrics, key=_val_key)["epoch"] if metrics else None,
        }


def open_session(
    config: Config,
    run_dir: str | Path,
    data: DatasetSplits,
    *,
    resume: bool,
    report: Callable[[str], None],
) -> tuple[Session, TrainState]:
    """Check the run directory (the caller holds its lock), devices and data; return the
    session and its starting state.

    Args:
        config: the resolved config; on resume only its ``RESUME_KEYS`` are used.
        run_dir: the run directory.
        data: the loaded dataset (``"train"`` required; ``"validation"``, ``"test"`` used
            when present).
        resume: continue from the run's ``latest.ckpt``.
        report: receives one-line notices (a changed data source, the resume point).

    Raises:
        TrainingError: locked or already used run directory, device problems, data mismatch.
        ConfigError: batch size larger than the training set.
        CheckpointError: ``resume`` without a loadable checkpoint with optimizer state.
    """
    run = RunDir(run_dir)
    ckpt = None
    if resume:
        ckpt = load_checkpoint(run.path, which=LATEST, with_optimizer=True)
        config = ckpt.config.replace(**{k: config.get(k) for k in RESUME_KEYS})
    else:
        _refuse_used(run)
    tc = config.train
    placement = place(tc.device, tc.devices)
    images, dataset, validation, test = _training_data(config, data)
    init_key, shuffle_key, prng = _keys(tc.seed)
    optimizer = make_optimizer(tc)
    if ckpt is not None:
        state = _resumed_state(ckpt, run.path, dataset, prng, report)
    else:
        model = TiedAutoencoder.from_config(config.model, key=init_key)
        opt_state = optimizer.init(eqx.filter(model, eqx.is_array))
        state = TrainState(model, opt_state, epoch=0, step=0, metrics=(), best_val=None)
    session = Session(
        config=config,
        run=run,
        fresh=ckpt is None,
        placement=placement,
        dataset=dataset,
        images=images,
        validation=validation,
        test=test,
        layout=Layout.make(
            dataset["n_train"], tc.batch_size, tc.chunks_per_epoch, len(placement.devices)
        ),
        optimizer=optimizer,
        shuffle_key=shuffle_key,
        prng=prng,
        n_params=count_parameters(state.model),
    )
    return session, state


def _keys(seed: int) -> tuple[jax.Array, jax.Array, dict[str, Any]]:
    """The model's init key, the shuffle key and the header's record of them."""
    key = jax.random.key(seed)
    init_key, shuffle_key = jax.random.split(key)  # split once, at the top, from the seed
    prng = {
        "seed": seed,
        "impl": str(jax.random.key_impl(key)),
        "shuffle_key": np.asarray(jax.random.key_data(shuffle_key)).tolist(),
    }
    return init_key, shuffle_key, prng


def _refuse_used(run: RunDir) -> None:
    """A fresh run never writes into a directory that holds a run (checked under its lock)."""
    if not run.latest.exists():
        return
    raise TrainingError(
        f"run directory {run.path} already holds a training run ({LATEST}): continue it "
        f"with 'aecli train --resume {run.path}' or pass another --run-dir"
    )


def _training_data(config: Config, data: DatasetSplits):
    """The uint8 training images, the header's dataset record and the evaluation images."""
    train_split = data["train"]
    images = np.asarray(train_split.images, dtype=np.uint8)
    n = int(images.shape[0])
    if n == 0:
        raise TrainingError("the training split is empty: pass a dataset with training images")
    if config.train.batch_size > n:
        raise ConfigError(
            f"config key 'train.batch_size' ({config.train.batch_size}) is larger than the {n} "
            f"training images of {config.data.dataset}: use --batch-size {n} or less"
        )
    if config.map.kind != "none" and config.map.n_neighbors > n:
        raise ConfigError(
            f"config key 'map.n_neighbors' ({config.map.n_neighbors}) is larger than the {n} "
            f"training images: set it to {n} or less"
        )
    dataset = {
        "name": data.name,
        "source": data.source or train_split.source or "",
        "n_train": n,
        "train_sha256": images_fingerprint(images),
        "n_validation": 0,
        "n_test": 0,
    }
    held_out = {}
    for split in ("validation", "test"):
        held_out[split] = None
        if split in data:
            imgs = data[split].images
            dataset[f"n_{split}"] = int(np.asarray(imgs).shape[0])
            held_out[split] = imgs if dataset[f"n_{split}"] else None
    return images, dataset, held_out["validation"], held_out["test"]


def _resumed_state(
    ckpt: Checkpoint,
    run_dir: Path,
    dataset: dict[str, Any],
    prng: dict[str, Any],
    report: Callable[[str], None],
) -> TrainState:
    """The state saved in ``ckpt``, after checking that it fits the data and seed given now."""
    saved = ckpt.header.get("dataset", {})
    n, source = dataset["n_train"], dataset["source"]
    if saved.get("n_train") is not None and saved["n_train"] != n:
        raise TrainingError(
            f"{run_dir} was trained on {saved['n_train']} images, but the data found now has "
            f"{n} ({source}): resume with the same data (--data-dir/--dataset/--offline as before)"
        )
    check_fingerprint(saved, dataset["train_sha256"], str(run_dir), source, report)
    if ckpt.header.get("prng", {}).get("shuffle_key") not in (None, prng["shuffle_key"]):
        raise TrainingError(f"{run_dir}: the checkpoint's PRNG state does not match its seed")
    if saved.get("source") and saved["source"] != source:
        report(f"note: the run was trained on {saved['source']}; now using {source}")
    if ckpt.opt_state is None:
        raise CheckpointError(f"{ckpt.path} has no optimizer state: it cannot be resumed")
    epoch = ckpt.epoch
    report(f"resuming {run_dir} after epoch {epoch}")
    return TrainState(
        ckpt.model,
        ckpt.opt_state,
        epoch=epoch,
        step=int(ckpt.header.get("step", 0)),
        metrics=tuple(ckpt.header.get("metrics", []))[:epoch],
        best_val=ckpt.header.get("best_val_loss"),
    )


def images_fingerprint(images: np.ndarray) -> str:
    """sha256 of the uint8 training images (C order): the header's record of the data."""
    return hashlib.sha256(np.ascontiguousarray(images, dtype=np.uint8).data).hexdigest()


def check_fingerprint(
    saved: dict[str, Any], now: str, run_dir: str, source: str, report: Callable[[str], None]
) -> None:
    """Refuse images other than those the run was trained on (same count or not).

    Args:
        saved: the header's ``dataset`` record.
        now: ``images_fingerprint`` of the training images found now.
        run_dir: the run, for the messages.
        source: where the images found now come from.
        report: receives the notice for a checkpoint older than the fingerprint.

    Raises:
        TrainingError: the fingerprints differ.
    """
    old = saved.get("train_sha256")
    if old is None:
        report(f"note: {run_dir} records no fingerprint of its images; the data is not checked")
    elif old != now:
        raise TrainingError(
            f"{run_dir} was trained on other images than those found now ({source}; the "
            "fingerprint of the training images differs): use the data the run was trained on, "
            "or pass a new run directory"
        )


def library_versions() -> dict[str, str]:
    """Versions that decide the numbers: recorded in every checkpoint header."""
    return {
        "aecli": __version__,
        "jax": jax.__version__,
        "jaxlib": getattr(__import__("jaxlib"), "__version__", "?"),
        "equinox": eqx.__version__,
        "optax": optax.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def _val_key(m: dict[str, Any]) -> float:
    v = m.get("val_loss")
    return v if v is not None else m.get("train_loss", math.inf)
