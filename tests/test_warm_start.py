"""Warm starts, as a user meets them: ``aecli generate`` run again in fresh processes.

The first ``generate`` with an empty ``AECLI_CACHE_DIR`` compiles (JAX's persistent
compilation cache keeps the executables under ``<cache>/jax``) and decodes (the decoded grid is
kept under ``<cache>/grids``); the next one imports no JAX at all and draws the same PNG, byte
for byte. A fresh cache directory is a cold start again, a damaged checkpoint is still an
error, two processes may share one cache at the same moment, and the grids' folder stays
within its bound.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from aecli.checkpoint import read_header, save_checkpoint
from aecli.config import Config
from aecli.latent import grid_cache
from aecli.latent.grid import code_grid

# The real CLI in a fresh interpreter; at exit it says on stderr whether JAX was imported.
PROBE = textwrap.dedent(
    """
    import atexit, sys
    atexit.register(lambda: print("jax imported:", "jax" in sys.modules, file=sys.stderr))
    from aecli.cli.app import main
    sys.argv = ["aecli", *sys.argv[1:]]
    main()
    """
)


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    import jax

    from aecli.model import TiedAutoencoder

    run_dir = tmp_path_factory.mktemp("warm") / "run"
    cfg = Config().replace(**{"name": "tiny", "model.sizes": [784, 16, 2], "train.epochs": 1})
    model = TiedAutoencoder.from_config(cfg.model, key=jax.random.key(0))
    save_checkpoint(
        run_dir / "latest.ckpt", model=model, opt_state=None,
        header={"config": cfg.to_dict(), "epoch": 1},
    )  # fmt: skip
    return run_dir


def _env(cache: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "JAX_COMPILATION_CACHE_DIR"}
    return {**env, "JAX_PLATFORMS": "cpu", "AECLI_CACHE_DIR": str(cache), **extra}


def _generate(run: Path, png: Path, env: dict[str, str]) -> subprocess.Popen:
    cmd = [sys.executable, "-c", PROBE, "generate", "--run", str(run), "--out", str(png), "--json"]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def generate(run: Path, png: Path, env: dict[str, str]) -> bool:
    """Run ``aecli generate``; whether it imported JAX."""
    proc = _generate(run, png, env)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    assert json.loads(out)["png"] == str(png)
    return err.strip().splitlines()[-1] == "jax imported: True"


def _entries(folder: Path, pattern: str) -> list[Path]:
    return sorted(folder.glob(pattern)) if folder.is_dir() else []


def test_a_second_generate_needs_no_jax_and_draws_the_same_png(run, tmp_path):
    cache = tmp_path / "cache"
    assert generate(run, tmp_path / "cold.png", _env(cache))  # compiles and decodes
    assert _entries(cache / "jax", "*-cache")  # JAX's executables
    assert len(_entries(cache / "grids", "*.npy")) == 1
    assert not generate(run, tmp_path / "warm.png", _env(cache))
    assert (tmp_path / "warm.png").read_bytes() == (tmp_path / "cold.png").read_bytes()

    # A fresh cache directory is a cold start again, with the same picture.
    assert generate(run, tmp_path / "fresh.png", _env(tmp_path / "other"))
    assert (tmp_path / "fresh.png").read_bytes() == (tmp_path / "cold.png").read_bytes()

    # A user's own JAX compilation cache (JAX's own settings) is left alone.
    env = _env(tmp_path / "c3", JAX_COMPILATION_CACHE_DIR=str(tmp_path / "own"))
    assert generate(run, tmp_path / "own.png", env)
    assert not (tmp_path / "c3" / "jax").exists()


def test_a_damaged_checkpoint_is_an_error_even_when_its_grid_is_kept(run, tmp_path):
    cache = tmp_path / "cache"
    generate(run, tmp_path / "a.png", _env(cache))
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    data = bytearray((run / "latest.ckpt").read_bytes())
    data[-1] ^= 0xFF
    (damaged / "latest.ckpt").write_bytes(bytes(data))
    proc = _generate(damaged, tmp_path / "b.png", _env(cache))
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 1
    lines = [line for line in err.splitlines() if not line.startswith("jax imported")]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "damaged" in lines[0], err
    assert not (tmp_path / "b.png").exists()


def test_two_processes_at_once_share_one_cache(run, tmp_path):
    cache = tmp_path / "cache"
    for phase in ("cold", "warm"):
        procs = [_generate(run, tmp_path / f"{phase}{i}.png", _env(cache)) for i in range(2)]
        results = [p.communicate(timeout=300) for p in procs]
        for p, (_, err) in zip(procs, results, strict=True):
            assert p.returncode == 0, err[-3000:]
            assert "warn" not in err.lower() and "error" not in err.lower(), err
        first = (tmp_path / f"{phase}0.png").read_bytes()
        assert (tmp_path / f"{phase}1.png").read_bytes() == first
    assert (tmp_path / "warm0.png").read_bytes() == (tmp_path / "cold0.png").read_bytes()
    assert len(_entries(cache / "grids", "*.npy")) == 1
    assert not _entries(cache / "grids", ".*.tmp")


# ------------------------------------------------------------------ the grids' folder


class Decoder:
    """A stand-in for the model's decode that counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, grid):
        def decode():
            self.calls += 1
            return np.full((*grid.shape, 28, 28), 0.5, np.float32)

        return decode


