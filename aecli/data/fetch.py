"""Downloads: pooch, staged and verified, all or nothing.

Every file of a set is fetched into a hidden staging folder of the cache, trying each mirror in
turn until one delivers the right size and checksum (the published sha256, else the published
md5); only when all of them have arrived are they
moved into ``<cache>/<folder>/``, where the locator finds them. A failed or mismatching
download never reaches that folder, and staging folders are removed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from aecli.data.cache import cache_dir, record_sha256, sha256_file
from aecli.data.registry import RemoteFile
from aecli.data.types import ProgressFn, Report
from aecli.errors import DataError


class DownloadError(DataError):
    """No mirror delivered a verified copy of a file (network down, server error, bad bytes)."""


class _PoochBar:
    """The tqdm-like object pooch's HTTPDownloader drives (``total``, update, reset, close)."""

    def __init__(self, advance: Callable[[int], None], size: int | None) -> None:
        self._advance = advance
        self._done = 0
        self.total = size

    def update(self, n: int) -> None:  # noqa: D102
        # pooch counts whole chunks (the last one overshoots) and ends with reset() +
        # update(total): clamp so the bar never passes the size.
        n = max(0, min(n, (self.total or 0) - self._done))
        self._done += n
        self._advance(n)

    def reset(self) -> None:  # noqa: D102
        pass

    def close(self) -> None:  # noqa: D102
        pass


def http_downloader(progressbar: Any) -> Any:
    """The pooch downloader every file is fetched with, driving ``progressbar``.

    Tests replace this function with a local fake, so that they never touch the network while
    pooch's own hash check and temporary-file handling still run for real.
    """
    import pooch

    # Chunks of 64 KiB keep the bar smooth without a Python call per KiB; the timeout keeps a
    # blackholed network from hanging the command: no byte for 30 s fails that mirror.
    return pooch.HTTPDownloader(progressbar=progressbar, chunk_size=1 << 16, timeout=30)


def known_hash(rf: RemoteFile) -> str | None:
    """pooch's ``known_hash`` of a file: its sha256, else its md5, else None (size only)."""
    if rf.sha256:
        return f"sha256:{rf.sha256}"
    return f"md5:{rf.md5}" if rf.md5 else None


def size_text(files: Sequence[RemoteFile]) -> str:
    """``12.3 MB``, or ``size not published`` when a file's size is unknown."""
    if any(f.size is None for f in files):
        return "size not published"
    return f"{sum(f.size or 0 for f in files) / 1e6:.1f} MB"


def _fetch(url: str, folder: Path, rf: RemoteFile, progress: ProgressFn) -> Path:
    """Download ``url`` to ``folder/rf.name`` with pooch, checking the published checksum.

    pooch streams into a temporary file in ``folder`` and only renames it to the file's name
    when the hash matches, deleting it otherwise.
    """
    import logging

    import pooch

    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel(logging.WARNING)  # our own notices say what is downloaded, once
    try:
        with progress(rf.name, rf.size) as advance:
            bar = _PoochBar(advance, rf.size)
            return Path(
                pooch.retrieve(
                    url,
                    known_hash=known_hash(rf),
                    fname=rf.name,
                    path=folder,
                    downloader=http_downloader(bar),
                )
            )
    finally:
        logger.setLevel(level)


def _short_error(e: BaseException) -> str:
    text = " ".join(str(e).split())
    if len(text) > 120:
        text = text[:117] + "..."
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def _fetch_verified(rf: RemoteFile, staging: Path, report: Report, progress: ProgressFn) -> Path:
    """Try each mirror until one yields a file of the right size and hash, in ``staging``."""
    from urllib.parse import urlparse

    errors: list[str] = []
    for url in rf.urls:
        host = urlparse(url).netloc
        target = staging / rf.name
        target.unlink(missing_ok=True)
        try:
            path = _fetch(url, staging, rf, progress)
            size = path.stat().st_size
            if rf.size is not None and size != rf.size:
                raise ValueError(f"got {size:,} bytes, expected {rf.size:,}")
            return path
        except Exception as e:  # any failure of one mirror: try the next
            target.unlink(missing_ok=True)
            errors.append(f"{host}: {_short_error(e)}")
            report(f"download of {rf.name} from {host} failed ({_short_error(e)})")
    raise DownloadError(
        f"could not download {rf.name} from any mirror ({'; '.join(errors)}): check the network "
        "connection, or put the file in a folder and pass it with --data-dir"
    )


def _clean_stale_staging(cache: Path) -> None:
    """Remove staging folders left by killed downloads (older than a day)."""
    cutoff = time.time() - 86_400
    for p in cache.glob(".download-*"):
        try:
            if p.is_dir() and p.stat().st_mtime < cutoff:
                shutil.rmtree(p, ignore_errors=True)
        except OSError:
            pass


def download_set(
    folder_name: str, files: Sequence[RemoteFile], report: Report, progress: ProgressFn
) -> Path:
    """Download every file into a staging folder, verify, then move all of them into the cache.

    Args:
        folder_name: the dataset's folder in the cache.
        files: what to fetch.
        report: receives the notices (what is downloaded from where, failed mirrors).
        progress: a bar per file.

    Returns:
        ``<cache>/<folder_name>``.

    Raises:
        DownloadError: some file could not be had from any mirror; nothing was moved.
    """
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    _clean_stale_staging(cache)
    hosts = sorted({u.split("/")[2] for f in files for u in f.urls[:1]})
    report(
        f"downloading {len(files)} file{'s' * (len(files) > 1)} ({size_text(files)}) into "
        f"{cache / folder_name} from {', '.join(hosts)}"
    )
    staging = Path(tempfile.mkdtemp(prefix=".download-", dir=cache))
    try:
        for rf in files:
            _fetch_verified(rf, staging, report, progress)
        dest = cache / folder_name
        dest.mkdir(parents=True, exist_ok=True)
        for rf in files:
            staged = staging / rf.name
            if rf.sha256 is None and rf.md5 is None:
                # No published hash: record the one of this first download so that later uses
                # can tell if the cached copy changed.
                sha = sha256_file(staged)
                record_sha256(dest / rf.name, sha)
                report(f"{rf.name}: {rf.size:,} bytes as expected; sha256 {sha} recorded")
            os.replace(staged, dest / rf.name)
        return dest
    finally:
        shutil.rmtree(staging, ignore_errors=True)
