"""Map mode: parametric UMAP's cross-entropy on the codes, added inside the compiled step.

With ``[map] kind = "umap"`` the loss of a step is

    sum over the batch of (reconstruction + l2_weight * |z|^2)
      + weight * n_batch * CE,
    CE = mean over the step's edges (h, t) of r_h / mean(r) * -log q(h, t)
         + negative_rate * mean over the pairs (i, j), i != j, of the step's codes
           (the batch's and the tails') of -log(1 - q(i, j)),
    q = 1 / (1 + a d^(2b)),  d the distance between two codes,

with q and 1 - q clipped to [1e-4, 1] inside the logs as umap-learn's ``parametric_umap.py``
does (and d^2 floored at 1e-10: the slope of (d^2)^b is infinite at 0). ``a`` and ``b`` come
from ``min_dist`` and ``spread`` (``graph.find_ab_params``).

The step's own batch supplies the edges' heads, so their codes cost nothing more: the
step draws ``edges_per_step`` edges, the ``b``-th from batch row ``b mod batch``, its tail a
graph neighbour of that image drawn with probability proportional to the edge's weight (a
bounded binary search in the head's row of cumulative weights, on the device: no host round
trip). Only the tails are encoded (one extra encoder pass per edge, half of what drawing both
ends from the graph costs, so twice the edges per second of training). A uniform head and a
tail in proportion to its row draws edge (i, j) with probability ``w_ij / (n r_i)``, ``r_i``
the row's total weight, where UMAP draws it in proportion to ``w_ij``: each edge's term is
weighted by ``r_i / mean(r)``, which makes the expected attraction UMAP's. The negatives are
all pairs of the step's codes, the batch's and the tails' (``(batch + edges)^2`` pairs, every
one already encoded): a near-uniform sample of the training set, which is UMAP's negative
distribution, so ``negative_rate`` times their mean repulsion per edge matches UMAP's
``negative_rate`` draws per edge in expectation, averaged over many more pairs (less noise)
at no encoder cost. Repelling each head only from the other batch codes, as a first version
did, gave 5-NN 0.832 after 20 MNIST epochs against 0.877 with the pairs, the same 128 edges.

The step's key is ``fold_in(fold_in(map_key, epoch), step of the epoch)``: nothing random is
carried in the training state, so a resumed run draws exactly what an uninterrupted one does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from aecli.config import MapConfig
from aecli.errors import CheckpointError
from aecli.model import TiedAutoencoder, preprocess
from aecli.rundir import RunDir
from aecli.training.graph import (
    FuzzyGraph,
    build_graph,
    find_ab_params,
    graph_source,
    load_graph,
    save_graph,
)

CLIP = 1e-4  # umap-learn parametric_umap's clip of q and 1 - q inside the logs
MAP_KEY_SALT = 1  # the map's key is fold_in(PRNGKey(seed), MAP_KEY_SALT), apart from the others


class MapTerm(eqx.Module):
    """The UMAP term of one run: the graph's rows on the device and the settings.

    Attributes:
        start, degree: where each image's edges begin in ``tail``/``cum`` and how many.
        tail: the edges' far ends, by head (the graph's CSR order).
        cum: the cumulative edge weight within each head's row (the last of a row: its total).
        importance: per image, ``r_i / mean(r)`` (see the module docstring).
        key: the run's map key, or the epoch's key after ``for_epoch``.
        weight, negative_rate, a, b: the loss's constants (static).
        edges_per_step: edges drawn per step (static).
        search_steps: binary-search steps that cover the longest row (static).
    """

    start: jax.Array
    degree: jax.Array
    tail: jax.Array
    cum: jax.Array
    importance: jax.Array
    key: jax.Array
    weight: float = eqx.field(static=True)
    negative_rate: float = eqx.field(static=True)
    a: float = eqx.field(static=True)
    b: float = eqx.field(static=True)
    edges_per_step: int = eqx.field(static=True)
    search_steps: int = eqx.field(static=True)

    def for_epoch(self, epoch: int) -> MapTerm:
        """This term with the key of ``epoch`` (same shapes: nothing is compiled again)."""
        return eqx.tree_at(lambda m: m.key, self, jax.random.fold_in(self.key, epoch))

    def loss(
        self,
        model: TiedAutoencoder,
        images: jax.Array,
        weights: jax.Array,
        l2_weight: float,
        data: jax.Array,
        step: jax.Array,
        rows: jax.Array,
    ) -> tuple[jax.Array, jax.Array]:
        """The step's batch-sum loss and, as aux, ``[autoencoder part, CE]``.

        Args:
            model: the autoencoder.
            images: the batch, uint8 (row ``b``'s image is ``data[rows[b]]``).
            weights: 0/1 per batch row (0: padding).
            l2_weight: weight of the code penalty.
            data: all training images (the edges' ends are gathered from it).
            step: the step's index in the epoch (with ``key``, the step's draw).
            rows: the batch's image indices (the edges' heads).
        """
        x = preprocess(images)
        r, z = jax.vmap(model)(x)
        per_image = jnp.sum(jnp.square(r - x), -1) + l2_weight * jnp.sum(jnp.square(z), -1)
        ae = jnp.sum(weights * per_image)
        ce = self.cross_entropy(model, z, rows, weights, data, jax.random.fold_in(self.key, step))
        n = jnp.maximum(jnp.sum(weights), 1.0)
        return ae + self.weight * n * ce, jnp.stack([ae, ce])

    def cross_entropy(
        self,
        model: TiedAutoencoder,
        z: jax.Array,
        rows: jax.Array,
        weights: jax.Array,
        data: jax.Array,
        key: jax.Array,
    ) -> jax.Array:
        """UMAP's cross-entropy of ``edges_per_step`` edges from the batch's rows, drawn with
        ``key``; all pairs of the step's codes are the negatives (module docstring)."""
        batch = z.shape[0]
        at = jnp.arange(self.edges_per_step) % batch  # the batch row of each edge's head
        heads = rows[at]
        tails = self.tail[self._draw(heads, jax.random.uniform(key, (self.edges_per_step,)))]
        zt = jax.vmap(model.encode)(preprocess(data[tails]))
        attract = -jnp.log(jnp.clip(self._q(jnp.sum(jnp.square(z[at] - zt), -1)), CLIP, 1.0))
        # Padding rows draw nothing, nor do images without edges (their tail is meaningless):
        # their importance is 0.
        real_edge = weights[at]
        use = real_edge * self.importance[heads]
        attract = jnp.sum(use * attract) / jnp.maximum(jnp.sum(real_edge), 1.0)
        pool = jnp.concatenate([z, zt])
        real = jnp.concatenate([weights, real_edge])
        d2 = jnp.sum(jnp.square(pool[:, None, :] - pool[None, :, :]), -1)
        repel = -jnp.log(jnp.clip(1.0 - self._q(d2), CLIP, 1.0))
        pairs = real[:, None] * real[None, :] * (1.0 - jnp.eye(pool.shape[0], dtype=real.dtype))
        repel = jnp.sum(repel * pairs) / jnp.maximum(jnp.sum(pairs), 1.0)
        return attract + self.negative_rate * repel

    def _draw(self, heads: jax.Array, u: jax.Array) -> jax.Array:
        """For each head, the index of an edge of its row, drawn in proportion to weight."""
        lo = self.start[heads]
        hi = lo + jnp.maximum(self.degree[heads], 1) - 1
        total = self.cum[hi]
        target = u * total
        # The first edge of the row whose cumulative weight reaches the target.
        for _ in range(self.search_steps):
            mid = (lo + hi) // 2
            right = self.cum[mid] < target
            lo = jnp.where(right, mid + 1, lo)
            hi = jnp.where(right, hi, mid)
        return lo

    def _q(self, d2: jax.Array) -> jax.Array:
        return 1.0 / (1.0 + self.a * jnp.maximum(d2, 1e-10) ** self.b)


