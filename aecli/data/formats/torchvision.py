"""torchvision's layout: ``ROOT/MNIST/raw/`` (``FashionMNIST/raw/``, ``KMNIST/raw/``) of IDX files.

``torchvision.datasets.MNIST(root, download=True)`` keeps the four IDX files, compressed and
decompressed, in ``ROOT/MNIST/raw/``. The root, the dataset's folder and its ``raw/`` folder are
all accepted; the dataset is named after the folder through the registry's ``torchvision``
field (``MNIST`` -> ``mnist``, ``FashionMNIST`` -> ``fashion-mnist``, ``KMNIST`` -> ``kmnist``)
and gets that entry's class names. The files are read as any IDX set, as they are (no checksum:
it is a path, not the registry's copy).
"""

from __future__ import annotations

from pathlib import Path

from aecli.data.formats.idx import find_idx_files
from aecli.data.registry import REGISTRY, DatasetEntry
from aecli.data.types import bad_file


def _by_folder() -> dict[str, DatasetEntry]:
    """Registry entries by their torchvision folder name, lower-cased."""
    return {e.torchvision.lower(): e for e in REGISTRY.values() if e.torchvision}


def find_torchvision(path: Path) -> tuple[DatasetEntry, Path] | None:
    """The dataset and its ``raw/`` folder when ``path`` is in torchvision's layout, else None.

    Args:
        path: a torchvision root, its ``MNIST/`` (...) folder, or that folder's ``raw/``.

    Raises:
        DataError: a root holding several of the datasets (which one is meant is unclear).
    """
    known = _by_folder()
    if path.name.lower() == "raw" and path.parent.name.lower() in known:
        return known[path.parent.name.lower()], path
    if path.name.lower() in known and (path / "raw").is_dir():
        return known[path.name.lower()], path / "raw"
    if not path.is_dir():
        return None
    found = sorted(
        (p.name, known[p.name.lower()], p / "raw")
        for p in path.iterdir()
        if p.name.lower() in known and (p / "raw").is_dir()
    )
    if len(found) > 1:
        names = ", ".join(name for name, _, _ in found)
        raise bad_file(
            path,
            f"a torchvision root holding several datasets ({names})",
            f"pass the one to use, e.g. {path / found[0][0]}",
        )
    return (found[0][1], found[0][2]) if found else None


def find_files(path: Path) -> tuple[Path, ...] | None:
    """The four IDX files of the torchvision dataset at ``path``, or None when it is not one.

    Raises:
        DataError: the ``raw/`` folder lacks some of the four files.
    """
    hit = find_torchvision(path)
    if hit is None:
        return None
    entry, raw = hit
    files = find_idx_files(raw)
    if files is None:
        raise bad_file(
            raw,
            f"none of the four {entry.title} IDX files (train-images-idx3-ubyte[.gz], ...)",
            f"let torchvision download them again ({entry.torchvision}(root, download=True)), "
            "or copy the four files there",
        )
    return files
