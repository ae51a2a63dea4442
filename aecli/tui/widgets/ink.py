"""Which way the digit images are inked: white on black under a dark theme, else inverted."""

from __future__ import annotations

from textual.widget import Widget


def is_dark(widget: Widget) -> bool:
    """Whether the app's current theme is dark (images then use white ink on black paper)."""
    try:
        return bool(widget.app.current_theme.dark)
    except Exception:  # not mounted yet
        return True
