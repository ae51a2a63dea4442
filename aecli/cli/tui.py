"""Command: ``aecli tui RUN_DIR``, the Textual explorer of a finished or interrupted run.

Textual and the TUI are imported inside the command, so ``aecli --help`` stays instant.
(``aecli train --tui`` lives in ``aecli/cli/train.py`` and calls
``aecli.tui.app.run_training_tui``.)
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from aecli.cli.options import examples, split_choices


def require_terminal() -> None:
    """Refuse to draw a screen when stdin or stdout is not a terminal (a file, a pipe).

    Raises:
        AecliError: stdin or stdout is not a terminal.
    """
    from aecli.errors import AecliError

    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise AecliError(
            "the terminal UI needs a terminal (stdin and stdout are not both a tty): run it in "
            "a terminal, or use 'aecli train' / 'aecli generate' for non-interactive output"
        )


def register(app: typer.Typer) -> None:
    """Add ``tui`` to the app."""

    @app.command(
        "tui", epilog=examples("aecli tui runs/mnist", "aecli train configs/quick.toml --tui")
    )
    def tui(
        run_dir: Annotated[
            Path,
            typer.Argument(
                metavar="RUN_DIR",
                help="Run directory written by 'aecli train'.",
                show_default=False,
            ),
        ],
        split: Annotated[
            str, typer.Option("--split", help="Split to encode for the code-space map.")
        ] = "test",
        data_dir: Annotated[
            Path | None,
            typer.Option("--data-dir", help="Look for the run's dataset here first."),
        ] = None,
        offline: Annotated[
            bool, typer.Option("--offline", help="Never download the dataset.")
        ] = False,
    ) -> None:
        """Open a run in the terminal UI: its loss history, decoded digits and the code-space
        explorer (arrow keys move a cursor, the image decoded there is shown large). If the run
        is unfinished, 'r' resumes training from its checkpoint."""
        from aecli.data import SPLITS

        if split not in SPLITS:
            raise typer.BadParameter(f"choose {split_choices()}", param_hint="--split")
        from aecli.checkpoint import resolve_path

        resolve_path(run_dir)  # a missing run is a one-line error before the screen opens
        require_terminal()
        from aecli.jaxsetup import use_compilation_cache
        from aecli.tui.app import open_run_tui

        use_compilation_cache()
        overrides = {"data.data_dir": str(data_dir) if data_dir else None}
        if offline:
            overrides["data.offline"] = True
        open_run_tui(run_dir, split=split, data_overrides=overrides)
