"""Loss, optimizer, the compiled epoch and the training loop that yields events.

How one epoch runs (the numerical work is compiled once, the batch loop lives inside XLA):

* The training images stay on the device as ``uint8``; ``aecli.model.preprocess`` turns each
  batch into floats inside the compiled code, so no float copy of the data set exists.
* Each epoch draws ``jax.random.permutation(fold_in(shuffle_key, epoch), n)`` and lays it out
  as ``(chunks, steps_per_chunk, batch)`` row indices plus 0/1 weights. The last partial batch
  is kept (as in the original): its missing rows have weight 0, so its loss is the sum over
  its own images only. Steps that pad the last chunk (all weights 0) are skipped with
  ``lax.cond`` and change nothing, optimizer step count included.
* ``_train_chunk`` (one ``eqx.filter_jit`` region) runs ``lax.scan`` over the steps of one
  chunk: gather rows, loss + gradient, Adam update, apply. Between chunks the loop reports
  progress and obeys ``TrainControl`` (pause, stop), so the display moves a few times per
  epoch and a stop takes effect within a fraction of an epoch.
* Every shape is fixed per run, so nothing is traced or compiled again after the first epoch
  (``tests/test_train.py`` counts traces).

What is reported: the training loss of an epoch is the mean loss per image of its batches,
each taken before its own update (the running figure the original printed while training);
validation and test losses are per image with the final weights of the epoch. Both include
the code penalty. ``Evaluation.recon`` is the reconstruction part alone: the model works in
pixels/255 - 0.5, and the shift cancels in a difference, so it is the squared error in [0, 1]
pixel units, summed over the 784 pixels (the unit of Hinton & Salakhutdinov 2006).

Checkpoints: ``latest.ckpt`` at epoch 0 (before training) and after every epoch, ``best.ckpt``
whenever the validation loss improves. A stop or Ctrl-C during an epoch discards that partial
epoch: ``latest.ckpt`` is the last complete epoch, so ``--resume`` continues bit for bit as if
never interrupted (same machine, same device count). A diverging loss (non-finite, or above
``DIVERGED_LOSS`` per image) stops the run at once and keeps the last sane checkpoint.

Several devices (``train.devices = N``): the same code path under a
``jax.sharding.Mesh`` with one ``data`` axis. Parameters and optimizer state are replicated,
every batch is split over the devices (when the batch size does not divide by N it is padded
with weight-0 rows up to the next multiple, which changes nothing numerically), and XLA
inserts the gradient all-reduce. The images are replicated on every device (the row gather
needs them; MNIST is 43 MB). Results equal the one-device run to float rounding, not bit for
bit (the sums are split differently).

Multi-host (several machines, e.g. GPU nodes): start the same command on every host after
``jax.distributed.initialize(coordinator_address="host0:1234", num_processes=P,
process_id=i)`` (on SLURM or TPU pods the arguments are found automatically). ``jax.devices()``
then lists the devices of all hosts, ``--devices`` may count all of them, every host loads the
same data set and the same seed, so all hosts draw the same permutation; only process 0
should write the run directory (point the others at a scratch ``--run-dir``).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import math
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from aecli import __version__
from aecli.atomic import atomic_write_text, remove_stale_temps
from aecli.config import Config, ModelConfig, TrainConfig
from aecli.errors import AecliError, CheckpointError, ConfigError, TrainingError
from aecli.events import (
    CheckpointSaved,
    Compiling,
    EpochEnd,
    EpochProgress,
    RunStarted,
    TrainControl,
    TrainingFinished,
    TrainingStopped,
)
from aecli.model import TiedAutoencoder, count_parameters, preprocess

METRICS = "metrics.jsonl"
CONFIG_JSON = "config.json"
LOSS_CURVE = "loss_curve.png"
SUMMARY = "summary.json"
LOCK = ".lock"
EVAL_BATCH = 1000

# Reference points for the test error in [0, 1] pixel units (squared error summed over the 784
# pixels, per image): Hinton & Salakhutdinov (2006), Science 313, Fig. 2 caption.
HINTON_2006_AUTOENCODER_30D = 3.00
HINTON_2006_PCA_30D = 13.87


def make_optimizer(cfg: TrainConfig) -> optax.GradientTransformation:
    """Adam with the configured learning rate, exposed as a live hyperparameter.

    One instance per learning rate is kept, so the compiled epoch (which takes the optimizer
    as a static argument) is reused by every run in a process with the same settings.
    """
    return _adam(float(cfg.lr))


@functools.lru_cache(maxsize=32)
def _adam(lr: float) -> optax.GradientTransformation:
    return optax.inject_hyperparams(optax.adam)(learning_rate=lr)


# --------------------------------------------------------------------------------------------
# Loss and evaluation


def example_errors(model: TiedAutoencoder, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Per-image squared reconstruction error and squared code norm.

    Args:
        model: the autoencoder.
        x: preprocessed images, shape ``(n, 784)`` (pixels/255 - 0.5).

    Returns:
        ``(recon, code)``, each of shape ``(n,)``: ``sum((decode(encode(x)) - x)**2)`` over the
        784 pixels, and ``sum(code**2)``. The pixel shift cancels in the difference, so
        ``recon`` is also the squared error in [0, 1] pixel units.
    """
    r, z = jax.vmap(model)(x)
    return jnp.sum(jnp.square(r - x), axis=-1), jnp.sum(jnp.square(z), axis=-1)


