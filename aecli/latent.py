"""The 2-D code space: batched encode/decode, code grids, interpolation, t-SNE and measures.

Everything here is a function of arrays (models, uint8 images, codes) that returns numpy arrays
or small result values, so the commands, the experiment report and the TUI share one
implementation. Encode and decode run in jitted batches of a fixed size (the last batch is
padded), so a whole split costs one compilation and a few device calls.

Grid orientation: ``code_grid`` returns rows from the *highest* code 2 value down to the lowest
and columns from the lowest code 1 value up, i.e. ``codes[r, c] = (xs[c], ys[r])`` with ``ys``
descending. Drawn as an image (row 0 at the top) the sheet therefore has the scatter plot's
orientation: code 1 grows to the right, code 2 grows upwards. (The original experiment decoded
``grid[i, j] = (x_i, y_j)`` and tiled ``i`` down the rows, which put code 1 on the vertical axis,
i.e. its sheet was the scatter plot transposed.)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from aecli.errors import AecliError, ConfigError

# Reported by the original experiment (TensorFlow, 2016) for comparison in report.md.
ORIGINAL = {
    "mnist": {
        "loss_epoch_1": 52.76,
        "loss_epoch_67": 31.38,
        "grid": (-1.0, 0.8, 0.2),
        "data": "55,000 MNIST training images",
    },
    "notmnist": {
        "loss_final": 65.77,
        "grid": (-2.0, 1.8, 0.2),
        "data": "200,000 notMNIST_large training images",
    },
}

# t-SNE on PCA-50 of the 55,000 MNIST training images: 5-NN accuracy about 0.977 (issue 4).
TSNE_REFERENCE_KNN = 0.977

ProgressFn = Callable[[str, int, int], None]
"""``progress(stage, done, total)``: a one-line stage name and how far it is (total 0: unknown)."""


class LatentError(AecliError):
    """A latent-space request that cannot be served (wrong code size, index out of range, ...)."""


# --------------------------------------------------------------------------------------------
# Batched encode / decode / reconstruct
# --------------------------------------------------------------------------------------------

_JIT_CACHE: dict[str, Any] = {}


def _jitted(name: str) -> Any:
    """The jitted batch functions, built once per process (JAX imported lazily)."""
    if name in _JIT_CACHE:
        return _JIT_CACHE[name]
    import equinox as eqx
    import jax
    import jax.numpy as jnp

    from aecli.model import postprocess, preprocess

    @eqx.filter_jit
    def encode_batch(model, images):
        return jax.vmap(model.encode)(preprocess(images))

    @eqx.filter_jit
    def decode_batch(model, codes):
        return postprocess(jax.vmap(model.decode)(codes))

    @eqx.filter_jit
    def reconstruct_batch(model, images):
        x = preprocess(images)
        recon, codes = jax.vmap(model)(x)
        # Per-image squared error in the model's units (pixels/255 - 0.5): the pixel term of
        # the training loss, so it is comparable with the per-image losses train prints.
        err = jnp.sum((recon - x) ** 2, axis=-1)
        return postprocess(recon), err, jnp.sum(codes**2, axis=-1)

    _JIT_CACHE.update(encode=encode_batch, decode=decode_batch, reconstruct=reconstruct_batch)
    return _JIT_CACHE[name]


def _batched(fn: Any, model: Any, data: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Run ``fn(model, batch)`` over ``data`` in fixed-size batches (last one padded).

    One batch shape means one compilation for the whole split; the padding rows are dropped.
    Returns the concatenated outputs (a list, one array per output of ``fn``).
    """
    n = len(data)
    if n == 0:
        raise LatentError("nothing to process: the split is empty; pick another split")
    bs = max(1, min(batch_size, n))
    outs: list[list[np.ndarray]] = []
    for start in range(0, n, bs):
        chunk = data[start : start + bs]
        if len(chunk) < bs:
            pad = np.zeros((bs - len(chunk), *chunk.shape[1:]), chunk.dtype)
            chunk = np.concatenate([chunk, pad])
        res = fn(model, chunk)
        res = res if isinstance(res, tuple) else (res,)
        outs.append([np.asarray(r) for r in res])
    return [np.concatenate([o[i] for o in outs])[:n] for i in range(len(outs[0]))]


