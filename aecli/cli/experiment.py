"""Command: ``aecli experiment CONFIG.toml``, the whole original experiment ending in report.md.

Parses the options into a config (the same data options as ``train``), runs
``aecli.experiment.runner.run_experiment`` under a rich progress line and prints the files it
wrote (or, with ``--json``, one JSON object). Without ``--run-dir`` the run goes into
``runs/<name>``, or, when that holds a run of other data or another configuration, into the
next free ``runs/<name>-2``... (with a notice), as ``train`` does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from aecli.cli.options import (
    ExperimentRunDir,
    Invert,
    Json,
    RunName,
    TrainDataDir,
    TrainDataset,
    TrainOffline,
    examples,
    seed_for,
)
from aecli.cli.output import emit, notice, progress_display


def _config(config_path: Path, **given: tuple[str, str, Any]) -> Any:
    """The config file with the options given (``key: (option, value)``; None: not given)."""
    from aecli.config import load_config
    from aecli.errors import ConfigError

    config = load_config(config_path)
    for key, (option, value) in given.items():
        if value is None:
            continue
        try:
            config = config.replace(**{key: value})
        except ConfigError as e:
            raise typer.BadParameter(str(e), param_hint=option) from None
    return config


ConfigPath = Annotated[
    Path,
    typer.Argument(metavar="CONFIG.toml", help="A config file (see configs/).", show_default=False),
]
Epochs = Annotated[int | None, typer.Option("--epochs", min=1, help="Override train.epochs.")]
SkipTsne = Annotated[
    bool,
    typer.Option(
        "--skip-tsne",
        help="Skip t-SNE and the comparison (report.md keeps an earlier run's, if any).",
    ),
]
TsneN = Annotated[
    int | None,
    typer.Option("--tsne-n", min=10, help="t-SNE on a stratified subsample of N training images."),
]
Seed = seed_for("every step's random sample and t-SNE (training uses the config's train.seed)")


def experiment(
    config_path: ConfigPath,
    run_dir: ExperimentRunDir = None,
    name: RunName = None,
    epochs: Epochs = None,
    dataset: TrainDataset = None,
    data_dir: TrainDataDir = None,
    offline: TrainOffline = False,
    invert: Invert = None,
    skip_tsne: SkipTsne = False,
    tsne_n: TsneN = None,
    seed: Seed = 0,
    as_json: Json = False,
) -> None:
    """The whole original experiment: train (or reuse a finished run), then the sample sheet,
    reconstructions, embedding, t-SNE comparison, decode grid and report.md, all in the run
    directory."""
    from aecli.experiment.runner import run_experiment
    from aecli.jaxsetup import use_compilation_cache

    config = _config(
        config_path,
        **{
            "train.epochs": ("--epochs", epochs),
            "data.dataset": ("--dataset", dataset),
            "data.data_dir": ("--data-dir", str(data_dir) if data_dir is not None else None),
            "data.offline": ("--offline", True if offline else None),
            "data.invert": ("--invert", invert.value if invert is not None else None),
            "name": ("--name", name),
        },
    )
    use_compilation_cache()
    with progress_display() as update:
        result = run_experiment(
            config,
            run_dir if run_dir is not None else Path("runs") / config.name,
            seed=seed,
            skip_tsne=skip_tsne,
            tsne_n=tsne_n,
            progress=update,
            notice=notice,
            claim=run_dir is None,
        )
    lines = [f"wrote {p}" for p in result.figures.values()] + [f"wrote {result.report}"]
    if result.earlier_tsne is not None:
        e = result.earlier_tsne
        stale = f" (made at epoch {e.epoch}, before this checkpoint)" if e.stale else ""
        lines.insert(-1, f"kept the earlier t-SNE step: {e.compare_png or e.png}{stale}")
    emit(result.to_json(), as_json, lines)


def register(app: typer.Typer) -> None:
    """Add ``experiment`` to ``app``."""
    app.command(
        "experiment",
        epilog=examples(
            "aecli experiment configs/mnist.toml",
            "aecli experiment configs/mnist.toml --data-dir ../shared/data --skip-tsne",
        ),
    )(experiment)
