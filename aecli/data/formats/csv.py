"""CSV in the common Kaggle form: one image per line, the label first, then its 784 pixels.

Pixels are whole numbers 0-255, row by row; a header line (``label,pixel0,...`` or
``label,1x1,...``) is recognised by its first field not being a number and skipped. A file may
be gzip-compressed (``.csv.gz``). ``NAME_train.csv`` beside ``NAME_test.csv`` (as Kaggle's
"MNIST in CSV" ships them) are read as one dataset: the test file is the test split and the
training file is split as an MNIST training file is (:func:`~aecli.data.splits.head_split`);
a CSV alone is split like any flat set.

Reading streams: lines are read one at a time (each at most
:data:`~aecli.data.formats.limits.MAX_CSV_LINE_BYTES`) and parsed with numpy a chunk of rows at
a time, never the whole file as text. A bad value is an error naming its line and column. A
decoded file is cached (:func:`~aecli.data.cache.decode_once`), so only its first load parses.
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import numpy as np

from aecli.data.bounded import open_regular
from aecli.data.cache import decode_once, sha256_file
from aecli.data.formats.keras import class_names_for
from aecli.data.formats.limits import MAX_CLASSES, MAX_CSV_LINE_BYTES, MAX_IMAGES
from aecli.data.splits import flat_to_splits, head_split, make_splits
from aecli.data.types import DatasetSplits, Decoded, ReadContext, Source, bad_file
from aecli.errors import DataError

N_VALUES = 785  # the label, then 28 x 28 pixels
_CHUNK_ROWS = 2048
_FIX = "each line must be a label, then 784 whole numbers 0-255, separated by commas"
# NAME_train.csv / NAME-train.csv / train.csv, optionally gzipped; the test file swaps the word.
_TRAIN_NAME = re.compile(r"^(?P<stem>.*?)(?P<sep>[_-]?)train(?P<ext>\.csv(?:\.gz)?)$", re.I)


def is_csv(path: Path) -> bool:
    """True for ``.csv`` and ``.csv.gz`` names."""
    return path.name.lower().endswith((".csv", ".csv.gz"))


def paired_test_file(path: Path) -> Path | None:
    """``NAME_test.csv`` next to ``NAME_train.csv`` (same separator and suffix), if present."""
    m = _TRAIN_NAME.match(path.name)
    if m is None:
        return None
    for word in ("test", "TEST", "Test"):
        other = path.with_name(f"{m['stem']}{m['sep']}{word}{m['ext']}")
        if other.is_file():
            return other
    return None


def dataset_stem(path: Path) -> str:
    """The dataset's name from the file name: ``mnist`` for ``mnist_train.csv``."""
    name = re.sub(r"\.csv(\.gz)?$", "", path.name, flags=re.I)
    m = _TRAIN_NAME.match(path.name)
    return (m["stem"] if m and m["stem"] else name) or name


@contextmanager
def _open(path: Path) -> Iterator[BinaryIO]:
    """The CSV's bytes (gunzipped for ``.gz``), from a regular file only (a FIFO is refused
    at once instead of waiting for a writer)."""
    with open_regular(path) as raw:
        if path.name.lower().endswith(".gz"):
            with gzip.GzipFile(fileobj=raw) as f:
                yield f  # type: ignore[misc]
        else:
            yield raw


def _lines(f: BinaryIO, path: Path, on_bytes: Callable[[int], None]) -> Iterator[tuple[int, bytes]]:
    """(line number, line) of every non-blank line; a line longer than the cap is an error."""
    number = 0
    while True:
        line = f.readline(MAX_CSV_LINE_BYTES + 1)
        if not line:
            return
        number += 1
        on_bytes(len(line))
        if len(line) > MAX_CSV_LINE_BYTES:
            raise bad_file(
                path,
                f"line {number:,} is longer than {MAX_CSV_LINE_BYTES:,} bytes",
                f"this is not a CSV of 28x28 images: {_FIX}",
            )
        line = line.strip()
        if line:
            yield number, line


def _field(text: bytes) -> bytes:
    return text.strip().strip(b'"').strip()


def _is_header(line: bytes) -> bool:
    return not re.fullmatch(rb"[+-]?\d+", _field(line.split(b",", 1)[0]))


