"""The Typer root of ``aecli``: the commands, ``--version``, and the one place errors become
exit codes.

Library code raises ``AecliError`` (or ``OSError``) with an actionable message; this module
turns it into one line on stderr and exit status 1. Command-line usage errors keep Typer's
exit status 2, also as one line. Commands import heavy libraries (JAX, matplotlib, Textual,
scikit-learn) inside their bodies, so ``aecli --help`` starts instantly.
"""

from __future__ import annotations

import errno
import os
import sys
from typing import Annotated

import typer
from typer.core import TyperGroup

from aecli import __version__
from aecli.cli.output import error_line
from aecli.errors import AecliError


def _os_error_line(e: OSError) -> str:
    if e.errno == errno.ENOSPC:
        hint = "free some disk space and run the command again"
    elif e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        hint = "choose a location you can write to"
    else:
        hint = "check the path and try again"
    where = f" {e.filename}" if getattr(e, "filename", None) else ""
    return f"{e.strerror or e}{where}: {hint}"


class _ErrorHandlingGroup(TyperGroup):
    """Top-level group: every error becomes one line on stderr.

    Library errors (``AecliError``, ``OSError``) exit 1; command-line usage errors exit 2, as
    with any Click/Typer program, but as one line instead of a boxed panel, so scripts and
    people see the same short message.
    """

    def main(self, *args, standalone_mode: bool = True, **kwargs):  # noqa: D102
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            rv = super().main(*args, standalone_mode=False, **kwargs)
        except typer.TyperException as e:  # Click's exceptions, vendored by Typer
            sys.exit(_report(e))
        except typer.Abort:
            error_line("aborted")
            sys.exit(1)
        except BrokenPipeError:  # `aecli ... | head`: the reader left; say nothing more
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keeps the exit quiet
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)

    def invoke(self, ctx: typer.Context):  # noqa: D102
        try:
            return super().invoke(ctx)
        except AecliError as e:
            error_line(str(e))
            raise typer.Exit(1) from None
        except BrokenPipeError:
            raise
        except OSError as e:
            error_line(_os_error_line(e))
            raise typer.Exit(1) from None


def _report(e: typer.TyperException) -> int:
    """Show a command-line error as Typer's public API lets us see it; returns the exit code.

    A bare group (``aecli``, ``aecli data``) raises Click's ``NoArgsIsHelpError``, which Typer
    does not export: it is recognised by name, as Typer's own ``rich_utils`` does. Usage
    errors carry the context of the command that failed (``ctx``); other Click errors do not.
    """
    if type(e).__name__ == "NoArgsIsHelpError":
        e.show()  # the help, as asked
        return 0
    if hasattr(e, "ctx"):
        where = e.ctx.command_path if e.ctx is not None else "aecli"
        error_line(f"{where}: {e.format_message()} (see '{where} --help')")
    else:
        error_line(e.format_message())
    return e.exit_code


app = typer.Typer(
    name="aecli",
    cls=_ErrorHandlingGroup,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
    help="Train, inspect and generate from a tied-weight autoencoder with a 2-D code.",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"aecli {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Train, inspect and generate from a tied-weight autoencoder with a 2-D code."""


def _register() -> None:
    # Each module adds its commands to ``app``; none of them imports anything heavy at import.
    from aecli.cli import data, experiment, latent, train, tui

    for module in (data, train, latent, experiment, tui):
        module.register(app)


_register()


def main() -> None:
    """Console-script entry point."""
    app()
