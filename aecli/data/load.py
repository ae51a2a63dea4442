"""Loading: a name or path -> located -> downloaded if need be -> read and split.

:func:`load_dataset` is what commands call; :func:`read_source` reads what
:func:`~aecli.data.sources.locate` found; :func:`download` fills the cache. All three report
one-line notices through ``report`` (default: stderr) and progress through ``progress``
(``True``: rich bars on a terminal, ``False``: none, or any
:data:`~aecli.data.types.ProgressFn`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from aecli.data.cache import cache_dir, sha256_file, store_decoded
from aecli.data.fetch import ContentCheck, DownloadError, download_set
from aecli.data.formats import READERS
from aecli.data.formats.images import read_image_archive
from aecli.data.orient import check_mode, orient_splits
from aecli.data.registry import REGISTRY, DatasetEntry, RemoteFile
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
from aecli.data.verify import check_content, has_content_pins
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
    unreachable = False
    if src.origin == "download":
        src, unreachable = _download_or_default(REGISTRY[src.name], offline, notices, report, bars)
    else:
        for line in notices:
            report(line)
    splits = read_source(src, report, bars, invert=invert)
    closing = _closing_notice(name, src, splits)
    if unreachable:  # with no network, one line: nothing could be had, and what is used
        closing = "offline: no mirror reachable, using " + closing.split(": using ", 1)[1]
    report(closing)
    if src.also:
        report(f"{splits.name}: also present, not used: {', '.join(src.also)}")
    return splits


def _download_or_default(
    entry: DatasetEntry, offline: bool, notices: list[str], report: Report, bars: ProgressFn
) -> tuple[Source, bool]:
    """Download ``entry`` into the cache, or fall back on its embedded default.

    Returns:
        The source to read, and whether no mirror could be reached (then the notices of the
        places looked at are dropped: the caller's one line says it all).

    Raises:
        DataError: downloads are off and the entry has no default, or the download failed
            and it has none.
    """
    assert entry.folder is not None
    if is_offline(offline):  # only an entry without an embedded default gets here
        raise DataError(
            f"{entry.name} is not local and downloads are off (--offline or "
            f"{ENV_OFFLINE}=1): run `aecli data download {entry.name}` once online, or pass "
            f"--data-dir with a {entry.folder}/ folder holding its four IDX files"
        )
    held: list[str] = []
    try:
        check = content_check(entry.name, held.append, bars)
        download_set(entry.folder, entry.downloads, held.append, bars, check)
    except DownloadError as e:
        if entry.default is None:
            raise
        if e.offline:
            return embedded_source(entry), True
        for line in [*notices, *held, f"{entry.name}: {e}"]:
            report(line)
        return embedded_source(entry), False
    for line in [*notices, *held]:
        report(line)
    found = find_in(entry, cache_dir(), "download", f"downloaded into {cache_dir()}")
    assert found is not None
    return found, False


def content_check(dataset: str, report: Report, progress: ProgressFn) -> ContentCheck:
    """The check of a staged download that has no published checksum (notMNIST archives).

    It decodes the staged archive (nothing is extracted) and compares its image count, its
    per-class counts and, where pinned, the sha256 of its decoded images and labels; the
    decoded set is cached only once it has passed, so a refused download leaves nothing.

    Raises (from the check):
        DataError: a content mismatch.
    """

    def check(path: Path, rf: RemoteFile) -> str:
        if rf.sha256 or rf.md5:
            return ""  # pooch compared the published checksum
        if not has_content_pins(rf):
            return ""  # nothing to check: the size alone, said as such, never "verified"
        started = time.perf_counter()
        dec = read_image_archive(path, progress=progress)
        checked = check_content(dec, rf, path, dataset)
        store_decoded(path, sha256_file(path), dec, report, time.perf_counter() - started)
        return checked

    return check


def _downloaded_notice(name: str, files: Sequence[RemoteFile], splits: DatasetSplits) -> str:
    """What a download was checked against: "verified" only where a checksum of the bytes or
    of the decoded content was compared, never for counts or a size alone."""
    full = all(rf.sha256 or rf.md5 or rf.content_sha256 for rf in files)
    against = "; ".join(dict.fromkeys(rf.verified_by or "its size only" for rf in files))
    verb = "verified" if full else "checked"
    return f"{name}: downloaded and {verb} against {against}: {_counts_text(splits.counts())}"


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
    dest = download_set(entry.folder, files, report, bars, content_check(entry.name, report, bars))
    src = find_in(entry, cache_dir(), "cache", f"cache {cache_dir()}", large=large)
    assert src is not None
    splits = read_source(src, report, bars)
    report(_downloaded_notice(entry.name, files, splits))
    return _result(entry, "downloaded", str(dest), splits)
