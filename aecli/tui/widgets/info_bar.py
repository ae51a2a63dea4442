"""InfoBar: the run's name, dataset and its source, device and parameter count."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from aecli.tui.model import InfoLine


class InfoBar(Static):
    """The facts on the first line, the data source on the second."""

    info: reactive[InfoLine | None] = reactive(None)

    def watch_info(self, info: InfoLine | None) -> None:
        if info is None:
            return
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append("run ", "dim")
        text.append(info.name, "bold")
        text.append("  dataset ", "dim")
        text.append(info.dataset, "bold")
        text.append("  parameters ", "dim")
        text.append(f"{info.n_params:,}" if info.n_params is not None else "?", "bold")
        text.append("  device ", "dim")
        text.append(info.device or "?", "bold")
        if info.source:
            text.append("\nsource ", "dim")
            text.append(info.source, "dim")
        self.update(text)
