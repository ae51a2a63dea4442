"""The TUI's two themes, every colour explicit, so nothing depends on the terminal's own
background or palette: a light theme on a dark terminal (or the reverse) stays readable.

Textual paints each cell with the theme's colours; the widgets' rich styles use the theme's
variables (``$warning``, ``$success``, ...; see ``resolve``), never ANSI colour names, which
each terminal maps to colours of its own. ``ctrl+t`` switches between the two.
"""

from __future__ import annotations

from collections.abc import Mapping

from textual.theme import Theme

DARK = Theme(
    name="aecli-dark",
    dark=True,
    foreground="#E8E8E8",
    background="#121417",
    surface="#1B1E23",
    panel="#2B3442",
    primary="#5FA8E8",
    secondary="#8AB4F8",
    accent="#FFB454",
    warning="#F2C14E",
    error="#FF7B86",
    success="#6CCB82",
    variables={
        "header-background": "#2B3442",
        "header-foreground": "#F4F4F4",
        "header-muted": "#B8C2D0",
        "footer-background": "#2B3442",
        "footer-foreground": "#F4F4F4",
        "footer-key-foreground": "#FFB454",
        "footer-description-foreground": "#F4F4F4",
        "chart-train": "#5FA8E8",
        "chart-validation": "#FFB454",
    },
)

LIGHT = Theme(
    name="aecli-light",
    dark=False,
    foreground="#17191C",
    background="#F5F5F2",
    surface="#ECECE8",
    panel="#C7D4E6",
    primary="#1F5FA8",
    secondary="#2F6FB8",
    accent="#A34A00",
    warning="#8A5A00",
    error="#B0243A",
    success="#1E7A35",
    variables={
        "header-background": "#1F3B5C",
        "header-foreground": "#FFFFFF",
        "header-muted": "#D0DCEA",
        "footer-background": "#1F3B5C",
        "footer-foreground": "#FFFFFF",
        "footer-key-foreground": "#FFC978",
        "footer-description-foreground": "#FFFFFF",
        "chart-train": "#1F5FA8",
        "chart-validation": "#B35400",
    },
)

THEMES = (DARK, LIGHT)


def other(name: str) -> str:
    """The name of the theme ``ctrl+t`` switches to from ``name``."""
    return LIGHT.name if name == DARK.name else DARK.name


def resolve(style: str, variables: Mapping[str, str]) -> str:
    """A rich style with each ``$name`` replaced by the theme variable's colour, e.g.
    ``"bold $warning"`` -> ``"bold #8A5A00"`` (unknown names are dropped)."""
    words = []
    for word in style.split():
        if word.startswith("$"):
            value = variables.get(word[1:])
            if value:
                words.append(value)
        else:
            words.append(word)
    return " ".join(words)
