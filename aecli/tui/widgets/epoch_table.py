"""EpochTable: the last epochs' losses per image and speed, newest first."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import DataTable


class EpochTable(DataTable):
    """One row per epoch of ``history``: train and validation loss per image, images/s."""

    COLUMNS = ("epoch", "train", "valid", "img/s")
    LIMIT = 200

    history: reactive[tuple[dict[str, Any], ...]] = reactive((), repaint=False)

    def on_mount(self) -> None:
        self.cursor_type = "none"
        self.zebra_stripes = True
        for name in self.COLUMNS:
            self.add_column(name, key=name)
        # After the mount completes (a change during it was skipped by the watcher).
        self.call_later(lambda: self._fill(self.history))

    def watch_history(self, history: tuple[dict[str, Any], ...]) -> None:
        if self.is_mounted:
            self._fill(history)

    def _fill(self, history: tuple[dict[str, Any], ...]) -> None:
        self.clear()
        for r in list(history)[-self.LIMIT :][::-1]:
            val = r.get("val_loss")
            ips = r.get("images_per_second")
            self.add_row(
                Text(str(r["epoch"]), justify="right"),
                Text(f"{float(r['train_loss']):.2f}", justify="right"),
                Text(f"{float(val):.2f}" if val is not None else "-", justify="right"),
                Text(f"{float(ips):,.0f}" if ips else "-", justify="right"),
            )
