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
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from aecli import __version__
from aecli.cli.output import error_line
from aecli.errors import AecliError

HELP_SETTINGS = {"help_option_names": ["-h", "--help"]}


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
        _hide_flag_types(self)
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
            _drop_stdout()
            sys.exit(1)
        sys.exit(_flush_stdout(rv if isinstance(rv, int) else 0))

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


def _drop_stdout() -> None:
    """Point stdout at /dev/null, so the exit's own flush cannot fail a second time."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
    except OSError:
        pass
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keeps the exit quiet


def _flush_stdout(code: int) -> int:
    """Flush what a command printed; a stdout that cannot take it ends in one line, exit 1.

    Without this the interpreter's exit flushes stdout itself and prints "Exception ignored"
    with a traceback (a full disk, ``> /dev/full``); a reader that left (EPIPE) ends quietly.
    """
    if sys.stdout is None:  # started with stdout closed (`>&-`): nothing was printed
        return code
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _drop_stdout()
        return 1
    except OSError as e:
        _drop_stdout()
        if code == 0:  # a failing command has already said why, in its one line
            error_line(f"cannot write the output to stdout: {e.strerror or e}")
        return code or 1
    return code


def _tolerant_streams() -> None:
    """Let stdout and stderr take any text: a character the terminal's encoding lacks (an
    ASCII-only ``LANG=C`` stdout) becomes ``?`` instead of failing the command midway."""
    for stream in (sys.stdout, sys.stderr):
        if stream is not None and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")


def _hide_flag_types(command: Any) -> None:
    """Flags take no value, so their help shows none (Typer would print ``<bool>``).

    Typer prints an option's ``metavar`` in place of its type when one is set; an empty one
    leaves the column blank. Done once for the whole tree, so no command can forget it.
    """
    params = list(getattr(command, "params", ()))
    if hasattr(command, "get_help_option"):  # built on first use and cached by the command
        params.append(command.get_help_option(typer.Context(command, **HELP_SETTINGS)))
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    for sub in getattr(command, "commands", {}).values():
        _hide_flag_types(sub)


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
    add_completion=True,
    context_settings=HELP_SETTINGS,
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
    from aecli.cli import compare, data, experiment, latent, train, tui

    for module in (data, train, latent, experiment, compare, tui):
        module.register(app)


_register()


def main() -> None:
    """Console-script entry point."""
    _tolerant_streams()
    app()
