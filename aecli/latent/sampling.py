"""Seeded samples of a split: random indices, stratified subsamples, and their range checks."""

from __future__ import annotations

import numpy as np

from aecli.errors import LatentError


def check_index(index: int, n: int, name: str, split: str) -> int:
    """Raise LatentError unless ``0 <= index < n``; return it."""
    if not 0 <= index < n:
        raise LatentError(
            f"{name}={index} is out of range: the {split} split has {n} images (0..{n - 1})"
        )
    return index


def check_count(n: int, available: int, what: str) -> int:
    """Raise LatentError unless ``1 <= n <= available``; return ``n``."""
    if n < 1:
        raise LatentError(f"{what}: n must be at least 1, got {n}")
    if n > available:
        raise LatentError(
            f"{what}: n={n} is larger than the split ({available} images): pass --n {available} "
            "or fewer"
        )
    return n


def random_indices(n_total: int, n: int, seed: int) -> np.ndarray:
    """``n`` distinct seeded random indices into ``n_total`` items, in drawing order."""
    check_count(n, n_total, "sample")
    return np.random.default_rng(seed).choice(n_total, size=n, replace=False)


def stratified_indices(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """A seeded subsample of ``n`` indices with class proportions kept; sorted ascending.

    Each class gets its share rounded down, the remainder goes to the classes with the largest
    fractional parts, so the count is exactly ``n``.
    """
    labels = np.asarray(labels)
    check_count(n, len(labels), "subsample")
    if n == len(labels):
        return np.arange(n)
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    share = counts * (n / len(labels))
    take = np.floor(share).astype(int)
    rest = n - take.sum()
    order = np.argsort(-(share - take), kind="stable")
    take[order[:rest]] += 1
    picked = [
        rng.choice(np.flatnonzero(labels == c), size=k, replace=False)
        for c, k in zip(classes, take, strict=True)
    ]
    return np.sort(np.concatenate(picked))
