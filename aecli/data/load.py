"""Loading: a name or path -> located -> downloaded if need be -> read and split.

:func:`load_dataset` is what commands call; :func:`read_source` reads what
:func:`~aecli.data.sources.locate` found; :func:`download` fills the cache. All three report
one-line notices through ``report`` (default: stderr) and progress through ``progress``
(``True``: rich bars on a terminal, ``False``: none, or any
:data:`~aecli.data.types.ProgressFn`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from aecli.data.cache import cache_dir
from aecli.data.fetch import DownloadError, download_set
from aecli.data.formats import READERS
from aecli.data.orient import check_mode, orient_splits
from aecli.data.registry import REGISTRY, DatasetEntry
from aecli.data.sources import (
    ENV_OFFLINE,
    embedded_source,
    explicit_data_dir,
    find_in,
    generated,
    is_offline,
    locate,
)
from aecli.data.types import (
    SPLITS,
    DatasetSplits,
    ProgressFn,
    ReadContext,
    Report,
    Source,
    no_progress,
)
from aecli.errors import DataError


def _stderr_report(message: str) -> None:
    import sys

    print(message, file=sys.stderr, flush=True)


def _progress_fn(progress: bool | ProgressFn) -> ProgressFn:
    """``True``: rich bars on a terminal (imported only then); ``False``: none; else as given."""
    if callable(progress):
        return progress
    if not progress:
        return no_progress
    from aecli.progress import rich_progress

    return rich_progress


def _counts_text(counts: Mapping[str, int]) -> str:
    return " / ".join(f"{counts[s]:,} {s}" for s in SPLITS if s in counts)


def read_source(
    src: Source,
    report: Report | None = None,
    progress: bool | ProgressFn = True,
    *,
    invert: str = "auto",
) -> DatasetSplits:
    """Read and split what :func:`locate` found (no lookups, no downloads).

    Args:
        src: a source from :func:`locate` whose origin is not ``download``.
        report: one-line notices (first decode, skipped files); default stderr.
        progress: progress bars for long reads: ``True`` rich bars on a terminal, ``False``
            none, or a :data:`~aecli.data.types.ProgressFn`.
        invert: ``auto`` (dark ink on light is inverted), ``yes`` or ``no``; see
            :mod:`aecli.data.orient`.

    Raises:
        DataError: the source is a download not made yet, or a file is bad.
    """
    report = _stderr_report if report is None else report
    if src.kind == "download":
        raise DataError(f"{src.name} is not local yet: run `aecli data download {src.name}`")
    where = (
        f" ({src.where})"
        if src.where and src.origin not in ("path", "embedded", "generated")
        else ""
    )
    context = ReadContext(report, _progress_fn(progress), where, check_mode(invert))
    reader = READERS[src.kind]
    splits = reader.read(src, context)
    return splits if reader.orients else orient_splits(splits, invert, report)


def _closing_notice(name: str | os.PathLike, src: Source, splits: DatasetSplits) -> str:
    """The line that says, every time, which data is used (for a default: naming it)."""
    requested, instead, hint = splits.name, "", ""
    if src.origin == "embedded":
        entry = REGISTRY[os.fspath(name).strip().lower()]
        requested = entry.name
        instead = f" instead of {entry.title}" if entry.name != splits.name else ""
        hint = f"; {entry.default_hint} run `aecli data download {entry.name}` or pass --data-dir"
    counts = _counts_text(splits.counts())
    return f"{requested}: using {splits.source}{instead}; {counts}{hint}"


def load_dataset(
    name: str | os.PathLike,
    data_dir: str | os.PathLike | None = None,
    offline: bool = False,
    report: Report | None = None,
    *,
    progress: bool | ProgressFn = True,
    invert: str = "auto",
) -> DatasetSplits:
    """Load a dataset by name or path and split it into train / validation / test.

    Args:
        name: ``mnist``, ``fashion-mnist``, ``kmnist``, ``notmnist``, ``letters`` (``letters:N``:
            N images per letter), or a path to a dataset file or folder (formats:
            :mod:`aecli.data.formats.detect`).
        data_dir: explicit data directory (else ``$AECLI_DATA_DIR``), looked at first.
        offline: never download (also ``$AECLI_OFFLINE=1``).
        report: receives one-line notices (source used, places passed over, fallbacks, skipped
            files); default: print them on stderr. Pass ``lambda s: None`` to silence.
        progress: progress bars for downloads and first decodes: ``True`` rich bars (terminals
            only), ``False`` none, or a :data:`~aecli.data.types.ProgressFn`.
        invert: ``auto`` (dark ink on a light background is inverted), ``yes`` or ``no``.

    Returns:
        The three splits; see :class:`DatasetSplits`.

    Raises:
        DataError: a present file is bad (message names the file and the fix), unknown name,
            missing path. SecurityError (a DataError) for a pickle that would run code.
    """
    report = _stderr_report if report is None else report
    bars = _progress_fn(progress)
    check_mode(invert)
    src, notices = locate(name, data_dir, offline)
    for line in notices:
        report(line)
    if src.origin == "download":
        entry = REGISTRY[src.name]
        assert entry.folder is not None
        if is_offline(offline):  # only an entry without an embedded default gets here
            raise DataError(
                f"{entry.name} is not local and downloads are off (--offline or "
                f"{ENV_OFFLINE}=1): run `aecli data download {entry.name}` once online, or pass "
                f"--data-dir with a {entry.folder}/ folder holding its four IDX files"
            )
        try:
            download_set(entry.folder, entry.downloads, report, bars)
            found = find_in(entry, cache_dir(), "download", f"downloaded into {cache_dir()}")
            assert found is not None
            src = found
        except DownloadError as e:
            if entry.default is None:
                raise
            report(f"{entry.name}: {e}")
            src = embedded_source(entry)
    splits = read_source(src, report, bars, invert=invert)
    report(_closing_notice(name, src, splits))
    if src.also:
        report(f"{splits.name}: also present, not used: {', '.join(src.also)}")
    return splits


def _result(entry: DatasetEntry, action: str, path: Any, splits: DatasetSplits) -> dict[str, Any]:
    return {"name": entry.name, "action": action, "path": path, "dataset": splits.summary()}


def _already_there(
    entry: DatasetEntry,
    data_dir: str | os.PathLike | None,
    large: bool,
    report: Report,
    progress: ProgressFn,
) -> dict[str, Any] | None:
    """The local copy (data directory, then cache) that satisfies a download, read and checked.

    A bad file in the data directory is an error; a bad cached copy is reported and None
    returned, so that a fresh download replaces it.
    """
    explicit, label = explicit_data_dir(data_dir)
    places = ([("data-dir", explicit, f"{label} {explicit}")] if explicit else []) + [
        ("cache", cache_dir(), f"cache {cache_dir()}")
    ]
    for origin, base, where in places:
        src = find_in(entry, base, origin, where, large=large)
        if src is None:
            continue
        try:
            splits = read_source(src, report, progress)
        except DataError as e:
            if origin != "cache":
                raise
            report(f"{entry.name}: the cached copy is bad ({e}); downloading a fresh one")
            return None
        report(f"{entry.name}: already satisfied by {src.path} ({where}); nothing downloaded")
        return _result(entry, "present", str(src.path), splits)
    return None


def _downloadable(name: str) -> DatasetEntry:
    """The registry entry that ``name`` names, if it has files to download; else a DataError."""
    entry = REGISTRY.get(name.strip().lower())
    if entry is None or entry.folder is None:
        names = ", ".join(e.name for e in REGISTRY.values() if e.downloads)
        raise DataError(f"unknown dataset {name!r}: download takes {names}")
    return entry


def download(
    name: str,
    data_dir: str | os.PathLike | None = None,
    offline: bool = False,
    report: Report | None = None,
    *,
    large: bool = False,
    progress: bool | ProgressFn = True,
) -> dict[str, Any]:
    """Fetch a dataset into the cache, or say which local files already satisfy it.

    Local copies (data directory, then cache) are loaded and verified first; a cached copy that
    fails verification is replaced by a fresh download, a bad file in the data directory is an
    error naming it.

    Args:
        name: ``mnist``, ``fashion-mnist``, ``kmnist`` or ``notmnist`` (``letters`` is
            generated: nothing to fetch).
        data_dir: explicit data directory (else ``$AECLI_DATA_DIR``).
        offline: refuse to download (also ``$AECLI_OFFLINE=1``).
        report: one-line notices; default stderr.
        large: for ``notmnist``, fetch notMNIST_large (247 MB) instead of notMNIST_small.
        progress: ``True`` rich progress bars on a terminal, ``False`` none, or a ProgressFn.

    Returns:
        ``{"name", "action": "present"|"downloaded"|"generated", "path", "dataset": summary}``.

    Raises:
        DownloadError: no mirror delivered a verified copy. DataError: offline, unknown name,
            or a bad file in the data directory.
    """
    report = _stderr_report if report is None else report
    bars = _progress_fn(progress)
    key = name.strip().lower()
    made = generated(key)
    if made is not None:
        entry = made[0]
        assert entry.default is not None
        report(f"{entry.name}: {entry.default.note}; nothing to download")
        splits = load_dataset(key, data_dir, True, report, progress=bars)
        return _result(entry, "generated", None, splits)
    entry = _downloadable(name)
    if large and not entry.large_downloads:
        raise DataError(f"{entry.name} has no large variant: leave out --large")
    present = _already_there(entry, data_dir, large, report, bars)
    if present is not None:
        return present
    if is_offline(offline):
        raise DataError(
            f"cannot download {entry.name} while offline: drop --offline (and unset "
            f"{ENV_OFFLINE}), or copy the files into a folder and pass --data-dir"
        )
    files = entry.large_downloads if large else entry.downloads
    dest = download_set(entry.folder, files, report, bars)
    src = find_in(entry, cache_dir(), "cache", f"cache {cache_dir()}", large=large)
    assert src is not None
    splits = read_source(src, report, bars)
    report(f"{entry.name}: downloaded and verified: {_counts_text(splits.counts())}")
    return _result(entry, "downloaded", str(dest), splits)
