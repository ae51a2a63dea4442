"""Shared pytest fixtures: the real data (skipped when absent), tiny synthetic datasets, isolation.

Every test runs with ``AECLI_CACHE_DIR`` pointing into a fresh temporary folder (outside the
test's own ``tmp_path``) and ``AECLI_OFFLINE=1``: no test reads or writes the real user cache,
and none downloads anything (pytest-socket blocks sockets as well). Tests that exercise the
download logic clear ``AECLI_OFFLINE`` themselves and replace the downloader with a local fake.

Synthetic MNIST-format data is not the canonical MNIST, so it fails the checksum check under
the name ``mnist``: load it as a *path*, ``load_dataset(str(tiny_mnist_dir / "mnist"))`` or
``--dataset DIR/mnist``, or use the ready-made ``tiny_mnist`` splits.

Other helpers: add your fixtures at the end of this file.
"""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pytest

# urllib3 (under pooch's requests) opens a local socket at import to probe IPv6 support.
# Import it here, at collection, before pytest-socket blocks sockets, so the first download
# test does not trip the "a test tried to use socket.socket" warning. No network is touched.
import requests  # noqa: F401

REPO = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- isolation


@pytest.fixture(autouse=True)
def isolated_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A private, empty aecli cache per test, offline mode on, no inherited data directory."""
    cache = tmp_path_factory.mktemp("aecli-cache")
    monkeypatch.setenv("AECLI_CACHE_DIR", str(cache))
    monkeypatch.setenv("AECLI_OFFLINE", "1")
    monkeypatch.delenv("AECLI_DATA_DIR", raising=False)
    return cache


# --------------------------------------------------------------------------- real data


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data folder (``<repo>/../shared/data`` or ``$AECLI_TEST_DATA``); skip if absent."""
    env = os.environ.get("AECLI_TEST_DATA")
    path = Path(env) if env else REPO.parent / "shared" / "data"
    if not (path / "mnist").is_dir():
        pytest.skip(f"real data not found at {path} (set AECLI_TEST_DATA to its folder)")
    return path


# --------------------------------------------------------------------------- synthetic data


def tiny_mnist_arrays(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` 28x28 uint8 images in 10 classes with learnable structure, and their labels.

    Class k is a bright bar at row 3 + 2k (a different height per class) with random length,
    thickness and a one-pixel jitter, over faint noise: separable in pixel space and easy for
    an autoencoder to compress, yet not identical copies.
    """
    rng = np.random.default_rng(seed)
    labels = (np.arange(n) + rng.integers(0, 10)) % 10
    labels = rng.permutation(labels).astype(np.uint8)
    images = rng.integers(0, 25, size=(n, 28, 28)).astype(np.uint8)
    for i, k in enumerate(labels):
        row = 3 + 2 * int(k) + int(rng.integers(-1, 2))
        thick = int(rng.integers(2, 4))
        left = int(rng.integers(3, 7))
        right = int(rng.integers(21, 25))
        images[i, row : row + thick, left:right] = rng.integers(200, 256)
    return images, labels


def write_tiny_mnist(folder: Path, n_train: int = 300, n_test: int = 100, seed: int = 0) -> Path:
    """Write the four MNIST IDX ``.gz`` files (synthetic, see tiny_mnist_arrays) into ``folder``."""
    from aecli.data import write_idx

    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n, s in (("train", n_train, seed), ("t10k", n_test, seed + 1)):
        images, labels = tiny_mnist_arrays(n, s)
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return folder


@pytest.fixture(scope="session")
def tiny_mnist_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory whose ``mnist/`` holds four small IDX .gz files: 300 train, 100 test.

    Read-only by convention (shared by the whole session): copy it before breaking files.
    Load it as a path (``tiny_mnist_dir / "mnist"``): under the name ``mnist`` it fails the
    checksum check, as any non-canonical MNIST must.
    """
    root = tmp_path_factory.mktemp("tiny-data")
    write_tiny_mnist(root / "mnist")
    return root


@pytest.fixture(scope="session")
def tiny_mnist(tiny_mnist_dir: Path):
    """The tiny MNIST-format set as ``DatasetSplits``: 275 train, 25 validation, 100 test."""
    from aecli.data import load_dataset

    return load_dataset(str(tiny_mnist_dir / "mnist"), report=lambda _: None)


def png_bytes(image: np.ndarray) -> bytes:
    """Encode a 2-D uint8 array as PNG bytes."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def write_png_tar(
    path: Path,
    members: Mapping[str, bytes],
    *,
    extra: Callable[[tarfile.TarFile], None] | None = None,
) -> Path:
    """Write a tar.gz whose regular-file members are ``{name: bytes}``; ``extra(tar)`` adds more."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1_315_440_000
            tar.addfile(info, io.BytesIO(data))
        if extra is not None:
            extra(tar)
    return path


def tiny_letter_members(per_class: int = 12, root: str = "notMNIST_small") -> dict[str, bytes]:
    """notMNIST-style members ``root/A/xxx.png`` ... rendered by aecli.data.letters (seeded)."""
    from aecli.data.letters import render_letters

    rendered = render_letters(per_class, seed=1)
    members = {}
    for i, (image, label) in enumerate(zip(rendered.images, rendered.labels, strict=True)):
        members[f"{root}/{'ABCDEFGHIJ'[label]}/img{i:04d}.png"] = png_bytes(image)
    return members


@pytest.fixture(scope="session")
def tiny_notmnist_tar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small notMNIST_small.tar.gz: 12 PNGs per letter plus one zero-byte and one garbage PNG."""
    members = tiny_letter_members(12)
    members["notMNIST_small/A/empty.png"] = b""
    members["notMNIST_small/F/garbage.png"] = b"\x89PNG not really"
    return write_png_tar(
        tmp_path_factory.mktemp("tiny-notmnist") / "notMNIST_small.tar.gz", members
    )
