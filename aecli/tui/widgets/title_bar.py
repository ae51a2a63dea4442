"""TitleBar: one line naming the app, the run and its directory, in the theme's colours.

Textual's ``Header`` keeps 18 of its columns for an icon and a clock space and centres the
title, so at 80 columns a run directory was cut; this bar is left-aligned, and a long
directory loses its start (``…/runs/mnist``) rather than the run's name.
"""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from aecli.tui.themes import resolve


def fit_title(name: str, where: str, width: int) -> tuple[str, str]:
    """``(title, path)`` for a line of ``width`` cells: the path is shortened from the left
    with ``…`` (then dropped), the title from the right, so both fit."""
    title = f"▦ aecli · {name}"
    if len(title) > width:
        return title[: max(0, width - 1)] + "…", ""
    room = width - len(title) - 2
    if len(where) <= room:
        return title, where
    if room >= 8:
        return title, "…" + where[-(room - 1) :]
    return title, ""


class TitleBar(Widget):
    """The app's ``title`` (``aecli · RUN``) and ``sub_title`` (the run directory)."""

    DEFAULT_CSS = """
    TitleBar {
        dock: top;
        height: 1;
        padding: 0 1;
        background: $header-background;
        color: $header-foreground;
    }
    """

    def on_mount(self) -> None:
        self.watch(self.app, "sub_title", lambda _value: self.refresh())
        self.watch(self.app, "title", lambda _value: self.refresh())

    def render(self) -> Text:
        app = self.app
        name = str(app.title).removeprefix("aecli · ")
        title, where = fit_title(name, str(app.sub_title), self.content_size.width)
        text = Text(no_wrap=True, overflow="crop")
        text.append(title, "bold")
        if where:
            text.append("  " + where, resolve("$header-muted", app.theme_variables))
        return text
