"""Round tick values for axes in code units: the figures' decode grids and the ``--ascii`` sheet.

No matplotlib here, so the terminal sheet can label its axes without importing it.
"""

from __future__ import annotations

import math

NICE_STEPS = (1.0, 2.0, 5.0, 10.0)  # tick spacings, times a power of ten


def nice_ticks(low: float, high: float, max_ticks: int = 11) -> list[float]:
    """Round values in ``[low, high]`` for axis ticks: at most ``max_ticks``, evenly spaced.

    The spacing is the smallest of 1, 2 or 5 times a power of ten that gives no more than
    ``max_ticks`` ticks (matplotlib's ``MaxNLocator(steps=[1, 2, 5, 10])``, without its
    widening of the range): -2..2 gives -2, -1.5, ..., 2; -1..0.8 gives -1, -0.8, ..., 0.8.
    When that spacing leaves a single tick, the next smaller one is used, so an axis has two.
    Every value is rounded to the spacing's decimals, so none prints as ``0.30000000000000004``.

    Args:
        low, high: the range (either order); a zero-width range gives its one value.
        max_ticks: the most ticks wanted (at least 2).

    Returns:
        Ascending tick values.
    """
    lo, hi = sorted((float(low), float(high)))
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi - lo <= 1e-12 * max(1.0, abs(lo)):
        return [_round(lo, 10)]
    raw = (hi - lo) / max(1, max_ticks - 1)
    e = math.floor(math.log10(raw))
    steps = [s * 10.0**k for k in (e - 1, e, e + 1) for s in NICE_STEPS[:-1]]

    def count(step: float) -> int:
        return math.floor(hi / step + 1e-9) - math.ceil(lo / step - 1e-9) + 1

    fits = [st for st in steps if count(st) <= max_ticks]
    step = fits[0]
    if count(step) < 2:  # a range just past a round step: two ticks beat one
        step = max(st for st in steps if count(st) >= 2)
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    first, last = math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9)
    return [_round(k * step, decimals) for k in range(first, last + 1)]


def _round(v: float, decimals: int) -> float:
    return round(v, decimals) + 0.0  # + 0.0 turns -0.0 into 0.0


def tick_label(v: float) -> str:
    """A tick value as text: ``-1.5``, ``0``, ``0.25`` (no float noise, no ``-0``)."""
    return f"{v + 0.0:g}"
