"""Where a dataset comes from: data directory -> cache -> download -> embedded default.

:func:`locate` decides, without decoding or downloading anything, and returns the notices that
say which places were looked at and passed over. A name of the registry is looked for

1. in an explicit data directory (``data_dir=`` / ``--data-dir``, else ``$AECLI_DATA_DIR``)
   holding ``mnist/``, ``notmnist/`` (...) folders laid out as in ``shared/data``;
2. in the user cache (:func:`~aecli.data.cache.cache_dir`), same layout;
3. as a download into that cache, unless offline (``offline=True`` / ``$AECLI_OFFLINE=1``);
4. as the entry's embedded default. An entry without one (``fashion-mnist``, ``kmnist``) stays
   a download when offline, which the loader refuses with an error saying how to get it.

Inside a dataset folder the entry's ``local`` names are tried in order, each with its format's
finder. A generated dataset (``letters``, ``letters:N``) and a path to a file or folder
(:mod:`~aecli.data.formats.detect`) are sources of their own.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from aecli.data.cache import cache_dir
from aecli.data.formats import READERS
from aecli.data.formats.detect import path_source
from aecli.data.registry import REGISTRY, DatasetEntry
from aecli.data.types import Source, bad_file
from aecli.errors import DataError

ENV_DATA_DIR = "AECLI_DATA_DIR"
ENV_OFFLINE = "AECLI_OFFLINE"

# What makes a name look like a path rather than a misspelt dataset name.
_PATH_SUFFIXES = (".npz", ".pickle", ".pkl", ".tar", ".tgz", ".gz", ".png", ".csv")


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def is_offline(offline: bool = False) -> bool:
    """True when downloads are off: ``offline=True`` or ``$AECLI_OFFLINE`` set to 1/true/yes."""
    return bool(offline) or _truthy(os.environ.get(ENV_OFFLINE))


def explicit_data_dir(data_dir: str | os.PathLike | None) -> tuple[Path | None, str]:
    """The data directory asked for (``data_dir``, else ``$AECLI_DATA_DIR``) and its label.

    Returns:
        ``(path, "--data-dir" | "AECLI_DATA_DIR")``, or ``(None, "")`` when none is set.

    Raises:
        DataError: it does not exist, or is a file.
    """
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


def _candidates(
    entry: DatasetEntry, folder: Path, large: bool
) -> list[tuple[Path, str, tuple[Path, ...]]]:
    """Every usable ``(path, format, files)`` of the entry's local names in ``folder``, in order."""
    found: list[tuple[Path, str, tuple[Path, ...]]] = []
    seen: set[Path] = set()
    for local in entry.local:
        if large and not local.large:
            continue
        find = READERS[local.format].find
        assert find is not None
        if "*" in local.name:
            hits = [(p, find(p)) for p in sorted(folder.glob(local.name)) if p not in seen]
            matches = [(p, local.format, files) for p, files in hits if files is not None]
            if len(matches) > 1 and not found:
                raise bad_file(
                    folder,
                    f"several {local.name.removeprefix('*')} files "
                    f"({', '.join(p.name for p, _, _ in matches)}) and no {entry.title} archive",
                    "keep one, or pass the one to use as the dataset path",
                )
            found += matches
            continue
        path = folder / local.name
        if path in seen:
            continue
        files = find(path)
        if files is not None:
            found.append((path, local.format, files))
        seen.add(path)
    return found


def find_in(
    entry: DatasetEntry, base: Path, origin: str, where: str, *, large: bool = False
) -> Source | None:
    """The first of the entry's local names present in ``base/<folder>``, as a source.

    Args:
        entry: a registry entry with a folder.
        base: a data directory or the cache.
        origin: the source's origin (``data-dir``, ``cache``, ``download``).
        where: human label of the place.
        large: only the names of the large variant.

    Returns:
        The source (other usable candidates in ``also``), or None when there is nothing.
    """
    assert entry.folder is not None
    folder = base / entry.folder
    if not folder.is_dir():
        return None
    found = _candidates(entry, folder, large)
    if not found:
        return None
    (path, kind, files), others = found[0], tuple(p.name for p, _, _ in found[1:])
    return Source(
        entry.name,
        origin,
        kind,
        path,
        files,
        where,
        also=others,
        class_names=entry.class_names,
        pinned=entry.large_downloads if large else entry.downloads,
    )


def generated(key: str) -> tuple[DatasetEntry, int] | None:
    """The generated entry that ``key`` names (``NAME`` or ``NAME:N``), and N images per class.

    Raises:
        DataError: N outside the bounds the entry accepts.
    """
    for entry in REGISTRY.values():
        if entry.folder is not None or entry.default is None:
            continue
        m = re.fullmatch(rf"{re.escape(entry.name)}(?::(\d+))?", key.strip().lower())
        if not m:
            continue
        made = entry.default
        n = int(m.group(1)) if m.group(1) else made.per_class
        lo, hi = made.per_class_bounds
        if not lo <= n <= hi:
            raise DataError(
                f"{entry.name}:{n}: the number of images per {made.unit} must be between {lo} "
                f"and {hi}, e.g. {entry.name}:500"
            )
        return entry, n
    return None


def embedded_source(
    entry: DatasetEntry, *, origin: str = "embedded", per_class: int | None = None
) -> Source:
    """The source of ``entry``'s embedded set: its fallback, or all of it when generated.

    Args:
        entry: a registry entry with a ``default``.
        origin: ``embedded`` (standing in for the entry) or ``generated`` (the entry itself).
        per_class: images per class of a generated set; default: the set's own.
    """
    made = entry.default
    assert made is not None
    return Source(
        made.name,
        origin,
        made.format,
        where="embedded default" if origin == "embedded" else "",
        per_class=made.per_class if per_class is None else per_class,
        class_names=entry.class_names,
    )


def _not_a_dataset(text: str, key: str) -> Source:
    """A name that is not in the registry: a path, or an error listing the names."""
    looks_like_path = (
        os.sep in text or "/" in text or text.startswith(".") or key.endswith(_PATH_SUFFIXES)
    )
    if looks_like_path or Path(text).exists():
        return path_source(Path(text).expanduser())
    raise DataError(
        f"unknown dataset {text!r}: use {', '.join(REGISTRY)} (letters:N for N per letter) or "
        "a path to a .csv, .npz, .tar.gz, .pickle, or a folder"
    )


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
    made = generated(key)
    if made is not None:
        entry, per_class = made
        return embedded_source(entry, origin="generated", per_class=per_class), notices
    entry = REGISTRY.get(key)
    if entry is None:
        return _not_a_dataset(text, key), notices
    assert entry.folder is not None
    explicit, label = explicit_data_dir(data_dir)
    cache = cache_dir()
    places = [(explicit, "data-dir", label)] if explicit is not None else []
    looked: list[str] = []
    for base, origin, place in [*places, (cache, "cache", "cache")]:
        src = find_in(entry, base, origin, f"{place} {base}")
        if src is not None:
            return src, notices
        looked.append(f"{place} {base / entry.folder}")
    trail = f"{entry.name}: not found in " + " or ".join(looked)
    if is_offline(offline):
        notices.append(trail + "; offline, so not downloading")
        if entry.default is not None:
            return embedded_source(entry), notices
    else:
        notices.append(trail)
    target = cache / entry.folder
    files = tuple(target / f.name for f in entry.downloads)
    where = f"download into {target}"
    src = Source(
        entry.name, "download", "download", target, files, where, class_names=entry.class_names
    )
    return src, notices
