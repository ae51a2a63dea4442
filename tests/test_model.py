"""The tied autoencoder: parameter count, initialisation, weight and bias sharing, gradients."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from aecli.config import ModelConfig
from aecli.model import (
    TiedAutoencoder,
    count_parameters,
    model_skeleton,
    postprocess,
    preprocess,
)


@pytest.fixture(scope="module")
def model() -> TiedAutoencoder:
    return TiedAutoencoder(key=jax.random.key(0))


@pytest.fixture(scope="module")
def batch() -> jnp.ndarray:
    rng = np.random.default_rng(0)
    return preprocess(jnp.asarray(rng.integers(0, 256, (16, 28, 28), dtype=np.uint8)))


def test_parameter_count_of_the_original(model):
    assert count_parameters(model) == 105_458
    # 784*128 + 128*32 + 32*2 weights, 128 + 32 + 2 shared biases, 784 output bias
    assert count_parameters(model) == 100_352 + 4_096 + 64 + 162 + 784


def test_shapes_and_initialisation(model):
    assert model.sizes == (784, 128, 32, 2) and model.code_dim == 2
    assert [w.shape for w in model.weights] == [(128, 784), (32, 128), (2, 32)]
    assert [b.shape for b in model.biases] == [(128,), (32,), (2,)]
    assert model.out_bias.shape == (784,)
    w = np.concatenate([np.ravel(x) for x in model.weights])
    assert np.abs(w).max() <= 0.2 + 1e-6  # truncated at two standard deviations
    assert 0.08 < w.std() < 0.095  # std of N(0, 0.1) truncated at 2 sigma is 0.088
    assert all(np.all(np.asarray(b) == 0) for b in (*model.biases, model.out_bias))


def test_seeded(model):
    same = TiedAutoencoder(key=jax.random.key(0))
    other = TiedAutoencoder(key=jax.random.key(1))
    assert np.array_equal(same.weights[0], model.weights[0])
    assert not np.array_equal(other.weights[0], model.weights[0])


def test_code_is_linear_and_two_dimensional(model, batch):
    recon, code = jax.vmap(model)(batch)
    assert recon.shape == (16, 784) and code.shape == (16, 2)
    assert bool(jnp.any(code < 0))  # no ReLU on the code layer


def test_decoder_reuses_the_encoder_biases(model):
    z = jnp.asarray([0.3, -0.2])
    for i in (0, 1):  # biases of width 128 and 32 act in the decoder too
        bumped = eqx.tree_at(lambda m, i=i: m.biases[i], model, model.biases[i] + 1.0)
        assert not np.allclose(bumped.decode(z), model.decode(z))
    # the code-width bias is encoder only
    bumped = eqx.tree_at(lambda m: m.biases[2], model, model.biases[2] + 1.0)
    np.testing.assert_array_equal(bumped.decode(z), model.decode(z))


def test_gradient_reaches_each_shared_matrix_from_both_halves(model, batch):
    """Split the model into an encoder copy and a decoder copy: both get gradient, and they
    add up to the gradient of the tied model."""

    def loss(enc: TiedAutoencoder, dec: TiedAutoencoder) -> jnp.ndarray:
        z = jax.vmap(enc.encode)(batch)
        r = jax.vmap(dec.decode)(z)
        return jnp.sum((r - batch) ** 2) + 0.1 * jnp.sum(z**2)

    g_enc, g_dec = jax.grad(loss, argnums=(0, 1))(model, model)
    g_tied = jax.grad(lambda m: loss(m, m))(model)
    for i in range(3):
        assert float(jnp.abs(g_enc.weights[i]).max()) > 0, f"encoder half of W{i}"
        assert float(jnp.abs(g_dec.weights[i]).max()) > 0, f"decoder half of W{i}"
        np.testing.assert_allclose(
            g_tied.weights[i], g_enc.weights[i] + g_dec.weights[i], rtol=1e-4, atol=1e-4
        )
    # the 128- and 32-unit biases are shared too; the output bias is decoder only
    for i in (0, 1):
        assert float(jnp.abs(g_dec.biases[i]).max()) > 0
        assert float(jnp.abs(g_enc.biases[i]).max()) > 0
    assert float(jnp.abs(g_enc.out_bias).max()) == 0


def test_gradient_differs_when_the_decoder_use_is_stopped(model, batch):
    def loss(m: TiedAutoencoder, stop: bool) -> jnp.ndarray:
        dec = jax.lax.stop_gradient(m) if stop else m
        z = jax.vmap(m.encode)(batch)
        r = jax.vmap(dec.decode)(z)
        return jnp.sum((r - batch) ** 2)

    full = jax.grad(lambda m: loss(m, False))(model)
    enc_only = jax.grad(lambda m: loss(m, True))(model)
    for i in range(3):
        assert not np.allclose(full.weights[i], enc_only.weights[i])


def test_pre_and_post_processing():
    img = np.array([[0, 255]], np.uint8).repeat(392, axis=1).reshape(1, 28, 28)
    x = preprocess(jnp.asarray(img))
    assert x.shape == (1, 784) and x.dtype == jnp.float32
    assert float(x.min()) == -0.5 and float(x.max()) == 0.5
    np.testing.assert_allclose(postprocess(x), img.reshape(1, 784) / 255.0)
    assert float(postprocess(jnp.asarray([2.0]))[0]) == 1.0


def test_configurable_sizes_and_activation():
    cfg = ModelConfig(sizes=(784, 64, 3), activation="tanh")
    m = TiedAutoencoder.from_config(cfg, key=jax.random.key(0))
    assert m.code_dim == 3 and m.activation == "tanh"
    assert count_parameters(m) == 784 * 64 + 64 * 3 + 64 + 3 + 784
    skel = model_skeleton(cfg)
    assert [w.shape for w in skel.weights] == [(64, 784), (3, 64)]
