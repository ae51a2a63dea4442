"""``.npz`` image sets: ``images`` (uint8) and ``labels`` (ints), optionally ``class_names``.

Never unpickles: an archive of Python objects is refused. The sizes in the zip directory and
each array's ``.npy`` header are checked before anything is inflated.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from aecli.data.bounded import npy_header, open_regular, zip_members
from aecli.data.formats.checks import image_stack
from aecli.data.formats.limits import MAX_ARCHIVE_BYTES, MAX_CLASSES, MAX_IMAGES
from aecli.data.splits import flat_to_splits
from aecli.data.types import DatasetSplits, Decoded, ReadContext, Source, bad_file
from aecli.data.verify import check_content, pinned_for

_FIX = "save it with numpy.savez(path, images=<uint8 array (n, 28, 28)>, labels=<int array (n,)>)"


_KEYS = ("images", "labels", "class_names", "filenames")


def _check_declared(z: zipfile.ZipFile, path: Path) -> None:
    """The sizes, dtypes and shapes the archive declares, checked before anything is inflated."""
    infos = zip_members(z, path, MAX_ARCHIVE_BYTES)
    missing = [k for k in ("images", "labels") if f"{k}.npy" not in infos]
    if missing:
        have = ", ".join(n.removesuffix(".npy") for n in infos) or "nothing"
        raise bad_file(path, f"missing array(s) {', '.join(missing)} (it holds: {have})", _FIX)
    for key in _KEYS:
        info = infos.get(f"{key}.npy")
        if info is None:
            continue
        shape, dtype = npy_header(z, info, path, _FIX)
        if dtype.hasobject:
            raise bad_file(path, f"'{key}' holds Python objects", f"refusing to unpickle; {_FIX}")
        limit = MAX_CLASSES if key == "class_names" else MAX_IMAGES
        if shape and shape[0] > limit:
            raise bad_file(
                path,
                f"'{key}' holds {shape[0]:,} entries, more than aecli reads ({limit:,})",
                "use a subset",
            )


def _read_arrays(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """images, labels, class_names (or None), filenames (or None), as stored."""
    with open_regular(path) as f:
        try:
            with zipfile.ZipFile(f) as zf:
                _check_declared(zf, path)
            f.seek(0)
            z = np.load(f, allow_pickle=False)
        except (zipfile.BadZipFile, ValueError, EOFError) as e:
            raise bad_file(path, f"not a readable .npz file ({e})", _FIX) from None
        if not isinstance(z, np.lib.npyio.NpzFile):
            raise bad_file(path, "a single .npy array, not an .npz archive of named arrays", _FIX)
        with z:
            try:
                arrays = [z[k] if k in z.files else None for k in _KEYS]
            except ValueError as e:  # object arrays: would need pickle
                raise bad_file(
                    path, f"holds Python objects ({e})", f"refusing to unpickle; {_FIX}"
                ) from None
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
                raise bad_file(
                    path, f"corrupt or truncated ({e})", "replace it with a good copy"
                ) from None
    images, labels, names, filenames = arrays
    assert images is not None and labels is not None
    return images, labels, names, filenames


def _check_images_and_labels(images: np.ndarray, labels: np.ndarray, path: Path) -> np.ndarray:
    """The images as (n, 28, 28) uint8, after checking both arrays; raises DataError."""
    if images.dtype != np.uint8:
        raise bad_file(
            path,
            f"'images' has dtype {images.dtype}, expected uint8 (0-255)",
            "convert it, e.g. (x * 255).round().astype(numpy.uint8) for floats in [0, 1]",
        )
    images = image_stack(images, path, "images")
    if labels.dtype.kind not in "iu" or labels.ndim != 1:
        raise bad_file(
            path,
            f"'labels' has dtype {labels.dtype} and shape {labels.shape}, expected integers (n,)",
            "store one integer class index per image",
        )
    if len(labels) != len(images):
        raise bad_file(
            path, f"{len(images):,} images but {len(labels):,} labels", "store one label per image"
        )
    if len(labels) == 0:
        raise bad_file(path, "holds no images", "store at least one image per class")
    return images


def read_npz(path: str | Path, *, class_names: Sequence[str] | None = None) -> Decoded:
    """Read an ``.npz`` holding ``images`` (uint8, (n, 28, 28) or (n, 784)) and ``labels`` (ints).

    Optional arrays: ``class_names`` (strings) and ``filenames``. Never unpickles: object arrays
    are refused.

    Args:
        path: the ``.npz`` file.
        class_names: names to use when the file has none (default: ``0..k-1``).

    Raises:
        DataError: not a zip/npz, missing keys, wrong dtype or shape, labels out of range.
    """
    path = Path(path)
    images, labels, names, filenames = _read_arrays(path)
    images = _check_images_and_labels(images, labels, path)
    if names is not None:
        class_names = tuple(str(c) for c in names)
    n_classes = int(labels.max()) + 1
    if class_names is None:
        class_names = tuple(str(i) for i in range(n_classes))
    if labels.min() < 0 or labels.max() >= len(class_names):
        raise bad_file(
            path,
            f"labels {labels.min()}..{labels.max()} are out of range for {len(class_names)} "
            "classes",
            "labels must be 0..(number of classes - 1)",
        )
    return Decoded(images, labels.astype(np.int64), tuple(class_names), filenames=filenames)


def read_source(src: Source, ctx: ReadContext) -> DatasetSplits:
    """Read an ``.npz`` found by the locator and split it with the stratified rule."""
    assert src.path is not None
    dec = read_npz(src.path, class_names=src.class_names)
    desc = f"{src.path}{ctx.where}: {len(dec.images):,} images"
    # notMNIST_small.npz in a registry folder is the decoded archive: the same pins apply.
    checked = check_content(dec, pinned_for(src.path, src.pinned, (".npz",)), src.path, src.name)
    if checked:
        desc += f"; {checked}"
    return flat_to_splits(src, dec, desc)
