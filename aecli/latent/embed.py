"""Other 2-D maps of the same images and how good a map is: PCA, t-SNE and the two measures.

The measures (cross-validated k-NN accuracy and trustworthiness) are computed the same way
for the autoencoder's codes, PCA and t-SNE, so the report compares like with like.
scikit-learn and openTSNE are imported inside the functions.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from aecli.errors import ConfigError, LatentError
from aecli.latent.sampling import random_indices

ProgressFn = Callable[[str, int, int], None]
"""``progress(stage, done, total)``: a one-line stage name and how far it is (total 0: unknown)."""


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
# Where ``auto`` switches, measured with ``benchmarks/latent_speed.py --sizes 500,1000,3000,5000
# --repeats 3`` (stratified MNIST training subsamples, both engines interleaved, the order
# flipped every repeat, 2 threads) on an idle 2-core VM on 2026-12-02, medians:
#     images  openTSNE s  sklearn s  sklearn/openTSNE (wall, CPU)  5-NN openTSNE / sklearn
#        500         3.2        0.9                    0.28, 0.35  0.806 / 0.824
#      1,000         4.2        2.0                    0.47, 0.61  0.862 / 0.849
#      3,000         6.8        6.8                    1.00, 1.40  0.921 / 0.925
#      5,000         8.6       12.2                    1.41, 1.99  0.940 / 0.943
# openTSNE's FFT grid costs about the same per iteration up to a few thousand points, while
# Barnes-Hut grows with n (2x slower at 10,000, 8x at 55,000). So openTSNE from 3,000 images
# (equal wall time there at 0.7x the CPU), scikit-learn below (2-3.6x faster at 500-1,000).
# An earlier sweep on a machine saturated by other jobs had put the switch at 500; its
# openTSNE threads were starved, and the idle figures above replace it.
AUTO_OPENTSNE_FROM = 3000


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
