"""The ``aecli`` command line: a Typer app whose commands are registered from ``aecli.commands``.

Commands stay thin: they parse options, call library modules and render results. Heavy
libraries (JAX, matplotlib, Textual, scikit-learn) are imported inside the commands so that
``aecli --help`` starts instantly. Library code raises ``AecliError`` with an actionable
message; this module is the one place that turns it into a one-line error and exit status 1
(usage errors keep Typer's exit status 2).
"""

from __future__ import annotations

import errno
import os
import sys

import typer
from typer.core import TyperGroup

try:  # Typer >= 0.29 vendors Click
    from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
except ImportError:  # pragma: no cover - older Typer on top of Click
    from click.exceptions import ClickException, NoArgsIsHelpError, UsageError

from aecli import __version__
from aecli.errors import AecliError


def error_line(message: str) -> None:
    """Print ``error: message`` as one line on stderr (no rich wrapping, no markup)."""
    one_line = " ".join(str(message).split())
    print(f"error: {one_line}", file=sys.stderr, flush=True)


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
        except NoArgsIsHelpError as e:  # bare `aecli` or `aecli data`: the help, as asked
            e.show()
            sys.exit(0)
        except UsageError as e:
            where = e.ctx.command_path if e.ctx is not None else "aecli"
            error_line(f"{where}: {e.format_message()} (see '{where} --help')")
            sys.exit(e.exit_code)
        except ClickException as e:
            error_line(e.format_message())
            sys.exit(e.exit_code)
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
            if e.errno == errno.ENOSPC:
                hint = "free some disk space and run the command again"
            elif e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
                hint = "choose a location you can write to"
            else:
                hint = "check the path and try again"
            where = f" {e.filename}" if getattr(e, "filename", None) else ""
            error_line(f"{e.strerror or e}{where}: {hint}")
            raise typer.Exit(1) from None


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
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Train, inspect and generate from a tied-weight autoencoder with a 2-D code."""


def _register() -> None:
    # Each module adds its commands to ``app``; none of them imports anything heavy at import.
    from aecli.commands import data as data_cmd
    from aecli.commands import latent as latent_cmd
    from aecli.commands import train as train_cmd
    from aecli.commands import tui as tui_cmd

    for module in (data_cmd, train_cmd, latent_cmd, tui_cmd):
        module.register(app)


_register()


def main() -> None:
    """Console-script entry point."""
    app()
