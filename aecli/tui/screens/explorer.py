"""ExplorerScreen: the code space as a map with a cursor, and the image decoded there."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import var
from textual.screen import Screen
from textual.widgets import Static

from aecli.render import textart
from aecli.tui.messages import CodesWanted, SaveDecoded, SaveGrid
from aecli.tui.model import Codes, RunModel
from aecli.tui.widgets.code_map import CodeMap
from aecli.tui.widgets.decoded_view import DecodedView
from aecli.tui.widgets.keys_bar import KeysBar
from aecli.tui.widgets.title_bar import TitleBar

Bounds = tuple[float, float, float, float]


@dataclass(frozen=True)
class Frame:
    """What the map shows: the visible ``bounds`` ``(xmin, xmax, ymin, ymax)``, the
    ``cursor``, and ``picked``, the image a class jump went to (None after a move)."""

    bounds: Bounds = (-1.0, 1.0, -1.0, 1.0)
    cursor: tuple[float, float] = (0.0, 0.0)
    picked: int | None = None


def frame_points(points: np.ndarray) -> Bounds:
    """A view holding 99% of the points with a margin (outliers do not squash it)."""
    lo = np.percentile(points[:, :2], 0.5, axis=0)
    hi = np.percentile(points[:, :2], 99.5, axis=0)
    span = np.maximum(hi - lo, 1e-3)
    lo, hi = lo - 0.06 * span, hi + 0.06 * span
    return float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])


def follow(frame: Frame, x: float, y: float) -> Frame:
    """``frame`` with the cursor at ``(x, y)``, panned so the cursor stays inside."""
    xmin, xmax, ymin, ymax = frame.bounds
    w, h = xmax - xmin, ymax - ymin
    if x < xmin:
        xmin, xmax = x - 0.1 * w, x + 0.9 * w
    elif x > xmax:
        xmin, xmax = x - 0.9 * w, x + 0.1 * w
    if y < ymin:
        ymin, ymax = y - 0.1 * h, y + 0.9 * h
    elif y > ymax:
        ymin, ymax = y - 0.9 * h, y + 0.1 * h
    return Frame((xmin, xmax, ymin, ymax), (x, y), frame.picked)


def zoomed(frame: Frame, factor: float) -> Frame:
    """``frame`` zoomed around its cursor (``factor`` < 1 zooms in)."""
    xmin, xmax, ymin, ymax = frame.bounds
    x, y = frame.cursor
    bounds = (
        x - (x - xmin) * factor,
        x + (xmax - x) * factor,
        y - (y - ymin) * factor,
        y + (ymax - y) * factor,
    )
    return replace(frame, bounds=bounds)


def round_step(step: float) -> float:
    """The largest of 1, 2, 2.5, 5 times a power of ten that is at most ``step`` (> 0)."""
    power = 10.0 ** math.floor(math.log10(step))
    return max(m * power for m in (1.0, 2.0, 2.5, 5.0) if m * power <= step * (1 + 1e-9))


class ExplorerScreen(Screen):
    """Arrow keys (or a click) move the cursor; each move decodes one code, with the
    newest model, on the UI thread (one jitted call, warmed up by the workers).

    ``run_model`` and ``render_mode`` are bound from the app; ``codes`` (the encoded
    split) and ``frame`` (the view) are this screen's own state.
    """

    # Every key here is listed by the keys bar (KeysBar); keys that share a description
    # show once ("←↑↓→ Move", "0-9 Class").
    BINDINGS = [
        *[
            Binding(key, f"move({dx}, {dy})", "Move", key_display="←↑↓→")
            for key, dx, dy in (("left", -1, 0), ("right", 1, 0), ("up", 0, 1), ("down", 0, -1))
        ],
        *[
            Binding(f"shift+{key}", f"move({dx}, {dy})", "Fast", key_display="⇧←↑↓→")
            for key, dx, dy in (("left", -6, 0), ("right", 6, 0), ("up", 0, 6), ("down", 0, -6))
        ],
        Binding("plus", "zoom(0.667)", "Zoom", key_display="+"),
        Binding("minus", "zoom(1.5)", "Zoom", key_display="-"),
        Binding("c", "fit", "Fit"),
        *[Binding(str(d), f"jump('{d}')", "Class", key_display="0-9") for d in range(10)],
        *[
            Binding(f"{ch},shift+{ch.lower()}", f"jump('{ch}')", "Class", key_display="A-J")
            for ch in "ABCDEFGHIJ"
        ],
        Binding("d", "save_decoded", "PNG"),
        Binding("g", "save_grid", "Grid PNG"),
        Binding("r", "app.resume_training", "Resume"),
        Binding("t,escape", "app.training", "Train"),
        Binding("m", "app.cycle_render_mode", "Text"),
        Binding("q", "app.quit_app", "Quit"),
    ]

    run_model: var[RunModel | None] = var(None)
    render_mode: var[str] = var("blocks")
    codes: var[Codes | None] = var(None)
    frame: var[Frame] = var(Frame)

    def __init__(self, rng: np.random.Generator) -> None:
        super().__init__()
        self.rng = rng  # class jumps pick a random member
        self.home: Bounds = Frame().bounds

    def compose(self) -> ComposeResult:
        yield TitleBar()
        yield Static(id="explorer-info")
        with Horizontal(id="explorer-body"):
            with Vertical(id="map-box"):
                yield CodeMap(id="map")
                yield Static(id="legend")
            yield DecodedView(id="decoded").data_bind(mode=ExplorerScreen.render_mode)
        yield KeysBar()

    def on_mount(self) -> None:
        self.query_one(CodeMap).focus()
        self._show_model(None, self.run_model)

    def on_screen_resume(self) -> None:
        self.post_message(CodesWanted())

    # -- state from the app -----------------------------------------------------------
    def watch_run_model(self, old: RunModel | None, new: RunModel | None) -> None:
        if self.is_mounted:
            self._show_model(old, new)

    def _show_model(self, old: RunModel | None, m: RunModel | None) -> None:
        if m is None:
            return
        if old is None or old.class_names != m.class_names:
            self.query_one("#legend", Static).update(textart.legend(m.class_names))
            self.refresh_bindings()  # the class keys follow the dataset's classes
        if m.codes is not None and m.codes is not self.codes:
            self._take_codes(m.codes)
        elif self.codes is None and m.explorer_note:
            cmap = self.query_one(CodeMap)
            cmap.note = m.explorer_note
            self._info(Text(m.explorer_note, style="dim"))

    def _take_codes(self, codes: Codes) -> None:
        """New encoded points. The first ones frame the view on them; later ones (the next
        epoch's model) re-frame it while the user has not zoomed or panned, so a map whose
        scale grows epoch by epoch (a UMAP term spreads codes over -10..10) stays in view."""
        first = self.codes is None
        following = first or self.frame.bounds == self.home
        self.codes = codes
        self.query_one(CodeMap).codes = codes
        self.home = frame_points(codes.points)  # what "c" (fit) goes back to
        if following:
            xmin, xmax, ymin, ymax = self.home
            x, y = self.frame.cursor
            if first or not (xmin <= x <= xmax and ymin <= y <= ymax):
                x, y = (float(v) for v in np.median(codes.points[:, :2], axis=0))
            picked = None if first else self.frame.picked
            self.set_reactive(ExplorerScreen.frame, Frame(self.home, (x, y), picked))
        self._draw()

    @property
    def extra_dims(self) -> np.ndarray:
        """The code's other dimensions (beyond the map's two): the split's medians."""
        if self.codes is None or self.codes.points.shape[1] <= 2:
            return np.zeros(0, np.float32)
        return np.median(self.codes.points[:, 2:], axis=0)

    # -- drawing ----------------------------------------------------------------------
    def watch_frame(self) -> None:
        if self.is_mounted:
            self._draw()

    def _draw(self) -> None:
        """Redraw the map and decode at the cursor."""
        f, m = self.frame, self.run_model
        cmap = self.query_one(CodeMap)
        cmap.bounds, cmap.cursor = f.bounds, f.cursor
        code = np.concatenate([np.asarray(f.cursor, np.float32), self.extra_dims])
        view = m.view if m is not None else None
        image = None if view is None else np.asarray(view.decode(code[None]))[0]
        decoded = self.query_one(DecodedView)
        decoded.image, decoded.caption = image, self._caption()
        self._info(self._info_text())

    def _caption(self) -> Text:
        f, c = self.frame, self.codes
        x, y = f.cursor
        cap = Text(no_wrap=True, overflow="ellipsis")
        cap.append("decoded at ", "dim")
        cap.append(f"({x:+.3f}, {y:+.3f})", "bold")
        if c is not None and len(c.points) and self.run_model is not None:
            d = np.hypot(c.points[:, 0] - x, c.points[:, 1] - y)
            i = int(f.picked if f.picked is not None else np.argmin(d))
            name = self.run_model.class_names[int(c.labels[i])]
            what = "picked" if f.picked is not None else "nearest"
            cap.append(f"\n{what}: #{i} ", "dim")
            cap.append(f"'{name}'", "bold")
            cap.append(f" at {d[i]:.3f}", "dim")
        return cap

    def _info_text(self) -> Text:
        xmin, xmax, ymin, ymax = self.frame.bounds
        zoom = (self.home[1] - self.home[0]) / (xmax - xmin)
        info = Text(no_wrap=True, overflow="ellipsis")
        # The run's name is in the title bar: this line keeps to the view, for 80 columns.
        if self.codes is not None:
            info.append(f"epoch {self.codes.epoch}", "bold")
            info.append(f"  {self.codes.split}: {len(self.codes.points):,} codes", "dim")
        # Short enough for 80 columns: the view's code 1 range × its code 2 range.
        info.append(f"  view {xmin:+.2f}..{xmax:+.2f} × {ymin:+.2f}..{ymax:+.2f}", "dim")
        info.append(f"  zoom {zoom:.1f}x", "dim")
        return info

    def _info(self, text: Text) -> None:
        self.query_one("#explorer-info", Static).update(text)

    def on_resize(self) -> None:
        if self.codes is not None:
            self.call_after_refresh(self._draw)

    # -- keys and mouse ---------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        m = self.run_model
        if action == "jump":
            return m is not None and parameters[0] in m.class_names
        if action == "resume_training":
            return m is not None and m.can_resume
        return True

    def action_move(self, dx: int, dy: int) -> None:
        """Move the cursor by cells; the view pans to keep it inside."""
        if self.codes is None:
            return
        cw, ch = self.query_one(CodeMap).cell_size()
        x, y = self.frame.cursor
        self.frame = follow(replace(self.frame, picked=None), x + dx * cw, y + dy * ch)

    def action_zoom(self, factor: float) -> None:
        """Zoom around the cursor (factor < 1 zooms in)."""
        if self.codes is not None:
            self.frame = zoomed(self.frame, factor)

    def action_fit(self) -> None:
        """Back to the whole split."""
        self.frame = replace(self.frame, bounds=self.home)

    def action_jump(self, name: str) -> None:
        """Move the cursor to the code of a random image of class ``name``."""
        if self.codes is None or self.run_model is None:
            return
        names = list(self.run_model.class_names)
        if name not in names:
            return
        members = np.flatnonzero(self.codes.labels == names.index(name))
        if not len(members):
            self.notify(f"no '{name}' images in the {self.codes.split} split", severity="warning")
            return
        i = int(self.rng.choice(members))
        x, y = (float(v) for v in self.codes.points[i, :2])
        self.frame = replace(follow(self.frame, x, y), picked=i)

    @on(CodeMap.CursorMoved)
    def _clicked(self, message: CodeMap.CursorMoved) -> None:
        self.frame = follow(replace(self.frame, picked=None), message.x, message.y)

    @on(CodeMap.Zoom)
    def _wheel(self, message: CodeMap.Zoom) -> None:
        self.action_zoom(message.factor)

    def action_save_decoded(self) -> None:
        """Save the image decoded at the cursor as PNG."""
        code = np.concatenate([np.asarray(self.frame.cursor, np.float32), self.extra_dims])
        self.post_message(SaveDecoded(code))

    def action_save_grid(self) -> None:
        """Save a 9x9 decode grid around the cursor (spanning about half the view) as PNG.

        The step is a round number and the centre a multiple of it (within half a step of
        the cursor), so the sheet's axes carry short round values, as ``aecli generate``'s.
        """
        xmin, xmax, ymin, ymax = self.frame.bounds
        step = round_step(min(xmax - xmin, ymax - ymin) / 16)
        x, y = (round(v / step) * step for v in self.frame.cursor)
        self.post_message(SaveGrid((x, y), step, 9, self.extra_dims))
