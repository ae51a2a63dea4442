"""Polarity: MNIST is light ink on a dark background; data that is the other way round is inverted.

Whether a dataset is dark ink on a light background is decided for the whole set, never image
by image (a glyph that fills its frame, as a fifth of notMNIST's do, has a bright border
although it is light ink on dark): each image's background level is the median of its
outermost ring of pixels (:func:`aecli.data.fit.background_level`), and the set is dark on
light when the median of those levels is above 127.5 of 255 (for a stored set, over up to
:data:`SAMPLE` images evenly spread through it). MNIST, Fashion-MNIST, KMNIST and notMNIST are
all light on dark (median level 0 to 2).

``--invert`` (config key ``data.invert``) says what to do: ``auto`` (default) inverts a set of
dark ink on light, so that it looks like MNIST; ``yes`` inverts every set; ``no`` none. A folder
of images applies it while it fits the images (:mod:`aecli.data.formats.imagefolder`); every
other format is inverted after reading by :func:`orient_splits`. Every inversion is reported in
one notice.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from aecli.config import INVERT_MODES
from aecli.data.fit import LIGHT_BACKGROUND
from aecli.data.types import SPLITS, Dataset, DatasetSplits, Report
from aecli.errors import DataError

SAMPLE = 10_000  # images of a stored set whose borders decide its polarity


def check_mode(mode: str) -> str:
    """``mode`` if it is one of :data:`INVERT_MODES`; else a DataError naming the choices."""
    if mode not in INVERT_MODES:
        raise DataError(f"invert {mode!r}: choose {', '.join(INVERT_MODES)}")
    return mode


def is_light(levels: np.ndarray) -> tuple[bool, float]:
    """Whether a set whose images have these background levels is dark ink on light.

    Returns:
        The decision and the median level it was made from.
    """
    level = float(np.median(levels)) if len(levels) else 0.0
    return level > LIGHT_BACKGROUND, level


def should_invert(light: bool, mode: str) -> bool:
    """Invert the set? ``auto``: when it is dark on light; ``yes``: always; ``no``: never."""
    return light if check_mode(mode) == "auto" else mode == "yes"


def notice(name: str, light: bool, level: float, mode: str, n: int) -> str | None:
    """The one-line notice for a set's polarity, or None when there is nothing to say."""
    if should_invert(light, mode) and light:
        return (
            f"{name}: the images are dark ink on a light background (median border brightness "
            f"{level:.0f} of 255): inverted {n:,} images to light on dark, like MNIST; "
            "--invert no keeps them as they are"
        )
    if should_invert(light, mode):
        return f"{name}: inverted {n:,} images to dark on light, as --invert yes asks"
    if light:
        return f"{name}: the images are dark ink on a light background, kept so (--invert no)"
    return None


def stored_levels(splits: DatasetSplits) -> np.ndarray:
    """Background levels of about :data:`SAMPLE` images evenly spread through all splits.

    The same ring median as :func:`aecli.data.fit.background_level` (one pixel wide at 28x28),
    computed for all sampled images at once.
    """
    stacks = [splits[s].images for s in SPLITS if len(splits[s])]
    n = sum(len(x) for x in stacks)
    if n == 0:
        return np.zeros(0)
    step = max(1, n // SAMPLE)
    sample = np.concatenate([x[::step] for x in stacks])
    ring = np.concatenate(
        [sample[:, 0, :], sample[:, -1, :], sample[:, 1:-1, 0], sample[:, 1:-1, -1]], axis=1
    )
    return np.median(ring, axis=1)


def orient_splits(splits: DatasetSplits, mode: str, report: Report) -> DatasetSplits:
    """A stored set's splits, inverted (``255 - x``) when ``mode`` and its polarity say so.

    Args:
        splits: the splits as read.
        mode: ``auto``, ``yes`` or ``no``.
        report: receives the notice (see :func:`notice`).

    Returns:
        ``splits`` itself, or new splits of inverted images whose ``source`` says so.
    """
    light, level = is_light(stored_levels(splits))
    line = notice(splits.name, light, level, mode, sum(splits.counts().values()))
    if line is not None:
        report(line)
    if not should_invert(light, mode):
        return splits
    source = f"{splits.source}, inverted"
    inverted = {
        s: Dataset(d.name, d.split, 255 - d.images, d.labels, d.class_names, source)
        for s, d in splits.splits.items()
    }
    return dataclasses.replace(splits, source=source, splits=inverted)
