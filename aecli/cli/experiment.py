"""Command: ``aecli experiment CONFIG``, the whole original experiment ending in report.md.

Parses the options into a config, runs ``aecli.experiment.runner.run_experiment`` under a rich
progress line and prints the files it wrote (or, with ``--json``, one JSON object).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aecli.cli.options import DataDir, Json, Offline, examples, seed_for
from aecli.cli.output import emit, notice, progress_display


def experiment(
    config_path: Annotated[Path, typer.Argument(metavar="CONFIG", help="A config .toml file.")],
    run_dir: Annotated[
        Path | None,
        typer.Option("--run-dir", help="Run directory (default: `runs/<config name>`)."),
    ] = None,
    epochs: Annotated[int | None, typer.Option("--epochs", help="Override train.epochs.")] = None,
    data_dir: DataDir = None,
    offline: Offline = False,
    skip_tsne: Annotated[
        bool, typer.Option("--skip-tsne", help="Skip t-SNE and the comparison.")
    ] = False,
    tsne_n: Annotated[
        int | None,
        typer.Option("--tsne-n", help="t-SNE on a stratified subsample of N training images."),
    ] = None,
    seed: seed_for("every step's sampling and t-SNE (training uses the config's train.seed)") = 0,
    as_json: Json = False,
) -> None:
    """The whole original experiment: train (or reuse a finished run), then the sample sheet,
    reconstructions, embedding, t-SNE comparison, decode grid and report.md."""
    from aecli.config import load_config
    from aecli.experiment.runner import run_experiment

    if epochs is not None and epochs < 1:
        raise typer.BadParameter(f"must be at least 1, got {epochs}", param_hint="--epochs")
    config = load_config(config_path).replace(
        **{
            "train.epochs": epochs,
            "data.data_dir": str(data_dir) if data_dir is not None else None,
            "data.offline": True if offline else None,
        }
    )
    with progress_display() as update:
        result = run_experiment(
            config,
            run_dir or Path("runs") / config.name,
            seed=seed,
            skip_tsne=skip_tsne,
            tsne_n=tsne_n,
            progress=update,
            notice=notice,
        )
    lines = [f"wrote {p}" for p in result.figures.values()] + [f"wrote {result.report}"]
    emit(result.to_json(), as_json, lines)


def register(app: typer.Typer) -> None:
    """Add ``experiment`` to ``app``."""
    app.command(
        "experiment",
        epilog=examples(
            "aecli experiment configs/mnist.toml",
            "aecli experiment configs/notmnist.toml --data-dir ../shared/data --skip-tsne",
        ),
    )(experiment)
