"""How the digits panel arranges its test images and decode grid in the space it has.

Pure functions of sizes, so the layout rules are tested without a terminal.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DigitsPlan:
    """How the digits panel lays out its two sections in the space it has.

    ``tests``: (count, width in columns per image) of the test images, or None; ``grid``:
    (k, width) of the k x k decode sub-grid, or None. ``side``: False stacks a row of test
    images (reconstructions below them) over the grid; True puts the grid on the left and
    the test pairs (original | reconstruction) in ``pair_cols`` columns on its right.
    """

    tests: tuple[int, int] | None
    grid: tuple[int, int] | None
    side: bool = False
    pair_cols: int = 1


def _grid_value(k: int, p: int) -> float:
    """Worth of a k x k decode grid of p-column digits: count grows it, size up to 10 columns."""
    return 2.0 * k**1.5 * min(p, 10) ** 2


def _tests_value(k: int, p: int) -> float:
    """Worth of k test pairs of p-column digits: the first five matter most, size up to 14."""
    return min(p, 14) ** 2 * (3.0 * min(k, 5) + 0.3 * max(0, k - 5))


def _grid_fit(w: int, h: int, n_grid: int) -> tuple[int, int] | None:
    """Best (k, p) for a k x k grid in w x h cells (title line included), or None."""
    best, best_score = None, -1.0
    for k in range(min(n_grid, 12), 2, -1):
        p = min(28, w // k, 2 * (h - 1) // k) // 2 * 2
        if p < 8:
            continue
        score = _grid_value(k, p)
        if score > best_score:
            best, best_score = (k, p), score
    return best


def _tests_row(w: int, h: int, n_tests: int) -> tuple[int, int] | None:
    """(count, p) for a row of test images over their reconstructions in w x h."""
    for p in range(28, 9, -2):
        k = min(n_tests, (w + 1) // (p + 1))
        if k >= min(n_tests, 3) and p + 2 <= h:
            return k, p
    return None


def _tests_pairs(w: int, h: int, n_tests: int) -> tuple[int, int, int] | None:
    """(count, p, pair columns) for original|reconstruction pairs in w x h."""
    best, best_score = None, -1.0
    for p in range(28, 9, -2):
        cols = max(0, min(2, (w + 2) // (2 * p + 3)))
        rows = (h - 1) // (p // 2 + 1)
        k = min(n_tests, cols * rows)
        if cols < 1 or k < min(n_tests, 3):
            continue
        score = _tests_value(k, p)
        if score > best_score:
            best, best_score = (k, p, cols), score
    return best


def _both(width: int, height: int, n_tests: int, n_grid: int) -> list[tuple[float, DigitsPlan]]:
    """Every scored candidate showing tests and grid, stacked or side by side."""
    candidates: list[tuple[float, DigitsPlan]] = []
    for p in range(28, 9, -2):  # stacked
        k = min(n_tests, (width + 1) // (p + 1))
        if k < min(n_tests, 3) or p + 2 > height:
            continue
        g = _grid_fit(width, height - (p + 2) - 1, n_grid)
        if g is not None:
            score = _tests_value(k, p) + _grid_value(*g)
            candidates.append((score, DigitsPlan((k, p), g)))
    for gw in range(24, width - 20):  # side by side: grid width gw, a gap of 2, then pairs
        g = _grid_fit(gw, height, n_grid)
        if g is None or g[0] * g[1] != gw:
            continue
        t = _tests_pairs(width - gw - 2, height, n_tests)
        if t is not None:
            score = _tests_value(t[0], t[1]) + _grid_value(*g)
            candidates.append((score, DigitsPlan((t[0], t[1]), g, side=True, pair_cols=t[2])))
    return candidates


def plan_digits(
    width: int, height: int, *, n_tests: int, n_grid: int, show: str = "both"
) -> DigitsPlan:
    """Choose an arrangement and image sizes so the tests and the decode grid fit, legibly.

    Stacked: the test row needs ``p + 2`` lines (title, originals, reconstructions, captions)
    and the grid ``1 + k * p / 2``. Side by side: the grid on the left, test pairs on the
    right, each pair ``p / 2 + 1`` lines. Every candidate is scored by how many digits it
    shows weighted by their size (``_tests_value``, ``_grid_value``); the best one wins.

    Args:
        width, height: the panel's content size in cells.
        n_tests: how many test images there are; n_grid: the config's grid is n_grid x n_grid.
        show: ``"both"``, ``"tests"`` or ``"grid"``.
    """
    if n_grid < 1 or show == "tests":
        return DigitsPlan(_tests_row(width, height, n_tests) if n_tests else None, None)
    if n_tests < 1 or show == "grid":
        return DigitsPlan(None, _grid_fit(width, height, n_grid))
    row = _tests_row(width, height, n_tests)
    candidates = _both(width, height, n_tests, n_grid)
    if row is not None:
        candidates.insert(0, (_tests_value(*row), DigitsPlan(row, None)))
    if not candidates:
        return DigitsPlan(row, None)
    return max(candidates, key=lambda c: c[0])[1]


def subgrid_indices(n: int, k: int) -> list[int]:
    """``k`` evenly spaced indices from ``range(n)``, both ends included."""
    if k >= n:
        return list(range(n))
    return sorted({int(round(i * (n - 1) / (k - 1))) for i in range(k)}) if k > 1 else [n // 2]
