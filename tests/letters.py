"""A small synthetic three-class "letters" dataset, held in memory, for the CLI tests.

``test_latent_cli.py``, ``test_compare.py`` and ``test_experiment_cli.py`` inject it through
``aecli.experiment.jobs.load_splits``, so they need neither data files nor a trained model.
Class ``c`` is a bright bar at rows ``4 + 8c .. 10 + 8c`` on faint noise: any map separates it.
"""

from __future__ import annotations

import numpy as np

from aecli.data.types import Dataset

NAMES = ("A", "B", "C")


def letter_split(name: str, split: str, n_per: int, seed: int, *, ragged: bool) -> Dataset:
    """``n_per`` images of each class; ``ragged`` bars end at a random column (14-24)."""
    rng = np.random.default_rng(seed)
    imgs, labels = [], []
    for c in range(3):
        for _ in range(n_per):
            img = rng.integers(0, 30, (28, 28)).astype(np.uint8)
            end = int(rng.integers(14, 25)) if ragged else 24
            img[4 + 8 * c : 10 + 8 * c, 4:end] = 230
            imgs.append(img)
            labels.append(c)
    return Dataset(name, split, np.stack(imgs), np.array(labels, np.int64), NAMES, "")


class FakeSplits(dict):
    """The three splits: ``per_class``, ``validation`` and ``test`` images of each class."""

    class_names = NAMES

    def __init__(
        self,
        name: str = "letters",
        per_class: int = 20,
        source: str = "synthetic test letters",
        *,
        validation: int = 5,
        test: int = 8,
        ragged: bool = False,
    ):
        super().__init__()
        self.name, self.source = name, source
        for split, n, seed in (("train", per_class, 0), ("validation", validation, 1),
                               ("test", test, 2)):  # fmt: skip
            self[split] = letter_split(name, split, n, seed, ragged=ragged)
