"""Decoded grids kept on disk, so that ``aecli generate`` run again needs no JAX at all.

Decoding a grid takes a fraction of a second, but getting there (importing JAX, building the
model, compiling) takes most of a ``generate`` process; JAX's compilation cache
(``aecli.jaxsetup``) cannot save the imports. So the images of a decoded grid are kept in
``<cache>/grids/<key>.npy`` (``aecli.data.cache_dir()``), and a later ``generate`` of the same
grid from the same weights reads them and only draws.

* The key is the sha256 of everything that decides the pixels: the checkpoint's weights (the
  sha256 and length of its payload) and architecture (the header's model config), the grid's
  codes, and the decoder (aecli, JAX, jaxlib and Equinox versions, JAX's platform choice and
  plugins). Another checkpoint, grid or JAX is another entry.
* The header must come from ``aecli.checkpoint.read_header`` (or ``open_checkpoint_file``),
  which reads the whole file and checks the payload's sha256: a hit re-verifies the
  checkpoint's integrity each time, so a damaged checkpoint is still an error.
* An entry is the float32 array ``decode`` returned, saved losslessly: the sheet drawn from a
  hit is byte for byte the one drawn after decoding.
* Entries are written atomically (``aecli.atomic``), so two processes at once see a whole entry
  or none; an entry that cannot be read counts as missing.
* The folder is bounded (``MAX_BYTES``): after each write the least recently used entries go.
  A cache that cannot be written only costs the time to decode.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

FOLDER = "grids"
FORMAT = 1  # bump when the key or the entry layout changes
MAX_BYTES = 64 * 2**20
"""Bound of the folder (a default 10 x 10 grid takes 314 kB)."""


def grid_cache_dir() -> Path:
    """The folder of decoded grids: ``<aecli cache>/grids``."""
    from aecli.data import cache_dir

    return cache_dir() / FOLDER


def decoded_grid(header: dict[str, Any], grid: Any, decode: Callable[[], np.ndarray]) -> np.ndarray:
    """The images of ``grid`` decoded by the checkpoint of ``header``: kept ones, or ``decode()``.

    Args:
        header: a verified checkpoint header (see the module docstring).
        grid: the ``aecli.latent.grid.CodeGrid`` to decode.
        decode: decodes the grid, images ``(rows, cols, 28, 28)`` float32; called on a miss,
            its result is kept for next time.

    Returns:
        The images, ``(rows, cols, 28, 28)`` float32.
    """
    rows, cols = grid.shape
    path = grid_cache_dir() / f"{_key(header, grid)}.npy"
    kept = _read(path, (rows, cols, 28, 28))
    if kept is not None:
        return kept
    images = np.ascontiguousarray(decode(), dtype=np.float32)
    _keep(path, images)
    return images


def _key(header: dict[str, Any], grid: Any) -> str:
    what = {
        "format": FORMAT,
        "payload_sha256": header["payload_sha256"],
        "payload_bytes": header["payload_bytes"],
        "model": header["config"]["model"],
        "codes": list(grid.codes.shape),
        "decoder": _decoder(),
    }
    h = hashlib.sha256(json.dumps(what, sort_keys=True).encode("utf-8"))
    h.update(np.ascontiguousarray(grid.codes, dtype=np.float32).tobytes())
    return h.hexdigest()[:40]


def _decoder() -> dict[str, Any]:
    """What decides the decoder's rounding, found without importing JAX."""
    import importlib.metadata as md
    import importlib.util
    import pkgutil

    from aecli import __version__

    versions = {"aecli": __version__}
    for dist in ("jax", "jaxlib", "equinox"):
        try:
            versions[dist] = md.version(dist)
        except md.PackageNotFoundError:
            versions[dist] = None
    plugins: list[str] = []
    spec = importlib.util.find_spec("jax_plugins")  # where JAX finds GPU and other backends
    if spec is not None and spec.submodule_search_locations:
        plugins = sorted(m.name for m in pkgutil.iter_modules(spec.submodule_search_locations))
    return {**versions, "plugins": plugins, "platforms": os.environ.get("JAX_PLATFORMS", "")}


def _read(path: Path, shape: tuple[int, ...]) -> np.ndarray | None:
    """The kept images, or None when missing, unreadable or not of this grid's shape."""
    import io
    import math

    from aecli.rundir import read_regular

    # A .npy of this shape is its data plus a header of at most a few hundred bytes: anything
    # bigger (or a FIFO, a device) is not one of ours and is not read.
    raw = read_regular(path, 4 * math.prod(shape) + 4096, whole=True)
    if raw is None:
        return None
    try:
        images = np.load(io.BytesIO(raw), allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    if images.shape != shape or images.dtype != np.float32:
        return None
    with contextlib.suppress(OSError):
        os.utime(path)  # most recently used: the last to go
    return images


def _keep(path: Path, images: np.ndarray) -> None:
    """Write the entry atomically, then trim the folder to ``MAX_BYTES``; never raises."""
    from aecli.atomic import atomic_open

    if images.nbytes > MAX_BYTES // 4:  # one huge grid would push out everything else
        return
    try:
        with atomic_open(path) as f:
            np.save(f, images, allow_pickle=False)
    except OSError:
        return
    _trim(path.parent)


def _trim(folder: Path) -> None:
    """Remove the least recently used entries until the folder holds at most ``MAX_BYTES``."""
    entries = []
    for p in folder.glob("*.npy"):
        with contextlib.suppress(OSError):  # another process may be removing it
            st = p.stat()
            entries.append((st.st_mtime, st.st_size, p))
    total = sum(size for _, size, _ in entries)
    for _, size, p in sorted(entries, key=lambda e: e[0]):
        if total <= MAX_BYTES:
            break
        with contextlib.suppress(OSError):
            p.unlink()
        total -= size
