"""Atomic file writes: a temporary file in the same folder, fsync, then ``os.replace``.

Used for every result aecli writes (checkpoints, figures, metrics, codes), so a crash, a kill
or a full disk in the middle of a write leaves the previous file as it was and no partial
file behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

# mkstemp creates 0600 files; results should get the usual permissions (0666 minus umask).
_umask = os.umask(0)
os.umask(_umask)
FILE_MODE = 0o666 & ~_umask


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
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


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
            p.unlink()
            removed.append(p)
        except FileNotFoundError:
            pass
    return removed
