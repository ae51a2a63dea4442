"""Keras's ``mnist.npz``: ``x_train``, ``y_train``, ``x_test``, ``y_test`` in one ``.npz``.

``keras.datasets.mnist.load_data()`` caches MNIST in this form, and people save Fashion-MNIST
and others the same way. The training arrays are split as an MNIST training file is
(:func:`~aecli.data.splits.head_split`: the first 5,000 of 60,000 are validation), the test
arrays are the test split. Every array's shape and dtype is read from its ``.npy`` header and
checked before any of it is loaded; nothing is ever unpickled.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np

from aecli.data.bounded import npy_header, open_regular, zip_members
from aecli.data.formats.checks import check_labels, image_stack
from aecli.data.formats.limits import MAX_ARCHIVE_BYTES, MAX_CLASSES, MAX_IMAGES
from aecli.data.registry import DIGITS
from aecli.data.splits import head_split, make_splits
from aecli.data.types import DatasetSplits, ReadContext, Source, bad_file
from aecli.errors import DataError

KERAS_KEYS = ("x_train", "y_train", "x_test", "y_test")
_FIX = (
    'save it with numpy.savez("data.npz", x_train=x_train, y_train=y_train, x_test=x_test, '
    "y_test=y_test): uint8 images (n, 28, 28) and integer labels (n,)"
)


def npz_members(path: Path) -> set[str]:
    """The array names of an ``.npz`` (its ``.npy`` members); empty when it is not a zip."""
    try:
        with open_regular(path) as f, zipfile.ZipFile(f) as z:
            return {n.removesuffix(".npy") for n in z.namelist() if n.endswith(".npy")}
    except (zipfile.BadZipFile, OSError, DataError):
        return set()


def is_keras_npz(path: Path) -> bool:
    """True when ``path`` holds the four Keras arrays."""
    return set(KERAS_KEYS) <= npz_members(path)


def _check_headers(z: zipfile.ZipFile, path: Path) -> None:
    """Dtypes, shapes and counts of the four arrays, before anything is loaded."""
    infos = zip_members(z, path, MAX_ARCHIVE_BYTES)
    missing = [k for k in KERAS_KEYS if f"{k}.npy" not in infos]
    if missing:
        raise bad_file(path, f"missing array(s) {', '.join(missing)}", _FIX)
    heads = {k: npy_header(z, infos[f"{k}.npy"], path, _FIX) for k in KERAS_KEYS}
    total = 0
    for split in ("train", "test"):
        (xs, xd), (ys, yd) = heads[f"x_{split}"], heads[f"y_{split}"]
        if xd.hasobject or yd.hasobject:
            raise bad_file(path, "holds Python objects", f"refusing to unpickle; {_FIX}")
        if xd != np.uint8:
            raise bad_file(
                path,
                f"'x_{split}' has dtype {xd}, expected uint8 (0-255)",
                "convert it, e.g. (x * 255).round().astype(numpy.uint8) for floats in [0, 1]",
            )
        if xs[1:] not in ((28, 28), (784,)):
            raise bad_file(
                path,
                f"'x_{split}' has shape {xs}, expected (n, 28, 28) or (n, 784)",
                "aecli reads 28x28 greyscale images; to have other images fitted into 28x28, "
                "save them as a folder with one folder of image files per class",
            )
        if yd.kind not in "iu" or len(ys) not in (1, 2) or ys[1:] not in ((), (1,)):
            raise bad_file(
                path,
                f"'y_{split}' has dtype {yd} and shape {ys}, expected integers (n,)",
                "store one integer class index per image",
            )
        if xs[0] != ys[0]:
            raise bad_file(
                path,
                f"'x_{split}' holds {xs[0]:,} images but 'y_{split}' {ys[0]:,} labels",
                "store one label per image",
            )
        total += xs[0]
    if total > MAX_IMAGES:
        raise bad_file(
            path,
            f"holds {total:,} images, more than aecli reads at once ({MAX_IMAGES:,})",
            "use a subset",
        )
    if heads["x_train"][0][0] == 0:
        raise bad_file(path, "'x_train' holds no images", "store at least one training image")


def read_keras_npz(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Read a Keras-style ``.npz``: training images and labels, then test images and labels.

    Raises:
        DataError: not an ``.npz`` of the four arrays, wrong dtypes or shapes, image and label
            counts that differ, labels out of range, or a corrupt archive.
    """
    path = Path(path)
    try:
        with open_regular(path) as f:
            with zipfile.ZipFile(f) as z:
                _check_headers(z, path)
            f.seek(0)
            with np.load(f, allow_pickle=False) as npz:
                arrays = [npz[k] for k in KERAS_KEYS]
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError) as e:
        raise bad_file(path, f"corrupt or truncated ({e})", "replace it with a good copy") from None
    x_train, y_train, x_test, y_test = arrays
    out = []
    for x, y, split in ((x_train, y_train, "train"), (x_test, y_test, "test")):
        y = y.reshape(-1)
        if len(y) and int(y.min()) < 0:
            raise bad_file(path, f"'y_{split}' has negative labels", "labels are 0, 1, 2, ...")
        check_labels(y, path, MAX_CLASSES)
        out += [image_stack(x, path, f"x_{split}"), y.astype(np.int64)]
    return out[0], out[1], out[2], out[3]


def class_names_for(labels: np.ndarray, known: tuple[str, ...] | None) -> tuple[str, ...]:
    """The dataset's class names when known, else ``0 .. k-1`` (digits for up to 10 labels)."""
    if known is not None:
        return known
    k = int(labels.max()) + 1 if len(labels) else 1
    return DIGITS if k <= len(DIGITS) else tuple(str(i) for i in range(k))


def read_source(src: Source, ctx: ReadContext) -> DatasetSplits:
    """Read a Keras ``.npz`` and split it as MNIST: the head of ``x_train`` is validation."""
    assert src.path is not None
    x_train, y_train, x_test, y_test = read_keras_npz(src.path)
    names = class_names_for(np.concatenate([y_train, y_test]), src.class_names)
    for y in (y_train, y_test):
        check_labels(y, src.path, len(names))
    parts, rule = head_split((x_train, y_train), (x_test, y_test))
    desc = f"{src.path}{ctx.where} (Keras x_train/y_train/x_test/y_test)"
    return make_splits(src, parts, names, desc, files=(src.path,), rule=rule)
