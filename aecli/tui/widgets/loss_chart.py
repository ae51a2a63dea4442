"""LossChart: training and validation loss per image against epoch (textual-plotext)."""

from __future__ import annotations

import math
from typing import Any

from textual.app import ComposeResult
from textual.reactive import reactive
from textual.widget import Widget


def int_ticks(lo: int, hi: int, most: int = 6) -> list[int]:
    """At most about ``most`` whole-number ticks from ``lo`` to ``hi``."""
    step = max(1, math.ceil((hi - lo + 1) / most))
    return list(range(lo, hi + 1, step))


class LossChart(Widget):
    """Redrawn from ``history``: ``({"epoch", "train_loss", "val_loss"}, ...)``."""

    DEFAULT_CSS = """
    LossChart { height: 1fr; }
    LossChart > PlotextPlot { height: 1fr; }
    """

    history: reactive[tuple[dict[str, Any], ...]] = reactive((), repaint=False)

    def compose(self) -> ComposeResult:
        from textual_plotext import PlotextPlot

        yield PlotextPlot()

    def on_mount(self) -> None:
        # After the mount completes (a change during it was skipped by the watcher).
        self.call_later(lambda: self._draw(self.history))
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._draw(self.history))

    def _rgb(self, name: str) -> tuple[int, int, int]:
        """A theme colour as an RGB triple: plotext's colour names are the terminal's."""
        from textual.color import Color

        return Color.parse(self.app.theme_variables[name]).rgb

    def watch_history(self, history: tuple[dict[str, Any], ...]) -> None:
        if self.is_mounted:
            self._draw(history)

    def _draw(self, history: tuple[dict[str, Any], ...]) -> None:
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
            plt.plot(epochs, train, label="train", marker="braille", color=self._rgb("chart-train"))
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
                    color=self._rgb("chart-validation"),
                )
            if len(epochs) == 1:
                plt.xlim(epochs[0] - 1, epochs[0] + 1)
            plt.xticks(int_ticks(epochs[0], epochs[-1]))
        plot.refresh()
