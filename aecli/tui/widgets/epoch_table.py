"""EpochTable: the last epochs' losses per image and speed, newest first."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import DataTable


class EpochTable(DataTable, can_focus=False):
    """One row per epoch of ``history``: train and validation loss per image, images/s, and
    for a map run (``[map]`` kind "umap") the map term's loss per step.

    Not focusable: it scrolls with the mouse wheel, and keys stay with the screen (whose
    footer lists them all)."""

    COLUMNS = ("epoch", "train", "valid", "img/s")
    LIMIT = 200
    MAP_WIDTH = 38  # cells five columns need: epoch, train, valid, map, img/s

    history: reactive[tuple[dict[str, Any], ...]] = reactive((), repaint=False)

    def on_mount(self) -> None:
        self.cursor_type = "none"
        self.zebra_stripes = True
        self._columns_for(False)
        # After the mount completes (a change during it was skipped by the watcher).
        self.call_later(lambda: self._fill(self.history))

    def on_resize(self) -> None:
        if self.is_mounted:  # after the layout, when the new width is known
            self.call_after_refresh(lambda: self._fill(self.history))

    def _columns_for(self, with_map: bool) -> tuple[str, ...]:
        """Set the columns; a map run's table, when narrow, leaves out images/s (the
        progress bar shows it) rather than scroll sideways."""
        names = self.COLUMNS[:3] + (("map",) if with_map else ()) + self.COLUMNS[3:]
        if with_map and self.size.width < self.MAP_WIDTH:
            names = names[:-1]
        if tuple(str(k.value) for k in self.columns) != names:
            self.clear(columns=True)
            for name in names:
                self.add_column(name, key=name)
        return names

    def watch_history(self, history: tuple[dict[str, Any], ...]) -> None:
        if self.is_mounted:
            self._fill(history)

    def _fill(self, history: tuple[dict[str, Any], ...]) -> None:
        rows = list(history)[-self.LIMIT :][::-1]
        with_map = any(r.get("map_loss") is not None for r in rows)
        names = self._columns_for(with_map)
        self.clear()
        for r in rows:
            val, ips, map_loss = r.get("val_loss"), r.get("images_per_second"), r.get("map_loss")
            cells = [
                Text(str(r["epoch"]), justify="right"),
                Text(f"{float(r['train_loss']):.2f}", justify="right"),
                Text(f"{float(val):.2f}" if val is not None else "-", justify="right"),
            ]
            if with_map:
                text = f"{float(map_loss):.3f}" if map_loss is not None else "-"
                cells.append(Text(text, justify="right"))
            cells.append(Text(f"{float(ips):,.0f}" if ips else "-", justify="right"))
            self.add_row(*cells[: len(names)])
