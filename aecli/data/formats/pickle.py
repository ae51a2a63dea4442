"""The Udacity course's ``notMNIST.pickle``, read with the restricted unpickler.

The file is a dict with ``train_dataset``/``train_labels``, ``valid_*`` and ``test_*``; images
are float32 (x - 127.5) / 255 in [-0.5, 0.5] and are converted back to uint8 0..255. The file
keeps its own splits.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from aecli.data.formats.checks import check_labels, image_stack
from aecli.data.formats.unpickler import restricted_load
from aecli.data.registry import LETTERS
from aecli.data.splits import make_splits
from aecli.data.types import DatasetSplits, ReadContext, Source, bad_file

_FIX = (
    "it must be a dict of train_dataset/train_labels, valid_dataset/valid_labels and "
    "test_dataset/test_labels as written by the course notebook"
)


def _to_uint8(x: np.ndarray, path: Path, key: str) -> np.ndarray:
    """Course images (float (x - 127.5) / 255, or already uint8) as uint8 (n, 28, 28)."""
    x = image_stack(x, path, key)
    if x.dtype == np.uint8:
        return x
    if x.dtype.kind != "f":
        raise bad_file(path, f"{key} has dtype {x.dtype}", "store float32 or uint8 images")
    lo, hi = (float(x.min()), float(x.max())) if x.size else (0.0, 0.0)
    if lo < -0.5 - 1e-3 or hi > 0.5 + 1e-3:
        raise bad_file(
            path,
            f"{key} values span [{lo:.3f}, {hi:.3f}], expected [-0.5, 0.5]",
            "store (pixel - 127.5) / 255 as the course notebook does",
        )
    return np.clip(np.rint(x * 255.0 + 127.5), 0, 255).astype(np.uint8)


def read_course_pickle(path: str | Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Read the Udacity-course ``notMNIST.pickle`` with the restricted unpickler.

    The file is a dict with ``train_dataset``/``train_labels``, ``valid_*`` and ``test_*``; images
    are float32 (x - 127.5) / 255 in [-0.5, 0.5] and are converted back to uint8 0..255.

    Returns:
        ``{"train"|"validation"|"test": (images uint8 (n, 28, 28), labels int64)}``.

    Raises:
        SecurityError: the pickle tries to rebuild anything but numpy arrays and plain values.
        DataError: missing keys, wrong shapes, values outside [-0.5, 0.5], labels out of 0..9.
    """
    path = Path(path)
    obj = restricted_load(path)
    if not isinstance(obj, dict):
        raise bad_file(path, f"holds a {type(obj).__name__}, not a dict", _FIX)
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for prefix, split in (("train", "train"), ("valid", "validation"), ("test", "test")):
        kx, ky = f"{prefix}_dataset", f"{prefix}_labels"
        if kx not in obj or ky not in obj:
            raise bad_file(path, f"missing key {kx if kx not in obj else ky}", _FIX)
        x, y = obj[kx], obj[ky]
        if not isinstance(x, np.ndarray) or not isinstance(y, np.ndarray):
            raise bad_file(path, f"{kx}/{ky} are not numpy arrays", _FIX)
        images = _to_uint8(x, path, kx)
        if y.dtype.kind not in "iu" or y.shape != (len(images),):
            raise bad_file(path, f"{ky} has dtype {y.dtype} and shape {y.shape}", _FIX)
        check_labels(y, path, len(LETTERS))
        if len(y) and y.min() < 0:
            raise bad_file(path, f"{ky} has negative labels", "labels must be 0-9 (A-J)")
        out[split] = (images, y.astype(np.int64))
    return out


def read_source(src: Source, ctx: ReadContext) -> DatasetSplits:
    """Read a course pickle found by the locator; its own splits are kept."""
    assert src.path is not None
    parts = read_course_pickle(src.path)
    desc = f"{src.path}{ctx.where} (course pickle, restricted unpickler)"
    return make_splits(
        src, parts, LETTERS, desc, files=(src.path,), rule="the pickle's own train/valid/test"
    )
