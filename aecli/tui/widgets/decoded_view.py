"""DecodedView: the image decoded at the explorer's cursor, as large as it fits."""

from __future__ import annotations

from typing import Any

import numpy as np
from rich.console import Group
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from aecli.render import textart
from aecli.tui.widgets.ink import is_dark


class DecodedView(Widget):
    """``image`` (28x28 float in [0, 1]) drawn in ``mode``, with ``caption`` lines below."""

    # always_update: arrays have no truth value, so no comparison; every new image draws.
    image: reactive[np.ndarray | None] = reactive(None, always_update=True)
    caption: reactive[Text] = reactive(Text)
    mode: reactive[str] = reactive("blocks")

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.refresh())

    def render(self) -> Any:
        size = self.content_size
        caption_lines = len(self.caption.plain.split("\n")) if self.caption.plain else 0
        if self.image is None or size.width < 2 or size.height - caption_lines < 1:
            return self.caption
        w, h = textart.fit_cells(size.width, max(1, size.height - caption_lines - 1))
        art = textart.render(
            self.image, width=w, height=h, mode=self.mode, invert=not is_dark(self)
        )
        pad = " " * max(0, (size.width - w) // 2)
        lines = art.split("\n", allow_blank=True)
        body = Text("\n").join(Text(pad) + line for line in lines)
        return Group(body, Text(""), self.caption)
