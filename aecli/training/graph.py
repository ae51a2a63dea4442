"""UMAP's fuzzy k-NN graph of the training images, as plain arrays, and UMAP's a, b.

Built once per run on the host and stored in the run directory (``RunDir.map_graph``, an
``.npz`` read with ``allow_pickle=False``), so a resume or a reuse does not recompute it:

* PCA to ``pca_dims`` components of the pixels in [0, 1] (exact: the eigenvectors of the
  784 x 784 covariance, 2-3x faster than a randomized SVD here), then exact neighbours by
  brute force (scikit-learn), the image itself first;
* umap-learn's ``smooth_knn_dist`` (rho = distance to the nearest neighbour, sigma by
  bisection so that ``sum exp(-(d - rho) / sigma) = log2(k)``), the membership strengths, the
  fuzzy union ``P + P^T - P o P^T`` and the pruning of edges below ``max / 200``
  (``simplicial_set_embedding``);
* the edges sorted by head then tail (CSR order), so that the compiled step can draw a
  neighbour of any image in proportion to the edge weights (``aecli.training.map``).

Checked against umap-learn 0.5 on 3,000 MNIST images: sigma within 4e-6 (relative), rho
identical, the same edges with weights within 1.4e-6, and ``find_ab_params`` identical.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aecli.atomic import atomic_open
from aecli.errors import CheckpointError

SMOOTH_K_TOLERANCE = 1e-5  # umap-learn's constants of smooth_knn_dist
MIN_K_DIST_SCALE = 1e-3
PRUNE_EPOCHS = 200  # umap-learn drops edges below max weight / n_epochs (200 for large data)
FORMAT = 2  # 2: no alias table (the step draws from the head's row)


@dataclass(frozen=True)
class FuzzyGraph:
    """The symmetric fuzzy k-NN graph as directed edges, sorted by head then tail.

    Attributes:
        head, tail: int32 edge ends (each undirected edge appears in both directions).
        weight: float32 fuzzy membership of each edge, in (0, 1].
        n: number of images.
        n_neighbors: neighbours per image, the image itself included.
        pca_dims: principal components the neighbours were found on.
        source: sha256 of the training images and the settings: the graph's identity.
    """

    head: np.ndarray
    tail: np.ndarray
    weight: np.ndarray
    n: int
    n_neighbors: int
    pca_dims: int
    source: str


def graph_source(images: np.ndarray, n_neighbors: int, pca_dims: int) -> str:
    """The identity of the graph of ``images`` with these settings (a sha256 hex digest)."""
    h = hashlib.sha256(f"aecli-map-graph {FORMAT} {n_neighbors} {pca_dims} ".encode())
    h.update(np.ascontiguousarray(images, dtype=np.uint8).tobytes())
    return h.hexdigest()


def build_graph(images: np.ndarray, n_neighbors: int = 15, pca_dims: int = 50) -> FuzzyGraph:
    """UMAP's fuzzy k-NN graph of uint8 images ``(n, 28, 28)`` (see the module docstring).

    Args:
        images: the training images.
        n_neighbors: neighbours per image, itself included (UMAP's ``n_neighbors``).
        pca_dims: principal components to find neighbours on (at most ``n`` and 784).
    """
    n = len(images)
    x = np.asarray(images, dtype=np.float32).reshape(n, -1) / 255.0
    features = _pca(x, min(pca_dims, n, x.shape[1]))
    idx, dist = exact_knn(features, min(n_neighbors, n))
    head, tail, weight = fuzzy_union(idx, dist, n_neighbors)
    return FuzzyGraph(
        head, tail, weight, n, n_neighbors, pca_dims,
        graph_source(images, n_neighbors, pca_dims),
    )  # fmt: skip


def _pca(x: np.ndarray, dims: int) -> np.ndarray:
    from sklearn.decomposition import PCA

    if dims >= min(x.shape):  # nothing to reduce (tiny data sets)
        return x
    return PCA(dims, svd_solver="covariance_eigh").fit_transform(x).astype(np.float32)


def exact_knn(features: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact ``k`` nearest neighbours by brute force, each point itself in column 0.

    Returns:
        ``(idx, dist)``, int32 and float32 of shape ``(n, k)``, by increasing distance.
    """
    from sklearn.neighbors import NearestNeighbors

    nn = NearestNeighbors(n_neighbors=k, algorithm="brute").fit(features)
    dist, idx = nn.kneighbors(features)
    n = len(features)
    me = np.arange(n)[:, None]
    # A duplicate image may sort before the point itself: put the point first.
    found = idx == me
    pos = np.where(found.any(axis=1), np.argmax(found, axis=1), k - 1)
    rows = np.flatnonzero(pos > 0)
    idx[rows, pos[rows]] = idx[rows, 0]
    dist[rows, pos[rows]] = dist[rows, 0]
    idx[:, 0], dist[:, 0] = np.arange(n), 0.0
    return idx.astype(np.int32), dist.astype(np.float32)


def smooth_knn_dist(dist: np.ndarray, k: float, n_iter: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """umap-learn's ``smooth_knn_dist`` (local_connectivity 1), vectorised over the rows.

    Args:
        dist: ``(n, k)`` distances, column 0 the point itself (0).
        k: the target neighbourhood size (``log2(k)`` is the target sum).

    Returns:
        ``(sigma, rho)`` per point.
    """
    dist = dist.astype(np.float64)
    n = dist.shape[0]
    target = np.log2(k)
    rho = np.where(dist > 0, dist, np.inf).min(axis=1)
    rho[~np.isfinite(rho)] = 0.0
    lo, hi, mid = np.zeros(n), np.full(n, np.inf), np.ones(n)
    done = np.zeros(n, bool)
    d = dist[:, 1:] - rho[:, None]
    for _ in range(n_iter):
        psum = np.where(d > 0, np.exp(-d / mid[:, None]), 1.0).sum(axis=1)
        done |= np.abs(psum - target) < SMOOTH_K_TOLERANCE
        big = ~done & (psum > target)
        small = ~done & (psum <= target)
        hi = np.where(big, mid, hi)
        lo = np.where(small, mid, lo)
        mid = np.where(big, (lo + hi) / 2.0, mid)
        mid = np.where(small, np.where(np.isinf(hi), mid * 2.0, (lo + hi) / 2.0), mid)
        if done.all():
            break
    mean_row = dist.mean(axis=1)
    floor = np.where(rho > 0, MIN_K_DIST_SCALE * mean_row, MIN_K_DIST_SCALE * dist.mean())
    return np.maximum(mid, floor).astype(np.float32), rho.astype(np.float32)


def fuzzy_union(
    idx: np.ndarray, dist: np.ndarray, n_neighbors: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Membership strengths, their fuzzy union and umap-learn's pruning, as COO edges.

    Returns:
        ``(head, tail, weight)``: int32, int32, float32, sorted by head then tail.
    """
    import scipy.sparse as sp

    n = idx.shape[0]
    sigma, rho = smooth_knn_dist(dist, float(n_neighbors))
    d = dist - rho[:, None]
    vals = np.where(d <= 0, 1.0, np.exp(-np.maximum(d, 0.0) / sigma[:, None])).astype(np.float32)
    vals[idx == np.arange(n)[:, None]] = 0.0
    rows = np.repeat(np.arange(n, dtype=np.int32), idx.shape[1])
    p = sp.coo_matrix((vals.ravel(), (rows, idx.ravel())), shape=(n, n)).tocsr()
    p.eliminate_zeros()
    pt = p.T.tocsr()
    g = (p + pt - p.multiply(pt)).tocoo()
    g.sum_duplicates()
    keep = g.data >= g.data.max() / PRUNE_EPOCHS if g.nnz else np.zeros(0, bool)
    head, tail, weight = g.row[keep], g.col[keep], g.data[keep]
    order = np.lexsort((tail, head))
    return (
        head[order].astype(np.int32),
        tail[order].astype(np.int32),
        weight[order].astype(np.float32),
    )


def find_ab_params(spread: float, min_dist: float) -> tuple[float, float]:
    """umap-learn's ``find_ab_params``: fit ``1 / (1 + a d^2b)`` to UMAP's target curve.

    The target is 1 below ``min_dist`` and ``exp(-(d - min_dist) / spread)`` beyond it.
    """
    from scipy.optimize import curve_fit

    def curve(x, a, b):
        return 1.0 / (1.0 + a * x ** (2 * b))

    xv = np.linspace(0, spread * 3, 300)
    yv = np.where(xv < min_dist, 1.0, np.exp(-(xv - min_dist) / spread))
    (a, b), _ = curve_fit(curve, xv, yv)
    return float(a), float(b)


def save_graph(path: str | Path, graph: FuzzyGraph) -> None:
    """Write ``graph`` as an ``.npz`` (atomically; plain arrays, no pickle)."""
    arrays = {
        "head": graph.head,
        "tail": graph.tail,
        "weight": graph.weight,
        "meta": np.array([FORMAT, graph.n, graph.n_neighbors, graph.pca_dims], np.int64),
        "source": np.array(graph.source),
    }
    with atomic_open(path) as f:
        np.savez(f, **arrays)


def load_graph(path: str | Path) -> FuzzyGraph:
    """Read a graph written by ``save_graph``.

    Raises:
        CheckpointError: the file is unreadable or not such a graph.
    """
    _check_graph_file(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            fmt, n, k, dims = (int(v) for v in z["meta"])
            arrays = [z[name] for name in ("head", "tail", "weight")]
            source = str(z["source"])
    except (OSError, ValueError, KeyError, EOFError) as e:
        raise CheckpointError(
            f"{path} is not a readable map graph ({e}): delete it and it is rebuilt"
        ) from None
    sizes = {a.shape for a in arrays}
    if fmt != FORMAT or len(sizes) != 1:
        raise CheckpointError(f"{path} is not a map graph of this aecli: delete it to rebuild")
    head, tail, weight = arrays
    if len(head) and (
        np.any(np.diff(head) < 0) or head.min() < 0 or head.max() >= n or tail.min() < 0
        or tail.max() >= n or not np.all((weight > 0) & (weight <= 1))
    ):  # fmt: skip
        raise CheckpointError(f"{path} is not a map graph of these images: delete it to rebuild")
    return FuzzyGraph(head, tail, weight, n, k, dims, source)


# 2,000,000 images x 15 neighbours, symmetrised (x2), three 4-byte arrays: ~0.7 GB (room).
MAX_GRAPH_BYTES = 3 << 30


def _check_graph_file(path: str | Path) -> None:
    """Refuse, before anything is inflated, a graph file that is not a regular file or whose
    zip directory or array headers claim more than :data:`MAX_GRAPH_BYTES`."""
    import zipfile

    from aecli.data.bounded import npy_header, open_regular, zip_members
    from aecli.errors import DataError

    fix = "delete it and it is rebuilt"
    try:
        with open_regular(path) as f, zipfile.ZipFile(f) as z:
            for info in zip_members(z, path, MAX_GRAPH_BYTES).values():
                npy_header(z, info, path, fix)
    except DataError as e:
        raise CheckpointError(f"{path} is not a readable map graph ({e}): {fix}") from None
    except (OSError, zipfile.BadZipFile, ValueError) as e:
        raise CheckpointError(f"{path} is not a readable map graph ({e}): {fix}") from None
