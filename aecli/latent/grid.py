"""Code grids (the only place grid codes are built) and straight-line interpolation.

Orientation: ``code_grid`` returns rows from the *highest* code 2 value down to the lowest
and columns from the lowest code 1 value up, i.e. ``codes[r, c] = (xs[c], ys[r])`` with ``ys``
descending. Drawn as an image (row 0 at the top) the sheet therefore has the scatter plot's
orientation: code 1 grows to the right, code 2 grows upwards. (The original experiment decoded
``grid[i, j] = (x_i, y_j)`` and tiled ``i`` down the rows, which put code 1 on the vertical axis,
i.e. its sheet was the scatter plot transposed.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from aecli.config import check_grid
from aecli.errors import ConfigError
from aecli.latent.codes import decode, require_2d_code

MAX_AXIS = 200  # codes per axis of a decode grid: 40,000 decoded images, one readable sheet


def grid_values(low: float, high: float, step: float) -> list[float]:
    """Evenly spaced values from ``low`` to ``high`` inclusive (rounded, float-safe).

    Raises:
        ConfigError: the range or step is invalid (``aecli.config.check_grid``).
    """
    return [round(low + i * step, 10) for i in range(grid_count(low, high, step))]


def grid_count(low: float, high: float, step: float) -> int:
    """How many values ``grid_values`` gives, computed without building them.

    Raises:
        ConfigError: the range or step is invalid (``aecli.config.check_grid``).
    """
    check_grid(low, high, step)
    return int(math.floor((high - low) / step + 1e-6)) + 1


@dataclass(frozen=True)
class CodeGrid:
    """An evenly spaced grid of 2-D codes laid out like the scatter plot.

    Attributes:
        xs: code 1 values, ascending (one per column, left to right).
        ys: code 2 values, descending (one per row, top to bottom).
        codes: (rows, cols, 2) with ``codes[r, c] = (xs[c], ys[r])``.
    """

    xs: np.ndarray
    ys: np.ndarray
    codes: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols)."""
        return len(self.ys), len(self.xs)

    @property
    def step(self) -> float:
        """Spacing between neighbouring codes (the same on both axes)."""
        return float(self.xs[1] - self.xs[0]) if len(self.xs) > 1 else 1.0

    @property
    def low(self) -> float:
        """Smallest code value on either axis."""
        return float(self.xs[0])

    @property
    def high(self) -> float:
        """Largest code value on either axis."""
        return float(self.xs[-1])


def grid_axis(
    low: float,
    high: float,
    step: float | None = None,
    size: int | None = None,
    *,
    key: str = "grid",
) -> np.ndarray:
    """Evenly spaced values from ``low`` to ``high`` inclusive, by ``step`` or ``size`` points.

    Args:
        low, high: the range, both included.
        step, size: the spacing, or the number of points (exactly one of them).
        key: what the values came from, to start error messages with (an option, a config key).

    Raises:
        ConfigError: ``low >= high``, ``step <= 0`` or larger than the range, both or neither
            of ``step`` and ``size``, or ``size < 2``.
    """
    if (step is None) == (size is None):
        raise ConfigError(f"{key}: give either a step or a size, not both")
    if size is not None:
        if size < 2 or size > MAX_AXIS:
            raise ConfigError(
                f"{key}: size must be between 2 and {MAX_AXIS} codes per axis, got {size}"
            )
        check_grid(low, high, (high - low) / (size - 1), key=key)
        return np.round(np.linspace(low, high, size), 10)
    check_grid(low, high, float(step), key=key)
    count = grid_count(low, high, float(step))  # counted first: a tiny step is refused at once
    if count > MAX_AXIS:
        raise ConfigError(
            f"{key}: {low:g}..{high:g} by {step:g} gives {count:,} codes per axis (at most "
            f"{MAX_AXIS}): use a larger step"
        )
    return np.asarray(grid_values(low, high, float(step)), dtype=np.float64)


def code_grid(
    low: float,
    high: float,
    step: float | None = None,
    *,
    size: int | None = None,
    key: str = "grid",
) -> CodeGrid:
    """The square grid of codes over ``[low, high]^2`` (see the module docstring for layout).

    Raises:
        ConfigError: as ``grid_axis``, the message starting with ``key``.
    """
    xs = grid_axis(low, high, step, size, key=key)
    ys = xs[::-1].copy()
    gx, gy = np.meshgrid(xs, ys)  # gx[r, c] = xs[c], gy[r, c] = ys[r]
    return CodeGrid(xs, ys, np.stack([gx, gy], axis=-1).astype(np.float32))


def grid_around(center: tuple[float, float], k: int, step: float) -> CodeGrid:
    """The ``k`` x ``k`` grid of codes centred on ``center``, ``step`` apart (scatter layout).

    Used by the TUI's "grid around the cursor" export; ``k`` odd puts ``center`` in the middle.
    """
    if k < 1 or not (math.isfinite(step) and step > 0):
        raise ConfigError(f"a grid around a code needs k >= 1 and a step > 0, got {k}, {step}")
    offsets = (np.arange(k) - (k - 1) / 2) * step
    xs = center[0] + offsets
    ys = (center[1] + offsets)[::-1]
    gx, gy = np.meshgrid(xs, ys)
    return CodeGrid(xs, ys, np.stack([gx, gy], axis=-1).astype(np.float32))


def decode_grid(model: Any, grid: CodeGrid) -> np.ndarray:
    """Decode every code of ``grid``: images (rows, cols, 28, 28) in [0, 1]."""
    require_2d_code(model, "a decode grid")
    rows, cols = grid.shape
    return decode(model, grid.codes.reshape(-1, 2)).reshape(rows, cols, 28, 28)


def interpolate(start: np.ndarray, end: np.ndarray, steps: int) -> np.ndarray:
    """``steps`` codes on the straight line from ``start`` to ``end``, both included."""
    if steps < 2:
        raise ConfigError(f"interpolation needs at least 2 steps, got {steps}")
    t = np.linspace(0.0, 1.0, steps, dtype=np.float64)[:, None]
    a, b = np.asarray(start, np.float64), np.asarray(end, np.float64)
    return ((1.0 - t) * a + t * b).astype(np.float32)
