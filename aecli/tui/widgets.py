"""The TUI's widgets: run info, progress, loss chart, epoch table, digit panels, code map.

Widgets only draw what they are given (numpy arrays, numbers, strings); they never import
JAX or call the model. Images are drawn with ``aecli.textart`` and re-laid-out on every
resize, so the panels use whatever space the terminal has.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import DataTable, Label, ProgressBar, Static

from aecli.render import textart

RENDER_MODES = textart.MODES


def format_duration(seconds: float | None) -> str:
    """Seconds as ``m:ss`` or ``h:mm:ss``; ``--:--`` when unknown."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "--:--"
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _dark(widget: Widget) -> bool:
    """Whether the app's current theme is dark (images then use white ink on black paper)."""
    try:
        return bool(widget.app.current_theme.dark)
    except Exception:  # not mounted yet
        return True


class InfoBar(Static):
    """Run name, dataset and its source, device and parameter count on one or two lines."""

    def show(
        self,
        *,
        name: str,
        dataset: str,
        source: str,
        device: str,
        n_params: int | None,
        run_dir: str = "",
    ) -> None:
        """Replace the contents: facts on the first line, the data source on the second."""
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append("run ", "dim")
        text.append(name, "bold")
        text.append("  dataset ", "dim")
        text.append(dataset, "bold")
        text.append("  parameters ", "dim")
        text.append(f"{n_params:,}" if n_params is not None else "?", "bold")
        text.append("  device ", "dim")
        text.append(device or "?", "bold")
        if run_dir:
            text.append("  dir ", "dim")
            text.append(run_dir)
        if source:
            text.append("\nsource ", "dim")
            text.append(source, "dim")
        self.update(text)


