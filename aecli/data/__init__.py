"""Datasets: one declarative registry, readers for every supported format, the cache and downloads.

Every loader returns a :class:`DatasetSplits` holding three :class:`Dataset` values (``train``,
``validation``, ``test``) whose images are ``uint8`` arrays of shape (n, 28, 28) and whose labels
are ``int64``. The conversion to model units (pixels/255 - 0.5) happens later, inside the model's
jitted code.

Where a named dataset (``mnist``, ``notmnist``) is looked for, in order, each step reported
through ``report``: an explicit data directory, the user cache, a download into that cache
(unless offline), the embedded default (:mod:`aecli.data.sources`).

A file that is present but bad (truncated, wrong magic number, lying header, labels out of range,
checksum mismatch, wrong-size PNG, ...) raises :class:`~aecli.errors.DataError` naming the file
and the fix; it is never a reason to fall back silently. Only a failed *download* falls back to
the embedded default, with a notice saying why. The split rules are in :mod:`aecli.data.splits`.

The package, by role:

* :mod:`~aecli.data.types`: the values (Dataset, DatasetSplits, Source, SPLITS, ProgressFn).
* :mod:`~aecli.data.registry`: the declarative entries.
* :mod:`~aecli.data.sources`: locating; :mod:`~aecli.data.fetch`: downloads;
  :mod:`~aecli.data.cache`: the user cache.
* :mod:`~aecli.data.formats`: one reader per format, chosen through ``READERS``;
  :mod:`~aecli.data.embedded` and :mod:`~aecli.data.letters`: the embedded defaults.
* :mod:`~aecli.data.splits`: the split rules; :mod:`~aecli.data.load`: loading, end to end.
"""

from aecli.data.cache import cache_dir
from aecli.data.embedded import read_mnist_5k
from aecli.data.fetch import DownloadError
from aecli.data.formats.idx import read_idx, write_idx
from aecli.data.formats.images import read_image_archive, read_image_folder
from aecli.data.formats.npz import read_npz
from aecli.data.formats.pickle import read_course_pickle
from aecli.data.formats.unpickler import restricted_load
from aecli.data.load import download, load_dataset, read_source
from aecli.data.registry import MNIST_FILES, REGISTRY, DatasetEntry, RemoteFile
from aecli.data.sources import is_offline, locate
from aecli.data.types import SPLITS, Dataset, DatasetSplits, Decoded, ProgressFn, Source

__all__ = [
    "MNIST_FILES",
    "REGISTRY",
    "SPLITS",
    "Dataset",
    "DatasetEntry",
    "DatasetSplits",
    "Decoded",
    "DownloadError",
    "ProgressFn",
    "RemoteFile",
    "Source",
    "cache_dir",
    "download",
    "is_offline",
    "load_dataset",
    "locate",
    "read_course_pickle",
    "read_idx",
    "read_image_archive",
    "read_image_folder",
    "read_mnist_5k",
    "read_npz",
    "read_source",
    "restricted_load",
    "write_idx",
]
