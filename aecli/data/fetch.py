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
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aecli.data.cache import cache_dir, record_sha256, sha256_file
from aecli.data.registry import RemoteFile
from aecli.data.types import ProgressFn, Report
from aecli.errors import DataError


class DownloadError(DataError):
    """No mirror delivered a verified copy of a file (network down, server error, bad bytes).

    ``offline`` is True when no mirror could be reached at all (nothing was refused).
    """

    def __init__(self, message: str, *, offline: bool = False) -> None:
        super().__init__(message)
        self.offline = offline


ContentCheck = Callable[[Path, RemoteFile], str]
"""``check(staged_file, remote_file)`` verifies a downloaded file's content before it is
trusted (decodes it, compares counts and hashes); returns what was checked, raises if wrong."""


def no_content_check(path: Path, rf: RemoteFile) -> str:
    """The :data:`ContentCheck` of files whose published checksum pooch has already checked."""
    del path, rf
    return ""


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
    if isinstance(e, DataError):
        # A content check's "STAGED_PATH: problem: fix": the problem is what matters here.
        parts = text.split(": ")
        return (parts[1] if len(parts) > 2 else text)[:200]
    if len(text) > 120:
        text = text[:117] + "..."
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def unreachable(e: BaseException) -> bool:
    """True when ``e`` says the host could not be reached at all (no network, DNS, timeout),
    as opposed to a mirror that answered with an error or with bad bytes."""
    try:
        import requests

        if isinstance(e, (requests.exceptions.ConnectionError, requests.exceptions.Timeout)):
            return True
    except ImportError:  # pragma: no cover - pooch depends on requests
        pass
    import socket

    return isinstance(e, (socket.gaierror, socket.timeout, ConnectionError, TimeoutError))


def _fetch_verified(
    rf: RemoteFile, staging: Path, report: _Announcer, progress: ProgressFn, check: ContentCheck
) -> Path:
    """Try each mirror until one yields a file of the right size, hash and content, in
    ``staging``. A mirror that cannot be reached at all is reported only once some mirror
    answers: when none does, the one error line says so."""
    from urllib.parse import urlparse

    errors: list[str] = []
    down: list[str] = []  # failure notices of unreachable mirrors, held back
    for url in rf.urls:
        host = urlparse(url).netloc
        target = staging / rf.name
        target.unlink(missing_ok=True)
        try:
            path = _fetch(url, staging, rf, progress)
        except Exception as e:  # any failure of one mirror: try the next
            target.unlink(missing_ok=True)
            if unreachable(e):
                down.append(f"download of {rf.name} from {host} failed ({_short_error(e)})")
                continue
            path = None
            failure: Exception = e
        else:
            failure = _check_fetched(path, rf, check)
        report.answered()
        for line in down:
            report(line)
        down.clear()
        if failure is None:
            return path
        target.unlink(missing_ok=True)
        errors.append(f"{host}: {_short_error(failure)}")
        report(f"download of {rf.name} from {host} failed ({_short_error(failure)})")
    hosts = [urlparse(u).netloc for u in rf.urls]
    if not errors:
        raise DownloadError(
            f"offline: no mirror reachable: could not download {rf.name} from any mirror "
            f"({', '.join(hosts)}): check the network connection, or put the file in a folder "
            "and pass it with --data-dir",
            offline=True,
        )
    raise DownloadError(
        f"could not download {rf.name} from any mirror ({'; '.join(errors)}): check the "
        "network connection, or put the file in a folder and pass it with --data-dir"
    )


