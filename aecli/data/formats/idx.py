"""IDX: the MNIST file format, one file at a time or as the set of four files.

An IDX file (gzip-compressed or not) is a big-endian header (magic ``0x0000080N`` for N
dimensions, then N sizes) followed by the bytes. An MNIST-format set is four such files named
as MNIST names them (also decompressed, also with the ``.idx`` names stored inside the original
gzip headers). Registry copies are checked against the published checksums.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, NamedTuple

import numpy as np

from aecli.atomic import atomic_write_bytes
from aecli.data.bounded import DEFLATE_MAX_RATIO, file_size, open_regular, read_exactly
from aecli.data.formats.checks import check_labels
from aecli.data.formats.limits import MAX_IMAGES
from aecli.data.registry import DIGITS, MNIST_FILES, REGISTRY
from aecli.data.splits import head_split, make_splits
from aecli.data.types import IMAGE_SHAPE, DatasetSplits, ReadContext, Source, bad_file

if TYPE_CHECKING:
    from aecli.data.registry import RemoteFile

# The four files of a set: training images and labels, then test images and labels.
SET_NAMES = tuple(rf.name for rf in MNIST_FILES)

# Headers promising up to this many bytes are read without checking what the compressed bytes
# can hold (a truncated download is then reported as such).
_SMALL = 64 << 20
_REPLACE = "the file is truncated or its header is wrong; replace it with the original"


class _Parsed(NamedTuple):
    """One IDX file read: its array and the sha256 of its decompressed content."""

    array: np.ndarray
    content_sha256: str


def _stream(f: BinaryIO, path: Path) -> tuple[BinaryIO, int | None]:
    """The IDX byte stream of an open file (gunzipped when it is gzip data), and the most
    bytes that stream can hold (None when not compressed: the file size is exact)."""
    magic = f.read(2)
    f.seek(0)
    if magic == b"\x1f\x8b":
        # Deflate cannot expand a byte into more than DEFLATE_MAX_RATIO: a header promising
        # more than that is refused before anything is inflated.
        return gzip.GzipFile(fileobj=f), file_size(f) * DEFLATE_MAX_RATIO  # type: ignore[return-value]
    if path.suffix == ".gz":
        raise bad_file(
            path,
            "not gzip data although the name ends in .gz",
            "replace it with the original file, or drop the .gz suffix if it is a decompressed "
            "IDX file",
        )
    return f, None


def _read_header(stream: BinaryIO, path: Path, ndim: int) -> tuple[bytes, tuple[int, ...]]:
    """The IDX header (magic, then ``ndim`` sizes), checked against the caps."""
    kind = {1: "labels", 3: "images"}.get(ndim, f"{ndim}-D")
    want = 0x0800 | ndim
    head = stream.read(4)
    if len(head) < 4:
        raise bad_file(
            path,
            f"only {len(head)} bytes, too short for an IDX header",
            "replace it with the original file",
        )
    magic = int.from_bytes(head, "big")
    if magic != want:
        raise bad_file(
            path,
            f"wrong IDX magic number 0x{magic:08X}, expected 0x{want:08X} (MNIST {kind})",
            f"this is not an MNIST {kind} file; replace it with the original",
        )
    sizes = stream.read(4 * ndim)
    if len(sizes) < 4 * ndim:
        raise bad_file(path, "truncated IDX header", "replace it with the original file")
    dims = struct.unpack(f">{ndim}I", sizes)
    if ndim == 3 and tuple(dims[1:]) != IMAGE_SHAPE:
        raise bad_file(
            path,
            f"images are {dims[1]:,}x{dims[2]:,} pixels, expected 28x28",
            "use MNIST-format files of 28x28 images",
        )
    if dims[0] > MAX_IMAGES:
        raise bad_file(
            path,
            f"the header claims {dims[0]:,} {kind}, more than aecli reads ({MAX_IMAGES:,})",
            _REPLACE,
        )
    return head + sizes, dims


def _parse_idx(path: Path, ndim: int) -> _Parsed:
    """Decode one IDX file (gzip or not) as a stream: the header first, then exactly the bytes
    it promises, never more (see :func:`~aecli.data.bounded.read_exactly`)."""
    kind = {1: "labels", 3: "images"}.get(ndim, f"{ndim}-D")
    with open_regular(path) as f:
        stream, most = _stream(f, path)
        try:
            header, dims = _read_header(stream, path, ndim)
            n_bytes = math.prod(dims)
            shape = " x ".join(f"{d:,}" for d in dims)
            claim = f"the header says {shape} = {n_bytes:,} bytes of {kind}"
            have = file_size(f) - len(header) if most is None else None
            if have is not None and have != n_bytes:
                raise bad_file(path, f"{claim} but the file holds {have:,}", _REPLACE)
            if most is not None and n_bytes > max(most, _SMALL):
                raise bad_file(
                    path,
                    f"{claim}, more than {file_size(f):,} compressed bytes can hold",
                    _REPLACE,
                )
            digest = hashlib.sha256(header)
            data = read_exactly(stream, n_bytes, path, claim, fix=_REPLACE, on_chunk=digest.update)
        except EOFError:
            raise bad_file(
                path,
                "truncated gzip data (the file ends before the end of the compressed stream)",
                "the download was probably cut short; delete the file and download it again",
            ) from None
        except (gzip.BadGzipFile, zlib.error) as e:
            raise bad_file(
                path,
                f"corrupt gzip data ({e})",
                "delete the file and download it again, or replace it with the original",
            ) from None
    array = np.frombuffer(data, np.uint8).reshape(dims)
    array.flags.writeable = False
    return _Parsed(array, digest.hexdigest())


def read_idx(path: str | Path, *, ndim: int | None = None) -> np.ndarray:
    """Read one IDX file (gzip-compressed or not) of unsigned bytes.

    Checks the magic number (``0x00000803`` images, ``0x00000801`` labels), that the header's
    dimensions match the byte count exactly, and that images are 28x28.

    Args:
        path: the ``.gz`` or decompressed IDX file.
        ndim: expected number of dimensions (3 for images, 1 for labels); default from the name
            (``idx3`` / ``idx1``).

    Returns:
        A read-only uint8 array.

    Raises:
        DataError: truncated or corrupt gzip, wrong magic, header/byte-count mismatch.
    """
    path = Path(path)
    if ndim is None:
        ndim = 1 if "idx1" in path.name else 3
    return _parse_idx(path, ndim).array


def write_idx(path: str | Path, array: np.ndarray, *, compress: bool | None = None) -> Path:
    """Write a uint8 array as an IDX file (gzip when the name ends in ``.gz``), atomically.

    Args:
        path: destination.
        array: uint8 array, e.g. images (n, 28, 28) or labels (n,).
        compress: gzip the file; default: when ``path`` ends in ``.gz``.

    Returns:
        The destination path.
    """
    path = Path(path)
    a = np.ascontiguousarray(array, dtype=np.uint8)
    raw = struct.pack(f">I{a.ndim}I", 0x0800 | a.ndim, *a.shape) + a.tobytes()
    if compress if compress is not None else path.suffix == ".gz":
        raw = gzip.compress(raw, compresslevel=6, mtime=0)
    return atomic_write_bytes(path, raw)


def find_idx_files(folder: Path) -> tuple[Path, ...] | None:
    """The four files of an MNIST-format set in ``folder``, in :data:`SET_NAMES` order.

    Each is found under its ``.gz`` name, decompressed, or with the names stored inside the
    original ``.gz`` headers (``gunzip -N`` restores them: ``train-images.idx3-ubyte``, ...).

    Returns:
        The four paths, or ``None`` when the folder holds none of them.

    Raises:
        DataError: some but not all of the four are there.
    """
    found: dict[str, Path] = {}
    for name in SET_NAMES:
        raw = name.removesuffix(".gz")
        dotted = raw.replace("-idx", ".idx")
        for candidate in (folder / n for n in (name, raw, f"{dotted}.gz", dotted)):
            # Anything there but a folder counts: the reader then refuses a FIFO or a device
            # by name, rather than calling it missing.
            if candidate.exists() and not candidate.is_dir():
                found[name] = candidate
                break
    if not found:
        return None
    missing = [name for name in SET_NAMES if name not in found]
    if missing:
        raise bad_file(
            folder / missing[0],
            f"missing file (found {len(found)} of the 4 MNIST files in {folder}; also missing: "
            f"{', '.join(missing[1:]) or 'nothing else'})",
            "add the missing file(s) (.gz or decompressed), or delete the folder and run "
            "`aecli data download mnist`",
        )
    return tuple(found[name] for name in SET_NAMES)


def _file_digests(path: Path) -> tuple[str, str, bool]:
    """The sha256 and md5 of a file as it is (read in chunks), and whether it is gzip data."""
    sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    with open_regular(path) as f:
        first = f.read(2)
        sha.update(first)
        md5.update(first)
        while chunk := f.read(1 << 20):
            sha.update(chunk)
            md5.update(chunk)
    return sha.hexdigest(), md5.hexdigest(), first == b"\x1f\x8b"


def _verify(
    paths: Sequence[Path], content: Sequence[str], pinned: Sequence[RemoteFile], dataset: str
) -> None:
    """Each file must match its published checksum: the sha256 of its bytes or of its content,
    or, where only an md5 is published (of the ``.gz`` as served), the md5 of its bytes."""
    by_name = dict(zip(SET_NAMES, zip(paths, content, strict=True), strict=True))
    fix = (
        f"the file is damaged or not the original {dataset}; delete it and run "
        f"`aecli data download {dataset}`, or use it as is by passing its folder as the "
        "dataset path"
    )
    for rf in pinned:
        path, content_sha = by_name[rf.name]
        file_sha, file_md5, gzipped = _file_digests(path)
        if rf.sha256 is None and rf.md5 is not None:
            if file_md5 == rf.md5:
                continue
            if not gzipped:
                raise bad_file(
                    path,
                    f"a decompressed copy cannot be checked: only the md5 of {rf.name} as served "
                    "is published",
                    f"keep the original {rf.name} in that folder, or pass the folder as the "
                    "dataset path to use the files as they are",
                )
            raise bad_file(
                path, f"checksum mismatch (md5 {file_md5}, expected {rf.md5} for {rf.name})", fix
            )
        if file_sha == rf.sha256:
            continue
        if content_sha != rf.content_sha256:
            raise bad_file(
                path,
                f"checksum mismatch (sha256 of the content {content_sha[:16]}..., expected "
                f"{(rf.content_sha256 or '')[:16]}... for the canonical {rf.name})",
                fix,
            )


def read_idx_set(
    paths: Sequence[Path], *, pinned: Sequence[RemoteFile] = (), dataset: str = "mnist"
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Read the four files of an MNIST-format set.

    Args:
        paths: the files in :data:`SET_NAMES` order (as :func:`find_idx_files` returns them).
        pinned: registry files whose published checksums the files must match; empty: none.
        dataset: the registry name the pinned files belong to (named in a mismatch's fix).

    Returns:
        Training images and labels, test images and labels.

    Raises:
        DataError: a bad file, labels out of 0-9, image and label counts that differ, or a
            checksum mismatch.
    """
    arrays: list[np.ndarray] = []
    content: list[str] = []
    for name, path in zip(SET_NAMES, paths, strict=True):
        labels = "idx1" in name
        parsed = _parse_idx(path, 1 if labels else 3)
        if labels:
            check_labels(parsed.array, path, len(DIGITS))
        arrays.append(parsed.array)
        content.append(parsed.content_sha256)
    for images_at in (0, 2):
        images, labels = arrays[images_at], arrays[images_at + 1]
        if len(images) != len(labels):
            raise bad_file(
                paths[images_at + 1],
                f"{len(labels):,} labels but {paths[images_at].name} holds {len(images):,} images",
                "use the matching pair of files",
            )
    if pinned:
        _verify(paths, content, pinned, dataset)
    train_x, train_y, test_x, test_y = arrays
    return train_x, train_y, test_x, test_y


def read_source(src: Source, ctx: ReadContext) -> DatasetSplits:
    """Read an IDX set found by the locator and split it with :func:`head_split`."""
    train_x, train_y, test_x, test_y = read_idx_set(src.files, pinned=src.pinned, dataset=src.name)
    parts, rule = head_split((train_x, train_y), (test_x, test_y))
    kind = "sha256" if all(rf.sha256 for rf in src.pinned) else "md5"
    verified = f", {kind} verified" if src.pinned else ""
    title = REGISTRY[src.name].title if src.name in REGISTRY else "MNIST"
    desc = f"{title}, 4 IDX files in {src.path}{ctx.where}{verified}"
    return make_splits(src, parts, src.class_names or DIGITS, desc, files=src.files, rule=rule)
