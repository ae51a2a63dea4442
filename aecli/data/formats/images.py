"""PNG image sets: tar archives and folders of class folders (``A/*.png`` ... ``J/*.png``).

Both are decoded into memory, never extracted: links, devices, absolute paths and ``..`` are
ignored (and counted). Zero-byte and undecodable PNGs are skipped and listed; a PNG of another
size than 28x28 is an error naming it. A decoded set is cached (see :mod:`aecli.data.cache`), so
only the first load of an archive pays for the decoding.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import re
import tarfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

import aecli.data.formats.limits as limits
import aecli.data.formats.tarbound as tarbound
from aecli.data.bounded import bomb_errors, open_regular, pil_image, read_capped
from aecli.data.cache import check_recorded_sha256, decode_once, sha256_file
from aecli.data.splits import flat_to_splits
from aecli.data.types import (
    IMAGE_SHAPE,
    DatasetSplits,
    Decoded,
    ProgressFn,
    ReadContext,
    Source,
    bad_file,
    no_progress,
)
from aecli.data.verify import check_content, pinned_for
from aecli.errors import DataError

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Archives from this size on show a bar while their checksum is computed (notMNIST_large: ~1 s).
_HASH_BAR_BYTES = 50e6

# (class name, name relative to the set, name used in errors, PNG bytes)
Item = tuple[str, str, str, bytes]


def _png_size(data: bytes) -> tuple[int, int] | None:
    """Width and height that a PNG's IHDR chunk declares, or None when it is not PNG data."""
    if len(data) < 24 or data[:8] != _PNG_SIGNATURE or data[12:16] != b"IHDR":
        return None
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def _decode_png(data: bytes, where: str) -> np.ndarray | None:
    """Decode one 28x28 PNG to uint8; None for unreadable data (zero bytes, not an image).

    A readable image of the wrong size is an error, not a skip: it means the whole set is not
    what it claims to be. The size is read from the IHDR chunk before Pillow sees the data, and
    Pillow's own bomb checks (its pixel limit set by :func:`~aecli.data.bounded.pil_image`) are
    errors too.
    """
    if not data:
        return None
    declared = _png_size(data)
    if declared is not None and declared != IMAGE_SHAPE:
        raise bad_file(
            where,
            f"image is {declared[0]:,}x{declared[1]:,} pixels, expected 28x28",
            "remove that file or resize it to 28x28",
        )
    Image = pil_image()
    from PIL import UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            # Checked from the header, before decoding (for data that is not PNG, too).
            if im.size != IMAGE_SHAPE:
                raise bad_file(
                    where,
                    f"image is {im.size[0]:,}x{im.size[1]:,} pixels, expected 28x28",
                    "remove that file or resize it to 28x28",
                )
            if im.mode != "L":
                im = im.convert("L")
            return np.asarray(im, dtype=np.uint8)
    except DataError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise bad_file(where, "image is far larger than 28x28", "remove that file") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        return None


def _empty_set_error(
    where: Path, what: str, skipped: Sequence[str], ignored: Sequence[str]
) -> DataError:
    if skipped:
        problem = f"no readable PNG image ({len(skipped)} unreadable files)"
        fix = "replace it with a good copy"
    else:
        problem = "empty: no PNG files in class folders"
        if ignored:
            problem += f" ({len(ignored)} other entries ignored, e.g. {ignored[0]})"
        fix = f"the {what} must hold one folder per class (A/, B/, ...) of 28x28 PNG files"
    return bad_file(where, problem, fix)


def _assemble(items: Iterable[Item], where: Path, *, what: str, ignored: Sequence[str]) -> Decoded:
    """Decode the PNG items of an ``archive`` or ``folder`` into a sorted flat image set."""
    # Pixels are kept as 784-byte strings (about half the overhead of small arrays): for
    # notMNIST_large that is the difference between ~0.45 and ~0.9 GB while decoding.
    decoded: list[tuple[str, str, bytes]] = []
    skipped: list[str] = []
    with bomb_errors():
        for cls, rel, label, data in items:
            image = _decode_png(data, label)
            if image is not None:
                decoded.append((cls, rel, image.tobytes()))
                continue
            skipped.append(rel)
            if len(skipped) > limits.MAX_UNREADABLE:
                raise bad_file(
                    where,
                    f"more than {limits.MAX_UNREADABLE:,} unreadable PNG files (e.g. {rel})",
                    "replace it with a good copy",
                )
    if not decoded:
        raise _empty_set_error(where, what, skipped, ignored)
    # Sorted by class, then by name: the same order whatever the archive or file system order.
    decoded.sort(key=lambda t: (t[0], t[1]))
    class_names = tuple(sorted({c for c, _, _ in decoded}))
    index = {c: i for i, c in enumerate(class_names)}
    images = np.frombuffer(b"".join(im for _, _, im in decoded), np.uint8).reshape(-1, 28, 28)
    labels = np.array([index[c] for c, _, _ in decoded], dtype=np.int64)
    names = np.array([f"{c}/{PurePosixPath(r).name}" for c, r, _ in decoded])
    return Decoded(images, labels, class_names, names, tuple(sorted(skipped)), tuple(ignored))