def _check_fetched(path: Path, rf: RemoteFile, check: ContentCheck) -> Exception | None:
    """The size and content check of one fetched file: None when it passes, else the failure."""
    try:
        size = path.stat().st_size
        if rf.size is not None and size != rf.size:
            raise ValueError(f"got {size:,} bytes, expected {rf.size:,}")
        check(path, rf)
    except Exception as e:  # a bad copy: the caller tries the next mirror
        return e
    return None


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
    folder_name: str,
    files: Sequence[RemoteFile],
    report: Report,
    progress: ProgressFn,
    check: ContentCheck = no_content_check,
) -> Path:
    """Download every file into a staging folder, verify, then move all of them into the cache.

    A file with a published checksum is verified by it (pooch); one without (notMNIST) is
    verified by ``check``, which decodes the staged copy and compares it with what is pinned.
    Its sha256 is recorded as trusted only after that, and a size alone is never called a
    verification.

    Args:
        folder_name: the dataset's folder in the cache.
        files: what to fetch.
        report: receives the notices (what is downloaded from where, failed mirrors).
        progress: a bar per file.
        check: the content check of files without a published checksum.

    Returns:
        ``<cache>/<folder_name>``.

    Raises:
        DownloadError: some file could not be had from any mirror; nothing was moved or
            recorded.
    """
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    _clean_stale_staging(cache)
    hosts = sorted({u.split("/")[2] for f in files for u in f.urls[:1]})
    say = _Announcer(
        report,
        f"downloading {len(files)} file{'s' * (len(files) > 1)} ({size_text(files)}) into "
        f"{cache / folder_name} from {', '.join(hosts)}",
    )
    staging = Path(tempfile.mkdtemp(prefix=".download-", dir=cache))
    try:
        for rf in files:
            try:
                _fetch_verified(rf, staging, say, say.progress(progress), check)
            except DownloadError as e:
                if e.offline and say.heard:  # other files came: the network is up
                    message = str(e).removeprefix("offline: no mirror reachable: ")
                    raise DownloadError(message) from None
                raise
        return _commit(staging, cache / folder_name, files, say)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _commit(staging: Path, dest: Path, files: Sequence[RemoteFile], say: _Announcer) -> Path:
    """Move every verified file from ``staging`` into ``dest``; record the sha256 of those
    whose content was checked (no published hash), and say which were checked by size only."""
    dest.mkdir(parents=True, exist_ok=True)
    checked: dict[str, str] = {}
    for rf in files:
        staged = staging / rf.name
        if rf.sha256 is None and rf.md5 is None and rf.verified_by:
            # No published hash: the content was checked; record the sha256 of this copy so
            # that later uses can tell if the cached file changed.
            checked[rf.name] = sha = sha256_file(staged)
            record_sha256(dest / rf.name, sha)
        elif not rf.verified_by:
            say(
                f"{rf.name}: {rf.size or 0:,} bytes as expected, size only (nothing is pinned "
                "to check it against, so nothing is recorded as trusted)"
            )
        os.replace(staged, dest / rf.name)
    for name, sha in checked.items():
        say(f"{name}: content checked against {_by(files, name)}; sha256 {sha} recorded")
    return dest


def _by(files: Sequence[RemoteFile], name: str) -> str:
    return next(f.verified_by for f in files if f.name == name)


class _Announcer:
    """The report of a download, which says what is downloaded once a mirror answers.

    With no network no mirror ever answers, and the one error line says it all.
    """

    def __init__(self, report: Report, line: str) -> None:
        self._report = report
        self._line: str | None = line

    @property
    def heard(self) -> bool:
        """Whether any mirror has answered yet."""
        return self._line is None

    def answered(self) -> None:
        """A mirror answered (bytes arrived, or an error from the server): say the line once."""
        if self._line is not None:
            line, self._line = self._line, None
            self._report(line)

    def __call__(self, message: str) -> None:
        self.answered()
        self._report(message)

    def progress(self, progress: ProgressFn) -> ProgressFn:
        """``progress``, noting the first bytes that arrive as an answer."""

        @contextmanager
        def bar(description: str, total: int | None) -> Iterator[Callable[[int], None]]:
            with progress(description, total) as advance:

                def step(n: int) -> None:
                    if n:
                        self.answered()
                    advance(n)

                yield step

        return bar
