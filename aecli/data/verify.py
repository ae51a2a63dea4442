"""Content checks of registry image sets that publish no checksum (notMNIST).

A download's bytes can be padded to the right size, and a repacked archive has other bytes
than the original, so what is checked is the content once decoded: the number of images, the
number per class, and (where it is pinned) the sha256 of the decoded images and labels taken in
a fixed order (class, then file name) that does not depend on tar metadata.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from aecli.data.registry import RemoteFile
from aecli.data.types import Decoded, bad_file


def decoded_sha256(images: np.ndarray, labels: np.ndarray) -> str:
    """sha256 of the uint8 images (n, 28, 28), then the labels as uint8, in the order given.

    Readers sort an image set by class, then file name, so the digest is the set's own.
    """
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(images, dtype=np.uint8).tobytes())
    h.update(np.ascontiguousarray(labels).astype(np.uint8).tobytes())
    return h.hexdigest()


def pinned_for(path: Path, pinned: Sequence[RemoteFile], suffixes: Sequence[str]) -> RemoteFile:
    """The pinned file whose name, less an archive suffix, is ``path``'s name less ``suffixes``.

    ``notMNIST_small.npz`` is the decoded ``notMNIST_small.tar.gz``: the same content pins
    apply. Returns a pin-less stand-in when none matches (a user's own ``other.npz``).
    """
    stem = path.name
    for suffix in suffixes:
        stem = stem.removesuffix(suffix)
    for rf in pinned:
        if rf.name.removesuffix(".tar.gz") == stem:
            return rf
    return RemoteFile(path.name, None, None, ())


def has_content_pins(rf: RemoteFile) -> bool:
    """True when :func:`check_content` has anything to check for ``rf``."""
    return bool(rf.content_sha256 or rf.class_counts)


def check_content(dec: Decoded, rf: RemoteFile, where: Path | str, dataset: str) -> str:
    """Check a decoded set against the counts and content hash pinned for ``rf``.

    Args:
        dec: the decoded set (sorted by class, then file name).
        rf: the registry file it should be.
        where: the file, for errors.
        dataset: the registry name, for the fix.

    Returns:
        What was checked, for a notice (empty when nothing is pinned).

    Raises:
        DataError: other image or per-class counts, or another content hash.
    """
    if not has_content_pins(rf):
        return ""
    fix = (
        f"it is not the original {rf.name} (damaged, truncated or altered); delete it and run "
        f"`aecli data download {dataset}`, or pass it as a dataset path to use it as it is"
    )
    counts = tuple(np.bincount(dec.labels, minlength=len(dec.class_names)).tolist())
    if rf.class_counts is not None:
        want = sum(rf.class_counts)
        if len(dec.images) != want or counts != rf.class_counts:
            got = ", ".join(f"{c} {n:,}" for c, n in zip(dec.class_names, counts, strict=False))
            raise bad_file(
                where,
                f"{len(dec.images):,} decodable images ({got}), expected {want:,} "
                f"({', '.join(f'{n:,}' for n in rf.class_counts)} per class)",
                fix,
            )
    if rf.content_sha256 is not None:
        got_sha = decoded_sha256(dec.images, dec.labels)
        if got_sha != rf.content_sha256:
            raise bad_file(
                where,
                f"the decoded images differ from the original's (sha256 {got_sha[:16]}..., "
                f"expected {rf.content_sha256[:16]}...)",
                fix,
            )
        return "per-class counts and content sha256 verified"
    return "image and per-class counts as known (no checksum is published for the images)"