class _CountingReader(io.RawIOBase):
    """A read-only file wrapper that reports how many bytes were read (for progress bars)."""

    def __init__(self, f: Any, on_bytes: Callable[[int], None]) -> None:
        self._f = f
        self._on_bytes = on_bytes

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        n = self._f.readinto(b)
        if n:
            self._on_bytes(n)
        return n


def _ignore(ignored: list[str], name: str, where: Path) -> None:
    """Note an entry that is not a PNG in a class folder; too many of them is an error."""
    ignored.append(name[:200])
    if len(ignored) > limits.MAX_TAR_IGNORED:
        raise bad_file(
            where,
            f"more than {limits.MAX_TAR_IGNORED:,} entries that are not PNG files in class "
            f"folders (e.g. {ignored[0]})",
            "the set must hold one folder per class (A/, B/, ...) of 28x28 PNG files",
        )


def _tar_members(tar: tarfile.TarFile, path: Path, ignored: list[str]) -> Iterator[Item]:
    """The PNG members of class folders, read into memory; every other member goes to ignored.

    :func:`~aecli.data.formats.tarbound.members` has checked each header against the caps.
    """
    for member in tarbound.members(tar, path):
        name = member.name
        parts = PurePosixPath(name).parts
        if not member.isfile():
            if not member.isdir():
                _ignore(ignored, name, path)  # symlink, hard link, device, FIFO
            continue
        if name.startswith(("/", "\\")) or ".." in parts or re.match(r"^[A-Za-z]:", name):
            _ignore(ignored, name, path)
            continue
        if not name.lower().endswith(".png") or len(parts) < 2:
            _ignore(ignored, name, path)
            continue
        if member.size > limits.MAX_PNG_BYTES:
            raise bad_file(
                f"{path}: {name}",
                f"{member.size:,} bytes, far too large for a 28x28 PNG",
                "remove that member from the archive",
            )
        f = tar.extractfile(member)
        data = f.read(limits.MAX_PNG_BYTES + 1) if f is not None else b""
        yield parts[-2], name, f"{path}: {name}", data


def read_image_archive(path: str | Path, *, progress: ProgressFn = no_progress) -> Decoded:
    """Decode a notMNIST-style tar archive straight from the archive (nothing is extracted).

    Members are read into memory only. Links, devices, FIFOs, absolute paths and paths with
    ``..`` are ignored (and counted); so are files that are not ``.png`` or not inside a class
    folder. Zero-byte and undecodable PNGs are skipped and listed; a PNG that decodes to a size
    other than 28x28 is an error naming it.

    Args:
        path: ``.tar``, ``.tar.gz``, ``.tgz`` (any compression tarfile knows).
        progress: reports the bytes of the archive read so far.

    Returns:
        The decoded set, sorted by class then file name, class names from the folder names.
    """
    path = Path(path)
    ignored: list[str] = []
    try:
        with (
            open_regular(path) as raw,
            progress(f"decoding {path.name}", path.stat().st_size) as advance,
        ):
            stream = io.BufferedReader(_CountingReader(raw, advance), 1 << 16)
            # Stream mode ("r|*"): one pass, no seeking. Members are only ever read into memory
            # and decoded as they come, never extracted, so a hostile member name cannot write
            # anywhere.
            with tarfile.open(fileobj=stream, mode="r|*", tarinfo=tarbound.BoundedTarInfo) as tar:
                members = _tar_members(tar, path, ignored)
                return _assemble(members, path, what="archive", ignored=ignored)
    except DataError:
        raise
    except tarbound.TarLimitError as e:
        raise tarbound.as_data_error(e, path) from None
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, OSError) as e:
        if isinstance(e, OSError) and not isinstance(e, gzip.BadGzipFile) and e.filename:
            raise  # a real I/O error (permission, disk): the CLI reports it with the file name
        raise bad_file(
            path,
            f"not a readable tar archive, or truncated ({type(e).__name__}: {e})",
            "download it again or replace it with a good copy",
        ) from None


