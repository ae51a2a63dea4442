"""``letters``: an embedded notMNIST-style dataset of A-J glyphs drawn from matplotlib's own fonts.

notMNIST (Bulatov, 2011) is the letters A-J taken from thousands of public fonts, each glyph
stretched to fill a 28x28 frame, bright on a black background. It is not pip-installable, so
this module makes a small stand-in from the TrueType fonts that ship inside matplotlib, which
every installation of aecli has: DejaVu Sans / Sans Mono / Serif in their weights and slants,
STIX General and the Computer Modern family (roman, bold, italic, sans, typewriter, math italic
and the calligraphic capitals of cmsy10): 23 fonts with matplotlib 3.11.

A font is used when its character map sends A..J to glyphs named A..J. That keeps the real
letters and drops the fonts that only carry symbols (STIXSize*, STIXNonUnicode, cmex10), the
two "Display" subsets with no Latin letters, and the Last Resort font whose glyphs are
placeholders. matplotlib's AFM fonts hold metrics only, so they cannot be rendered.

Each glyph is drawn once per font at 96 px (and once emboldened), cropped to its ink, then for
every image warped by a seeded random affine transform (rotation, shear, independent horizontal
and vertical stretch, position) onto a 3x supersampled frame and box-filtered down to 28x28.
Like notMNIST, glyphs fill most of the frame and may be stretched; unlike notMNIST, narrow
letters (I, J) keep part of their shape instead of becoming solid blocks, so every image stays
readable. Each image is scaled so its brightest pixel is 255 (notMNIST's value range).

Rendering uses Pillow's FreeType binding with the font file paths; no pyplot, no global state.
The same seed gives the same images for a given matplotlib and Pillow version.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

LETTERS = "ABCDEFGHIJ"

_DRAW_PX = 96  # glyph size when drawn once per font; warped and box-filtered down afterwards
_SUPERSAMPLE = 2  # the warp renders at 2x the output size, then a box filter averages it down


class Letters(NamedTuple):
    """Rendered glyphs: images uint8 (n, size, size), labels int64 (n,), font of each image."""

    images: np.ndarray
    labels: np.ndarray
    fonts: tuple[str, ...]
    font_index: np.ndarray


def font_dir() -> Path:
    """The folder of TrueType fonts inside the installed matplotlib."""
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


@lru_cache(maxsize=1)
def font_files() -> tuple[Path, ...]:
    """The matplotlib TrueType fonts whose character map has real glyphs for A..J, sorted."""
    from matplotlib.ft2font import FT2Font

    usable = []
    for path in sorted(font_dir().glob("*.ttf")):
        try:
            font = FT2Font(str(path))
            ok = True
            for ch in LETTERS:
                index = font.get_char_index(ord(ch))
                if not index or font.get_glyph_name(index) != ch:
                    ok = False
                    break
        except (OSError, RuntimeError, ValueError):
            continue
        if ok:
            usable.append(path)
    return tuple(usable)


@lru_cache(maxsize=4)
def _glyphs(paths: tuple[Path, ...]) -> tuple[tuple[tuple[Any, Any], ...], ...]:
    """Per font and letter: (regular, emboldened) glyph, a Pillow 'L' image cropped to its ink."""
    from PIL import Image, ImageDraw, ImageFilter, ImageFont

    out = []
    for path in paths:
        font = ImageFont.truetype(str(path), _DRAW_PX)
        per_letter = []
        for ch in LETTERS:
            side = 3 * _DRAW_PX  # roomy: some fonts (cm*) have unusual ascent/descent metrics
            canvas = Image.new("L", (side, side), 0)
            ImageDraw.Draw(canvas).text((side / 2, side / 2), ch, font=font, fill=255, anchor="mm")
            box = canvas.getbbox()
            if box is None:
                raise RuntimeError(f"font {path.name} drew nothing for {ch!r}")
            glyph = canvas.crop(box)
            # Emboldened variant: widen strokes by ~2.5% of the glyph size (notMNIST has many
            # heavy fonts; matplotlib ships mostly regular ones).
            padded = canvas.crop((box[0] - 2, box[1] - 2, box[2] + 2, box[3] + 2))
            bold = padded.filter(ImageFilter.MaxFilter(5))
            per_letter.append((glyph, bold))
        out.append(tuple(per_letter))
    return tuple(out)


def _affine_data(sizes: np.ndarray, params: np.ndarray, size: int) -> np.ndarray:
    """Pillow AFFINE coefficients (n, 6) that place each glyph in the supersampled frame.

    ``sizes`` holds each glyph's (width, height); ``params`` the jitter (see render_letters).
    Vectorised over all images: the per-image Python work is then only Pillow's warp.
    """
    rot, shear, h_frac, stretch, w_cap, jx, jy = params.T
    big = size * _SUPERSAMPLE
    gw, gh = sizes[:, 0].astype(np.float64), sizes[:, 1].astype(np.float64)
    # Target height fills most of the frame; width follows the glyph's own aspect ratio times a
    # random stretch, capped below the frame width (notMNIST stretches glyphs to the frame).
    th = h_frac * big
    tw = np.minimum(th * (gw / gh) * stretch, w_cap * big)
    sx, sy = tw / gw, th / gh
    c, s = np.cos(rot), np.sin(rot)
    # Forward linear map glyph -> frame: rotate . shear . scale, as (n, 2, 2).
    a = np.empty((len(params), 2, 2))
    a[:, 0, 0] = c * sx
    a[:, 0, 1] = (c * shear - s) * sy
    a[:, 1, 0] = s * sx
    a[:, 1, 1] = (s * shear + c) * sy
    half = np.stack([gw, gh], axis=1)[:, :, None] / 2
    corners = a @ (np.array([[-1.0, 1, 1, -1], [-1, -1, 1, 1]]) * half)
    extent = corners.max(axis=2) - corners.min(axis=2)
    fit = np.minimum(1.0, 0.98 * big / extent.max(axis=1))  # shrink if rotation/shear overflow
    a *= fit[:, None, None]
    extent *= fit[:, None]
    # Random position inside the free margin, plus up to one output pixel of overhang.
    margin = np.maximum(big - extent, 0) / 2 + _SUPERSAMPLE
    centre = big / 2 + np.stack([jx, jy], axis=1) * margin
    inv = np.linalg.inv(a)
    # Pillow's AFFINE maps each output pixel p to the input pixel inv @ (p - centre) + glyph/2.
    off = half[:, :, 0] - np.einsum("nij,nj->ni", inv, centre)
    return np.stack(
        [inv[:, 0, 0], inv[:, 0, 1], off[:, 0], inv[:, 1, 0], inv[:, 1, 1], off[:, 1]], axis=1
    )


def render_letters(
    n_per_class: int = 2000,
    *,
    seed: int = 0,
    size: int = 28,
    fonts: tuple[Path, ...] | None = None,
) -> Letters:
    """Render ``n_per_class`` images of each letter A..J with seeded random affine jitter.

    Args:
        n_per_class: images per letter (the dataset has ``10 * n_per_class`` images).
        seed: seed of the font choice and of the jitter.
        size: side of the square images (28 for the autoencoder).
        fonts: TrueType files to draw from; default: :func:`font_files`.

    Returns:
        :class:`Letters`, grouped by letter (A first), uint8 images with a 0 background and the
        glyph bright, each image's brightest pixel 255.

    Raises:
        RuntimeError: no usable font was found.
    """
    fonts = tuple(fonts) if fonts is not None else font_files()
    if not fonts:
        raise RuntimeError(f"no font with glyphs for A-J in {font_dir()}: reinstall matplotlib")
    glyphs = _glyphs(fonts)
    n = 10 * n_per_class
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(10, dtype=np.int64), n_per_class)
    font_index = rng.integers(len(fonts), size=n)
    bold = rng.random(n) < 0.3
    params = np.stack(
        [
            np.deg2rad(rng.uniform(-10, 10, n)),  # rotation
            rng.uniform(-0.25, 0.25, n),  # horizontal shear
            rng.uniform(0.78, 1.0, n),  # height as a fraction of the frame
            rng.uniform(0.9, 1.6, n),  # horizontal stretch relative to the glyph's aspect
            rng.uniform(0.8, 1.0, n),  # width cap as a fraction of the frame
            rng.uniform(-1, 1, n),  # horizontal position within the free margin
            rng.uniform(-1, 1, n),  # vertical position within the free margin
        ],
        axis=1,
    )
    from PIL import Image

    chosen = [glyphs[f][c][b] for f, c, b in zip(font_index, labels, bold.astype(int), strict=True)]
    sizes = np.array([g.size for g in chosen])
    coeffs = _affine_data(sizes, params, size)
    big = size * _SUPERSAMPLE
    images = np.empty((n, size, size), np.uint8)
    for i, glyph in enumerate(chosen):
        warped = glyph.transform(
            (big, big), Image.Transform.AFFINE, tuple(coeffs[i]), Image.Resampling.BILINEAR
        )
        images[i] = np.asarray(warped.resize((size, size), Image.Resampling.BOX))
    # notMNIST's value range: every glyph's brightest pixel is 255, thin fonts included.
    peak = images.reshape(n, -1).max(axis=1).astype(np.float32)
    scale = 255.0 / np.maximum(peak, 1.0)
    images = np.clip(np.rint(images * scale[:, None, None]), 0, 255).astype(np.uint8)
    return Letters(images, labels, tuple(p.name for p in fonts), font_index)
