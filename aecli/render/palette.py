"""The one class palette and the one image-to-[0, 1] conversion, shared by PNGs and text art."""

from __future__ import annotations

import numpy as np

# Qualitative class colours (matplotlib's tab10), mid-luminance so every one reads on both a
# dark and a light background: the PNG scatters and the terminal colour classes alike.
CLASS_COLORS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)


def to_unit(images: np.ndarray) -> np.ndarray:
    """Images as float32 intensities in [0, 1] (1 is ink), any shape.

    Args:
        images: uint8 0..255 (divided by 255), or float intensities 0..1 (NaN becomes 0,
            values outside are clipped), such as ``aecli.latent.codes`` decodes.

    Returns:
        A float32 array of the same shape.
    """
    a = np.asarray(images)
    if a.dtype == np.uint8:
        return a.astype(np.float32) / 255.0
    a = np.nan_to_num(a.astype(np.float32), nan=0.0)
    return np.clip(a, 0.0, 1.0)
