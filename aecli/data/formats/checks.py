"""Checks that several readers share: the shape of an image stack, the range of labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from aecli.data.types import IMAGE_SHAPE, bad_file


def image_stack(images: np.ndarray, path: Path, key: str) -> np.ndarray:
    """``images`` as (n, 28, 28), accepting flat (n, 784) rows.

    Raises:
        DataError: any other shape, naming ``path`` and the array ``key``.
    """
    if images.ndim == 2 and images.shape[1] == 784:
        images = images.reshape(-1, 28, 28)
    if images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
        raise bad_file(
            path,
            f"'{key}' has shape {images.shape}, expected (n, 28, 28) or (n, 784)",
            "store 28x28 images",
        )
    return images


def check_labels(labels: np.ndarray, path: Path, n_classes: int) -> None:
    """Raise a DataError naming ``path`` and the first label of ``labels`` >= ``n_classes``."""
    if len(labels) and int(labels.max()) >= n_classes:
        pos = int(np.argmax(labels >= n_classes))
        raise bad_file(
            path,
            f"label {int(labels[pos])} at position {pos:,} is out of range (labels are "
            f"0-{n_classes - 1})",
            "the file is damaged or not an MNIST label file; replace it with the original",
        )
