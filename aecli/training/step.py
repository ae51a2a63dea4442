"""The loss, how an epoch is laid out in steps, and the compiled chunk of training steps.

How one epoch runs (the numerical work is compiled once, the batch loop lives inside XLA):

* The training images stay on the device as ``uint8``; ``aecli.model.preprocess`` turns each
  batch into floats inside the compiled code, so no float copy of the data set exists.
* Each epoch draws ``jax.random.permutation(fold_in(shuffle_key, epoch), n)`` and lays it out
  as ``(chunks, steps_per_chunk, batch)`` row indices plus 0/1 weights (``epoch_order``). The
  last partial batch is kept (as in the original): its missing rows have weight 0, so its loss
  is the sum over its own images only. Steps that pad the last chunk (all weights 0) are
  never run, so they change nothing, optimizer step count included.
* ``train_chunk`` (one ``eqx.filter_jit`` region) runs ``lax.fori_loop`` over the real steps
  of one chunk: gather rows, loss + gradient, Adam update, apply. Between chunks the loop reports
  progress and obeys ``TrainControl``, so the display moves a few times per epoch and a stop
  takes effect within a fraction of an epoch.
* Every shape is fixed per run, so nothing is traced or compiled again after the first epoch
  (``tests/test_train.py`` listens to JAX's trace events to check).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import optax

from aecli.model import TiedAutoencoder, preprocess

# A loss per image above this means the run has diverged. Predicting mid-grey for every pixel
# costs at most 784 * 0.5**2 = 196 per image, so 1e6 is thousands of times worse than a model
# that learned nothing. Adam at lr 10 reaches ~1e29 without ever overflowing, so waiting for a
# non-finite loss alone would let it run to the end.
DIVERGED_LOSS = 1e6


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


def flops_per_image(sizes: tuple[int, ...]) -> int:
    """Floating-point operations (2 per multiply-add) of one training image, forward + backward.

    Forward: encoder and decoder each do ``sum(in * out)`` multiply-adds. Backward: twice the
    forward (input gradients and weight gradients), less the input gradient of the first
    encoder layer, which nothing needs. Element-wise work is not counted.
    """
    macs = sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
    return 2 * (2 * macs + 2 * 2 * macs - sizes[0] * sizes[1])


@dataclass(frozen=True)
class Layout:
    """How an epoch's steps are laid out in chunks (all static for one run).

    Attributes:
        n: training images.
        batch_size: images per step (the last step may hold fewer).
        padded_batch: batch rows per step, ``batch_size`` rounded up to the device count.
        steps: optimizer steps per epoch, ``ceil(n / batch_size)``.
        chunks: compiled chunks per epoch.
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
        """The layout of ``n`` images in batches of ``batch_size``, about ``chunks`` chunks."""
        steps = -(-n // batch_size)
        chunk_steps = -(-steps // max(1, min(chunks, steps)))
        chunks = -(-steps // chunk_steps)
        padded = -(-batch_size // devices) * devices
        return cls(n, batch_size, padded, steps, chunks, chunk_steps)

    def images_after_chunk(self, c: int) -> int:
        """Images trained once chunk ``c`` (0-based) is done."""
        return min(self.n, (c + 1) * self.chunk_steps * self.batch_size)


@functools.partial(jax.jit, static_argnums=2)
def epoch_order(key: jax.Array, epoch: jax.Array, layout: Layout) -> tuple[jax.Array, jax.Array]:
    """Row indices ``(chunks, chunk_steps, padded_batch)`` and 0/1 weights for one epoch.

    Args:
        key: the run's shuffle key.
        epoch: the 1-based epoch (an int32 array, so every epoch shares one compilation).
        layout: the run's layout (static).
    """
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


def _all_finite(tree: Any) -> jax.Array:
    leaves = jax.tree_util.tree_leaves(eqx.filter(tree, eqx.is_inexact_array))
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(leaf)) for leaf in leaves]))


