"""DigitsPanel: the fixed test images over their reconstructions, and the decode grid."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from aecli.render import textart
from aecli.tui.model import Preview, Samples
from aecli.tui.widgets.digits_layout import DigitsPlan, plan_digits, subgrid_indices
from aecli.tui.widgets.ink import is_dark


class DigitsPanel(Widget):
    """Decoded digits as text: a row of fixed test images over their reconstructions, and
    the run's decode grid (an evenly spaced sub-grid when the full one does not fit).

    Attributes (reactive): ``samples`` (the test images), ``captions`` (their class names),
    ``grid_values`` (the code values along each grid axis), ``preview`` (the newest
    decodes), ``show`` (``both``, ``tests`` or ``grid``) and ``mode`` (a ``textart`` mode).
    """

    samples: reactive[Samples | None] = reactive(None)
    captions: reactive[tuple[str, ...]] = reactive(())
    grid_values: reactive[tuple[float, ...]] = reactive(())
    preview: reactive[Preview | None] = reactive(None)
    show: reactive[str] = reactive("both")
    mode: reactive[str] = reactive("blocks")

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.refresh())

    def plan(self) -> DigitsPlan:
        """The layout for the current size."""
        size = self.content_size
        n_tests = 0 if self.samples is None else len(self.samples.images)
        return plan_digits(
            size.width, size.height, n_tests=n_tests, n_grid=len(self.grid_values), show=self.show
        )

    def render(self) -> Any:
        if self.samples is None and not self.grid_values:
            return Text("waiting for data…", style="dim")
        plan = self.plan()
        p = self.preview
        epoch = f"epoch {p.epoch}" if p is not None else "not trained yet"
        tests = self._tests_text(plan, epoch) if plan.tests is not None else None
        grid = self._grid_text(plan, epoch) if plan.grid is not None else None
        if tests is None and grid is None:
            return Text("too small for digits: enlarge the terminal", style="dim")
        if tests is not None and grid is not None:
            if plan.side:
                return textart.hstack([grid, tests], gap=2)
            return Group(tests, Text(""), grid)
        return tests if tests is not None else grid

    def _title(self, text: str) -> Text:
        return Text(text, style="bold", no_wrap=True, overflow="ellipsis")

    def _tests_text(self, plan: DigitsPlan, epoch: str) -> Text | None:
        if self.samples is None or plan.tests is None:
            return None
        k, p = plan.tests
        originals = self.samples.images[:k]
        captions = list(self.captions[:k])
        if self.preview is None:
            out = Text(no_wrap=True, overflow="crop")
            out.append_text(self._title(f"test images ({epoch})"))
            out.append("\n")
            out.append_text(
                textart.grid(
                    originals,
                    cols=k if not plan.side else 1,
                    width=p,
                    captions=captions,
                    mode=self.mode,
                    invert=not is_dark(self),
                )
            )
            return out
        errs = [f"{e:.0f}" for e in self.preview.errors[:k]]
        errs += [""] * (k - len(errs))
        recons = self.preview.recons[:k]
        if plan.side:
            return self._pairs_text(plan, epoch, originals, recons, captions, errs)
        return self._row_text(k, p, epoch, originals, recons, captions, errs)

    def _row_text(
        self,
        k: int,
        p: int,
        epoch: str,
        originals: Any,
        recons: Any,
        captions: list[str],
        errs: list[str],
    ) -> Text:
        """A row of originals with their reconstructions below."""
        invert = not is_dark(self)
        arrows = ("^", "v") if self.mode == "ascii" else ("↑", "↓")
        out = Text(no_wrap=True, overflow="crop")
        out.append_text(self._title(f"test images {arrows[0]} decoded {arrows[1]} ({epoch})"))
        out.append("\n")
        out.append_text(textart.grid(originals, cols=k, width=p, mode=self.mode, invert=invert))
        out.append("\n")
        caps = [f"{c} {e}".strip() for c, e in zip(captions, errs, strict=True)]
        out.append_text(
            textart.grid(recons, cols=k, width=p, captions=caps, mode=self.mode, invert=invert)
        )
        return out

    def _pairs_text(
        self,
        plan: DigitsPlan,
        epoch: str,
        originals: Any,
        recons: Any,
        captions: list[str],
        errs: list[str],
    ) -> Text:
        """Pairs "original | reconstruction", captioned with class and error."""
        assert plan.tests is not None
        k, p = plan.tests
        arrow = "->" if self.mode == "ascii" else "→"
        out = Text(no_wrap=True, overflow="crop")
        out.append_text(self._title(f"test {arrow} decoded ({epoch})"))
        pairs = [
            textart.grid(
                [originals[i], recons[i]],
                cols=2,
                width=p,
                gap=1,
                captions=[captions[i], errs[i]],
                mode=self.mode,
                invert=not is_dark(self),
            )
            for i in range(k)
        ]
        for r0 in range(0, k, plan.pair_cols):
            out.append("\n")
            out.append_text(textart.hstack(pairs[r0 : r0 + plan.pair_cols], gap=2))
        return out

    def _grid_text(self, plan: DigitsPlan, epoch: str) -> Text | None:
        if plan.grid is None or not self.grid_values:
            return None
        k, p = plan.grid
        n = len(self.grid_values)
        lo, hi = self.grid_values[0], self.grid_values[-1]
        sub = f"{k}x{k} of {n}x{n}" if k < n else f"{n}x{n}"
        out = Text(no_wrap=True, overflow="crop")
        out.append_text(self._title(f"decode grid {sub}, {lo:g}..{hi:g}"))
        out.append("\n")
        if self.preview is None:
            out.append("(after the first epoch)", style="dim")
            return out
        idx = subgrid_indices(n, k)
        images = [self.preview.grid_images[r * n + c] for r in idx for c in idx]
        out.append_text(
            textart.grid(images, cols=k, width=p, gap=0, mode=self.mode, invert=not is_dark(self))
        )
        return out
