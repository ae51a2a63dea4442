"""The TUI's screens: training (live run), explorer (code space), and the quit question.

Screens hold widgets and key bindings; the app holds the run's state and the workers. A key
on a screen calls an app action (``app.action_*``) or moves the explorer's view.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Footer, Header, Label, Static

from aecli.render import textart
from aecli.tui.widgets import (
    RENDER_MODES,
    CodeMap,
    DecodedView,
    DigitsPanel,
    EpochTable,
    InfoBar,
    LossChart,
    StatusLine,
    TrainProgress,
)

if TYPE_CHECKING:
    from aecli.tui.app import AecliApp


class TrainingScreen(Screen):
    """Live training: run info, progress, loss chart + table, decoded digits."""

    BINDINGS = [
        Binding("p,space", "app.toggle_pause", "Pause", key_display="p"),
        Binding("s", "app.stop", "Stop"),
        Binding("r", "app.resume_training", "Resume"),
        Binding("f", "app.save_figures", "PNGs"),
        Binding("e", "app.explorer", "Explorer"),
        Binding("v", "cycle_view", "Digits view", show=False),
        Binding("m", "cycle_mode", "Text mode", show=False),
        Binding("q", "app.quit_app", "Quit"),
    ]

    app: AecliApp

    def compose(self) -> ComposeResult:
        yield Header(icon="▦")
        yield InfoBar(id="info")
        yield StatusLine(id="status")
        yield TrainProgress(id="progress")
        with Horizontal(id="body"):
            with Vertical(id="left"):
                yield LossChart(id="chart")
                yield EpochTable(id="table")
            yield DigitsPanel(id="digits")
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        self.app.sync_training_screen(self)

    def action_cycle_view(self) -> None:
        """Digits panel: both sections, the test row only, or the decode grid only."""
        panel = self.query_one(DigitsPanel)
        order = ("both", "tests", "grid")
        panel.show = order[(order.index(panel.show) + 1) % len(order)]
        self.app.notify(f"digits panel: {panel.show}", timeout=2)

    def action_cycle_mode(self) -> None:
        """Text rendering: colour half blocks, shading ramp, ASCII."""
        self.app.cycle_render_mode()


class ExplorerScreen(Screen):
    """The code space as a map with a cursor, and the image decoded at the cursor."""

    BINDINGS = [
        Binding("left", "move(-1, 0)", "Move", key_display="←↑↓→"),
        Binding("right", "move(1, 0)", "Move", show=False),
        Binding("up", "move(0, 1)", "Move", show=False),
        Binding("down", "move(0, -1)", "Move", show=False),
        Binding("shift+left", "move(-6, 0)", show=False),
        Binding("shift+right", "move(6, 0)", show=False),
        Binding("shift+up", "move(0, 6)", show=False),
        Binding("shift+down", "move(0, -6)", show=False),
        Binding("plus,equals_sign", "zoom(0.667)", "Zoom", key_display="+/-"),
        Binding("minus", "zoom(1.5)", "Zoom out", show=False),
        Binding("c", "fit", "Fit", show=False),
        *[
            Binding(str(d), f"jump('{d}')", "Class", show=d == 0, key_display="0-9")
            for d in range(10)
        ],
        *[
            Binding(
                f"{ch},shift+{ch.lower()}",
                f"jump('{ch}')",
                "Class",
                show=ch == "A",
                key_display="A-J",
            )
            for ch in "ABCDEFGHIJ"
        ],
        Binding("d", "save_decoded", "PNG"),
        Binding("g", "save_grid", "Grid PNG"),
        Binding("r", "app.resume_training", "Resume"),
        Binding("t,escape", "app.training", "Train"),
        Binding("m", "cycle_mode", "Text mode", show=False),
        Binding("q", "app.quit_app", "Quit"),
    ]

    app: AecliApp

    def __init__(self) -> None:
        super().__init__()
        self.codes: np.ndarray | None = None
        self.labels: np.ndarray | None = None
        self.split = ""
        self.epoch: int | None = None
        self.home = (-1.0, 1.0, -1.0, 1.0)
        self.bounds = self.home
        self.cursor = (0.0, 0.0)
        self.extra_dims: np.ndarray = np.zeros(0, np.float32)
        self.picked: int | None = None  # index of the image a class jump went to

    def compose(self) -> ComposeResult:
        yield Header(icon="▦")
        yield Static(id="explorer-info")
        with Horizontal(id="explorer-body"):
            with Vertical(id="map-box"):
                yield CodeMap(id="map")
                yield Static(id="legend")
            yield DecodedView(id="decoded")
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one(CodeMap).focus()

    def on_screen_resume(self) -> None:
        self.app.sync_explorer(self)

    # -- state from the app ------------------------------------------------------------
    def set_codes(self, codes: np.ndarray, labels: np.ndarray, split: str, epoch: int) -> None:
        """New encoded points; the first call also frames the view on them."""
        first = self.codes is None
        self.codes, self.labels, self.split, self.epoch = codes, labels, split, epoch
        self.extra_dims = np.median(codes[:, 2:], axis=0) if codes.shape[1] > 2 else np.zeros(0)
        cmap = self.query_one(CodeMap)
        cmap.set_points(codes, labels)
        if first:
            self.home = self._frame(codes)
            self.bounds = self.home
            self.cursor = tuple(float(v) for v in np.median(codes[:, :2], axis=0))
        names = self.app.class_names
        self.query_one("#legend", Static).update(textart.legend(names))
        self.refresh_view()

    @staticmethod
    def _frame(codes: np.ndarray) -> tuple[float, float, float, float]:
        """A view holding 99% of the points with a margin (outliers do not squash it)."""
        lo = np.percentile(codes[:, :2], 0.5, axis=0)
        hi = np.percentile(codes[:, :2], 99.5, axis=0)
        span = np.maximum(hi - lo, 1e-3)
        lo, hi = lo - 0.06 * span, hi + 0.06 * span
        return float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])

    def set_message(self, text: str) -> None:
        """A line in the map while there are no points yet (loading, encoding)."""
        cmap = self.query_one(CodeMap)
        cmap.message = text
        cmap.refresh()
        self._info(Text(text, style="dim"))

    def _info(self, text: Text) -> None:
        self.query_one("#explorer-info", Static).update(text)

    # -- drawing ----------------------------------------------------------------------
    def refresh_view(self) -> None:
        """Redraw the map and decode at the cursor (one jitted call, warmed up earlier)."""
        cmap = self.query_one(CodeMap)
        cmap.set_view(self.bounds, self.cursor)
        code = np.concatenate([np.asarray(self.cursor, np.float32), self.extra_dims])
        image = self.app.decode_one(code)
        x, y = self.cursor
        cap = Text(no_wrap=True, overflow="ellipsis")
        cap.append("decoded at ", "dim")
        cap.append(f"({x:+.3f}, {y:+.3f})", "bold")
        if self.codes is not None and len(self.codes):
            d = np.hypot(self.codes[:, 0] - x, self.codes[:, 1] - y)
            i = int(self.picked if self.picked is not None else np.argmin(d))
            name = self.app.class_names[int(self.labels[i])]
            what = "picked" if self.picked is not None else "nearest"
            cap.append(f"\n{what}: {self.split} #{i} ", "dim")
            cap.append(f"'{name}'", "bold")
            cap.append(f" at {d[i]:.3f}", "dim")
        self.query_one(DecodedView).set_image(image, cap)
        xmin, xmax, ymin, ymax = self.bounds
        zoom = (self.home[1] - self.home[0]) / (xmax - xmin)
        info = Text(no_wrap=True, overflow="ellipsis")
        info.append(f"{self.app.run_name}", "bold")
        if self.epoch is not None:
            info.append(f"  epoch {self.epoch}", "dim")
        if self.codes is not None:
            info.append(f"  {self.split} split, {len(self.codes):,} codes", "dim")
        info.append(f"  code 1 {xmin:+.2f}..{xmax:+.2f}  code 2 {ymin:+.2f}..{ymax:+.2f}", "dim")
        info.append(f"  zoom {zoom:.1f}x", "dim")
        self._info(info)

    # -- actions ----------------------------------------------------------------------
    def action_move(self, dx: int, dy: int) -> None:
        """Move the cursor by cells; the view pans to keep it inside."""
        if self.codes is None:
            return
        self.picked = None
        cw, ch = self.query_one(CodeMap).cell_size()
        self._set_cursor(self.cursor[0] + dx * cw, self.cursor[1] + dy * ch)

    def _set_cursor(self, x: float, y: float) -> None:
        xmin, xmax, ymin, ymax = self.bounds
        w, h = xmax - xmin, ymax - ymin
        if x < xmin:
            xmin, xmax = x - 0.1 * w, x + 0.9 * w
        elif x > xmax:
            xmin, xmax = x - 0.9 * w, x + 0.1 * w
        if y < ymin:
            ymin, ymax = y - 0.1 * h, y + 0.9 * h
        elif y > ymax:
            ymin, ymax = y - 0.9 * h, y + 0.1 * h
        self.bounds = (xmin, xmax, ymin, ymax)
        self.cursor = (x, y)
        self.refresh_view()

    def action_zoom(self, factor: float) -> None:
        """Zoom around the cursor (factor < 1 zooms in)."""
        if self.codes is None:
            return
        xmin, xmax, ymin, ymax = self.bounds
        x, y = self.cursor
        self.bounds = (
            x - (x - xmin) * factor,
            x + (xmax - x) * factor,
            y - (y - ymin) * factor,
            y + (ymax - y) * factor,
        )
        self.refresh_view()

    def action_fit(self) -> None:
        """Back to the whole split."""
        self.bounds = self.home
        self.refresh_view()

    def action_jump(self, name: str) -> None:
        """Move the cursor to the code of a random image of class ``name``."""
        if self.codes is None:
            return
        names = list(self.app.class_names)
        if name not in names:
            return
        members = np.flatnonzero(self.labels == names.index(name))
        if not len(members):
            self.app.notify(f"no '{name}' images in the {self.split} split", severity="warning")
            return
        i = int(self.app.rng.choice(members))
        x, y = (float(v) for v in self.codes[i, :2])
        self._set_cursor(x, y)
        self.picked = i
        self.refresh_view()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "jump":
            return parameters[0] in self.app.class_names
        if action == "resume_training":
            return self.app.can_resume
        return True

    def on_code_map_cursor_moved(self, message: CodeMap.CursorMoved) -> None:
        self.picked = None
        self._set_cursor(message.x, message.y)

    def on_code_map_zoom(self, message: CodeMap.Zoom) -> None:
        self.action_zoom(message.factor)

    def on_resize(self) -> None:
        if self.codes is not None:
            self.call_after_refresh(self.refresh_view)

    def action_save_decoded(self) -> None:
        """Save the image decoded at the cursor as PNG."""
        code = np.concatenate([np.asarray(self.cursor, np.float32), self.extra_dims])
        self.app.save_decoded(code)

    def action_save_grid(self) -> None:
        """Save a 9x9 decode grid around the cursor (spanning half the view) as PNG."""
        xmin, xmax, ymin, ymax = self.bounds
        step = min(xmax - xmin, ymax - ymin) / 16
        self.app.save_grid_around(self.cursor, step, 9, self.extra_dims)

    def action_cycle_mode(self) -> None:
        self.app.cycle_render_mode()


class QuitScreen(ModalScreen[bool]):
    """Asks before abandoning a running training; the answer is True to quit."""

    BINDINGS = [
        Binding("y,enter", "answer(True)", "Stop, save and quit"),
        Binding("n,escape", "answer(False)", "Keep training"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="quit-dialog"):
            yield Label(self.question, id="quit-question")
            with Horizontal(id="quit-buttons"):
                yield Button("Stop, save & quit (y)", variant="error", id="quit-yes")
                yield Button("Keep training (n)", variant="primary", id="quit-no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "quit-yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


def next_mode(mode: str) -> str:
    """The next text rendering mode (blocks -> shade -> ascii -> blocks)."""
    return RENDER_MODES[(RENDER_MODES.index(mode) + 1) % len(RENDER_MODES)]


def history_row(event: Any) -> dict[str, Any]:
    """An ``EpochEnd`` as a metrics row."""
    return {
        "epoch": event.epoch,
        "train_loss": event.train_loss,
        "val_loss": event.val_loss,
        "seconds": event.seconds,
        "images_per_second": event.images_per_second,
    }
