"""Command: ``aecli compare RUN [RUN ...]``, several runs in one figure and one table.

Loads each run's checkpoint, the data of the first run (or ``--dataset``/``--data-dir``), runs
``aecli.experiment.compare.compare_runs`` under a progress line, and prints the table's rows
(or, with ``--json``, one JSON object).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aecli.cli.options import DataDir, Json, Offline, examples, seed_for
from aecli.cli.output import emit, notice, progress_display


def compare(
    runs: Annotated[
        list[Path],
        typer.Argument(
            metavar="RUN_DIR", help="Run directories made by 'aecli train'.", show_default=False
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Folder for comparison.png and comparison.md (default: the first run's "
            "directory).",
            show_default=False,
        ),
    ] = None,
    skip_tsne: Annotated[
        bool, typer.Option("--skip-tsne", help="Leave t-SNE out (it takes most of the time).")
    ] = False,
    data_dir: DataDir = None,
    offline: Offline = False,
    seed: seed_for("t-SNE and the order points are drawn in") = 0,
    as_json: Json = False,
) -> None:
    """Several runs side by side: their 2-D maps beside PCA and t-SNE, the paper's k-NN and
    trustworthiness figures, test errors, loss curves and decode grids."""
    from aecli.cli.latent import open_checkpoint
    from aecli.experiment import jobs
    from aecli.experiment.compare import compare_runs

    checkpoints = [open_checkpoint(r, None) for r in runs]
    splits = jobs.run_splits(checkpoints[0], None, data_dir, offline, notice)
    with progress_display() as progress:
        r = compare_runs(checkpoints, splits, out, skip_tsne=skip_tsne, seed=seed,
                         progress=progress)  # fmt: skip
    p = r.to_json()
    lines = [f"wrote {p['png']}", f"wrote {p['table']}"]
    for row in p["runs"]:
        lines.append(
            f"{row['name']:16s} 1-NN {row['knn1_test']:.4f}  5-NN {row['knn5_test']:.4f}  "
            f"trust. {row['trustworthiness']:.4f}  test error {row['test_error']:.2f}"
        )
    for key in ("pca", "tsne"):
        q = p[key]
        if q is not None:
            lines.append(
                f"{key:16s} 1-NN {q['knn1_test']:.4f}  5-NN {q['knn5_test']:.4f}  "
                f"trust. {q['trustworthiness']:.4f}"
            )
    emit(p, as_json, lines)


def register(app: typer.Typer) -> None:
    """Add ``compare`` to ``app``."""
    app.command(
        "compare",
        epilog=examples(
            "aecli compare runs/mnist-map runs/mnist",
            "aecli compare runs/mnist-map runs/mnist --skip-tsne --json",
        ),
    )(compare)
