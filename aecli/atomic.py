"""Atomic file writes: a temporary file in the same folder, fsync, then ``os.replace``.

Used for every result aecli writes (checkpoints, figures, metrics, codes), so a crash, a kill
or a full disk in the middle of a write leaves the previous file as it was and no partial
file behind. Only a regular file (or nothing) is ever replaced: a device such as
``/dev/null``, a FIFO, a socket, a folder or a symbolic link at the destination is refused
before anything is written (``check_target``). Temporary files are created with
``O_EXCL | O_NOFOLLOW``, so a planted link or file is never written through. Outputs that
belong together are written with ``write_together``: all or none of them are replaced.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import BinaryIO

from aecli.errors import OutputError

# Results get the usual permissions (0666 minus umask), as any file the user creates.
_umask = os.umask(0)
os.umask(_umask)
FILE_MODE = 0o666 & ~_umask

_KINDS = (
    (stat.S_ISLNK, "a symbolic link"),
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
)


def check_target(path: str | Path) -> Path:
    """Raise unless ``path`` is a regular file or absent, below a folder (or creatable one).

    Args:
        path: where a result is about to be written.

    Returns:
        ``path`` as a ``Path``.

    Raises:
        OutputError: ``path`` is a device, FIFO, socket, folder or symbolic link, or the
            nearest existing folder above it is not a folder.
    """
    path = Path(path)
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        kind = next((word for test, word in _KINDS if test(mode)), "not a regular file")
        raise OutputError(
            f"{path} is {kind}: aecli only replaces regular files; "
            "move it out of the way, or write somewhere else"
        )
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(f"{parent} is not a folder: cannot write {path} below it")
    return path


def _create_temp(path: Path) -> tuple[int, Path]:
    """A new temporary file beside ``path``: exclusive, never through a link."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    while True:
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
        try:
            fd = os.open(tmp, flags, FILE_MODE)
        except FileExistsError:
            continue
        os.fchmod(fd, FILE_MODE)  # the mode passed to open is reduced by the umask alone
        return fd, tmp


def _fsync_folder(folder: Path) -> None:
    try:  # make the rename itself durable
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


@contextlib.contextmanager
def _staged(path: Path) -> Iterator[tuple[BinaryIO, Path]]:
    """A fsynced temporary file for ``path`` (removed if the block raises); yields it open."""
    check_target(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_temp(path)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f, tmp
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _commit(staged: list[tuple[Path, Path]]) -> None:
    """Rename every temporary over its destination, after checking them all once more."""
    try:
        for _, path in staged:
            check_target(path)  # a node may have appeared since the temporary was made
        for tmp, path in staged:
            os.replace(tmp, path)
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
    for folder in {path.parent for _, path in staged}:
        _fsync_folder(folder)


@contextlib.contextmanager
def atomic_open(path: str | Path) -> Iterator[BinaryIO]:
    """Open ``path`` for binary writing so readers see the old file or the new one, never a mix.

    Writes go to a temporary file in the same folder, which is fsynced and renamed over
    ``path`` when the block ends without an exception (and removed when it raises), so large
    outputs can be streamed without holding them in memory.

    Args:
        path: destination; its folder is created if needed.

    Yields:
        A binary file object.

    Raises:
        OutputError: ``path`` is not a regular file or absent (see ``check_target``).
    """
    path = Path(path)
    with _staged(path) as (f, tmp):
        yield f
    _commit([(tmp, path)])


def write_together(outputs: Mapping[Path, bytes]) -> list[Path]:
    """Write several files that belong together: all are replaced, or none is.

    Every temporary file is written and fsynced first; only then are they renamed. A failure
    while writing (a full disk, a refused path) removes every temporary and leaves all the
    destinations as they were.

    Args:
        outputs: destination -> content.

    Returns:
        The destinations, in order.
    """
    paths = [Path(p) for p in outputs]
    for p in paths:
        check_target(p)
    staged: list[tuple[Path, Path]] = []
    try:
        for p, data in zip(paths, outputs.values(), strict=True):
            with _staged(p) as (f, tmp):
                f.write(data)
            staged.append((tmp, p))
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    _commit(staged)
    return paths


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see ``atomic_open``); return the path."""
    with atomic_open(path) as f:
        f.write(data)
    return Path(path)


def atomic_write_text(path: str | Path, text: str) -> Path:
    """``atomic_write_bytes`` for UTF-8 text."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def remove_stale_temps(folder: str | Path) -> list[Path]:
    """Delete temporary files that a killed writer left in ``folder``; return what was removed.

    Only call this while holding the folder's lock: a live writer's temporary file looks the
    same as a dead one's.
    """
    removed = []
    for p in Path(folder).glob(".*.tmp"):
        try:
            if stat.S_ISREG(p.lstat().st_mode):
                p.unlink()
                removed.append(p)
        except FileNotFoundError:
            pass
    return removed
