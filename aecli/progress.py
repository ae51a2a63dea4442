"""Progress bars on a terminal: the rich implementation of :data:`aecli.data.types.ProgressFn`.

The data layer reports progress through a callback and never imports rich; this is the bar
that ``progress=True`` stands for. Non-terminals (pipes, CI logs, tests) get nothing: the
one-line notices already say what happens, and a redrawn bar would only litter a log.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def rich_progress(description: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """A transient rich progress bar of bytes on stderr, only when stderr is a terminal.

    Args:
        description: what is being read or downloaded (shown left of the bar).
        total: the number of bytes expected, or None when unknown.

    Yields:
        ``advance(n_bytes)``.
    """
    from rich.console import Console

    console = Console(stderr=True)
    if not console.is_terminal:
        yield lambda n: None
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)