def loss_fn(
    model: TiedAutoencoder,
    images: jax.Array,
    l2_weight: float = 0.1,
    weights: jax.Array | None = None,
) -> jax.Array:
    """The original's batch loss: summed squared pixel error + ``l2_weight`` * summed code**2.

    Args:
        model: the autoencoder.
        images: uint8 images ``(n, 28, 28)`` or ``(n, 784)`` (converted here, inside jit).
        l2_weight: weight of the code penalty (0.1 in the original).
        weights: optional 0/1 weight per image; weight-0 rows (padding) add nothing.

    Returns:
        A scalar: the sum over the batch (not the mean). Divide by the number of images for
        the per-image figure the original printed.
    """
    recon, code = example_errors(model, preprocess(images))
    per_image = recon + l2_weight * code
    if weights is None:
        return jnp.sum(per_image)
    return jnp.sum(weights * per_image)


@dataclass(frozen=True)
class Evaluation:
    """Per-image figures of a model on a set of images.

    Attributes:
        loss: the training objective per image (reconstruction + l2_weight * code**2).
        recon: squared reconstruction error per image in [0, 1] pixel units (summed over the
            784 pixels; the unit of Hinton & Salakhutdinov 2006), without the code penalty.
        code: mean squared code norm per image.
        n: number of images.
    """

    loss: float
    recon: float
    code: float
    n: int


@eqx.filter_jit
def _eval_sums(model: TiedAutoencoder, images: jax.Array, weights: jax.Array):
    """Sums of reconstruction error and code**2 over ``(batches, batch, 28, 28)`` images."""

    def one(args):
        x, w = args
        recon, code = example_errors(model, preprocess(x))
        return jnp.sum(w * recon), jnp.sum(w * code)

    recon, code = jax.lax.map(one, (images, weights))
    return jnp.sum(recon), jnp.sum(code)