class StatusLine(Static):
    """The state of the run in words (loading, compiling, training, paused, stopped...)."""

    SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
    busy: reactive[bool] = reactive(False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._text = ""
        self._style = ""
        self._frame = 0

    def on_mount(self) -> None:
        self._timer = self.set_interval(0.12, self._tick, pause=True)

    def set(self, text: str, *, style: str = "", busy: bool = False) -> None:
        """Show ``text``; ``busy`` adds a spinner (e.g. while XLA compiles)."""
        self._text, self._style = text, style
        self.busy = busy
        self._draw()

    @property
    def text(self) -> str:
        """The current status text (without the spinner)."""
        return self._text

    def watch_busy(self, busy: bool) -> None:
        if not hasattr(self, "_timer"):
            return
        if busy:
            self._timer.resume()
        else:
            self._timer.pause()

    def _tick(self) -> None:
        self._frame = (self._frame + 1) % len(self.SPINNER)
        self._draw()

    def _draw(self) -> None:
        text = Text(no_wrap=True, overflow="ellipsis")
        if self.busy:
            text.append(self.SPINNER[self._frame] + " ", "bold")
        text.append(self._text, self._style)
        self.update(text)


class TrainProgress(Vertical):
    """Two progress bars (this epoch, whole run) with images/s and ETA."""

    def compose(self) -> ComposeResult:
        with Horizontal(classes="progress-row"):
            yield Label("epoch", id="epoch-label", classes="progress-label")
            yield ProgressBar(total=1, show_eta=False, id="epoch-bar")
            yield Label("", id="epoch-stats", classes="progress-stats")
        with Horizontal(classes="progress-row"):
            yield Label("run", id="run-label", classes="progress-label")
            yield ProgressBar(total=1, show_eta=False, id="run-bar")
            yield Label("", id="run-stats", classes="progress-stats")

    def show(
        self,
        *,
        epoch: int,
        epochs: int,
        images_done: int,
        images_total: int,
        run_done: float,
        run_total: float,
        rate: float | None,
        eta: float | None,
        epoch_eta: float | None,
    ) -> None:
        """Update both bars; ``run_done``/``run_total`` count images over the whole run."""
        self.query_one("#epoch-label", Label).update(f"epoch {epoch}/{epochs}")
        bar = self.query_one("#epoch-bar", ProgressBar)
        bar.update(total=max(1, images_total), progress=images_done)
        rate_s = f"{rate:,.0f} img/s" if rate else "-- img/s"
        self.query_one("#epoch-stats", Label).update(f"{rate_s}  {format_duration(epoch_eta)}")
        done_epochs = min(epochs, int(run_done // max(1, images_total))) if images_total else 0
        self.query_one("#run-label", Label).update(f"run {done_epochs}/{epochs}")
        run = self.query_one("#run-bar", ProgressBar)
        run.update(total=max(1.0, run_total), progress=run_done)
        self.query_one("#run-stats", Label).update(f"ETA {format_duration(eta)}")


class LossChart(Widget):
    """Training and validation loss per image against epoch (a textual-plotext chart)."""

    DEFAULT_CSS = """
    LossChart { height: 1fr; }
    LossChart > PlotextPlot { height: 1fr; }
    """

    def compose(self) -> ComposeResult:
        from textual_plotext import PlotextPlot

        yield PlotextPlot()

    def on_mount(self) -> None:
        self.set_history([])

    def set_history(self, history: Sequence[dict[str, Any]]) -> None:
        """Redraw from ``[{"epoch", "train_loss", "val_loss"}, ...]``."""
        from textual_plotext import PlotextPlot

        plot = self.query_one(PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title("loss per image")
        plt.xlabel("epoch")
        epochs = [int(r["epoch"]) for r in history]
        if epochs:
            train = [float(r["train_loss"]) for r in history]
            plt.plot(epochs, train, label="train", marker="braille", color="blue+")
            val = [
                (int(r["epoch"]), float(r["val_loss"]))
                for r in history
                if r.get("val_loss") is not None
            ]
            if val:
                plt.plot(
                    [v[0] for v in val],
                    [v[1] for v in val],
                    label="validation",
                    marker="braille",
                    color="orange+",
                )
            if len(epochs) == 1:
                plt.xlim(epochs[0] - 1, epochs[0] + 1)
            plt.xticks(_int_ticks(epochs[0], epochs[-1]))
        plot.refresh()


def _int_ticks(lo: int, hi: int, most: int = 6) -> list[int]:
    step = max(1, math.ceil((hi - lo + 1) / most))
    return list(range(lo, hi + 1, step))


class EpochTable(DataTable):
    """The last epochs: loss per image (train, validation) and images/s; newest first."""

    COLUMNS = ("epoch", "train", "valid", "img/s")

    def on_mount(self) -> None:
        self.cursor_type = "none"
        self.zebra_stripes = True
        for name in self.COLUMNS:
            self.add_column(name, key=name)

    def set_history(self, history: Sequence[dict[str, Any]], limit: int = 200) -> None:
        """Replace the rows (newest first)."""
        self.clear()
        for r in list(history)[-limit:][::-1]:
            val = r.get("val_loss")
            ips = r.get("images_per_second")
            self.add_row(
                Text(str(r["epoch"]), justify="right"),
                Text(f"{float(r['train_loss']):.2f}", justify="right"),
                Text(f"{float(val):.2f}" if val is not None else "-", justify="right"),
                Text(f"{float(ips):,.0f}" if ips else "-", justify="right"),
            )


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
    min_tests = min(n_tests, 3)

    def tests_row(w: int, h: int) -> tuple[int, int] | None:
        for p in range(28, 9, -2):
            k = min(n_tests, (w + 1) // (p + 1))
            if k >= min_tests and p + 2 <= h:
                return k, p
        return None

    def tests_pairs(w: int, h: int) -> tuple[int, int, int] | None:
        """(count, p, pair columns) for original|reconstruction pairs in w x h."""
        best, best_score = None, -1.0
        for p in range(28, 9, -2):
            cols = max(0, min(2, (w + 2) // (2 * p + 3)))
            rows = (h - 1) // (p // 2 + 1)
            k = min(n_tests, cols * rows)
            if cols < 1 or k < min_tests:
                continue
            score = _tests_value(k, p)
            if score > best_score:
                best, best_score = (k, p, cols), score
        return best

    if n_grid < 1 or show == "tests":
        return DigitsPlan(tests_row(width, height) if n_tests else None, None)
    if n_tests < 1 or show == "grid":
        return DigitsPlan(None, _grid_fit(width, height, n_grid))
    candidates: list[tuple[float, DigitsPlan]] = []
    row = tests_row(width, height)
    if row is not None:
        candidates.append((_tests_value(*row), DigitsPlan(row, None)))
    for p in range(28, 9, -2):  # stacked
        k = min(n_tests, (width + 1) // (p + 1))
        if k < min_tests or p + 2 > height:
            continue
        g = _grid_fit(width, height - (p + 2) - 1, n_grid)
        if g is not None:
            score = _tests_value(k, p) + _grid_value(*g)
            candidates.append((score, DigitsPlan((k, p), g)))
    for gw in range(24, width - 20):  # side by side: grid width gw, a gap of 2, then pairs
        g = _grid_fit(gw, height, n_grid)
        if g is None or g[0] * g[1] != gw:
            continue
        t = tests_pairs(width - gw - 2, height)
        if t is not None:
            score = _tests_value(t[0], t[1]) + _grid_value(*g)
            candidates.append((score, DigitsPlan((t[0], t[1]), g, side=True, pair_cols=t[2])))
    if not candidates:
        return DigitsPlan(row, None)
    return max(candidates, key=lambda c: c[0])[1]


def subgrid_indices(n: int, k: int) -> list[int]:
    """``k`` evenly spaced indices from ``range(n)``, both ends included."""
    if k >= n:
        return list(range(n))
    return sorted({int(round(i * (n - 1) / (k - 1))) for i in range(k)}) if k > 1 else [n // 2]


class DigitsPanel(Widget):
    """Decoded digits as text: a row of fixed test images over their reconstructions, and
    the run's decode grid (an evenly spaced sub-grid when the full one does not fit)."""

    show: reactive[str] = reactive("both")
    mode: reactive[str] = reactive("blocks")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.epoch: int | None = None
        self.grid_values: list[float] = []
        self.grid_images: np.ndarray | None = None
        self.originals: np.ndarray | None = None
        self.captions: list[str] = []
        self.recons: np.ndarray | None = None
        self.errors: np.ndarray | None = None

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.refresh())

    def set_samples(self, originals: np.ndarray, captions: Sequence[str]) -> None:
        """The fixed test images (uint8) and their class names."""
        self.originals = np.asarray(originals)
        self.captions = [str(c) for c in captions]
        self.refresh()

    def set_grid_values(self, values: Sequence[float]) -> None:
        """The code values of the run's decode grid (each axis)."""
        self.grid_values = list(values)
        self.refresh()

    def set_decoded(
        self, epoch: int, grid_images: np.ndarray, recons: np.ndarray, errors: np.ndarray
    ) -> None:
        """New decodes after an epoch."""
        self.epoch = epoch
        self.grid_images = np.asarray(grid_images)
        self.recons = np.asarray(recons)
        self.errors = np.asarray(errors)
        self.refresh()

    def plan(self) -> DigitsPlan:
        """The layout for the current size."""
        size = self.content_size
        n_tests = 0 if self.originals is None else len(self.originals)
        return plan_digits(
            size.width, size.height, n_tests=n_tests, n_grid=len(self.grid_values), show=self.show
        )

    def render(self) -> Any:
        if self.originals is None and not self.grid_values:
            return Text("waiting for data…", style="dim")
        plan = self.plan()
        epoch = f"epoch {self.epoch}" if self.epoch is not None else "not trained yet"
        tests = self._tests_text(plan, epoch) if plan.tests is not None else None
        grid = self._grid_text(plan, epoch) if plan.grid is not None else None
        if tests is None and grid is None:
            return Text("too small for digits: enlarge the terminal", style="dim")
        if tests is not None and grid is not None:
            if plan.side:
                return textart.hstack([grid, tests], gap=2)
            return Group(tests, Text(""), grid)
        return tests if tests is not None else grid

    def _title(self, text: str) -> Text:
        return Text(text, style="bold", no_wrap=True, overflow="ellipsis")

    def _tests_text(self, plan: DigitsPlan, epoch: str) -> Text | None:
        if self.originals is None or plan.tests is None:
            return None
        k, p = plan.tests
        invert = not _dark(self)
        originals = self.originals[:k]
        captions = self.captions[:k]
        out = Text(no_wrap=True, overflow="crop")
        if self.recons is None:
            out.append_text(self._title(f"test images ({epoch})"))
            out.append("\n")
            out.append_text(
                textart.grid(
                    originals,
                    cols=k if not plan.side else 1,
                    width=p,
                    captions=captions,
                    mode=self.mode,
                    invert=invert,
                )
            )
            return out
        errs = [f"{e:.0f}" for e in (self.errors if self.errors is not None else [])[:k]]
        errs += [""] * (k - len(errs))
        if not plan.side:  # a row of originals, their reconstructions below
            arrows = ("^", "v") if self.mode == "ascii" else ("↑", "↓")
            out.append_text(self._title(f"test images {arrows[0]} decoded {arrows[1]} ({epoch})"))
            out.append("\n")
            out.append_text(textart.grid(originals, cols=k, width=p, mode=self.mode, invert=invert))
            out.append("\n")
            caps = [f"{c} {e}".strip() for c, e in zip(captions, errs, strict=True)]
            out.append_text(
                textart.grid(
                    self.recons[:k], cols=k, width=p, captions=caps, mode=self.mode, invert=invert
                )
            )
            return out
        # side: pairs "original | reconstruction", captioned with class and error
        arrow = "->" if self.mode == "ascii" else "→"
        out.append_text(self._title(f"test {arrow} decoded ({epoch})"))
        pairs = [
            textart.grid(
                [originals[i], self.recons[i]],
                cols=2,
                width=p,
                gap=1,
                captions=[captions[i], errs[i]],
                mode=self.mode,
                invert=invert,
            )
            for i in range(k)
        ]
        for r0 in range(0, k, plan.pair_cols):
            out.append("\n")
            out.append_text(textart.hstack(pairs[r0 : r0 + plan.pair_cols], gap=2))
        return out

    def _grid_text(self, plan: DigitsPlan, epoch: str) -> Text | None:
        if plan.grid is None or not self.grid_values:
            return None
        k, p = plan.grid
        n = len(self.grid_values)
        lo, hi = self.grid_values[0], self.grid_values[-1]
        sub = f"{k}x{k} of {n}x{n}" if k < n else f"{n}x{n}"
        out = Text(no_wrap=True, overflow="crop")
        out.append_text(self._title(f"decode grid {sub}, {lo:g}..{hi:g}"))
        out.append("\n")
        if self.grid_images is None:
            out.append("(after the first epoch)", style="dim")
            return out
        idx = subgrid_indices(n, k)
        images = [self.grid_images[r * n + c] for r in idx for c in idx]
        out.append_text(
            textart.grid(images, cols=k, width=p, gap=0, mode=self.mode, invert=not _dark(self))
        )
        return out


class CodeMap(Widget, can_focus=True):
    """The encoded split as coloured braille dots with a movable cursor.

    Coordinates are code units; y grows upwards. Arrow keys are handled by the screen; the
    mouse moves the cursor (click) and zooms (wheel) here.
    """

    class CursorMoved(Message):
        """The cursor moved (by mouse)."""

        def __init__(self, x: float, y: float) -> None:
            super().__init__()
            self.x, self.y = x, y

    class Zoom(Message):
        """The wheel asked to zoom by ``factor`` (< 1 zooms in)."""

        def __init__(self, factor: float) -> None:
            super().__init__()
            self.factor = factor

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.codes: np.ndarray | None = None
        self.labels: np.ndarray | None = None
        self.bounds = (-1.0, 1.0, -1.0, 1.0)
        self.cursor = (0.0, 0.0)
        self.message = "encoding…"

    def set_points(self, codes: np.ndarray, labels: np.ndarray) -> None:
        """The points to draw (n, 2) and their classes (n,)."""
        self.codes = np.asarray(codes)[:, :2]
        self.labels = np.asarray(labels)
        self.refresh()

    def set_view(self, bounds: tuple[float, float, float, float], cursor: tuple[float, float]):
        """The visible code range ``(xmin, xmax, ymin, ymax)`` and the cursor."""
        self.bounds = bounds
        self.cursor = cursor
        self.refresh()

    def cell_size(self) -> tuple[float, float]:
        """Code units per cell, (x, y)."""
        w, h = max(1, self.content_size.width), max(1, self.content_size.height)
        xmin, xmax, ymin, ymax = self.bounds
        return (xmax - xmin) / w, (ymax - ymin) / h

    def to_code(self, col: int, row: int) -> tuple[float, float]:
        """The code at the centre of a cell."""
        dx, dy = self.cell_size()
        xmin, _, _, ymax = self.bounds
        return xmin + (col + 0.5) * dx, ymax - (row + 0.5) * dy

    def render(self) -> Any:
        if self.codes is None:
            return Text(self.message, style="dim")
        w, h = self.content_size.width, self.content_size.height
        if w < 1 or h < 1:
            return Text("")
        return textart.scatter(
            self.codes, self.labels, width=w, height=h, bounds=self.bounds, cursor=self.cursor
        )

    def on_click(self, event: Any) -> None:
        offset = event.get_content_offset(self)
        if offset is None or self.codes is None:
            return
        self.post_message(self.CursorMoved(*self.to_code(offset.x, offset.y)))

    def on_mouse_scroll_up(self, event: Any) -> None:
        event.stop()
        self.post_message(self.Zoom(1 / 1.25))

    def on_mouse_scroll_down(self, event: Any) -> None:
        event.stop()
        self.post_message(self.Zoom(1.25))


class DecodedView(Widget):
    """The image decoded at the cursor, as large as the widget allows, with its code."""

    mode: reactive[str] = reactive("blocks")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.image: np.ndarray | None = None
        self.caption: Text = Text("")

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.refresh())

    def set_image(self, image: np.ndarray | None, caption: Text | str) -> None:
        """Show ``image`` (28x28 float in [0, 1]) with caption lines below it."""
        self.image = image
        self.caption = caption if isinstance(caption, Text) else Text(caption)
        self.refresh()

    def render(self) -> Any:
        size = self.content_size
        caption_lines = len(self.caption.plain.split("\n")) if self.caption.plain else 0
        if self.image is None or size.width < 2 or size.height - caption_lines < 1:
            return self.caption
        w, h = textart.fit_cells(size.width, max(1, size.height - caption_lines - 1))
        art = textart.render(self.image, width=w, height=h, mode=self.mode, invert=not _dark(self))
        pad = " " * max(0, (size.width - w) // 2)
        lines = art.split("\n", allow_blank=True)
        body = Text("\n").join(Text(pad) + line for line in lines)
        return Group(body, Text(""), self.caption)