def encode(model: Any, images: np.ndarray, *, batch_size: int = 8192) -> np.ndarray:
    """Encode uint8 images (n, 28, 28) to codes (n, code_dim) float32 in jitted batches."""
    images = np.asarray(images)
    return _batched(_jitted("encode"), model, images, batch_size)[0]


def decode(model: Any, codes: np.ndarray, *, batch_size: int = 8192) -> np.ndarray:
    """Decode codes (n, code_dim) to images (n, 28, 28) in [0, 1] (float32)."""
    codes = np.asarray(codes, dtype=np.float32)
    if codes.ndim != 2 or codes.shape[1] != model.code_dim:
        raise LatentError(
            f"codes of shape {codes.shape} do not fit a model with a {model.code_dim}-D code"
        )
    out = _batched(_jitted("decode"), model, codes, batch_size)[0]
    return out.reshape(len(codes), 28, 28)


@dataclass(frozen=True)
class Reconstruction:
    """Reconstructions of a set of images.

    Attributes:
        images: reconstructions (n, 28, 28) in [0, 1].
        errors: per-image squared error (sum over 784 pixels, model units).
        code_sq: per-image squared norm of the code (the L2 term of the loss, unweighted).
    """

    images: np.ndarray
    errors: np.ndarray
    code_sq: np.ndarray

    def loss(self, l2_weight: float) -> np.ndarray:
        """Per-image training loss: squared error + ``l2_weight`` * squared code norm."""
        return self.errors + l2_weight * self.code_sq


def reconstruct(model: Any, images: np.ndarray, *, batch_size: int = 8192) -> Reconstruction:
    """Reconstruct uint8 images; return images in [0, 1] and per-image errors."""
    images = np.asarray(images)
    recon, err, csq = _batched(_jitted("reconstruct"), model, images, batch_size)
    return Reconstruction(recon.reshape(len(images), 28, 28), err, csq)


def require_2d_code(model: Any, what: str) -> None:
    """Raise LatentError unless the model has a 2-D code (scatter plots and grids need one)."""
    if model.code_dim != 2:
        raise LatentError(
            f"{what} needs a model with a 2-D code, but this checkpoint's code has "
            f"{model.code_dim} dimensions (sizes {list(model.sizes)}): use a run whose "
            "model.sizes end in 2"
        )


