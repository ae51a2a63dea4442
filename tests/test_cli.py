"""The CLI shell: help lists every command, nothing heavy is imported, errors are one line."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from aecli import __version__
from aecli.cli.app import app

runner = CliRunner()

COMMANDS = ("train", "reconstruct", "embed", "tsne", "generate", "experiment", "data", "tui")


def test_help_lists_every_command():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.output, name


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"aecli {__version__}"


def test_help_imports_nothing_heavy():
    # A fresh interpreter: importing the CLI (what `aecli --help` does) must not pull in JAX,
    # matplotlib, Textual or scikit-learn, which take seconds.
    code = (
        "import sys, aecli.cli.app; "
        "heavy = [m for m in ('jax', 'matplotlib', 'textual', 'sklearn', 'equinox', 'optax', "
        "'openTSNE', 'pooch') if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_unknown_command_is_usage_error():
    result = runner.invoke(app, ["no-such-command"])
    assert result.exit_code == 2


def test_usage_error_is_one_line_naming_the_option():
    result = runner.invoke(app, ["train", "--lr", "fast"])
    assert result.exit_code == 2
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: aecli train:"), result.stderr
    assert "--lr" in lines[0] and "aecli train --help" in lines[0]


def test_bare_group_shows_help():
    result = runner.invoke(app, [])
    assert result.exit_code == 0
    assert "Commands" in result.output


SUBCOMMANDS = (
    ["train"], ["reconstruct"], ["embed"], ["tsne"], ["generate"], ["experiment"], ["tui"],
    ["data", "list"], ["data", "show"], ["data", "download"],
)  # fmt: skip


def test_every_help_works_with_h_and_shows_no_value_for_flags():
    for argv in ([], *SUBCOMMANDS):
        result = runner.invoke(app, [*argv, "-h"], env={"COLUMNS": "120"})
        assert result.exit_code == 0, (argv, result.output)
        assert "Usage:" in result.output, argv
        assert "<bool>" not in result.output, argv  # a flag takes no value
        if argv:  # every command's help ends with examples of its use
            tail = result.output.rstrip().splitlines()[-6:]
            assert any(line.strip().startswith(f"$ aecli {argv[0]}") for line in tail), argv


def test_help_keeps_placeholders_that_markdown_would_swallow():
    result = runner.invoke(app, ["train", "--help"], env={"COLUMNS": "200"})
    assert "runs/<name>" in result.output


def test_shell_completion_is_on():
    result = runner.invoke(app, ["--help"])
    assert "--install-completion" in result.output and "--show-completion" in result.output