def _checkpoints(header: dict, n: int) -> list[dict]:
    """``n`` headers of different weights (another payload checksum each)."""
    return [{**header, "payload_sha256": f"{i:064x}"} for i in range(n)]


def test_the_grids_folder_keeps_the_most_recently_used_within_its_bound(run, monkeypatch):
    header, _ = read_header(run / "latest.ckpt")
    grid = code_grid(-1.0, 1.0, size=5)
    entry = 5 * 5 * 784 * 4 + 128  # one grid's .npy
    monkeypatch.setattr(grid_cache, "MAX_BYTES", int(5.5 * entry))  # room for 5
    decode = Decoder()
    headers = _checkpoints(header, 7)
    for h in headers:
        grid_cache.decoded_grid(h, grid, decode(grid))
    folder = grid_cache.grid_cache_dir()
    assert sum(p.stat().st_size for p in folder.glob("*.npy")) <= grid_cache.MAX_BYTES
    assert len(list(folder.glob("*.npy"))) == 5
    decode.calls = 0
    grid_cache.decoded_grid(headers[-1], grid, decode(grid))  # kept
    assert decode.calls == 0
    grid_cache.decoded_grid(headers[0], grid, decode(grid))  # the oldest went first
    assert decode.calls == 1


def test_an_unreadable_entry_is_decoded_again(run):
    header, _ = read_header(run / "latest.ckpt")
    grid = code_grid(-1.0, 1.0, size=4)
    decode = Decoder()
    grid_cache.decoded_grid(header, grid, decode(grid))
    (path,) = grid_cache.grid_cache_dir().glob("*.npy")
    path.write_bytes(b"not an array")
    images = grid_cache.decoded_grid(header, grid, decode(grid))
    assert decode.calls == 2 and images.shape == (4, 4, 28, 28) and np.all(images == 0.5)
    grid_cache.decoded_grid(header, grid, decode(grid))
    assert decode.calls == 2  # kept again


def test_another_checkpoint_or_grid_is_decoded_anew(run):
    header, _ = read_header(run / "latest.ckpt")
    decode = Decoder()
    small, large = code_grid(-1.0, 1.0, size=3), code_grid(-1.0, 1.0, size=4)
    other = _checkpoints(header, 1)[0]
    for h, g in ((header, small), (other, small), (header, large), (header, small)):
        grid_cache.decoded_grid(h, g, decode(g))
    assert decode.calls == 3