# --------------------------------------------------------------------------------------------
# Code grids and interpolation
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CodeGrid:
    """An evenly spaced grid of 2-D codes laid out like the scatter plot.

    Attributes:
        xs: code 1 values, ascending (one per column, left to right).
        ys: code 2 values, descending (one per row, top to bottom).
        codes: (rows, cols, 2) with ``codes[r, c] = (xs[c], ys[r])``.
    """

    xs: np.ndarray
    ys: np.ndarray
    codes: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols)."""
        return len(self.ys), len(self.xs)

    @property
    def step(self) -> float:
        """Spacing between neighbouring codes (the same on both axes)."""
        return float(self.xs[1] - self.xs[0]) if len(self.xs) > 1 else 1.0

    @property
    def low(self) -> float:
        """Smallest code value on either axis."""
        return float(self.xs[0])

    @property
    def high(self) -> float:
        """Largest code value on either axis."""
        return float(self.xs[-1])


def grid_axis(
    low: float, high: float, step: float | None = None, size: int | None = None
) -> np.ndarray:
    """Evenly spaced values from ``low`` to ``high`` inclusive, by ``step`` or ``size`` points.

    Raises:
        ConfigError: ``low >= high``, ``step <= 0`` or larger than the range, both or neither
            of ``step`` and ``size``, or ``size < 2``.
    """
    from aecli.config import check_grid, grid_values

    if (step is None) == (size is None):
        raise ConfigError("grid: give either a step or a size, not both")
    if size is not None:
        if size < 2 or size > 200:
            raise ConfigError(f"grid: size must be between 2 and 200 codes per axis, got {size}")
        check_grid(low, high, (high - low) / (size - 1))
        return np.round(np.linspace(low, high, size), 10)
    check_grid(low, high, float(step))
    values = grid_values(low, high, float(step))
    if len(values) > 200:
        raise ConfigError(
            f"grid: {low}..{high} by {step} gives {len(values)} codes per axis (at most 200): "
            "use a larger step"
        )
    return np.asarray(values, dtype=np.float64)


def code_grid(
    low: float, high: float, step: float | None = None, *, size: int | None = None
) -> CodeGrid:
    """The square grid of codes over ``[low, high]^2`` (see the module docstring for layout)."""
    xs = grid_axis(low, high, step, size)
    ys = xs[::-1].copy()
    gx, gy = np.meshgrid(xs, ys)  # gx[r, c] = xs[c], gy[r, c] = ys[r]
    return CodeGrid(xs, ys, np.stack([gx, gy], axis=-1).astype(np.float32))


def decode_grid(model: Any, grid: CodeGrid) -> np.ndarray:
    """Decode every code of ``grid``: images (rows, cols, 28, 28) in [0, 1]."""
    require_2d_code(model, "a decode grid")
    rows, cols = grid.shape
    return decode(model, grid.codes.reshape(-1, 2)).reshape(rows, cols, 28, 28)


def interpolate(start: np.ndarray, end: np.ndarray, steps: int) -> np.ndarray:
    """``steps`` codes on the straight line from ``start`` to ``end``, both included."""
    if steps < 2:
        raise ConfigError(f"interpolation needs at least 2 steps, got {steps}")
    t = np.linspace(0.0, 1.0, steps, dtype=np.float64)[:, None]
    a, b = np.asarray(start, np.float64), np.asarray(end, np.float64)
    return ((1.0 - t) * a + t * b).astype(np.float32)


def check_index(index: int, n: int, name: str, split: str) -> int:
    """Raise LatentError unless ``0 <= index < n``; return it."""
    if not 0 <= index < n:
        raise LatentError(
            f"{name}={index} is out of range: the {split} split has {n} images (0..{n - 1})"
        )
    return index


# --------------------------------------------------------------------------------------------
# Sampling
# --------------------------------------------------------------------------------------------


def check_count(n: int, available: int, what: str) -> int:
    """Raise LatentError unless ``1 <= n <= available``; return ``n``."""
    if n < 1:
        raise LatentError(f"{what}: n must be at least 1, got {n}")
    if n > available:
        raise LatentError(
            f"{what}: n={n} is larger than the split ({available} images): pass --n {available} "
            "or fewer"
        )
    return n


def random_indices(n_total: int, n: int, seed: int) -> np.ndarray:
    """``n`` distinct seeded random indices into ``n_total`` items, in drawing order."""
    check_count(n, n_total, "sample")
    return np.random.default_rng(seed).choice(n_total, size=n, replace=False)


def stratified_indices(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """A seeded subsample of ``n`` indices with class proportions kept; sorted ascending.

    Each class gets its share rounded down, the remainder goes to the classes with the largest
    fractional parts, so the count is exactly ``n``.
    """
    labels = np.asarray(labels)
    check_count(n, len(labels), "subsample")
    if n == len(labels):
        return np.arange(n)
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    share = counts * (n / len(labels))
    take = np.floor(share).astype(int)
    rest = n - take.sum()
    order = np.argsort(-(share - take), kind="stable")
    take[order[:rest]] += 1
    picked = [
        rng.choice(np.flatnonzero(labels == c), size=k, replace=False)
        for c, k in zip(classes, take, strict=True)
    ]
    return np.sort(np.concatenate(picked))


# --------------------------------------------------------------------------------------------
# Measures
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Measures:
    """How well a 2-D embedding keeps the data's structure.

    Attributes:
        knn_accuracy: cross-validated accuracy of a k-nearest-neighbour classifier on the 2-D
            points (how well the classes separate).
        trustworthiness: ``sklearn.manifold.trustworthiness`` (1 = every 2-D neighbourhood holds
            only points that are also neighbours in pixel space), on a seeded subsample.
        k: neighbours used by both measures.
        folds: cross-validation folds for the accuracy.
        trust_n: points in the trustworthiness subsample.
        seconds: time spent computing both.
    """

    knn_accuracy: float
    trustworthiness: float
    k: int = 5
    folds: int = 5
    trust_n: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in asdict(self).items()}

    def short(self) -> str:
        """``5-NN acc 0.712 · trust. 0.912``: for titles and terminal lines."""
        return f"{self.k}-NN acc {self.knn_accuracy:.3f} · trust. {self.trustworthiness:.3f}"


_PRELOAD: list[Any] = []


def preload_measures() -> None:
    """Import scikit-learn's measure modules in a background thread (idempotent).

    Importing scikit-learn costs ~0.9 s (scipy.stats); the commands start this first, so the
    import overlaps with reading the data, loading the model and encoding (which release the
    GIL) instead of adding to them. Python's per-module import locks make a later import in the
    main thread wait for the thread's instead of importing twice.
    """
    if _PRELOAD:
        return
    import threading

    def work() -> None:
        try:
            import sklearn.manifold  # noqa: F401
            import sklearn.model_selection  # noqa: F401
            import sklearn.neighbors  # noqa: F401
        except Exception:  # noqa: BLE001 - the main thread's import will report it
            pass

    t = threading.Thread(target=work, name="aecli-preload-sklearn", daemon=True)
    _PRELOAD.append(t)
    t.start()


def knn_accuracy(
    points: np.ndarray, labels: np.ndarray, *, k: int = 5, folds: int = 5, seed: int = 0
) -> float:
    """Mean accuracy of a ``k``-NN classifier under seeded stratified ``folds``-fold CV."""
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    labels = np.asarray(labels)
    # A class with fewer members than folds would break stratification: use fewer folds.
    smallest = int(np.unique(labels, return_counts=True)[1].min())
    if smallest < 2:
        raise LatentError("k-NN accuracy needs at least 2 images of every class")
    folds = min(folds, smallest)
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    scores = cross_val_score(KNeighborsClassifier(n_neighbors=k), points, labels, cv=cv)
    return float(np.mean(scores))


def trustworthiness(
    high: np.ndarray, low: np.ndarray, *, k: int = 5, n: int = 4000, seed: int = 0
) -> tuple[float, int]:
    """``sklearn.manifold.trustworthiness`` of ``low`` w.r.t. ``high`` on a seeded subsample.

    The measure ranks all pairwise distances (O(n^2) memory and n^2 log n time), so it runs on
    ``n`` random points; 4,000 takes a few seconds on two cores and varies by about 0.002
    between seeds. Returns ``(value, points used)``.
    """
    from sklearn.manifold import trustworthiness as sk_trust

    total = len(low)
    idx = np.sort(random_indices(total, min(n, total), seed))
    h = np.asarray(high[idx], dtype=np.float32).reshape(len(idx), -1)
    lo = np.asarray(low[idx], dtype=np.float32)
    k = min(k, len(idx) // 2 - 1)
    return float(sk_trust(h, lo, n_neighbors=k)), len(idx)


def measure(
    high: np.ndarray,
    low: np.ndarray,
    labels: np.ndarray,
    *,
    k: int = 5,
    folds: int = 5,
    trust_n: int = 4000,
    seed: int = 0,
) -> Measures:
    """Both measures of a 2-D embedding ``low`` of the images ``high`` (any shape per image)."""
    t0 = time.perf_counter()
    acc = knn_accuracy(low, labels, k=k, folds=folds, seed=seed)
    trust, used = trustworthiness(high, low, k=k, n=trust_n, seed=seed)
    return Measures(acc, trust, k, folds, used, time.perf_counter() - t0)


# --------------------------------------------------------------------------------------------
# PCA and t-SNE
# --------------------------------------------------------------------------------------------


def pixels(images: np.ndarray) -> np.ndarray:
    """uint8 images (n, 28, 28) to float32 (n, 784) in [0, 1] (the space the measures use)."""
    a = np.asarray(images)
    return a.reshape(len(a), -1).astype(np.float32) / 255.0


def pca(images: np.ndarray, n_components: int, *, seed: int = 0) -> np.ndarray:
    """Seeded PCA projection of uint8 images to ``n_components`` dimensions (float32)."""
    from sklearn.decomposition import PCA

    x = pixels(images)
    n_components = min(n_components, x.shape[0], x.shape[1])
    solver = "randomized" if n_components < 0.8 * min(x.shape) else "full"
    model = PCA(n_components=n_components, svd_solver=solver, random_state=seed)
    return model.fit_transform(x).astype(np.float32)


ENGINES = ("auto", "opentsne", "sklearn")
# openTSNE's FFT gradients beat scikit-learn's Barnes-Hut from a few thousand points up.
AUTO_OPENTSNE_FROM = 5000


@dataclass(frozen=True)
class TsneResult:
    """A t-SNE embedding and how it was made."""

    embedding: np.ndarray
    engine: str
    seconds: float
    params: dict[str, Any] = field(default_factory=dict)


def resolve_engine(engine: str, n: int) -> str:
    """``auto`` -> ``opentsne`` for ``n >= AUTO_OPENTSNE_FROM`` points, else ``sklearn``."""
    if engine not in ENGINES:
        raise ConfigError(f"t-SNE engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if engine == "auto":
        return "opentsne" if n >= AUTO_OPENTSNE_FROM else "sklearn"
    return engine


def tsne(
    images: np.ndarray,
    *,
    engine: str = "auto",
    seed: int = 0,
    perplexity: float = 30.0,
    pca_dims: int = 50,
    n_jobs: int = 2,
    progress: ProgressFn | None = None,
    tuned: bool = True,
) -> TsneResult:
    """t-SNE of uint8 images as in the original: PCA to ``pca_dims`` first, then 2-D t-SNE.

    Args:
        images: (n, 28, 28) uint8.
        engine: ``opentsne`` (FFT-accelerated interpolation), ``sklearn`` (Barnes-Hut) or
            ``auto`` (openTSNE from ``AUTO_OPENTSNE_FROM`` points).
        seed: seeds PCA, the initialisation and the neighbour search.
        perplexity: t-SNE perplexity (30 in both libraries' defaults).
        pca_dims: PCA dimensions before t-SNE.
        n_jobs: threads for neighbour search and gradients.
        progress: called with ``(stage, done, total)`` as the work goes on.
        tuned: openTSNE only: the faster schedule measured in ``benchmarks/latent_speed.py``
            (see ``_OPENTSNE_TUNED``); False gives openTSNE's defaults.
    """
    report = progress or (lambda stage, done, total: None)
    n = len(images)
    if n < 10:
        raise LatentError(f"t-SNE needs at least 10 images, got {n}")
    engine = resolve_engine(engine, n)
    t0 = time.perf_counter()
    report("t-SNE: PCA to 50 dimensions", 0, 0)
    features = pca(images, pca_dims, seed=seed)
    # Perplexity must stay below the number of points (sklearn refuses otherwise).
    perplexity = float(min(perplexity, max(2.0, (n - 1) / 3.0)))
    if engine == "opentsne":
        emb, params = _opentsne(features, seed, perplexity, n_jobs, report, tuned)
    else:
        emb, params = _sklearn_tsne(features, seed, perplexity, n_jobs, report)
    params = {"pca_dims": features.shape[1], "perplexity": perplexity, **params}
    return TsneResult(np.asarray(emb, np.float32), engine, time.perf_counter() - t0, params)


# Measured on the 55,000 MNIST training images, 2 cores (benchmarks/latent_speed.py): openTSNE's
# defaults (250 exaggerated + 500 plain iterations, one thread) take ~160 s. The plain
# iterations get slower as the embedding expands (the FFT grid grows with it), while the 5-NN
# accuracy is 0.975 after 100 of them and moves by <0.001 after 200; 250 keeps the accuracy
# at about half the time.
_OPENTSNE_TUNED: dict[str, Any] = {
    "early_exaggeration_iter": 250,
    "n_iter": 250,
}


def _opentsne(
    features: np.ndarray,
    seed: int,
    perplexity: float,
    n_jobs: int,
    report: ProgressFn,
    tuned: bool,
) -> tuple[np.ndarray, dict[str, Any]]:
    import openTSNE

    settings: dict[str, Any] = {"early_exaggeration_iter": 250, "n_iter": 500}
    if tuned:
        settings.update(_OPENTSNE_TUNED)
    total = settings["early_exaggeration_iter"] + settings["n_iter"]
    done = {"iter": 0}

    def callback(iteration: int, error: float, embedding: Any) -> bool:
        done["iter"] += every
        report("t-SNE: optimising", min(done["iter"], total), total)
        return False

    every = 25
    report("t-SNE: nearest neighbours and affinities", 0, 0)
    model = openTSNE.TSNE(
        n_components=2,
        perplexity=perplexity,
        initialization="pca",
        negative_gradient_method="fft",
        n_jobs=n_jobs,
        random_state=seed,
        callbacks=callback,
        callbacks_every_iters=every,
        verbose=False,
        **settings,
    )
    emb = model.fit(features)
    report("t-SNE: optimising", total, total)
    return np.asarray(emb), {"library": f"openTSNE {openTSNE.__version__}", **settings}


def _sklearn_tsne(
    features: np.ndarray, seed: int, perplexity: float, n_jobs: int, report: ProgressFn
) -> tuple[np.ndarray, dict[str, Any]]:
    import contextlib
    import io
    import re

    import sklearn
    from sklearn.manifold import TSNE

    max_iter = 1000
    pattern = re.compile(r"Iteration (\d+)")

    class _Lines(io.TextIOBase):
        # scikit-learn reports progress only by printing (verbose=2, every 50 iterations);
        # catch those lines instead of letting them reach stdout, where --json output goes.
        def write(self, s: str) -> int:
            m = pattern.search(s)
            if m:
                report("t-SNE: optimising", min(int(m.group(1)), max_iter), max_iter)
            elif "Computing" in s or "Indexed" in s:
                report("t-SNE: nearest neighbours and affinities", 0, 0)
            return len(s)

    model = TSNE(
        n_components=2,
        perplexity=perplexity,
        init="pca",
        learning_rate="auto",
        max_iter=max_iter,
        random_state=seed,
        n_jobs=n_jobs,
        verbose=2,
    )
    with contextlib.redirect_stdout(_Lines()):
        emb = model.fit_transform(features)
    report("t-SNE: optimising", max_iter, max_iter)
    return emb, {"library": f"scikit-learn {sklearn.__version__}", "max_iter": max_iter}


def round_sig(x: float, digits: int = 4) -> float:
    """Round to ``digits`` significant digits (for JSON and reports)."""
    if x == 0 or not math.isfinite(x):
        return x
    return round(x, -int(math.floor(math.log10(abs(x)))) + digits - 1)
