"""A folder of your own images by class: ``ROOT/<class>/*.png|jpg|...``, any size and mode.

Each image is made to look like an MNIST digit:

1. it is decoded and converted to greyscale: colour by luminance (ITU-R 601), transparent pixels
   count as white paper, 16-bit and floating-point images are scaled to 0-255, EXIF rotation is
   applied, an animation gives its first frame;
2. its background level is read from its border (:func:`~aecli.data.fit.background_level`);
   the folder is dark ink on a light background when the median of these levels is above 127.5
   of 255 (decided for the whole folder, see :mod:`aecli.data.orient`);
3. an image of any size but 28x28 is fitted into 28x28 as MNIST was made
   (:func:`~aecli.data.fit.fit_glyph`: background subtracted, the ink scaled into a 20x20 box
   keeping its aspect ratio, centred by its centre of mass); a 28x28 image is kept as it is;
4. ``--invert`` decides whether the folder is inverted: ``auto`` when it is dark on light, so
   that it is light ink on dark like MNIST; ``yes`` always; ``no`` never. A notice says so.

Class names are the folder names (in numeric order when all are numbers), labels index them.
Hidden entries and files that are not images are ignored and counted. Every read is bounded: a
file's size and an image's pixel count (from its header) are checked before it is decoded.
Unlike the published notMNIST archives, whose few unreadable PNGs are a known defect that is
skipped and counted (:mod:`aecli.data.formats.images`), an unreadable file in your own folder
(empty, truncated, corrupt) is an error naming it, so that nothing trains on part of a folder
by accident. A decoded folder is cached (:func:`~aecli.data.cache.decode_once`).
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from aecli.data.bounded import bomb_errors, pil_image, read_capped
from aecli.data.cache import decode_once
from aecli.data.fit import FRAME, background_level, fit_glyph, ink_maps
from aecli.data.formats.images import folder_fingerprint
from aecli.data.formats.limits import MAX_IMAGE_FILE_BYTES, MAX_IMAGES, MAX_SOURCE_PIXELS
from aecli.data.orient import is_light, notice, should_invert
from aecli.data.splits import flat_to_splits
from aecli.data.types import DatasetSplits, Decoded, ReadContext, Source, bad_file
from aecli.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".pgm")
# Bump when the conversion changes: it is part of the decoded cache's key.
_PIPELINE = 1
# JPEGs are decoded at a reduced scale when they are far larger than this (PIL's draft mode):
# the glyph ends up 20 pixels tall, so 8x that is plenty.
_DRAFT_SIZE = (8 * FRAME, 8 * FRAME)
_LAYOUT = "ROOT/<class>/<image files>, one folder per class"

# (class name, "class/file" name, path)
Entry = tuple[str, str, Path]


def _class_order(names: list[str]) -> list[str]:
    """Folder names sorted, numerically when all of them are numbers (0, 1, ..., 10)."""
    if names and all(n.isdigit() for n in names):
        return sorted(names, key=lambda n: (int(n), n))
    return sorted(names)


def _entries(root: Path, ignored: list[str]) -> tuple[list[Entry], int]:
    """Image files of every class folder, by class then name; also the images in ``root``."""
    by_class: dict[str, list[Entry]] = {}
    loose = 0
    with os.scandir(root) as it:
        top = sorted(it, key=lambda e: e.name)
    for entry in top:
        if entry.name.startswith("."):
            continue
        if entry.is_symlink() or not entry.is_dir():
            loose += entry.name.lower().endswith(IMAGE_SUFFIXES)
            ignored.append(entry.name)
            continue
        with os.scandir(entry.path) as it:
            files = sorted(it, key=lambda e: e.name)
        for f in files:
            rel = f"{entry.name}/{f.name}"
            if f.name.startswith("."):
                continue
            if f.is_file(follow_symlinks=False) and f.name.lower().endswith(IMAGE_SUFFIXES):
                by_class.setdefault(entry.name, []).append((entry.name, rel, Path(f.path)))
            else:
                ignored.append(rel)
    entries = [e for c in _class_order(list(by_class)) for e in by_class[c]]
    return entries, loose


def _grey(im: Any) -> np.ndarray:
    """Greyscale uint8 of a PIL image of any mode (see the module docstring)."""
    from PIL import Image

    if im.mode.startswith("I;16"):
        return (np.asarray(im, dtype=np.float64) / 257).round().astype(np.uint8)
    if im.mode in ("I", "F"):
        a = np.asarray(im, dtype=np.float64)
        lo, hi = float(a.min()), float(a.max())
        scaled = (a - lo) * (255 / (hi - lo)) if hi > lo else np.zeros_like(a)
        return scaled.round().astype(np.uint8)
    if "A" in im.getbands() or "transparency" in im.info:
        rgba = im.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(paper, rgba)
    return np.asarray(im.convert("L"), dtype=np.uint8)


def _open_checked(path: Path) -> Any:
    """The decoded PIL image of ``path``, after checking its size and its pixel count."""
    from PIL import ImageOps

    Image = pil_image()
    data = read_capped(path, MAX_IMAGE_FILE_BYTES, "an image")
    im = Image.open(io.BytesIO(data))
    w, h = im.size  # from the header: nothing is decoded yet
    if w * h > MAX_SOURCE_PIXELS:
        raise bad_file(
            path,
            f"image is {w:,}x{h:,} pixels, more than {MAX_SOURCE_PIXELS:,}",
            "remove it or scale it down",
        )
    if im.format == "JPEG" and min(w, h) > 2 * _DRAFT_SIZE[0]:
        im.draft(im.mode, _DRAFT_SIZE)
    im.load()
    return ImageOps.exif_transpose(im)


class _Image(NamedTuple):
    """One decoded image: its background level and, as 28x28 uint8, its two readings."""

    level: float
    light_ink: np.ndarray  # read as light ink on dark: bright ink on black
    dark_ink: np.ndarray  # read as dark ink on light: bright ink on black
    fitted: bool  # it was not 28x28 and was fitted


def decode_image(path: Path) -> _Image:
    """Decode one image and fit it into 28x28 both ways (see the module docstring).

    Raises:
        DataError: too large a file or image, or not a readable image (naming the file).
    """
    Image = pil_image()
    try:
        grey = _grey(_open_checked(path))
    except DataError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise bad_file(
            path,
            f"image is larger than {MAX_SOURCE_PIXELS:,} pixels (a decompression bomb?)",
            "remove it or scale it down",
        ) from None
    except Exception as e:  # corrupt files fail in many ways inside the decoders
        raise bad_file(
            path,
            f"not a readable image ({type(e).__name__}: {' '.join(str(e).split())[:80]})",
            "remove or replace that file (aecli does not train on part of a folder)",
        ) from None
    level = background_level(grey)
    if grey.shape == (FRAME, FRAME):
        return _Image(level, grey, 255 - grey, False)
    light_ink, dark_ink = ink_maps(grey, level)
    return _Image(level, fit_glyph(light_ink), fit_glyph(dark_ink), True)


def _oriented(decoded: list[_Image], light: bool, invert: bool) -> np.ndarray:
    """The images as stored (light-on-dark, or dark-on-light turned back so) or inverted."""
    if light:
        return np.stack([d.dark_ink if invert else 255 - d.dark_ink for d in decoded])
    return np.stack([255 - d.light_ink if invert else d.light_ink for d in decoded])


def _notes(root: Path, decoded: list[_Image], invert: str, ignored: list[str]) -> list[str]:
    """The notices of a decoded folder: images fitted, inverted, entries ignored."""
    n = len(decoded)
    light, level = is_light(np.array([d.level for d in decoded]))
    notes = []
    fitted = sum(d.fitted for d in decoded)
    if fitted:
        notes.append(
            f"{root.name}: {fitted:,} of {n:,} images fitted into 28x28 as MNIST was made (the "
            "ink scaled into a 20x20 box keeping its aspect ratio, centred by its centre of mass)"
        )
    polarity = notice(root.name, light, level, invert, n)
    if polarity is not None:
        notes.append(polarity)
    if ignored:
        notes.append(
            f"{root.name}: ignored {len(ignored):,} entries that are not image files in class "
            f"folders (e.g. {ignored[0]})"
        )
    return notes


def read_image_folder(
    path: str | Path, *, invert: str = "auto", on_bytes: Callable[[int], None] | None = None
) -> Decoded:
    """Decode a folder of class folders of images of any size (see the module docstring).

    Args:
        path: the root folder.
        invert: ``auto``, ``yes`` or ``no``.
        on_bytes: called with each file's size once it is decoded (progress).

    Raises:
        DataError: no images in class folders, too many images, or a bad file (naming it).
    """
    root = Path(path)
    ignored: list[str] = []
    entries, loose = _entries(root, ignored)
    if not entries:
        problem = "empty: no PNG files in class folders (nor JPEG, BMP, GIF, WebP or TIFF)"
        if loose:
            problem = f"{loose} image files but no class folders"
        raise bad_file(root, problem, f"arrange the images as {_LAYOUT}")
    if len(entries) > MAX_IMAGES:
        raise bad_file(
            root, f"{len(entries):,} images, more than {MAX_IMAGES:,}", "use a subset of them"
        )

    def one(entry: Entry) -> _Image:
        out = decode_image(entry[2])
        if on_bytes is not None:
            on_bytes(entry[2].stat().st_size)
        return out

    # Set once around the whole pool (warning filters are global, not per thread): an image
    # past Pillow's own bomb limit is then an error naming the file, not a stray warning.
    with bomb_errors():
        with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
            decoded = list(pool.map(one, entries))
    light, _ = is_light(np.array([d.level for d in decoded]))
    images = _oriented(decoded, light, should_invert(light, invert))
    class_names = tuple(dict.fromkeys(c for c, _, _ in entries))
    index = {c: i for i, c in enumerate(class_names)}
    labels = np.array([index[c] for c, _, _ in entries], dtype=np.int64)
    notes = _notes(root, decoded, invert, ignored)
    names = np.array([rel for _, rel, _ in entries])
    return Decoded(images, labels, class_names, names, ignored=tuple(ignored), notes=tuple(notes))


def read_source(src: Source, ctx: ReadContext) -> DatasetSplits:
    """Read a folder of images found by the locator (decoded once, then cached) and split it."""
    root = src.path
    assert root is not None
    key = hashlib.sha256(
        f"{folder_fingerprint(root)}|invert={ctx.invert}|pipeline={_PIPELINE}".encode()
    ).hexdigest()
    total = sum(
        p.stat().st_size
        for p in root.glob("*/*")
        if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
    )

    def decode() -> Decoded:
        with ctx.progress(f"decoding {root.name}", total) as advance:
            return read_image_folder(root, invert=ctx.invert, on_bytes=advance)

    dec = decode_once(root, key, decode, ctx.report)
    for line in dec.notes:
        ctx.report(line)
    desc = f"{root}{ctx.where}: {len(dec.images):,} images in {len(dec.class_names)} class folders"
    return flat_to_splits(src, dec, desc)
