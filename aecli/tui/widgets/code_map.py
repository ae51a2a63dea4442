"""CodeMap: the encoded split as coloured braille dots with a movable cursor."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from aecli.render import textart
from aecli.tui.model import Codes


class CodeMap(Widget, can_focus=True):
    """The points of ``codes`` in the visible ``bounds`` ``(xmin, xmax, ymin, ymax)``, and
    the ``cursor``; ``note`` stands in while there are no codes (loading, encoding).

    Coordinates are code units; y grows upwards. Arrow keys are handled by the screen; the
    mouse moves the cursor (click) and zooms (wheel) here, by message.
    """

    @dataclass
    class CursorMoved(Message):
        """The cursor moved (by mouse) to the code ``(x, y)``."""

        x: float
        y: float

    @dataclass
    class Zoom(Message):
        """The wheel asked to zoom by ``factor`` (< 1 zooms in)."""

        factor: float

    codes: reactive[Codes | None] = reactive(None)
    bounds: reactive[tuple[float, float, float, float]] = reactive((-1.0, 1.0, -1.0, 1.0))
    cursor: reactive[tuple[float, float]] = reactive((0.0, 0.0))
    note: reactive[str] = reactive("encoding…")

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
            return Text(self.note, style="dim")
        w, h = self.content_size.width, self.content_size.height
        if w < 1 or h < 1:
            return Text("")
        return textart.scatter(
            self.codes.points[:, :2],
            self.codes.labels,
            width=w,
            height=h,
            bounds=self.bounds,
            cursor=self.cursor,
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
