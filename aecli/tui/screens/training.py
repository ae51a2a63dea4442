"""TrainingScreen: run info, status, progress, the loss chart and table, decoded digits."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import var
from textual.screen import Screen

from aecli.tui.model import Bars, InfoLine, Preview, RunModel, Samples, Status, progress_bars
from aecli.tui.model import info_line as make_info_line
from aecli.tui.widgets.digits_panel import DigitsPanel
from aecli.tui.widgets.epoch_table import EpochTable
from aecli.tui.widgets.info_bar import InfoBar
from aecli.tui.widgets.keys_bar import KeysBar
from aecli.tui.widgets.loss_chart import LossChart
from aecli.tui.widgets.status_line import StatusLine
from aecli.tui.widgets.title_bar import TitleBar
from aecli.tui.widgets.train_progress import TrainProgress

DIGITS_VIEWS = ("both", "tests", "grid")


class TrainingScreen(Screen):
    """The live run. ``run_model`` and ``render_mode`` are bound from the app; the screen
    splits the model into one reactive per widget, so each widget redraws only when its
    part changes (the chart on a new epoch, not on every progress event)."""

    # Every key here is listed by the keys bar (KeysBar): one key per action.
    BINDINGS = [
        Binding("p", "app.toggle_pause", "Pause"),
        Binding("s", "app.stop", "Stop"),
        Binding("r", "app.resume_training", "Resume"),
        Binding("f", "app.save_figures", "PNGs"),
        Binding("e", "app.explorer", "Explorer"),
        Binding("v", "cycle_view", "View"),  # the digits panel: tests, grid, both
        Binding("m", "app.cycle_render_mode", "Text"),
        Binding("q", "app.quit_app", "Quit"),
    ]

    run_model: var[RunModel | None] = var(None)
    render_mode: var[str] = var("blocks")
    info: var[InfoLine | None] = var(None)
    status: var[Status] = var(Status)
    bars: var[Bars | None] = var(None)
    history: var[tuple[dict[str, Any], ...]] = var(())
    samples: var[Samples | None] = var(None)
    captions: var[tuple[str, ...]] = var(())
    grid_values: var[tuple[float, ...]] = var(())
    preview: var[Preview | None] = var(None)

    def compose(self) -> ComposeResult:
        s = TrainingScreen
        yield TitleBar()
        yield InfoBar(id="info").data_bind(s.info)
        yield StatusLine(id="status").data_bind(s.status)
        yield TrainProgress(id="progress").data_bind(s.bars)
        with Horizontal(id="body"):
            with Vertical(id="left"):
                yield LossChart(id="chart").data_bind(s.history)
                yield EpochTable(id="table").data_bind(s.history)
            yield DigitsPanel(id="digits").data_bind(
                s.samples, s.captions, s.grid_values, s.preview, mode=s.render_mode
            )
        yield KeysBar()

    def watch_run_model(self, m: RunModel | None) -> None:
        if m is None:
            return
        self.info = make_info_line(m)
        self.status = m.status
        self.bars = progress_bars(m)
        self.history = m.history
        self.samples = m.samples
        self.captions = tuple(m.captions(m.samples.labels)) if m.samples is not None else ()
        self.grid_values = m.grid_values
        self.preview = m.preview

    def action_cycle_view(self) -> None:
        """Digits panel: both sections, the test row only, or the decode grid only."""
        panel = self.query_one(DigitsPanel)
        panel.show = DIGITS_VIEWS[(DIGITS_VIEWS.index(panel.show) + 1) % len(DIGITS_VIEWS)]
        self.notify(f"digits panel: {panel.show}", timeout=2)
