"""Bounded reads: every file a reader opens is a regular file, and nothing is read unbounded.

``open_regular`` refuses a FIFO, a device (``/dev/zero``) or a folder at once, before a byte is
read (``O_NONBLOCK`` keeps opening a FIFO from waiting for a writer). ``read_capped`` reads a
whole small file only after its size is checked against a cap. ``read_exactly`` fills a buffer
of a size decided beforehand from a stream (a gzip stream, a tar member) in chunks and checks
that the stream holds exactly that many bytes. ``zip_members`` checks the sizes a zip archive
declares in its central directory before any member is inflated.
"""

from __future__ import annotations

import math
import os
import stat
import warnings
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from aecli.data.types import bad_file

CHUNK = 1 << 20
"""Bytes read per call from a stream (1 MiB): memory in flight stays small."""

EXTRA_COUNTED = 64 << 20
"""Bytes past a header's promise that are counted (and dropped) to say how much a file holds:
a bomb's surplus is inflated only this far."""

DEFLATE_MAX_RATIO = 1032
"""The most deflate can inflate one byte into (its longest match code): a bound that no real
gzip or zip member can pass, so a claim beyond it is refused before anything is inflated."""


def open_regular(path: str | Path) -> BinaryIO:
    """Open ``path`` for reading in binary mode, refusing anything but a regular file.

    Raises:
        DataError: a FIFO, a socket, a device or a folder (checked on the open descriptor).
        OSError: the file cannot be opened (missing, permission): callers report it as is.
    """
    path = Path(path)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file (a FIFO or device)"
            raise bad_file(path, kind, "pass a regular file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def file_size(f: BinaryIO) -> int:
    """The size of an open regular file, from its descriptor."""
    return os.fstat(f.fileno()).st_size


def read_capped(path: str | Path, cap: int, what: str) -> bytes:
    """The whole of a regular file of at most ``cap`` bytes, checked before it is read.

    Args:
        path: the file.
        cap: the largest size accepted.
        what: what the file should be, for the error (``a gzip CSV``).

    Raises:
        DataError: not a regular file, or larger than ``cap`` (also when it grows while read).
    """
    with open_regular(path) as f:
        size = file_size(f)
        if size > cap:
            raise bad_file(
                path,
                f"{size:,} bytes, more than the {cap:,} that {what} may have",
                "pass the right file",
            )
        data = f.read(cap + 1)
    if len(data) > cap:
        raise bad_file(path, f"grew past {cap:,} bytes while being read", "pass a stable file")
    return data


def read_exactly(
    stream: Any, n: int, path: str | Path, claim: str, *, fix: str, on_chunk: Any = None
) -> bytearray:
    """Exactly ``n`` bytes of ``stream``, read a chunk at a time; the stream must then end.

    The buffer is the size a header promised (already checked against a cap); a stream that
    ends early is refused, and so is one with bytes left over, after counting at most
    :data:`EXTRA_COUNTED` more of them (a bomb behind a small header is never inflated in full).

    Args:
        stream: anything with ``readinto`` (a gzip stream, a file, a tar member).
        n: the bytes promised.
        path: named in errors.
        claim: what the header promised, for the errors (``the header says 10 x 28 x 28 =
            7,840 bytes of images``).
        fix: the fix named in errors.
        on_chunk: called with each chunk (a memoryview), e.g. to hash it.

    Raises:
        DataError: fewer or more than ``n`` bytes.
    """
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = stream.readinto(view[got : min(n, got + CHUNK)])
        if not k:
            raise bad_file(path, f"{claim} but the file holds {got:,}", fix)
        if on_chunk is not None:
            on_chunk(view[got : got + k])
        got += k
    scratch = bytearray(min(CHUNK, EXTRA_COUNTED))
    extra = 0
    while extra <= EXTRA_COUNTED and (k := stream.readinto(scratch)):
        extra += k
    if extra > EXTRA_COUNTED:
        raise bad_file(path, f"{claim} but the file holds more than {n + EXTRA_COUNTED:,}", fix)
    if extra:
        raise bad_file(path, f"{claim} but the file holds {n + extra:,}", fix)
    return buf


def zip_members(z: zipfile.ZipFile, path: str | Path, cap: int) -> dict[str, zipfile.ZipInfo]:
    """The members of an archive by name, after checking the sizes its directory declares.

    A deflated member's declared size must be one deflate can produce from its compressed size, and
    all of them together at most ``cap`` bytes, before anything is inflated. (zipfile itself
    stops a member at its declared size, so a lying directory cannot inflate more.)

    Raises:
        DataError: a member claims more than ``cap``, or more than its compressed bytes can hold.
    """
    total = 0
    members: dict[str, zipfile.ZipInfo] = {}
    for info in z.infolist():
        if info.compress_type == zipfile.ZIP_DEFLATED:
            most = info.compress_size * DEFLATE_MAX_RATIO + CHUNK
            if info.file_size > most:
                raise bad_file(
                    path,
                    f"member {info.filename!r} claims {info.file_size:,} bytes from "
                    f"{info.compress_size:,} compressed bytes (impossible)",
                    "the archive is damaged or hostile; save it again with numpy.savez",
                )
        total += info.file_size
        if total > cap:
            raise bad_file(
                path,
                f"its members claim more than {cap:,} bytes (member {info.filename!r}: "
                f"{info.file_size:,})",
                "use a smaller archive, or a subset of the images",
            )
        members[info.filename] = info
    return members


def pil_image() -> Any:
    """``PIL.Image``, with its decompression-bomb limit set to aecli's own pixel cap.

    Pillow warns above ``MAX_IMAGE_PIXELS`` and refuses above twice that; aecli sets it
    deliberately (:data:`~aecli.data.formats.limits.MAX_SOURCE_PIXELS`) rather than rely on
    Pillow's default, and :func:`bomb_errors` turns the warning into an error.
    """
    from PIL import Image

    from aecli.data.formats.limits import MAX_SOURCE_PIXELS

    Image.MAX_IMAGE_PIXELS = MAX_SOURCE_PIXELS
    return Image


@contextmanager
def bomb_errors() -> Iterator[None]:
    """Pillow's DecompressionBombWarning raised as an error (callers turn it into one line).

    Warning filters are process-wide: a pool of decoding threads sets this once around the
    pool, not per thread.
    """
    image = pil_image()
    with warnings.catch_warnings():
        warnings.simplefilter("error", image.DecompressionBombWarning)
        yield


def npy_header(
    z: zipfile.ZipFile, info: zipfile.ZipInfo, path: str | Path, fix: str
) -> tuple[tuple[int, ...], Any]:
    """Shape and dtype of one ``.npy`` member, from its header alone (nothing else inflated).

    The header must agree with the archive's own record of the member's size, so that a lying
    shape cannot make numpy allocate more than the member holds.

    Raises:
        DataError: not a numpy array, or a shape that the member's size contradicts.
    """
    import zlib

    import numpy as np

    key = info.filename.removesuffix(".npy")
    try:
        with z.open(info) as f:
            version = np.lib.format.read_magic(f)
            read = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape, _, dtype = read(f)
            header = f.tell()
    except (ValueError, zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
        raise bad_file(path, f"'{key}' is not a readable numpy array ({e})", fix) from None
    declared = header + math.prod(shape) * dtype.itemsize
    if not dtype.hasobject and declared != info.file_size:
        raise bad_file(
            path,
            f"'{key}' claims shape {tuple(shape)} ({declared:,} bytes) but holds "
            f"{info.file_size:,} bytes",
            "the file is damaged; save it again",
        )
    return tuple(shape), dtype
