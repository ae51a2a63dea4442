"""The CLI shell: help lists every command, nothing heavy is imported, errors are one line."""

from __future__ import annotations

import re
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


FIGURE_COMMANDS = (["reconstruct"], ["embed"], ["tsne"], ["generate"], ["compare"],
                   ["data", "show"])  # fmt: skip


def _help(argv: list[str]) -> str:
    result = runner.invoke(app, [*argv, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, (argv, result.output)
    return result.output


def test_every_figure_command_takes_o_and_names_its_default():
    for argv in FIGURE_COMMANDS:
        out = _help(argv)
        line = next(x for x in out.splitlines() if "--out" in x)
        assert "-o" in line, argv
        text = " ".join(out.split()).split("--out", 1)[1][:300].lower()
        assert "default:" in text, (argv, text)  # where the figure goes without -o
    for argv in (["train"], ["experiment"]):  # their figures go into the run directory
        assert "--run-dir" in _help(argv)


def test_positional_arguments_are_written_one_way():
    # Upper-case placeholders everywhere: CONFIG.toml, RUN_DIR, DATASET (never run_dir, name).
    for argv in (["train"], ["experiment"], ["compare"], ["tui"], ["data", "show"],
                 ["data", "download"]):  # fmt: skip
        usage = next(x for x in _help(argv).splitlines() if "Usage:" in x)
        tail = usage.split("[OPTIONS]", 1)[1]
        assert tail.strip() and tail == tail.upper().replace(".TOML", ".toml"), (argv, usage)


def test_every_seed_says_what_it_is_for():
    for argv in (["train"], ["reconstruct"], ["embed"], ["tsne"], ["generate"], ["experiment"],
                 ["compare"], ["data", "show"]):  # fmt: skip
        row = " ".join(_help(argv).split()).split("--seed", 1)[1][:200]
        # "Seed of the random images shown ...", "Not used: decoding is deterministic ..."
        assert re.search(r"(seed of|not used)\W+\w+\W+\w+\W+\w+", row, re.I), (argv, row)


def test_experiment_help_has_trains_data_options_and_placeholders():
    out = _help(["experiment"])
    for flag in ("--dataset", "--data-dir", "--offline", "--run-dir", "--name", "--invert"):
        assert flag in out, flag
    assert "runs/<name>" in out and "runs/<name>-2" in out


def test_data_show_writes_a_default_file_here_or_into_a_folder(tmp_path, monkeypatch,
                                                                tiny_mnist_dir):  # fmt: skip
    monkeypatch.chdir(tmp_path)
    data = str(tiny_mnist_dir / "mnist")
    r = runner.invoke(app, ["data", "show", data, "--n", "4"])
    assert r.exit_code == 0, r.stderr
    assert r.stdout.strip() == "mnist-samples.png" and (tmp_path / "mnist-samples.png").is_file()
    r = runner.invoke(app, ["data", "show", data, "--n", "4", "--split", "test", "-o", "figs"])
    assert r.exit_code == 0, r.stderr
    assert (tmp_path / "figs" / "mnist-test-samples.png").is_file()
    r = runner.invoke(app, ["data", "show", data, "--n", "4", "-o", "sheet.svg"])
    assert r.exit_code == 0 and (tmp_path / "sheet.svg").read_bytes().startswith(b"<?xml")
    r = runner.invoke(app, ["data", "show", data, "-o", "sheet.txt"])
    assert r.exit_code == 2 and r.stderr.strip().startswith("error: ")
