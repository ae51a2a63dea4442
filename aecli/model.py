"""The tied-weight autoencoder as an immutable Equinox module.

Encoder 784-128-32-2 (hidden activation, linear code); the decoder runs the same weight
matrices transposed (2-32-128-784, hidden activation, linear output). As in the original
TensorFlow graph, the decoder's hidden layers reuse the encoder's biases of the same width
(the 32- and 128-unit biases); only the 784-unit output bias is its own. With the default
sizes that is 105,458 parameters.

``model.tied = false`` builds an ``UntiedAutoencoder`` instead: the same encoder, and a decoder
with its own weight matrices and biases (210,130 parameters at the default sizes), so that the
original's claim that tying "halves the parameters and reduces overfitting" can be tested.

Methods work on one example; ``jax.vmap`` outside batches them.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from aecli.config import ACTIVATIONS, ModelConfig

# config.ACTIVATIONS names the choices (checked without JAX); each is jax.nn's function of that
# name (jax.nn.tanh is jnp.tanh).
_ACTIVATIONS = {name: getattr(jax.nn, name) for name in ACTIVATIONS}


def preprocess(images: Array) -> Float[Array, "... 784"]:
    """uint8 images (..., 28, 28) or (..., 784) to float32 pixels/255 - 0.5, flattened.

    Called inside jitted code so the data can stay on the device as uint8 (4x less memory).
    """
    x = jnp.asarray(images)
    x = x.reshape(*x.shape[: x.ndim - (2 if x.shape[-1] == 28 and x.ndim >= 2 else 1)], 784)
    return x.astype(jnp.float32) / 255.0 - 0.5


def postprocess(x: Array) -> Array:
    """Model output (pixels/255 - 0.5) back to [0, 1] for display, clipped."""
    return jnp.clip(x + 0.5, 0.0, 1.0)


class TiedAutoencoder(eqx.Module):
    """Fully connected autoencoder whose decoder uses the encoder's weights transposed.

    Attributes:
        weights: encoder matrices, ``weights[i]`` of shape ``(sizes[i+1], sizes[i])``.
        biases: encoder biases, ``biases[i]`` of shape ``(sizes[i+1],)``; the decoder reuses
            ``biases[i]`` for its layer that outputs ``sizes[i+1]`` units.
        out_bias: the decoder's own bias for the ``sizes[0]``-unit output.
        activation: name of the hidden activation (static).
    """

    weights: tuple[Array, ...]
    biases: tuple[Array, ...]
    out_bias: Array
    activation: str = eqx.field(static=True)

    def __init__(
        self,
        sizes: tuple[int, ...] = (784, 128, 32, 2),
        activation: str = "relu",
        init_std: float = 0.1,
        *,
        key: PRNGKeyArray,
    ):
        keys = jax.random.split(key, len(sizes) - 1)
        # tf.truncated_normal(stddev=0.1): normal truncated at two standard deviations.
        self.weights = tuple(
            init_std * jax.random.truncated_normal(k, -2.0, 2.0, (n_out, n_in), jnp.float32)
            for k, n_in, n_out in zip(keys, sizes[:-1], sizes[1:], strict=True)
        )
        self.biases = tuple(jnp.zeros((n,), jnp.float32) for n in sizes[1:])
        self.out_bias = jnp.zeros((sizes[0],), jnp.float32)
        self.activation = activation

    @classmethod
    def from_config(cls, config: ModelConfig, *, key: PRNGKeyArray) -> TiedAutoencoder:
        """Build the model a ``ModelConfig`` describes.

        An ``UntiedAutoencoder`` when ``config.tied`` is false; the encoder is initialised
        identically either way.
        """
        kind = TiedAutoencoder if config.tied else UntiedAutoencoder
        return kind(tuple(config.sizes), config.activation, config.init_std, key=key)

    @property
    def sizes(self) -> tuple[int, ...]:
        """Layer widths, input first, e.g. ``(784, 128, 32, 2)``."""
        return (self.weights[0].shape[1], *(w.shape[0] for w in self.weights))

    @property
    def code_dim(self) -> int:
        """Width of the code (2 for the original experiment)."""
        return self.weights[-1].shape[0]

    def _act(self, x: Array) -> Array:
        return _ACTIVATIONS[self.activation](x)

    def encode(self, x: Float[Array, " 784"]) -> Float[Array, " code"]:
        """Encode one preprocessed image (784 floats) to its code; the last layer is linear."""
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            x = w @ x + b
            if i < last:
                x = self._act(x)
        return x

    def decode(self, z: Float[Array, " code"]) -> Float[Array, " 784"]:
        """Decode one code to 784 pixels (pixels/255 - 0.5 units); the output layer is linear."""
        n = len(self.weights)
        for i in reversed(range(n)):
            # Layer i of the encoder maps sizes[i] -> sizes[i+1]; its transpose maps back. The
            # bias of a decoder layer with sizes[i] outputs is the encoder's bias of that width
            # (biases[i-1]), except the image layer, which has its own.
            bias = self.out_bias if i == 0 else self.biases[i - 1]
            z = self.weights[i].T @ z + bias
            if i > 0:
                z = self._act(z)
        return z

    def __call__(self, x: Float[Array, " 784"]) -> tuple[Array, Array]:
        """Return ``(reconstruction, code)`` for one preprocessed image."""
        z = self.encode(x)
        return self.decode(z), z


class UntiedAutoencoder(TiedAutoencoder):
    """The same encoder, with a decoder of its own weights and biases (``model.tied = false``).

    Attributes:
        dec_weights: decoder matrices; ``dec_weights[i]`` maps ``sizes[i+1]`` back to
            ``sizes[i]`` (shape ``(sizes[i], sizes[i+1])``), where the tied model uses
            ``weights[i].T``.
        dec_biases: the decoder's hidden biases; ``dec_biases[i]`` has ``sizes[i+1]`` units
            (the tied model reuses ``biases[i]`` there). The output bias is ``out_bias``.
    """

    dec_weights: tuple[Array, ...]
    dec_biases: tuple[Array, ...]

    def __init__(
        self,
        sizes: tuple[int, ...] = (784, 128, 32, 2),
        activation: str = "relu",
        init_std: float = 0.1,
        *,
        key: PRNGKeyArray,
    ):
        super().__init__(sizes, activation, init_std, key=key)
        # The encoder draws from ``key`` exactly as the tied model does; the decoder from a
        # key of its own, so tied and untied runs of one seed start from the same encoder.
        keys = jax.random.split(jax.random.fold_in(key, 1), len(sizes) - 1)
        self.dec_weights = tuple(
            init_std * jax.random.truncated_normal(k, -2.0, 2.0, (n_in, n_out), jnp.float32)
            for k, n_in, n_out in zip(keys, sizes[:-1], sizes[1:], strict=True)
        )
        self.dec_biases = tuple(jnp.zeros((n,), jnp.float32) for n in sizes[1:-1])

    def decode(self, z: Float[Array, " code"]) -> Float[Array, " 784"]:
        """Decode one code to 784 pixels with the decoder's own weights and biases."""
        for i in reversed(range(len(self.dec_weights))):
            bias = self.out_bias if i == 0 else self.dec_biases[i - 1]
            z = self.dec_weights[i] @ z + bias
            if i > 0:
                z = self._act(z)
        return z


def count_parameters(model: eqx.Module) -> int:
    """Number of scalar parameters (array leaves) in the model."""
    leaves = jax.tree_util.tree_leaves(eqx.filter(model, eqx.is_array))
    return int(sum(leaf.size for leaf in leaves))


def model_skeleton(config: ModelConfig) -> TiedAutoencoder:
    """A shape-only model (no allocation) used to deserialise checkpoints."""
    return eqx.filter_eval_shape(TiedAutoencoder.from_config, config, key=jax.random.key(0))
