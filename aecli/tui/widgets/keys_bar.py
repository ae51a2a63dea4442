"""KeysBar: every key that works on the screen right now, wrapped onto a second line when
the terminal is narrow (Textual's ``Footer`` has one line and cuts what does not fit).

It lists the screen's active bindings (the screen's, then the app's; those whose
``check_action`` says False are left out, as they do nothing now), one item per
description: bindings that share one (the four arrows, the class keys) show their key
displays once each, joined by ``/`` (``t/esc Train``). Textual's focus keys (tab,
shift+tab) are not listed: each screen has at most one focusable widget, so they do nothing.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widget import Widget

from aecli.tui.themes import resolve

HIDDEN_ACTIONS = ("app.focus_next", "app.focus_previous", "screen.copy_text")
"""Textual's own bindings that do nothing visible in aecli."""


def key_items(screen: Any) -> list[tuple[str, str]]:
    """``(keys, description)`` for every key that works on ``screen`` now, in order."""
    items: dict[str, list[str]] = {}
    # The screen's keys first, the app's (theme, quit now) last, wherever Textual puts them.
    ordered = sorted(
        screen.active_bindings.values(), key=lambda a: (a.node is screen.app, a.binding.priority)
    )
    for active in ordered:
        binding = active.binding
        if binding.action in HIDDEN_ACTIONS or binding.system or not active.enabled:
            continue
        keys = items.setdefault(binding.description or binding.action, [])
        shown = screen.app.get_key_display(binding)
        if shown not in keys:
            keys.append(shown)
    # Priority keys of the app work on a modal screen too, where Textual leaves the app's
    # bindings out of ``active_bindings`` (ctrl+c on the quit question).
    for _key, bindings in sorted(screen.app._bindings.key_to_bindings.items()):
        for binding in bindings:
            keys = items.setdefault(binding.description, []) if binding.priority else None
            shown = screen.app.get_key_display(binding)
            if keys is not None and shown not in keys:
                keys.append(shown)
    return [("/".join(keys), description) for description, keys in items.items()]


def pack(items: list[tuple[str, str]], width: int) -> list[list[tuple[str, str]]]:
    """The items in lines of at most ``width`` cells: two spaces between items, one when
    that keeps them on one line, a new line where they do not fit."""
    sizes = [len(k) + 1 + len(d) for k, d in items]
    for gap in (2, 1):
        if sum(sizes) + gap * (len(sizes) - 1) <= width:
            return [items]
    lines: list[list[tuple[str, str]]] = [[]]
    used = 0
    for item, size in zip(items, sizes, strict=True):
        if lines[-1] and used + 2 + size > width:
            lines.append([])
            used = 0
        used += (2 if lines[-1] else 0) + size
        lines[-1].append(item)
    return lines


class KeysBar(Widget):
    """The keys of its screen, in the theme's footer colours."""

    DEFAULT_CSS = """
    KeysBar {
        dock: bottom;
        height: auto;
        padding: 0 1;
        background: $footer-background;
        color: $footer-foreground;
    }
    """

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._changed)
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.refresh())

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _changed(self, _screen: Any) -> None:
        self.refresh(layout=True)

    def lines(self, width: int) -> list[list[tuple[str, str]]]:
        """The packed items for a bar ``width`` cells wide."""
        return pack(key_items(self.screen), max(1, width))

    def get_content_height(self, container: Any, viewport: Any, width: int) -> int:
        return max(1, len(self.lines(width)))

    def render(self) -> Text:
        lines = self.lines(self.content_size.width)
        one_line = len(lines) == 1
        gap = 2
        if one_line:
            size = sum(len(k) + 1 + len(d) for k, d in lines[0])
            gap = 2 if size + 2 * (len(lines[0]) - 1) <= self.content_size.width else 1
        variables = self.app.theme_variables
        key_style = resolve("bold $footer-key-foreground", variables)
        text = Text(no_wrap=True, overflow="crop")
        for n, line in enumerate(lines):
            if n:
                text.append("\n")
            for i, (keys, description) in enumerate(line):
                if i:
                    text.append(" " * gap)
                text.append(keys, key_style)
                text.append(" " + description)
        return text

    def plain(self) -> str:
        """The bar's text as shown (for tests)."""
        return self.render().plain