def _folder_entries(folder: Path, ignored: list[str]) -> list[tuple[str, str, Path]]:
    """(class, relative name, path) of every PNG in a class folder; the rest goes to ignored."""
    entries: list[tuple[str, str, Path]] = []
    for class_dir in sorted(folder.iterdir()):
        if class_dir.name.startswith("."):
            continue
        if class_dir.is_symlink() or not class_dir.is_dir():
            _ignore(ignored, class_dir.name, folder)
            continue
        with os.scandir(class_dir) as it:
            for entry in it:
                rel = f"{class_dir.name}/{entry.name}"
                if entry.is_symlink() or not entry.is_file() or entry.name.startswith("."):
                    _ignore(ignored, rel, folder)
                elif entry.name.lower().endswith(".png"):
                    entries.append((class_dir.name, rel, Path(entry.path)))
                    if len(entries) > limits.MAX_IMAGES:
                        raise bad_file(
                            folder, f"more than {limits.MAX_IMAGES:,} images", "use a subset"
                        )
                else:
                    _ignore(ignored, rel, folder)
    return entries


def read_image_folder(path: str | Path) -> Decoded:
    """Decode a folder of class folders of 28x28 PNG files (``A/*.png`` ... ``J/*.png``).

    Symbolic links and hidden entries are ignored; zero-byte and undecodable PNGs are skipped
    and listed; a PNG of another size is an error naming it.
    """
    folder = Path(path)
    ignored: list[str] = []
    entries = _folder_entries(folder, ignored)

    def items() -> Iterator[Item]:
        for cls, rel, p in entries:
            yield cls, rel, str(folder / rel), read_capped(p, limits.MAX_PNG_BYTES, "a 28x28 PNG")

    return _assemble(items(), folder, what="folder", ignored=ignored)


def folder_fingerprint(folder: Path) -> str:
    """Cheap identity of a folder of PNGs: names, sizes and modification times of its files."""
    h = hashlib.sha256()
    for class_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        for entry in sorted(os.scandir(class_dir), key=lambda e: e.name):
            st = entry.stat(follow_symlinks=False)
            h.update(f"{class_dir.name}/{entry.name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _image_set_splits(src: Source, dec: Decoded, ctx: ReadContext) -> DatasetSplits:
    """Checks and notices shared by archives and folders, then the stratified split."""
    assert src.path is not None
    if src.origin == "cache":
        check_recorded_sha256(src.path, dec.sha256)
    skipped = f" ({len(dec.skipped)} unreadable files skipped)" if dec.skipped else ""
    desc = f"{src.path}{ctx.where}: {len(dec.images):,} images{skipped}"
    if dec.skipped:
        shown = ", ".join(dec.skipped[:3]) + (", ..." if len(dec.skipped) > 3 else "")
        ctx.report(
            f"{src.name}: skipped {len(dec.skipped)} unreadable PNG file"
            f"{'s' * (len(dec.skipped) > 1)} (zero bytes or not decodable) in "
            f"{src.path.name}: {shown}"
        )
    # A registry dataset's classes are fixed (A..J): its folders must be exactly those.
    if src.class_names is not None and dec.class_names != src.class_names:
        raise bad_file(
            src.path,
            f"class folders are {', '.join(dec.class_names)}, expected "
            f"{', '.join(src.class_names)}",
            "use the original notMNIST archive, or a folder with one folder per letter",
        )
    # A registry copy (data directory, cache) is checked against what is pinned for it.
    rf = pinned_for(src.path, src.pinned, (".tar.gz", ".tgz", ".tar"))
    checked = check_content(dec, rf, src.path, src.name) if src.class_names else ""
    if checked:
        desc += f"; {checked}"
    return flat_to_splits(src, dec, desc)


def read_archive_source(src: Source, ctx: ReadContext) -> DatasetSplits:
    """Read a tar archive found by the locator (decoded once, then from the cache) and split it."""
    path = src.path
    assert path is not None
    size = path.stat().st_size
    bar = ctx.progress if size > _HASH_BAR_BYTES else no_progress
    with bar(f"checking {path.name}", size) as advance:
        key = sha256_file(path, on_bytes=advance)
    dec = decode_once(
        path, key, lambda: read_image_archive(path, progress=ctx.progress), ctx.report
    )
    dec.sha256 = key
    return _image_set_splits(src, dec, ctx)


def read_folder_source(src: Source, ctx: ReadContext) -> DatasetSplits:
    """Read a folder of class folders found by the locator (decoded once) and split it."""
    path = src.path
    assert path is not None
    dec = decode_once(path, folder_fingerprint(path), lambda: read_image_folder(path), ctx.report)
    return _image_set_splits(src, dec, ctx)
