"""The user cache: where it is, decoded copies of image archives, checksums recorded at download.

``<cache>/mnist/`` and ``<cache>/notmnist/`` hold downloads, laid out as a data directory;
``<cache>/decoded/`` holds decoded image sets keyed by their source's checksum, outside the
dataset folders so that a decoded copy is never mistaken for a user's ``.npz``.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import BinaryIO

import numpy as np

from aecli.atomic import atomic_open, atomic_write_text
from aecli.data.bounded import open_regular, read_capped, zip_members
from aecli.data.types import IMAGE_SHAPE, Decoded, Report, bad_file

ENV_CACHE_DIR = "AECLI_CACHE_DIR"

_DECODED_FORMAT = 1  # bump when the decoded-cache layout changes
_SIDECAR_BYTES = 4096  # a recorded checksum: 64 hex digits, two spaces and a file name


def cache_dir() -> Path:
    """The user cache: ``$AECLI_CACHE_DIR`` if set, else platformdirs' user cache for aecli."""
    env = os.environ.get(ENV_CACHE_DIR)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("aecli"))


def sha256_file(path: Path, *, on_bytes: Callable[[int], None] | None = None) -> str:
    """The sha256 of a file, read in 1 MiB chunks; ``on_bytes(n)`` after each chunk."""
    h = hashlib.sha256()
    with open_regular(path) as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            if on_bytes:
                on_bytes(len(chunk))
    return h.hexdigest()


def _atomic_savez(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Write an uncompressed .npz next to ``path`` and rename it into place (never half-written).

    Uncompressed on purpose: this is a cache whose point is load speed (notMNIST_large decoded is
    415 MB and loads in a fraction of a second from the page cache).
    """
    with atomic_open(path) as f:
        np.savez(f, **arrays)


def _read_decoded(cached: Path) -> Decoded:
    # Our own file, but still bounded: the sizes in its zip directory are checked first.
    # (Imported here: importing the formats package at module level would import this one.)
    from aecli.data.formats.limits import MAX_ARCHIVE_BYTES

    with open_regular(cached) as f:
        with zipfile.ZipFile(f) as zf:
            zip_members(zf, cached, MAX_ARCHIVE_BYTES)
        f.seek(0)
        return _decoded_arrays(f)


def _decoded_arrays(f: BinaryIO) -> Decoded:
    with np.load(f, allow_pickle=False) as z:
        if int(z["format"]) != _DECODED_FORMAT:
            raise ValueError("old format")
        dec = Decoded(
            images=z["images"],
            labels=z["labels"].astype(np.int64),
            class_names=tuple(str(c) for c in z["class_names"]),
            filenames=z["filenames"],
            skipped=tuple(str(s) for s in z["skipped"]),
            from_cache=True,
            notes=tuple(str(s) for s in z["notes"]) if "notes" in z.files else (),
        )
    if dec.images.dtype == np.uint8 and dec.images.shape[1:] == IMAGE_SHAPE:
        return dec
    raise ValueError("bad arrays")


def _write_decoded(cached: Path, dec: Decoded) -> None:
    _atomic_savez(
        cached,
        {
            "format": np.array(_DECODED_FORMAT),
            "images": dec.images,
            "labels": dec.labels.astype(np.uint8 if len(dec.class_names) <= 256 else np.int64),
            "class_names": np.array(dec.class_names),
            "filenames": dec.filenames if dec.filenames is not None else np.array([], "U1"),
            "skipped": np.array(dec.skipped, dtype="U") if dec.skipped else np.array([], "U1"),
            "notes": np.array(dec.notes, dtype="U") if dec.notes else np.array([], "U1"),
        },
    )


def _decoded_path(path: Path, key: str) -> Path:
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", path.name)
    return cache_dir() / "decoded" / f"{stem}-{key[:20]}.npz"


def decode_once(path: Path, key: str, decode: Callable[[], Decoded], report: Report) -> Decoded:
    """Decode ``path`` once; later loads read the decoded arrays from the cache.

    Args:
        path: the archive or folder (its name is part of the cache file's name).
        key: identity of its content (an archive's sha256, a folder's listing), so a changed
            file is decoded again.
        decode: decodes ``path`` when there is no usable cached copy.
        report: receives the notices (first decode, a rebuilt or unwritable cache).

    Returns:
        The decoded set; ``from_cache`` says whether it came from the cache. A cache that cannot
        be written only costs time.
    """
    cached = _decoded_path(path, key)
    if cached.is_file():
        try:
            return _read_decoded(cached)
        except Exception as e:  # our own cache file: rebuild it rather than fail
            report(f"ignoring the unreadable decoded cache {cached} ({e}); decoding again")
            cached.unlink(missing_ok=True)
    started = time.perf_counter()
    report(f"decoding {path} (once; the decoded images are cached for later loads)")
    dec = decode()
    store_decoded(path, key, dec, report, time.perf_counter() - started)
    return dec


def store_decoded(path: Path, key: str, dec: Decoded, report: Report, seconds: float) -> None:
    """Cache a set decoded from ``path`` (identity ``key``), as :func:`decode_once` would.

    Used directly when a download is decoded to check its content before it is trusted: the
    set is cached only once it has passed.
    """
    cached = _decoded_path(path, key)
    try:
        _write_decoded(cached, dec)
        report(f"decoded {len(dec.images):,} images in {seconds:.1f} s; cached as {cached}")
    except OSError as e:
        report(
            f"could not cache the decoded images in {cached.parent} ({e.strerror or e}); "
            "the next load decodes again"
        )


def record_sha256(target: Path, sha: str) -> None:
    """Record ``sha`` as the sha256 of ``target`` in ``NAME.sha256`` next to it.

    For downloads with no published hash: later uses can then tell if the cached copy changed.
    """
    atomic_write_text(target.with_name(f"{target.name}.sha256"), f"{sha}  {target.name}\n")


def check_recorded_sha256(path: Path, sha: str | None) -> None:
    """Compare ``sha`` with the one recorded next to ``path`` at download, if any.

    Raises:
        DataError: they differ (the cached file changed since it was downloaded).
    """
    sidecar = path.with_name(path.name + ".sha256")
    if sha is None or not sidecar.is_file():
        return
    text = read_capped(sidecar, _SIDECAR_BYTES, "a checksum file").decode("utf-8", "replace")
    recorded = text.split()[:1]
    if recorded and recorded[0] != sha:
        raise bad_file(
            path,
            f"checksum mismatch: sha256 {sha[:16]}... differs from {recorded[0][:16]}... recorded "
            "when it was downloaded",
            f"delete it (and {sidecar.name}) and run `aecli data download notmnist`",
        )