def _bad_value(rows: list[tuple[int, bytes]], path: Path) -> DataError:
    """The first bad value of a chunk that numpy refused or that is out of range, located."""
    for number, line in rows:
        fields = line.split(b",")
        if len(fields) != N_VALUES:
            return bad_file(
                path,
                f"line {number:,} has {len(fields)} values, expected {N_VALUES} (the label, "
                "then 784 pixels)",
                _FIX,
            )
        for column, raw in enumerate(fields, start=1):
            text = _field(raw).decode("latin-1")
            where = f"line {number:,}, column {column}"
            what = "label" if column == 1 else "pixel"
            try:
                value = int(text)
            except ValueError:
                return bad_file(path, f"{where}: {text[:20]!r} is not a whole number", _FIX)
            top = MAX_CLASSES - 1 if column == 1 else 255
            if not 0 <= value <= top:
                return bad_file(path, f"{where}: {what} {value} is outside 0-{top}", _FIX)
    return bad_file(path, f"unreadable rows near line {rows[0][0]:,}", _FIX)


def _parse(rows: list[tuple[int, bytes]], path: Path) -> np.ndarray:
    """Rows of a chunk as an int array (k, 785), every value checked."""
    try:
        table = np.loadtxt(
            [line.decode("latin-1") for _, line in rows],
            delimiter=",",
            dtype=np.int64,
            ndmin=2,
            quotechar='"',
        )
    except ValueError:
        raise _bad_value(rows, path) from None
    labels, pixels = table[:, 0], table[:, 1:]
    if (
        table.shape[1] != N_VALUES
        or labels.min() < 0
        or labels.max() >= MAX_CLASSES
        or pixels.min() < 0
        or pixels.max() > 255
    ):
        raise _bad_value(rows, path)
    return table


def read_csv(path: str | Path, on_bytes: Callable[[int], None] | None = None) -> Decoded:
    """Read a Kaggle-style CSV (see the module docstring), streaming, every value checked.

    Args:
        path: the ``.csv`` or ``.csv.gz`` file.
        on_bytes: called with the bytes read after each line (progress).

    Returns:
        Images uint8 (n, 28, 28) and labels int64 in file order; class names ``0 .. k-1``.

    Raises:
        DataError: a bad value (naming its line and column), a line of the wrong length, no
            rows, more than :data:`~aecli.data.formats.limits.MAX_IMAGES` rows, corrupt gzip.
    """
    path = Path(path)
    chunks: list[np.ndarray] = []
    rows: list[tuple[int, bytes]] = []
    n = 0
    try:
        with _open(path) as f:
            for i, (number, line) in enumerate(_lines(f, path, on_bytes or (lambda _: None))):
                if i == 0 and _is_header(line):
                    continue
                rows.append((number, line))
                if len(rows) == _CHUNK_ROWS:
                    chunks.append(_parse(rows, path).astype(np.uint8))
                    n += len(rows)
                    rows = []
                    if n > MAX_IMAGES:
                        raise bad_file(
                            path, f"more than {MAX_IMAGES:,} rows", "use a subset of the images"
                        )
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise bad_file(path, f"corrupt or truncated gzip data ({e})", "replace it") from None
    if rows:
        chunks.append(_parse(rows, path).astype(np.uint8))
    if not chunks:
        raise bad_file(path, "holds no image rows", _FIX)
    table = np.concatenate(chunks)
    labels = table[:, 0].astype(np.int64)
    images = np.ascontiguousarray(table[:, 1:]).reshape(-1, 28, 28)
    return Decoded(images, labels, class_names_for(labels, None))


def _decoded(path: Path, ctx: ReadContext) -> Decoded:
    """A CSV's images and labels, parsed once and then read from the decoded cache."""
    size = path.stat().st_size

    def parse() -> Decoded:
        with ctx.progress(f"reading {path.name}", size) as advance:
            return read_csv(path, advance)

    return decode_once(path, sha256_file(path), parse, ctx.report)


def read_source(src: Source, ctx: ReadContext) -> DatasetSplits:
    """Read a CSV (and the test file beside it, if the locator found one) and split it."""
    assert src.path is not None
    parts = [_decoded(p, ctx) for p in src.files]
    labels = np.concatenate([d.labels for d in parts])
    if int(labels.max()) >= MAX_CLASSES:
        raise bad_file(src.path, f"labels go up to {int(labels.max())}", "labels are 0, 1, 2, ...")
    names = class_names_for(labels, src.class_names)
    for p, d in zip(src.files, parts, strict=True):
        if int(d.labels.max()) >= len(names):
            raise bad_file(
                p,
                f"labels go up to {int(d.labels.max())}",
                f"{src.name} labels are 0-{len(names) - 1}",
            )
    if len(parts) == 1:
        dec = parts[0]
        dec.class_names = names
        return flat_to_splits(src, dec, f"{src.path}{ctx.where}: {len(dec.images):,} images (CSV)")
    train, test = parts
    split, rule = head_split((train.images, train.labels), (test.images, test.labels))
    desc = f"{src.path} and {src.files[1].name}{ctx.where} (CSV, with its test file)"
    return make_splits(src, split, names, desc, files=src.files, rule=rule)
