"""What the commands print: one-line errors and notices on stderr, ``--json`` objects on stdout,
rich progress and terminal consoles.

Notices and progress never go to stdout, which holds exactly one JSON object under ``--json``.
rich is imported inside the functions, so ``aecli --help`` stays instant.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from aecli.atomic import check_target
from aecli.errors import OutputError

FIGURE_SUFFIXES = (".png", ".svg", ".pdf")


def error_line(message: str) -> None:
    """Print ``error: message`` as one line on stderr (no rich wrapping, no markup)."""
    one_line = " ".join(str(message).split())
    print(f"error: {one_line}", file=sys.stderr, flush=True)


def check_out(
    out: Path | None, suffixes: tuple[str, ...] = FIGURE_SUFFIXES, *, folder_ok: bool = True
) -> None:
    """Refuse an ``--out`` that cannot be written, before any work starts.

    Every command that writes calls this first. ``out`` may be absent (the run directory), a
    folder when ``folder_ok`` (existing, or a new name without a suffix, which
    ``experiment.jobs.out_path`` fills with the default name), or a file whose suffix is one
    of ``suffixes`` that is a regular file or absent, below a folder
    (``aecli.atomic.check_target``: never a device, FIFO, socket or link).

    Raises:
        typer.BadParameter: the suffix is not one of ``suffixes`` (a usage error).
        OutputError: the path is not a regular file or absent, or not below a folder.
    """
    if out is None:
        return
    out = Path(out)
    try:
        if folder_ok and out.is_dir():
            return
        if out.is_symlink() or out.exists():
            check_target(out)  # a device, FIFO or link is named as such, whatever its suffix
        if folder_ok and not out.suffix and not out.is_symlink() and not out.exists():
            check_target(out / "x")  # a new folder: what lies above it must be a folder
            return
        if out.suffix.lower() not in suffixes:
            raise typer.BadParameter(
                f"{out.name}: the figure must end in {', '.join(suffixes)}"
                + (" (or be a folder)" if folder_ok else ""),
                param_hint="--out",
            )
        check_target(out)
    except OutputError as e:
        raise OutputError(f"--out {e}") from None


def notice(message: str) -> None:
    """One-line notice on stderr (data sources, fallbacks): never on stdout, where JSON goes."""
    print(message, file=sys.stderr, flush=True)


def _round(x: Any, digits: int = 6) -> Any:
    if isinstance(x, float):
        return round(x, digits) if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _round(v, digits) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_round(v, digits) for v in x]
    return x


def print_json(obj: dict[str, Any], *, indent: int | None = None) -> None:
    """``obj`` as one JSON document on stdout (objects it cannot encode are written as text)."""
    typer.echo(json.dumps(obj, indent=indent, default=str))


def emit(payload: dict[str, Any], as_json: bool, lines: list[str]) -> None:
    """Print ``payload`` as one JSON object, floats to 6 decimals (``--json``), or ``lines``."""
    if as_json:
        print_json(_round(payload))
    else:
        for line in lines:
            typer.echo(line)


def console(as_json: bool) -> Any:
    """A rich console for terminal pictures: stdout, or stderr when stdout holds the JSON."""
    from rich.console import Console

    return Console(stderr=as_json, highlight=False, soft_wrap=True)


@contextmanager
def progress_display(enabled: bool = True) -> Iterator[Callable[[str, int, int], None]]:
    """A transient rich progress line on stderr; yields ``update(stage, done, total)``.

    ``total`` 0 shows a spinner (a stage of unknown length), else a counted bar.
    """
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    if not enabled:
        yield lambda stage, done, total: None
        return
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    state = {"task": progress.add_task("starting", total=None), "counted": False}

    def update(stage: str, done: int, total: int) -> None:
        if state["counted"] and not total:
            # rich cannot turn a counted bar back into a spinner (total=None means "keep"):
            # a stage without a count gets a fresh task.
            progress.remove_task(state["task"])
            state["task"] = progress.add_task(stage, total=None)
        state["counted"] = bool(total)
        progress.update(state["task"], description=stage, completed=done, total=total or None)

    with progress:
        yield update
