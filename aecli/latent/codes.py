"""The one implementation of encode, decode and per-image reconstruction error.

The CLI commands, the experiment report and the TUI all call these functions, so the same
image at the same epoch gets the same code, the same decode and the same error everywhere.
Each runs one jitted function over fixed-size batches (the last batch is padded), so a whole
split costs one compilation and a few device calls. The jitted functions are built once per
process under a lock and take the model as an argument, so TUI worker threads may call them
while the CLI or another thread does.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from aecli.errors import LatentError

_JIT_LOCK = threading.Lock()
_JIT_CACHE: dict[str, Any] = {}


def _jitted(name: str) -> Any:
    """The jitted batch functions, built once per process (JAX imported lazily)."""
    with _JIT_LOCK:
        if not _JIT_CACHE:
            _JIT_CACHE.update(_build())
        return _JIT_CACHE[name]


def _build() -> dict[str, Any]:
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
        # Per-image squared error in the model's units (pixels/255 - 0.5) on the unclipped
        # decode: the pixel term of the training loss, comparable with what train prints.
        err = jnp.sum((recon - x) ** 2, axis=-1)
        return postprocess(recon), err, jnp.sum(codes**2, axis=-1)

    return {"encode": encode_batch, "decode": decode_batch, "reconstruct": reconstruct_batch}


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
    """Encode images to their codes.

    Args:
        model: a ``TiedAutoencoder``.
        images: uint8 (n, 28, 28) (or (n, 784)), n >= 1.
        batch_size: images per jitted call (the last call is padded to the same shape).

    Returns:
        Codes (n, code_dim) float32.

    Raises:
        LatentError: ``images`` is empty.
    """
    images = np.asarray(images)
    return _batched(_jitted("encode"), model, images, batch_size)[0]


def decode(model: Any, codes: np.ndarray, *, batch_size: int = 8192) -> np.ndarray:
    """Decode codes to images for display.

    Args:
        model: a ``TiedAutoencoder``.
        codes: (n, code_dim), n >= 1.
        batch_size: codes per jitted call.

    Returns:
        Images (n, 28, 28) float32 intensities: the model's output (pixels/255 - 0.5) shifted
        back by 0.5 and clipped to [0, 1] (``aecli.model.postprocess``), ready for
        ``aecli.render``. Errors are never computed from these clipped values: use
        ``reconstruct``.

    Raises:
        LatentError: ``codes`` do not fit the model's code size, or are empty.
    """
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
        images: reconstructions (n, 28, 28) in [0, 1] (clipped for display, as ``decode``).
        errors: per-image squared error, sum over 784 pixels in model units, of the unclipped
            reconstruction (the pixel term of the training loss).
        code_sq: per-image squared norm of the code (the L2 term of the loss, unweighted).
    """

    images: np.ndarray
    errors: np.ndarray
    code_sq: np.ndarray

    def loss(self, l2_weight: float) -> np.ndarray:
        """Per-image training loss: squared error + ``l2_weight`` * squared code norm."""
        return self.errors + l2_weight * self.code_sq


def reconstruct(model: Any, images: np.ndarray, *, batch_size: int = 8192) -> Reconstruction:
    """Reconstruct uint8 images (n, 28, 28): display images and per-image errors.

    Raises:
        LatentError: ``images`` is empty.
    """
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
