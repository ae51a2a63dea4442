"""StatusLine: the state of the run in words, with a spinner while something is busy."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from aecli.tui.model import Status
from aecli.tui.themes import resolve


class StatusLine(Static):
    """Loading, compiling, training, paused, stopped... (``status.busy`` spins, e.g. while
    XLA compiles, so the UI is visibly alive)."""

    SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
    status: reactive[Status] = reactive(Status)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._frame = 0

    def on_mount(self) -> None:
        self._timer = self.set_interval(0.12, self._tick, pause=not self.status.busy)
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._draw())

    @property
    def text(self) -> str:
        """The current status text (without the spinner)."""
        return self.status.text

    @property
    def busy(self) -> bool:
        """Whether the spinner runs."""
        return self.status.busy

    def watch_status(self, status: Status) -> None:
        timer = getattr(self, "_timer", None)
        if timer is not None:
            if status.busy:
                timer.resume()
            else:
                timer.pause()
        self._draw()

    def _tick(self) -> None:
        self._frame = (self._frame + 1) % len(self.SPINNER)
        self._draw()

    def _draw(self) -> None:
        text = Text(no_wrap=True, overflow="ellipsis")
        if self.status.busy:
            text.append(self.SPINNER[self._frame] + " ", "bold")
        text.append(self.status.text, resolve(self.status.style, self.app.theme_variables))
        self.update(text)
