"""JAX's process-wide settings for aecli's commands: the persistent compilation cache.

Every command that compiles (``train``, the commands on a run, ``experiment``, ``tui``) calls
``use_compilation_cache`` before its first compilation, so XLA executables compiled once are
loaded from ``<cache>/jax`` the next time instead of compiled again. ``<cache>`` is
``aecli.data.cache_dir()``: ``AECLI_CACHE_DIR`` moves it, and a fresh ``AECLI_CACHE_DIR`` is a
cold start.

* Every executable is kept, however small: aecli's CPU executables compile in 0.05-0.5 s, under
  JAX's default threshold of 1 s, which would keep none of them.
* The folder is bounded (``MAX_BYTES``): JAX evicts the least recently used entries.
* Two processes at once are safe: with a bound set, JAX serialises every read and write of the
  folder through one lock file (``filelock``, an ``fcntl`` lock that dies with its holder),
  and a read that fails anyway is a warning and a recompilation, never a wrong result.
* A cached executable is the one the compiler would produce: results are bit for bit the same.
* JAX reads the settings once, at the first compilation in the process. A user's own
  ``JAX_COMPILATION_CACHE_DIR`` is left alone, with JAX's own thresholds and bound (a bound
  set here could evict a shared cache); a folder that cannot be written leaves the cache off.
* In a multi-process job JAX writes entries from process 0 only.
"""

from __future__ import annotations

import os
from pathlib import Path

MAX_BYTES = 256 * 2**20
"""Bound of the compilation cache folder (a training's executables take about 2 MB)."""

FOLDER = "jax"


def compilation_cache_dir() -> Path:
    """The compilation cache folder: ``<aecli cache>/jax``."""
    from aecli.data import cache_dir

    return cache_dir() / FOLDER


def use_compilation_cache() -> Path | None:
    """Turn on JAX's persistent compilation cache in ``compilation_cache_dir()``.

    Returns:
        The folder in use (the user's own ``jax_compilation_cache_dir`` when set), or None when
        the folder cannot be created or written (the cache only saves time).
    """
    import jax

    own = jax.config.jax_compilation_cache_dir
    if own:
        return Path(own)
    folder = compilation_cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    if not os.access(folder, os.W_OK | os.X_OK):
        return None
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)  # -1: no floor at all
    jax.config.update("jax_compilation_cache_max_size", MAX_BYTES)
    return folder
