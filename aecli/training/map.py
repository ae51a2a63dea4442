"""Map mode: parametric UMAP's cross-entropy on the codes, added inside the compiled step.

With ``[map] kind = "umap"`` the loss of a step is

    sum over the batch of (reconstruction + l2_weight * |z|^2)
      + weight * n_batch * CE,
    CE = mean over the step's edges (h, t) of
         [ -log q(h, t) + negative_rate * mean over the batch's codes j of -log(1 - q(h, j)) ],
    q = 1 / (1 + a d^(2b)),  d the distance between two codes,

with q and 1 - q clipped to [1e-4, 1] inside the logs as umap-learn's ``parametric_umap.py``
does (and d^2 floored at 1e-10: the slope of (d^2)^b is infinite at 0). ``a`` and ``b`` come
from ``min_dist`` and ``spread`` (``graph.find_ab_params``).

Every step draws ``edges_per_step`` edges of the fuzzy k-NN graph (``aecli.training.graph``)
with probability proportional to their weight, on the device, from the alias table: no host
round trip. Both ends are encoded (one extra encoder pass each). The negatives are the step's
own batch: a uniform sample of the training set, which is UMAP's negative distribution, so
repelling each head from every batch code, weighted ``negative_rate / batch``, matches UMAP's
``negative_rate`` draws per edge in expectation at no extra encoder cost.

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
    """The UMAP term of one run: the graph's edge tables on the device and the settings.

    Attributes:
        head, tail, prob, alias: the graph's edges and alias table (device arrays).
        key: the run's map key, or the epoch's key after ``for_epoch``.
        weight, negative_rate, a, b: the loss's constants (static).
        edges_per_step: edges drawn per step (static).
    """

    head: jax.Array
    tail: jax.Array
    prob: jax.Array
    alias: jax.Array
    key: jax.Array
    weight: float = eqx.field(static=True)
    negative_rate: float = eqx.field(static=True)
    a: float = eqx.field(static=True)
    b: float = eqx.field(static=True)
    edges_per_step: int = eqx.field(static=True)

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
    ) -> tuple[jax.Array, jax.Array]:
        """The step's batch-sum loss and, as aux, ``[autoencoder part, CE]``.

        Args:
            model: the autoencoder.
            images: the batch, uint8.
            weights: 0/1 per batch row (0: padding).
            l2_weight: weight of the code penalty.
            data: all training images (the edges' ends are gathered from it).
            step: the step's index in the epoch (with ``key``, the step's draw).
        """
        x = preprocess(images)
        r, z = jax.vmap(model)(x)
        per_image = jnp.sum(jnp.square(r - x), -1) + l2_weight * jnp.sum(jnp.square(z), -1)
        ae = jnp.sum(weights * per_image)
        ce = self.cross_entropy(model, z, weights, data, jax.random.fold_in(self.key, step))
        n = jnp.maximum(jnp.sum(weights), 1.0)
        return ae + self.weight * n * ce, jnp.stack([ae, ce])

    def cross_entropy(
        self, model: TiedAutoencoder, z: jax.Array, weights: jax.Array, data: jax.Array, key
    ) -> jax.Array:
        """UMAP's cross-entropy of ``edges_per_step`` edges drawn with ``key``, batch negatives."""
        e = self.edges_per_step
        pick, keep = jax.random.split(key)
        i = jax.random.randint(pick, (e,), 0, self.head.shape[0])
        edge = jnp.where(jax.random.uniform(keep, (e,)) < self.prob[i], i, self.alias[i])
        ends = preprocess(data[jnp.concatenate([self.head[edge], self.tail[edge]])])
        codes = jax.vmap(model.encode)(ends)
        zh, zt = codes[:e], codes[e:]
        attract = -jnp.log(jnp.clip(self._q(jnp.sum(jnp.square(zh - zt), -1)), CLIP, 1.0))
        d2 = jnp.sum(jnp.square(zh[:, None, :] - z[None, :, :]), -1)
        repel = -jnp.log(jnp.clip(1.0 - self._q(d2), CLIP, 1.0))
        repel = jnp.sum(repel * weights[None, :], 1) / jnp.maximum(jnp.sum(weights), 1.0)
        return jnp.mean(attract + self.negative_rate * repel)

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
    arrays = jax.device_put((graph.head, graph.tail, graph.prob, graph.alias), where)
    return MapTerm(
        *arrays,
        key=jax.device_put(map_key(seed), where),
        weight=config.weight,
        negative_rate=config.negative_rate,
        a=a,
        b=b,
        edges_per_step=config.edges_per_step,
    )


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
        if graph is not None and graph.source == source:
            return graph
    start = time.perf_counter()
    graph = build_graph(images, config.n_neighbors, config.pca_dims)
    save_graph(run.map_graph, graph)
    report(
        f"map: {config.n_neighbors}-NN graph of {len(images):,} images, "
        f"{len(graph.head):,} edges, built in {time.perf_counter() - start:.1f} s"
    )
    return graph