def map_key(seed: int) -> jax.Array:
    """The run's map key (independent of the init and shuffle keys of the same seed)."""
    return jax.random.fold_in(jax.random.key(seed), MAP_KEY_SALT)


def make_map_term(
    config: MapConfig, graph: FuzzyGraph, seed: int, where: Any = None
) -> MapTerm | None:
    """The ``MapTerm`` of ``config`` and ``graph``, placed on ``where``; None for kind "none"."""
    if config.kind == "none":
        return None
    a, b = find_ab_params(config.spread, config.min_dist)
    start, degree, cum, importance = row_tables(graph)
    steps = max(1, int(degree.max(initial=1)).bit_length())  # covers the longest row
    arrays = jax.device_put((start, degree, graph.tail, cum, importance), where)
    return MapTerm(
        *arrays,
        key=jax.device_put(map_key(seed), where),
        weight=config.weight,
        negative_rate=config.negative_rate,
        a=a,
        b=b,
        edges_per_step=config.edges_per_step,
        search_steps=steps,
    )


def row_tables(graph: FuzzyGraph) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per image: where its row starts, its degree; per edge: the row's cumulative weight;
    per image: its importance ``r_i / mean(r)`` (0 for an image without edges).

    The graph's edges are sorted by head, so each row is one run of ``tail``.
    """
    n = graph.n
    bounds = np.searchsorted(graph.head, np.arange(n + 1)).astype(np.int32)
    start, degree = bounds[:-1], np.diff(bounds).astype(np.int32)
    w = graph.weight.astype(np.float64)
    total = np.concatenate([[0.0], np.cumsum(w)])
    # Row-local sums (float64 first: a global float32 cumsum would lose the small weights).
    cum = (total[1:] - total[start[graph.head]]).astype(np.float32)
    rowsum = total[bounds[1:]] - total[bounds[:-1]]
    mean = rowsum[degree > 0].mean() if (degree > 0).any() else 1.0
    importance = (rowsum / mean).astype(np.float32)
    return start, degree, cum, importance


def run_graph(
    config: MapConfig, run: RunDir, images: np.ndarray, report: Callable[[str], None]
) -> FuzzyGraph | None:
    """The run's k-NN graph: read from the run directory when it fits, else built and stored.

    Args:
        config: the run's ``[map]`` section; None is returned for kind "none".
        run: the run directory (``RunDir.map_graph``).
        images: the training images (the graph must be theirs).
        report: receives a one-line notice when the graph is built.
    """
    if config.kind == "none":
        return None
    source = graph_source(images, config.n_neighbors, config.pca_dims)
    if run.map_graph.exists():
        try:
            graph = load_graph(run.map_graph)
        except CheckpointError:
            graph = None  # unreadable: rebuilt below, never trusted
        if graph is not None and graph.source == source and graph.n == len(images):
            return graph
    start = time.perf_counter()
    graph = build_graph(images, config.n_neighbors, config.pca_dims)
    save_graph(run.map_graph, graph)
    report(
        f"map: {config.n_neighbors}-NN graph of {len(images):,} images, "
        f"{len(graph.head):,} edges, built in {time.perf_counter() - start:.1f} s"
    )
    return graph
