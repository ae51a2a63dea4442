"""Validation and test figures: the evaluation set padded and placed on the device once.

Validation and test losses are per image with the final weights of an epoch and include the
code penalty. ``Evaluation.recon`` is the reconstruction part alone: the model works in
pixels/255 - 0.5, and the shift cancels in a difference, so it is the squared error in [0, 1]
pixel units, summed over the 784 pixels (the unit of Hinton & Salakhutdinov 2006).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from aecli.model import TiedAutoencoder, preprocess
from aecli.training.devices import put
from aecli.training.step import example_errors

EVAL_BATCH = 1000


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


class EvalSet:
    """Images padded and placed on the device once, evaluated with one compiled function.

    Args:
        images: uint8 images ``(n, 28, 28)`` or ``(n, 784)``; at least one.
        batch_size: images per compiled batch (the last one is padded with weight 0).
        sharding: where to place them (a device or a sharding); None: the default device.
    """

    def __init__(self, images: np.ndarray, batch_size: int = EVAL_BATCH, sharding: Any = None):
        self.n = int(np.asarray(images).shape[0])
        if self.n == 0:
            raise ValueError("no images to evaluate")
        padded, w = _pad_for_eval(images, batch_size)
        self.images, self.weights = put((padded, w), sharding)

    def evaluate(self, model: TiedAutoencoder, l2_weight: float) -> Evaluation:
        """Per-image loss, reconstruction error and code norm of ``model`` on these images."""
        recon, code = jax.device_get(_eval_sums(model, self.images, self.weights))
        recon, code = float(recon) / self.n, float(code) / self.n
        return Evaluation(recon + l2_weight * code, recon, code, self.n)