@eqx.filter_jit
def train_chunk(
    model: TiedAutoencoder,
    opt_state: Any,
    data: jax.Array,
    rows: jax.Array,
    weights: jax.Array,
    chunk: jax.Array,
    optimizer: optax.GradientTransformation,
    l2_weight: float,
    batch_sharding: Any,
    extra: Any = None,
):
    """Train the steps of chunk ``chunk`` of an epoch; one compiled region for the whole chunk.

    Args:
        model, opt_state: the state before the chunk.
        data: all training images, uint8 on the device(s).
        rows, weights: the epoch's order (``epoch_order``).
        chunk: which chunk (an int32 array).
        optimizer: the run's optimizer (static).
        l2_weight: weight of the code penalty (static).
        batch_sharding: how a batch is split over devices; None on one device (static).
        extra: a term added to the loss (``aecli.training.map.MapTerm`` of the epoch), or
            None for the original objective.

    Returns:
        ``(model, opt_state, losses, ok, worst, extra_losses)``: the batch-sum loss of every
        step (before its update; 0 for skipped padding steps; without ``extra``'s term),
        whether the chunk stayed sane (every loss per image finite and at most
        ``DIVERGED_LOSS``, every parameter finite), the largest loss per image of the chunk,
        and ``extra``'s own loss of every step (None without ``extra``).
    """
    rows = jax.lax.dynamic_index_in_dim(rows, chunk, keepdims=False)
    weights = jax.lax.dynamic_index_in_dim(weights, chunk, keepdims=False)
    # Gathering rows of 784 bytes is cheaper than gathering (28, 28) blocks; same values.
    flat = data.reshape(data.shape[0], -1)
    params, static = eqx.partition(model, eqx.is_array)
    first = chunk * rows.shape[0]  # the run-wide index of this chunk's first step

    def step(i, carry):
        params, opt_state, losses = carry
        r, w = rows[i], weights[i]
        if batch_sharding is not None:
            r = jax.lax.with_sharding_constraint(r, batch_sharding)
            w = jax.lax.with_sharding_constraint(w, batch_sharding)
        out, grads = _loss_and_grads(params, static, flat, data, r, w, l2_weight, extra, first + i)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return eqx.apply_updates(params, updates), opt_state, losses.at[i].set(out)

    # Padding steps (all weights 0) only ever end the last chunk, so running the first
    # ``real`` steps skips exactly them without a per-step branch (Adam's state never sees
    # them). The count is traced: every chunk shares one compiled program.
    real = jnp.sum(jnp.any(weights > 0, axis=1).astype(jnp.int32))
    shape = (rows.shape[0],) if extra is None else (rows.shape[0], 2)
    losses = jnp.zeros(shape, jnp.float32)
    params, opt_state, losses = jax.lax.fori_loop(0, real, step, (params, opt_state, losses))
    model = eqx.combine(params, static)
    losses, extra_losses = (losses, None) if extra is None else (losses[:, 0], losses[:, 1])
    per_image = losses / jnp.maximum(jnp.sum(weights, axis=1), 1.0)
    worst = jnp.max(jnp.where(jnp.isfinite(per_image), per_image, jnp.inf))
    ok = (worst <= DIVERGED_LOSS) & _all_finite((model, extra_losses))
    return model, opt_state, losses, ok, worst, extra_losses


def _loss_and_grads(params, static, flat, data, rows, weights, l2_weight, extra, step):
    """One step's loss output and gradients: the original's ``loss_fn``, or with ``extra``.

    Without ``extra`` the output is the batch-sum loss; with it, ``[autoencoder loss, extra's
    loss]`` (``extra.loss``'s aux), and the gradient is that of their weighted sum.
    """
    if extra is None:

        def loss_of(p):
            return loss_fn(eqx.combine(p, static), flat[rows], l2_weight, weights)

        return jax.value_and_grad(loss_of)(params)

    def extra_of(p):
        return extra.loss(eqx.combine(p, static), data[rows], weights, l2_weight, data, step, rows)

    (_, parts), grads = jax.value_and_grad(extra_of, has_aux=True)(params)
    return parts, grads
