"""Fitting any greyscale image into MNIST's 28x28 frame, the way MNIST itself was made.

LeCun et al. normalised each NIST digit "to fit in a 20x20 pixel box while preserving [its]
aspect ratio" and then "centered [it] in a 28x28 image by computing the center of mass of the
pixels, and translating the image so as to position this point at the center of the 28x28
field". :func:`fit_glyph` does the same to one image whose ink is bright on a dark background:

1. the background level (:func:`background_level`, the median of the image's outermost ring
   of pixels) is subtracted, so that the background becomes 0 as in MNIST;
2. the image is cropped to the bounding box of its ink (pixels brighter than a tenth of the
   brightest one);
3. the crop is resized (Lanczos, anti-aliased) so that its longer side is 20 pixels, the shorter
   one in proportion;
4. it is placed in a black 28x28 frame so that its centre of mass falls on the frame's centre,
   moved by whole pixels (no second resampling) and kept entirely inside the frame.

An image already 28x28 is taken to be in MNIST's format already and is not refitted.
:func:`ink_maps` reads an image as light ink on dark and as dark ink on light; which one is
right is decided for the whole dataset from its borders (:data:`LIGHT_BACKGROUND`).
"""

from __future__ import annotations

import numpy as np

FRAME = 28
BOX = 20
# Pixels brighter than this fraction of the brightest one count as ink for the bounding box, so
# that faint noise (JPEG ringing, paper texture) does not stretch the box.
INK_FRACTION = 0.1
# A border brighter than this (0-255) is a light background: the ink is dark.
LIGHT_BACKGROUND = 127.5


def _ring(grey: np.ndarray) -> np.ndarray:
    """The outermost ring of pixels, about one MNIST pixel (1/28 of the short side) wide."""
    h, w = grey.shape
    k = max(1, round(min(h, w) / FRAME))
    return np.concatenate(
        [grey[:k].ravel(), grey[-k:].ravel(), grey[k:-k, :k].ravel(), grey[k:-k, -k:].ravel()]
    )


def background_level(grey: np.ndarray) -> float:
    """The brightness of an image's background: the median of its outermost ring of pixels."""
    return float(np.median(_ring(grey)))


def ink_maps(grey: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """The ink of an image read both ways: as light ink on dark, and as dark ink on light.

    Which reading is right is decided for a whole dataset (:mod:`aecli.data.orient`), so both
    are made. Each subtracts the background: the image's own border ``level`` when the border
    agrees with the reading, else black (resp. white), since a glyph that fills its frame has
    no border of background.

    Args:
        grey: uint8 greyscale image (h, w).
        level: its :func:`background_level`.

    Returns:
        Two float32 images of bright ink on black (background 0): light-on-dark, dark-on-light.
    """
    g = grey.astype(np.float32)
    dark_bg = level if level <= LIGHT_BACKGROUND else 0.0
    light_bg = level if level > LIGHT_BACKGROUND else 255.0
    return np.clip(g - dark_bg, 0, 255), np.clip(light_bg - g, 0, 255)


def fit_glyph(ink: np.ndarray) -> np.ndarray:
    """Fit bright ink on black (any size) into 28x28 as MNIST did (see the module docstring).

    Args:
        ink: float or uint8 array (h, w), background 0.

    Returns:
        uint8 (28, 28); all zeros for an image without ink.
    """
    from PIL import Image

    ink = np.asarray(ink, dtype=np.float32)
    peak = float(ink.max()) if ink.size else 0.0
    if peak <= 0:
        return np.zeros((FRAME, FRAME), np.uint8)
    rows = np.flatnonzero((ink > INK_FRACTION * peak).any(axis=1))
    cols = np.flatnonzero((ink > INK_FRACTION * peak).any(axis=0))
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    h, w = crop.shape
    scale = BOX / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))  # PIL sizes are (width, height)
    glyph = Image.fromarray(np.clip(np.rint(crop), 0, 255).astype(np.uint8)).resize(
        size, Image.Resampling.LANCZOS
    )
    box = np.asarray(glyph, dtype=np.float64)
    return _centre_by_mass(box)


def _centre_by_mass(box: np.ndarray) -> np.ndarray:
    """Place ``box`` in a black 28x28 frame with its centre of mass at the frame's centre."""
    h, w = box.shape
    total = box.sum()
    frame = np.zeros((FRAME, FRAME), np.uint8)
    if total <= 0:
        return frame
    # Pixel i covers [i, i + 1): the frame's centre is 14.0, i.e. index 13.5.
    cy = float((box.sum(axis=1) * np.arange(h)).sum() / total)
    cx = float((box.sum(axis=0) * np.arange(w)).sum() / total)
    top = min(max(round(FRAME / 2 - 0.5 - cy), 0), FRAME - h)
    left = min(max(round(FRAME / 2 - 0.5 - cx), 0), FRAME - w)
    frame[top : top + h, left : left + w] = np.clip(np.rint(box), 0, 255).astype(np.uint8)
    return frame
