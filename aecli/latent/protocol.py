"""The paper's protocol for a 2-D map: k-NN from training to test codes, trustworthiness.

Sainburg, McInnes & Gentner (2021), *Parametric UMAP embeddings for representation and
semisupervised learning*, judge an embedding by

* k-NN accuracy (k = 1 and 5): a classifier fitted on the training split's 2-D points and
  scored on the test split's (the codes of images it never trained on);
* trustworthiness (k = 5) of the first 10,000 training images: 1 when every point's 5 nearest
  2-D neighbours are also near it in pixel space ([0, 1] pixels, Euclidean).

Trustworthiness is scikit-learn's formula, computed exactly but without ranking every row in
full: pixel distances are formed in blocks (float64) and only the ranks of each point's k
embedded neighbours are counted, which is several times faster than
``sklearn.manifold.trustworthiness`` on 10,000 images and lets one pass over the pixel
distances serve several embeddings (``aecli compare``). It equals scikit-learn's value (to
rounding; ties in pixel distance, which do not occur in MNIST, take their lowest rank).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

TRUST_N = 10_000  # the paper's: the first 10,000 training images
TRUST_K = 5
_BLOCK = 500  # rows of pixel distances at a time: 500 x 10,000 float64 = 40 MB


@dataclass(frozen=True)
class Protocol:
    """The paper's figures for one 2-D map.

    Attributes:
        knn1_test: 1-NN accuracy, fitted on the training points, scored on the test points.
        knn5_test: the same with 5 neighbours.
        trustworthiness: trustworthiness (k = ``trust_k``) of the first ``trust_n`` training
            images.
        trust_k: neighbours of the trustworthiness.
        trust_n: training images it was computed on.
        n_train, n_test: points the classifier was fitted on and scored on.
        seconds: time spent.
    """

    knn1_test: float
    knn5_test: float
    trustworthiness: float
    trust_k: int
    trust_n: int
    n_train: int
    n_test: int
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (floats rounded to 6 places)."""
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def knn_test_accuracy(
    train: np.ndarray, train_labels: np.ndarray, test: np.ndarray, test_labels: np.ndarray, k: int
) -> float:
    """Accuracy on ``test`` of a ``k``-NN classifier fitted on ``train``."""
    from sklearn.neighbors import KNeighborsClassifier

    clf = KNeighborsClassifier(n_neighbors=min(k, len(train))).fit(train, train_labels)
    return float(clf.score(test, test_labels))


def trustworthiness_many(
    high: np.ndarray, embeddings: list[np.ndarray], k: int = TRUST_K
) -> list[float]:
    """``sklearn.manifold.trustworthiness(high, low, n_neighbors=k)`` for each ``low``.

    Args:
        high: the points in the original space, ``(n, ...)`` (flattened here).
        embeddings: one or more ``(n, d)`` embeddings of the same points.
        k: neighbours (must be below ``n / 2``, as scikit-learn requires).
    """
    from sklearn.neighbors import NearestNeighbors

    n = len(high)
    if not 0 < k < n / 2:
        raise ValueError(f"trustworthiness needs k < n/2, got k={k} for n={n}")
    x = np.asarray(high, np.float64).reshape(n, -1)
    sq = np.einsum("ij,ij->i", x, x)
    # Each point's k nearest embedded neighbours, itself excluded (as scikit-learn's).
    neighbours = [
        NearestNeighbors(n_neighbors=k).fit(low).kneighbors(return_distance=False)
        for low in embeddings
    ]
    penalty = np.zeros(len(embeddings))
    for start in range(0, n, _BLOCK):
        rows = np.arange(start, min(n, start + _BLOCK))
        d = sq[rows, None] + sq[None, :] - 2.0 * (x[rows] @ x.T)
        d[np.arange(len(rows)), rows] = np.inf  # a point is not its own neighbour
        for m, nb in enumerate(neighbours):
            dij = np.take_along_axis(d, nb[rows], axis=1)
            # rank of j among i's pixel-space neighbours, 1 = nearest
            rank = np.sum(d[:, None, :] < dij[:, :, None], axis=-1) + 1
            excess = rank - k
            penalty[m] += excess[excess > 0].sum()
    scale = 2.0 / (n * k * (2.0 * n - 3.0 * k - 1.0))
    return [float(1.0 - p * scale) for p in penalty]


def protocol(
    train_images: np.ndarray,
    maps: list[tuple[np.ndarray, np.ndarray]],
    train_labels: np.ndarray,
    test_labels: np.ndarray,
    *,
    trust_n: int = TRUST_N,
    k: int = TRUST_K,
) -> list[Protocol]:
    """The paper's figures of several maps of the same data.

    Args:
        train_images: the training images, uint8 (only the first ``trust_n`` are used).
        maps: one ``(train_points, test_points)`` pair per map.
        train_labels, test_labels: the classes of the two splits.
        trust_n: training images for the trustworthiness (fewer when the split is smaller).
        k: neighbours of the trustworthiness.
    """
    t0 = time.perf_counter()
    m = min(trust_n, len(train_images))
    pix = np.asarray(train_images[:m]).reshape(m, -1).astype(np.float64) / 255.0
    k = min(k, max(1, (m - 1) // 2))
    trusts = trustworthiness_many(pix, [np.asarray(tr[:m]) for tr, _ in maps], k)
    share = (time.perf_counter() - t0) / max(1, len(maps))
    out = []
    for (tr, te), trust in zip(maps, trusts, strict=True):
        t1 = time.perf_counter()
        # A map of fewer training points (t-SNE's: the first trust_n) is fitted on their labels.
        labels = train_labels[: len(tr)]
        knn = [knn_test_accuracy(tr, labels, te, test_labels, kk) for kk in (1, 5)]
        seconds = share + time.perf_counter() - t1
        out.append(Protocol(knn[0], knn[1], trust, k, m, len(tr), len(te), seconds))
    return out


def model_protocol(model: Any, splits: Any, known: dict[str, np.ndarray]) -> Protocol | None:
    """The paper's figures of a model's codes on a dataset's training and test splits.

    Args:
        model: the autoencoder (2-D code).
        splits: the loaded dataset; the figures need non-empty ``train`` and ``test`` splits.
        known: codes already computed, by split name (not encoded again).

    Returns:
        The figures, or None when the data has no training or no test images.
    """
    from aecli.latent.codes import encode

    if any(s not in splits or len(splits[s].images) == 0 for s in ("train", "test")):
        return None
    tr, te = splits["train"], splits["test"]
    codes = {
        s: known[s] if s in known else encode(model, splits[s].images) for s in ("train", "test")
    }
    return protocol(tr.images, [(codes["train"], codes["test"])], tr.labels, te.labels)[0]