def _pad_for_eval(images: np.ndarray, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pad images to whole batches; return ``(batches, batch, 28, 28)`` uint8 and 0/1 weights."""
    images = np.asarray(images, dtype=np.uint8).reshape(-1, 28, 28)
    n = images.shape[0]
    batch_size = max(1, min(batch_size, n))
    nb = -(-n // batch_size)
    padded = np.zeros((nb * batch_size, 28, 28), np.uint8)
    padded[:n] = images
    w = np.zeros(nb * batch_size, np.float32)
    w[:n] = 1.0
    return padded.reshape(nb, batch_size, 28, 28), w.reshape(nb, batch_size)


class _EvalSet:
    """Images padded and placed on the device once, evaluated with one compiled function."""

    def __init__(self, images: np.ndarray, batch_size: int, sharding: Any = None):
        self.n = int(np.asarray(images).shape[0])
        if self.n:
            padded, w = _pad_for_eval(images, batch_size)
            self.images = jax.device_put(padded, sharding)
            self.weights = jax.device_put(w, sharding)

    def evaluate(self, model: TiedAutoencoder, l2_weight: float) -> Evaluation | None:
        if not self.n:
            return None
        recon, code = jax.device_get(_eval_sums(model, self.images, self.weights))
        recon, code = float(recon) / self.n, float(code) / self.n
        return Evaluation(recon + l2_weight * code, recon, code, self.n)


def evaluate_parts(
    model: TiedAutoencoder,
    images: np.ndarray,
    *,
    batch_size: int = EVAL_BATCH,
    l2_weight: float = 0.1,
) -> Evaluation:
    """Evaluate ``model`` on uint8 images in jitted batches (see ``Evaluation``)."""
    n = int(np.asarray(images).shape[0])
    if n == 0:
        raise ValueError("no images to evaluate")
    result = _EvalSet(images, batch_size).evaluate(model, l2_weight)
    assert result is not None
    return result


def evaluate(
    model: TiedAutoencoder,
    images: np.ndarray,
    batch_size: int = EVAL_BATCH,
    *,
    l2_weight: float = 0.1,
) -> float:
    """Per-image loss (reconstruction + ``l2_weight`` * code**2) of ``model`` on uint8 images."""
    return evaluate_parts(model, images, batch_size=batch_size, l2_weight=l2_weight).loss


# --------------------------------------------------------------------------------------------
# The compiled epoch

# A loss per image above this means the run has diverged. Predicting mid-grey for every pixel
# costs at most 784 * 0.5**2 = 196 per image, so 1e6 is thousands of times worse than a model
# that learned nothing. Adam at lr 10 reaches ~1e29 without ever overflowing, so waiting for a
# non-finite loss alone would let it run to the end.
DIVERGED_LOSS = 1e6

TRACE_COUNTS = {"train_chunk": 0, "epoch_order": 0}  # tests read these to prove no retracing


@dataclass(frozen=True)
class Layout:
    """How an epoch's steps are laid out in chunks (all static for one run).

    Attributes:
        n: training images.
        batch_size: images per step (the last step may hold fewer).
        padded_batch: batch rows per step, ``batch_size`` rounded up to the device count.
        steps: optimizer steps per epoch, ``ceil(n / batch_size)``.
        chunks: scanned chunks per epoch.
        chunk_steps: steps per chunk; the last chunk may end in skipped padding steps.
    """

    n: int
    batch_size: int
    padded_batch: int
    steps: int
    chunks: int
    chunk_steps: int

    @classmethod
    def make(cls, n: int, batch_size: int, chunks: int, devices: int = 1) -> Layout:
        steps = -(-n // batch_size)
        chunk_steps = -(-steps // max(1, min(chunks, steps)))
        chunks = -(-steps // chunk_steps)
        padded = -(-batch_size // devices) * devices
        return cls(n, batch_size, padded, steps, chunks, chunk_steps)

    def images_after_chunk(self, c: int) -> int:
        """Images trained once chunk ``c`` (0-based) is done."""
        return min(self.n, (c + 1) * self.chunk_steps * self.batch_size)

    def step_images(self) -> np.ndarray:
        """Number of real images in each step of an epoch."""
        counts = np.full(self.steps, self.batch_size, np.int64)
        counts[-1] = self.n - (self.steps - 1) * self.batch_size
        return counts


def _epoch_order(key: jax.Array, epoch: jax.Array, layout: Layout):
    """Row indices ``(chunks, chunk_steps, padded_batch)`` and 0/1 weights for one epoch."""
    TRACE_COUNTS["epoch_order"] += 1
    perm = jax.random.permutation(jax.random.fold_in(key, epoch), layout.n).astype(jnp.int32)
    full = layout.steps * layout.batch_size
    rows = jnp.full((full,), -1, jnp.int32).at[: layout.n].set(perm)
    rows = rows.reshape(layout.steps, layout.batch_size)
    rows = jnp.pad(
        rows,
        (
            (0, layout.chunks * layout.chunk_steps - layout.steps),
            (0, layout.padded_batch - layout.batch_size),
        ),
        constant_values=-1,
    )
    rows = rows.reshape(layout.chunks, layout.chunk_steps, layout.padded_batch)
    weights = (rows >= 0).astype(jnp.float32)
    return jnp.maximum(rows, 0), weights


_epoch_order_jit = jax.jit(_epoch_order, static_argnums=2)


def _all_finite(tree: Any) -> jax.Array:
    leaves = jax.tree_util.tree_leaves(eqx.filter(tree, eqx.is_inexact_array))
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(leaf)) for leaf in leaves]))


@eqx.filter_jit
def _train_chunk(
    model: TiedAutoencoder,
    opt_state: Any,
    data: jax.Array,
    rows: jax.Array,
    weights: jax.Array,
    chunk: jax.Array,
    optimizer: optax.GradientTransformation,
    l2_weight: float,
    batch_sharding: Any,
):
    """Train the steps of chunk ``chunk`` of an epoch; one compiled region for the whole chunk.

    Returns:
        ``(model, opt_state, losses, ok, worst)``: the batch-sum loss of every step (before
        its update; 0 for skipped padding steps), whether the chunk stayed sane (every loss
        per image finite and at most ``DIVERGED_LOSS``, every parameter finite) and the
        largest loss per image of the chunk.
    """
    TRACE_COUNTS["train_chunk"] += 1
    rows = jax.lax.dynamic_index_in_dim(rows, chunk, keepdims=False)
    weights = jax.lax.dynamic_index_in_dim(weights, chunk, keepdims=False)

    def update(carry, xs):
        model, opt_state = carry
        r, w = xs
        if batch_sharding is not None:
            r = jax.lax.with_sharding_constraint(r, batch_sharding)
            w = jax.lax.with_sharding_constraint(w, batch_sharding)
        images = data[r]
        loss, grads = eqx.filter_value_and_grad(loss_fn)(model, images, l2_weight, w)
        updates, opt_state = optimizer.update(grads, opt_state, eqx.filter(model, eqx.is_array))
        return (eqx.apply_updates(model, updates), opt_state), loss

    def step(carry, xs):
        # Padding steps after the last batch (all weights 0) must not move Adam's state.
        return jax.lax.cond(
            jnp.any(xs[1] > 0), update, lambda c, _: (c, jnp.zeros((), jnp.float32)), carry, xs
        )

    (model, opt_state), losses = jax.lax.scan(step, (model, opt_state), (rows, weights))
    per_image = losses / jnp.maximum(jnp.sum(weights, axis=1), 1.0)
    worst = jnp.max(jnp.where(jnp.isfinite(per_image), per_image, jnp.inf))
    ok = (worst <= DIVERGED_LOSS) & _all_finite(model)
    return model, opt_state, losses, ok, worst


# --------------------------------------------------------------------------------------------
# Devices, run directory, bookkeeping


def select_devices(kind: str = "auto", count: int = 1) -> list[jax.Device]:
    """Pick ``count`` devices: ``gpu``, ``cpu``, or ``auto`` (XLA's GPU when present, else CPU).

    Raises:
        TrainingError: no GPU for ``gpu``, or fewer devices than asked for.
    """
    if kind not in ("auto", "cpu", "gpu"):
        raise ConfigError(f"device must be auto, cpu or gpu, got {kind!r}")
    devices: list[jax.Device] = []
    if kind in ("auto", "gpu"):
        try:
            devices = list(jax.devices("gpu"))
        except RuntimeError:
            devices = []
        if not devices and kind == "gpu":
            raise TrainingError(
                "no GPU visible to JAX (is jax[cuda12] installed and a driver present?): "
                "use --device cpu or --device auto"
            )
    if not devices:
        devices = list(jax.devices("cpu"))
    if count > len(devices):
        hint = (
            " (on CPU, simulate devices with XLA_FLAGS=--xla_force_host_platform_device_count="
            f"{count})"
            if devices[0].platform == "cpu"
            else ""
        )
        raise TrainingError(
            f"--devices {count} asked for, but only {len(devices)} {devices[0].platform} "
            f"device(s) are visible{hint}: pass --devices {len(devices)} or fewer"
        )
    return devices[:count]


def describe_devices(devices: list[jax.Device]) -> str:
    """Human description, e.g. ``cpu (TFRT_CPU_0)`` or ``4 x gpu (NVIDIA H100)``."""
    d = devices[0]
    kind = getattr(d, "device_kind", d.platform)
    if d.platform == "cpu":
        kind = f"{_cpu_model()}, {os.cpu_count()} cores"
    what = f"{d.platform} ({kind})"
    return what if len(devices) == 1 else f"{len(devices)} x {what}"


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return platform.processor() or platform.machine()


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


@contextlib.contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """Hold an exclusive ``fcntl.flock`` on ``RUN_DIR/.lock`` (released on exit, even on crash).

    Raises:
        TrainingError: another process (or another training in this one) holds the lock.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    f = open(run_dir / LOCK, "a+")  # noqa: SIM115 - held for the whole block
    try:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise TrainingError(_in_use(run_dir)) from None
        f.seek(0)
        f.truncate()
        f.write(f"{os.getpid()}\n")
        f.flush()
        yield
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
        f.close()


def _in_use(run_dir: Path) -> str:
    try:
        holder = (run_dir / LOCK).read_text().strip() or "?"
    except OSError:
        holder = "?"
    return (
        f"run directory {run_dir} is in use by another training (pid {holder} holds "
        f"{run_dir / LOCK}): wait for it to finish or pass another --run-dir"
    )


def _is_locked(run_dir: Path) -> bool:
    """True while another training holds ``RUN_DIR/.lock`` (never creates the file)."""
    try:
        fd = os.open(run_dir / LOCK, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # closing drops a lock this probe may have taken
    return False


def read_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    """The per-epoch lines of ``RUN_DIR/metrics.jsonl`` (a torn last line is ignored)."""
    path = Path(run_dir) / METRICS
    out: list[dict[str, Any]] = []
    if not path.is_file():
        return out
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return out


def _write_metrics(run_dir: Path, metrics: list[dict[str, Any]]) -> None:
    atomic_write_text(run_dir / METRICS, "".join(json.dumps(m) + "\n" for m in metrics))


def _append_metrics(run_dir: Path, line: dict[str, Any]) -> None:
    with open(run_dir / METRICS, "a", encoding="utf-8") as f:
        f.write(json.dumps(line) + "\n")


# What the original printed for MNIST (TensorFlow, same settings): loss per image by epoch.
ORIGINAL_MNIST = {1: 52.76, 67: 31.38}


def save_loss_curve(
    run_dir: Path, metrics: list[dict[str, Any]], title: str, **kwargs: Any
) -> Path | None:
    """Write ``RUN_DIR/loss_curve.png`` (atomically); None when there is nothing to plot."""
    if not metrics:
        return None
    from aecli.figures import loss_curve, save_figure

    return save_figure(loss_curve(metrics, title=title, **kwargs), run_dir / LOSS_CURVE)


def flops_per_image(sizes: tuple[int, ...]) -> int:
    """Floating-point operations (2 per multiply-add) of one training image, forward + backward.

    Forward: encoder and decoder each do ``sum(in * out)`` multiply-adds. Backward: twice the
    forward (input gradients and weight gradients), less the input gradient of the first
    encoder layer, which nothing needs. Element-wise work is not counted.
    """
    macs = sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
    return 2 * (2 * macs + 2 * 2 * macs - sizes[0] * sizes[1])


# --------------------------------------------------------------------------------------------
# The training loop


def _load_data(config: Config, report: Callable[[str], None]):
    from aecli.data import load_dataset

    d = config.data
    return load_dataset(
        d.dataset, data_dir=d.data_dir, offline=d.offline, report=report, invert=d.invert
    )


def _split(data: Any, name: str) -> Any | None:
    try:
        return data[name]
    except (KeyError, IndexError, AecliError):  # DatasetSplits raises DataError
        return None


def _noop(_: str) -> None:
    pass


def train(
    config: Config,
    *,
    run_dir: str | Path,
    data: Any = None,
    resume: bool = False,
    control: TrainControl | None = None,
    report: Callable[[str], None] | None = None,
) -> Iterator[Any]:
    """Train (or resume) and yield ``aecli.events`` values; writes everything into ``run_dir``.

    Args:
        config: the resolved config. On resume the run's own config (from its checkpoint) is
            used, except ``train.epochs`` (to extend a run), ``train.device`` and
            ``train.devices``, which are taken from ``config``.
        run_dir: the run directory (created). A fresh run refuses a directory that already
            holds a checkpoint.
        data: a ``DatasetSplits`` (``["train"|"validation"|"test"]`` with uint8 ``images``);
            None loads ``config.data`` through ``aecli.data.load_dataset``.
        resume: continue from ``RUN_DIR/latest.ckpt`` (model, optimizer and PRNG state).
        control: switches checked between chunks (pause, stop).
        report: receives one-line notices (data source, device, resume point).

    Yields:
        RunStarted, Compiling, EpochProgress (after each chunk), EpochEnd, CheckpointSaved,
        then TrainingFinished or TrainingStopped.

    Raises:
        TrainingError: locked or already used run directory, device problems, data mismatch.
        ConfigError: batch size larger than the training set.
        CheckpointError: ``resume`` without a loadable checkpoint.
    """
    from aecli.checkpoint import BEST, LATEST, load_checkpoint, save_checkpoint

    run_dir = Path(run_dir)
    report = report or _noop
    control = control or TrainControl()
    wall_start = time.perf_counter()

    ckpt = None
    if resume:
        ckpt = load_checkpoint(run_dir, which=LATEST, with_optimizer=True)
        config = ckpt.config.replace(
            **{
                "train.epochs": config.train.epochs,
                "train.device": config.train.device,
                "train.devices": config.train.devices,
                # where the data is may change between sessions; which data may not
                "data.data_dir": config.data.data_dir,
                "data.offline": config.data.offline,
            }
        )
    elif (run_dir / LATEST).exists():
        if _is_locked(run_dir):
            raise TrainingError(_in_use(run_dir))
        raise TrainingError(
            f"run directory {run_dir} already holds a training run ({LATEST}): continue it "
            f"with 'aecli train --resume {run_dir}' or pass another --run-dir"
        )
    tc = config.train

    devices = select_devices(tc.device, tc.devices)
    device_name = describe_devices(devices)
    if len(devices) > 1:
        from jax.sharding import Mesh, NamedSharding
        from jax.sharding import PartitionSpec as P

        mesh = Mesh(np.array(devices), ("data",))
        replicated = NamedSharding(mesh, P())
        batch_sharding = NamedSharding(mesh, P("data"))
    else:
        replicated, batch_sharding = devices[0], None

    if data is None:
        data = _load_data(config, report)
    train_split = data["train"]
    train_images = np.asarray(train_split.images, dtype=np.uint8)
    n = int(train_images.shape[0])
    if n == 0:
        raise TrainingError("the training split is empty: pass a dataset with training images")
    if tc.batch_size > n:
        raise ConfigError(
            f"config key 'train.batch_size' ({tc.batch_size}) is larger than the {n} training "
            f"images of {config.data.dataset}: use --batch-size {n} or less"
        )
    source = getattr(data, "source", None) or getattr(train_split, "source", "") or ""
    dataset_info = {
        "name": getattr(data, "name", config.data.dataset),
        "source": source,
        "n_train": n,
        "n_validation": 0,
        "n_test": 0,
    }
    val_split, test_split = _split(data, "validation"), _split(data, "test")
    for key, split in (("n_validation", val_split), ("n_test", test_split)):
        if split is not None:
            dataset_info[key] = int(np.asarray(split.images).shape[0])

    key = jax.random.key(tc.seed)
    init_key, shuffle_key = jax.random.split(key)  # split once, at the top, from the seed
    prng = {
        "seed": tc.seed,
        "impl": str(jax.random.key_impl(key)),
        "shuffle_key": np.asarray(jax.random.key_data(shuffle_key)).tolist(),
    }

    optimizer = make_optimizer(tc)
    if ckpt is not None:
        saved_n = ckpt.header.get("dataset", {}).get("n_train")
        if saved_n is not None and saved_n != n:
            raise TrainingError(
                f"{run_dir} was trained on {saved_n} images, but the data found now has {n} "
                f"({source}): resume with the same data (--data-dir/--dataset/--offline as before)"
            )
        if ckpt.header.get("prng", {}).get("shuffle_key") not in (None, prng["shuffle_key"]):
            raise TrainingError(f"{run_dir}: the checkpoint's PRNG state does not match its seed")
        saved_source = ckpt.header.get("dataset", {}).get("source")
        if saved_source and saved_source != source:
            report(f"note: the run was trained on {saved_source}; now using {source}")
        model, opt_state = ckpt.model, ckpt.opt_state
        if opt_state is None:
            raise CheckpointError(f"{ckpt.path} has no optimizer state: it cannot be resumed")
        start_epoch, step = ckpt.epoch, int(ckpt.header.get("step", 0))
        metrics = list(ckpt.header.get("metrics", []))[:start_epoch]
        best_val = ckpt.header.get("best_val_loss")
        report(f"resuming {run_dir} after epoch {start_epoch}")
    else:
        model = TiedAutoencoder.from_config(config.model, key=init_key)
        opt_state = optimizer.init(eqx.filter(model, eqx.is_array))
        start_epoch, step, metrics, best_val = 0, 0, [], None

    layout = Layout.make(n, tc.batch_size, tc.chunks_per_epoch, len(devices))
    n_params = count_parameters(model)
    title = f"{dataset_info['name']} ({n:,} training images): loss per image"

    def header(epoch: int) -> dict[str, Any]:
        return {
            "config": config.to_dict(),
            "epoch": epoch,
            "step": step,
            "prng": prng,
            "dataset": dataset_info,
            "versions": library_versions(),
            "device": device_name,
            "n_params": n_params,
            "metrics": metrics,
            "best_val_loss": best_val,
            "best_epoch": min(metrics, key=_val_key)["epoch"] if metrics else None,
        }

    with run_lock(run_dir):
        remove_stale_temps(run_dir)  # left by a writer that was killed mid-write
        atomic_write_text(run_dir / CONFIG_JSON, json.dumps(config.to_dict(), indent=2) + "\n")
        _write_metrics(run_dir, metrics)  # drops lines past the checkpoint: never duplicated

        # Everything the compiled code touches lives on the device(s) from here on.
        model, opt_state = jax.device_put((model, opt_state), replicated)
        data_dev = jax.device_put(train_images, replicated)
        shuffle_dev = jax.device_put(shuffle_key, replicated)
        val_set = (
            _EvalSet(val_split.images, EVAL_BATCH, replicated)
            if val_split is not None and dataset_info["n_validation"]
            else None
        )

        report(f"device: {device_name}")
        yield RunStarted(
            run_dir=run_dir,
            name=config.name,
            dataset=dataset_info["name"],
            source=source,
            device=device_name,
            n_params=n_params,
            n_train=n,
            epochs=tc.epochs,
            start_epoch=start_epoch,
            steps_per_epoch=layout.steps,
            config=config,
        )
        if ckpt is None:
            save_checkpoint(run_dir / LATEST, model=model, opt_state=opt_state, header=header(0))

        compiled = False
        session_seconds: list[float] = []
        completed = start_epoch
        order = None  # the next epoch's (rows, weights), computed ahead
        try:
            for epoch in range(start_epoch + 1, tc.epochs + 1):
                if control.stopped:
                    yield _stopped(run_dir, epoch - 1, "stopped", "stopped before epoch", epoch)
                    return
                if not compiled:
                    yield Compiling()
                t0 = time.perf_counter()
                if order is None:
                    order = _epoch_order_jit(shuffle_dev, jnp.int32(epoch), layout)
                rows, weights = order

                def chunk(state, c, rows=rows, weights=weights):
                    return _train_chunk(
                        *state, data_dev, rows, weights, jnp.int32(c),
                        optimizer, tc.l2_weight, batch_sharding,
                    )  # fmt: skip

                # JAX dispatches asynchronously: the next chunk (and the next epoch's shuffle) is
                # queued before this one's losses are read, so the device never waits for Python.
                pending = chunk((model, opt_state), 0)
                order = (
                    _epoch_order_jit(shuffle_dev, jnp.int32(epoch + 1), layout)
                    if epoch < tc.epochs
                    else None
                )
                loss_sum = 0.0
                for c in range(layout.chunks):
                    out = pending
                    if c + 1 < layout.chunks:
                        pending = chunk(out[:2], c + 1)
                    losses, ok, worst = jax.device_get(out[2:])
                    trained = out[:2]
                    compiled = True
                    if not ok:
                        what = (
                            f"loss per image {float(worst):.3g} > {DIVERGED_LOSS:g}"
                            if np.isfinite(worst)
                            else "non-finite loss or weights"
                        )
                        yield TrainingStopped(
                            epoch=epoch - 1,
                            reason="diverged",
                            message=(
                                f"training diverged in epoch {epoch} ({what}); {LATEST} keeps the "
                                f"last sane state, epoch {epoch - 1}: lower the learning rate "
                                f"(--lr, now {tc.lr:g})"
                            ),
                            checkpoint=run_dir / LATEST,
                        )
                        return
                    loss_sum += float(np.sum(losses, dtype=np.float64))
                    done = layout.images_after_chunk(c)
                    paused_at = time.perf_counter()
                    yield EpochProgress(epoch=epoch, images_done=done, images_total=n)
                    if control.paused:
                        control.resume_event.wait()
                    t0 += time.perf_counter() - paused_at  # time in the consumer is not training
                    if control.stopped and c < layout.chunks - 1:
                        yield _stopped(run_dir, epoch - 1, "stopped", "stopped during epoch", epoch)
                        return
                model, opt_state = trained
                step += layout.steps
                # The original printed the loss averaged over the epoch's batches as it trained:
                # the mean per-image loss of the batches before each one's update.
                train_loss = loss_sum / n
                val = val_set.evaluate(model, tc.l2_weight) if val_set else None
                seconds = time.perf_counter() - t0
                session_seconds.append(seconds)
                line = {
                    "epoch": epoch,
                    "train_loss": train_loss,
                    "val_loss": val.loss if val else None,
                    "seconds": seconds,
                    "images_per_second": n / seconds,
                }
                metrics.append(line)
                _append_metrics(run_dir, line)
                yield EpochEnd(
                    epoch=epoch,
                    epochs=tc.epochs,
                    train_loss=train_loss,
                    val_loss=line["val_loss"],
                    seconds=seconds,
                    images_per_second=line["images_per_second"],
                    model=model,
                )
                score = val.loss if val else train_loss
                is_best = best_val is None or score < best_val
                if is_best:
                    best_val = score
                h = header(epoch)
                save_checkpoint(run_dir / LATEST, model=model, opt_state=opt_state, header=h)
                completed = epoch
                yield CheckpointSaved(path=run_dir / LATEST, epoch=epoch)
                if is_best:
                    save_checkpoint(run_dir / BEST, model=model, opt_state=opt_state, header=h)
                    yield CheckpointSaved(path=run_dir / BEST, epoch=epoch, best=True)

        except KeyboardInterrupt:
            # Ctrl-C while the loop itself runs: the partial epoch is discarded, latest.ckpt
            # already holds the last complete one.
            yield _stopped(
                run_dir, completed, "interrupted", "interrupted during epoch", completed + 1
            )
            return
        finally:
            # Every run, finished or stopped, leaves its loss curve so far.
            save_loss_curve(
                run_dir,
                metrics,
                title,
                l2_weight=tc.l2_weight,
                reference=ORIGINAL_MNIST if _is_original_setup(config, dataset_info) else None,
            )
        test = None
        if test_split is not None and dataset_info["n_test"]:
            test = _EvalSet(test_split.images, EVAL_BATCH, replicated).evaluate(model, tc.l2_weight)
        later = session_seconds[1:] or session_seconds  # epoch 1 of a session compiles
        median = statistics.median(later) if later else None
        last = metrics[-1] if metrics else {}
        summary = {
            "run_dir": str(run_dir),
            "checkpoint": str(run_dir / LATEST),
            "best_checkpoint": str(run_dir / BEST) if (run_dir / BEST).exists() else None,
            "epochs": len(metrics),
            "train_loss": last.get("train_loss"),
            "val_loss": last.get("val_loss"),
            "test_loss": test.loss if test else None,
            "test_recon_error": test.recon if test else None,
            "test_recon_mse_per_pixel": test.recon / 784 if test else None,
            "best_val_loss": best_val if val_set else None,
            "median_epoch_seconds": median,
            "images_per_second": n / median if median else None,
            "wall_seconds": time.perf_counter() - wall_start,
            "device": device_name,
            "dataset": dataset_info["name"],
            "dataset_source": source,
            "n_train": n,
            "n_params": n_params,
        }
        atomic_write_text(run_dir / SUMMARY, json.dumps(summary, indent=2) + "\n")
        yield TrainingFinished(summary=summary, model=model)


def _is_original_setup(config: Config, dataset: dict[str, Any]) -> bool:
    """Full MNIST with the original model and optimiser settings: its figures compare."""
    t, d = config.train, TrainConfig()
    return (
        dataset["name"] == "mnist"
        and dataset["n_train"] == 55_000
        and config.model == ModelConfig()
        and (t.batch_size, t.lr, t.l2_weight) == (d.batch_size, d.lr, d.l2_weight)
    )


def _val_key(m: dict[str, Any]) -> float:
    v = m.get("val_loss")
    return v if v is not None else m.get("train_loss", math.inf)


def _stopped(run_dir: Path, done: int, reason: str, what: str, epoch: int) -> TrainingStopped:
    return TrainingStopped(
        epoch=done,
        reason=reason,
        message=(
            f"training {what} {epoch}; the run is saved after epoch {done} (a partial epoch "
            f"is discarded so that a resume is exact): continue with "
            f"'aecli train --resume {run_dir}'"
        ),
        checkpoint=run_dir / "latest.ckpt",
    )
