"""Which format a path given as a dataset holds, and what the dataset is called.

A folder is, in this order: a torchvision root (or its ``MNIST/`` or ``raw/`` folder), a folder
of the four IDX files, a data directory (an error: it goes in ``--data-dir``), a notMNIST folder
(named as the registry names it: 28x28 PNGs, read as notMNIST is), or a folder of images by
class. A file is chosen by its name: ``.csv`` (``.csv.gz``), ``.npz`` (Keras's four arrays or
``images``/``labels``), a tar archive, a pickle. Anything else is one error that lists what is
accepted and how to convert arrays.

A dataset read from a path is named after its folder or file; a name that is a registry
dataset's (``mnist``, ``fashion_mnist``, ``FashionMNIST``, ``mnist_train.csv``) gets that
entry's class names.
"""

from __future__ import annotations

import re
from pathlib import Path

from aecli.data.formats import csv, keras, torchvision
from aecli.data.formats.idx import find_idx_files
from aecli.data.registry import DIGITS, REGISTRY, DatasetEntry
from aecli.data.types import Source
from aecli.errors import DataError

ACCEPTED = (
    "a folder of the four MNIST IDX files (.gz or not), a torchvision root (MNIST/raw/, "
    "FashionMNIST/raw/, KMNIST/raw/), a Keras .npz (x_train, y_train, x_test, y_test), an .npz "
    "of images and labels, a Kaggle-style .csv (the label, then 784 pixels 0-255), a folder of "
    "class folders of images (.png, .jpg, ...), a notMNIST .tar.gz, or the course "
    "notMNIST.pickle"
)
CONVERT = (
    'to convert arrays x (uint8, n x 28 x 28) and y (integer labels), run `np.savez("data.npz", '
    "images=x, labels=y)` and pass data.npz"
)

# A dataset file's format by its suffix, in the order the suffixes are tried (after .csv).
_FILE_FORMATS = (
    (".tar.gz", "tar"),
    (".tar.bz2", "tar"),
    (".tar.xz", "tar"),
    (".tgz", "tar"),
    (".tar", "tar"),
    (".npz", "npz"),
    (".pickle", "pickle"),
    (".pkl", "pickle"),
)


def known_entry(name: str) -> DatasetEntry | None:
    """The registry entry of an MNIST-format dataset that ``name`` spells, if any.

    ``mnist``, ``MNIST``, ``fashion_mnist``, ``Fashion-MNIST``, ``FashionMNIST`` and ``kmnist``
    all count; a registry name whose files are not IDX (``notmnist``) does not.
    """
    key = re.sub(r"[_ ]", "-", name.strip().lower())
    for entry in REGISTRY.values():
        if entry.torchvision and key in (entry.name, entry.torchvision.lower()):
            return entry
    return None


def _named(name: str, fallback: tuple[str, ...] | None) -> tuple[str, tuple[str, ...] | None]:
    entry = known_entry(name)
    return (entry.name, entry.class_names) if entry else (name, fallback)


def _folder_source(path: Path) -> Source:
    where = f"path {path}"
    hit = torchvision.find_torchvision(path)
    if hit is not None:
        entry, raw = hit
        files = torchvision.find_files(path)
        assert files is not None
        classes = entry.class_names
        return Source(entry.name, "path", "torchvision", raw, files, where, class_names=classes)
    files = find_idx_files(path)
    if files is not None:
        folder = path.parent if path.name.lower() == "raw" else path
        name, classes = _named(folder.name or "mnist", DIGITS)
        return Source(name, "path", "idx", path, files, where, class_names=classes)
    folders = [e.folder for e in REGISTRY.values() if e.folder is not None]
    if any((path / f).is_dir() for f in folders):
        names = [e.name for e in REGISTRY.values() if e.folder is not None]
        raise DataError(
            f"{path} looks like a data directory (it holds one of "
            f"{', '.join(f + '/' for f in folders)}): pass it as --data-dir and choose the "
            f"dataset by name ({', '.join(names)})"
        )
    notmnist_folders = {
        local.name for e in REGISTRY.values() for local in e.local if local.format == "folder"
    }
    kind = "folder" if path.name in notmnist_folders else "imagefolder"
    return Source(path.name or path.resolve().name, "path", kind, path, (path,), where)


def _file_source(path: Path) -> Source:
    where = f"path {path}"
    lower = path.name.lower()
    if csv.is_csv(path):
        test = csv.paired_test_file(path)
        name, classes = _named(csv.dataset_stem(path), None)
        files = (path, test) if test is not None else (path,)
        return Source(name, "path", "csv", path, files, where, class_names=classes)
    for suffix, kind in _FILE_FORMATS:
        if lower.endswith(suffix):
            stem = path.name[: -len(suffix)]
            if kind == "npz" and keras.is_keras_npz(path):
                name, classes = _named(stem, None)
                return Source(name, "path", "keras", path, (path,), where, class_names=classes)
            return Source(stem, "path", kind, path, (path,), where)
    if "ubyte" in lower:
        raise DataError(
            f"{path}: a single IDX file: pass the folder that holds the four MNIST IDX files"
        )
    raise DataError(f"{path}: not a dataset aecli can read; it reads {ACCEPTED}: {CONVERT}")


def path_source(path: Path) -> Source:
    """The source of a dataset given as a path to a file or folder.

    Raises:
        DataError: no such path, a data directory, a single IDX file, an unrecognised file
            (the error lists the accepted formats), a torchvision root of several datasets.
    """
    if not path.exists():
        raise DataError(
            f"{path}: no such file or folder: check the path, or use one of the dataset names "
            f"{', '.join(REGISTRY)}"
        )
    return _folder_source(path) if path.is_dir() else _file_source(path)
