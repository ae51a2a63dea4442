"""TrainProgress: two progress bars (this epoch, the whole run) with images/s and ETA."""

from __future__ import annotations

import math

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widgets import Label, ProgressBar

from aecli.tui.model import Bars


def format_duration(seconds: float | None) -> str:
    """Seconds as ``m:ss`` or ``h:mm:ss``; ``--:--`` when unknown."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "--:--"
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class TrainProgress(Vertical):
    """The epoch bar over the run bar; ``bars`` says what they show."""

    bars: reactive[Bars | None] = reactive(None, repaint=False)

    def compose(self) -> ComposeResult:
        with Horizontal(classes="progress-row"):
            yield Label("epoch", id="epoch-label", classes="progress-label")
            yield ProgressBar(total=1, show_eta=False, id="epoch-bar")
            yield Label("", id="epoch-stats", classes="progress-stats")
        with Horizontal(classes="progress-row"):
            yield Label("run", id="run-label", classes="progress-label")
            yield ProgressBar(total=1, show_eta=False, id="run-bar")
            yield Label("", id="run-stats", classes="progress-stats")

    def on_mount(self) -> None:
        # After the mount completes (a change during it was skipped by the watcher).
        self.call_later(lambda: self._draw(self.bars))

    def watch_bars(self, bars: Bars | None) -> None:
        if self.is_mounted:
            self._draw(bars)

    def _draw(self, b: Bars | None) -> None:
        if b is None:
            return
        self.query_one("#epoch-label", Label).update(f"epoch {b.epoch}/{b.epochs}")
        bar = self.query_one("#epoch-bar", ProgressBar)
        bar.update(total=max(1, b.images_total), progress=b.images_done)
        rate_s = f"{b.rate:,.0f} img/s" if b.rate else "-- img/s"
        self.query_one("#epoch-stats", Label).update(f"{rate_s}  {format_duration(b.epoch_eta)}")
        done_epochs = (
            min(b.epochs, int(b.run_done // max(1, b.images_total))) if b.images_total else 0
        )
        self.query_one("#run-label", Label).update(f"run {done_epochs}/{b.epochs}")
        run = self.query_one("#run-bar", ProgressBar)
        run.update(total=max(1.0, b.run_total), progress=b.run_done)
        self.query_one("#run-stats", Label).update(f"ETA {format_duration(b.eta)}")
