"""Commands on a trained run: reconstruct, embed, tsne, generate.

Each takes ``--run RUN_DIR`` (or ``--checkpoint FILE``), rebuilds the model from the checkpoint
header alone, uses the run's dataset unless told otherwise, runs one job of
``aecli.experiment.jobs`` (which writes the PNG into the run directory or ``--out``) and prints
the paths and figures, or with ``--json`` exactly one JSON object (notices and progress go to
stderr). Heavy libraries are imported by the jobs, so ``aecli --help`` stays instant.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from aecli.cli import ascii
from aecli.cli.options import (
    Checkpoint,
    DataDir,
    Dataset,
    Json,
    Offline,
    ReconstructOut,
    Run,
    ScatterOut,
    SheetOut,
    Split,
    TextModeOption,
    TsneOut,
    UnusedSeed,
    check_split,
    examples,
    seed_for,
)
from aecli.cli.output import check_out, console, emit, notice, progress_display


def open_checkpoint(run: Path | None, checkpoint: Path | None) -> Any:
    """Load the checkpoint named by ``--run`` or ``--checkpoint`` (exactly one of them).

    JAX's compilation cache is turned on first (``aecli.jaxsetup``): loading compiles.
    """
    return _load(open_checkpoint_file(run, checkpoint))


def open_checkpoint_file(run: Path | None, checkpoint: Path | None) -> Any:
    """The verified ``CheckpointFile`` named by ``--run`` or ``--checkpoint``; no JAX yet."""
    from aecli.checkpoint import open_checkpoint_file as open_file

    if run is None and checkpoint is None:
        raise typer.BadParameter("pass --run RUN_DIR or --checkpoint FILE", param_hint="--run")
    if run is not None and checkpoint is not None:
        raise typer.BadParameter("pass either --run or --checkpoint, not both", param_hint="--run")
    if run is not None and not run.is_dir():
        from aecli.errors import CheckpointError

        raise CheckpointError(
            f"run directory {run} not found: pass a run directory made by 'aecli train'"
        )
    if run is not None:
        _remove_stale_temps(run)
    return open_file(run if run is not None else checkpoint)


def _load(file: Any) -> Any:
    """The model of a ``CheckpointFile``, with JAX's compilation cache on."""
    from aecli.jaxsetup import use_compilation_cache

    use_compilation_cache()
    return file.load()


def _remove_stale_temps(run: Path) -> None:
    """Remove temporary files a killed command left in ``run``, unless a training writes there.

    While a training holds the run's lock its temporary files are live and stay; the probe
    (``RunDir.is_locked``) never creates or writes the lock file.
    """
    from aecli.atomic import remove_stale_temps
    from aecli.rundir import RunDir

    if not RunDir(run).is_locked():
        remove_stale_temps(run)


def check_count(value: int, low: int, high: int, flag: str, why: str) -> int:
    """``value`` if ``low <= value <= high``; ``why`` says what the upper limit protects.

    Raises:
        typer.BadParameter: below ``low`` (a usage error, exit 2).
        ConfigError: above ``high`` (more work than aecli serves, exit 1).
    """
    if value < low:
        raise typer.BadParameter(f"must be at least {low}, got {value}", param_hint=flag)
    if value > high:  # a request beyond what aecli serves, not a malformed command line
        from aecli.errors import ConfigError

        raise ConfigError(f"{flag} must be at most {high:,} ({why}), got {value}")
    return value


# The largest requests the latent commands serve: beyond them a figure is unreadable and the
# work (decoding, drawing) grows without bound.
MAX_RECONSTRUCT = 100
MAX_LINE_STEPS = 200
MAX_THREADS = 1024


def reconstruct(
    run: Run = None,
    checkpoint: Checkpoint = None,
    n: Annotated[int, typer.Option("--n", help="How many random images to show.")] = 10,
    split: Split = "test",
    dataset: Dataset = None,
    data_dir: DataDir = None,
    offline: Offline = False,
    out: ReconstructOut = None,
    ascii_: Annotated[
        bool, typer.Option("--ascii", help="Also print the images as terminal text.")
    ] = False,
    text_mode: TextModeOption = None,
    seed: seed_for("the random images shown (the mean error covers the whole split)") = 0,
    as_json: Json = False,
) -> None:
    """Originals above, reconstructions below (each titled with its squared error), and the
    mean error over the whole split."""
    from aecli.experiment import jobs

    check_split(split)
    check_count(n, 1, MAX_RECONSTRUCT, "--n", "pairs in one readable figure")
    check_out(out)
    ck = open_checkpoint(run, checkpoint)
    splits = jobs.run_splits(ck, dataset, data_dir, offline, notice)
    r = jobs.reconstruct(ck, splits, split, n, seed, out)
    if ascii_ or text_mode is not None:
        screen = console(as_json)
        ascii.reconstruct_pairs(screen, r, ascii.pick_mode(screen, text_mode, notice))
    emit(
        r.to_json(),
        as_json,
        [
            f"wrote {r.png}",
            f"mean squared error per image over all {r.images_in_split:,} {split} "
            f"images: {r.mean_squared_error:.2f} (loss with the code penalty: "
            f"{r.mean_loss:.2f})",
        ],
    )


def embed(
    run: Run = None,
    checkpoint: Checkpoint = None,
    split: Split = "train",
    dataset: Dataset = None,
    data_dir: DataDir = None,
    offline: Offline = False,
    out: ScatterOut = None,
    grid: Annotated[
        bool, typer.Option("--grid", help="Draw the decode grid's box on the scatter.")
    ] = False,
    trust_n: Annotated[
        int,
        typer.Option("--trust-n", min=10, help="Subsample size for trustworthiness (O(n^2))."),
    ] = 4000,
    seed: seed_for("the 5-NN folds and the trustworthiness subsample") = 0,
    as_json: Json = False,
) -> None:
    """Encode a whole split: codes.npz, a scatter of every code by class, and two measures."""
    from aecli.experiment import jobs
    from aecli.latent.embed import preload_measures

    check_split(split)
    check_out(out)
    preload_measures()  # overlaps scikit-learn's slow import with loading and encoding
    ck = open_checkpoint(run, checkpoint)
    splits = jobs.run_splits(ck, dataset, data_dir, offline, notice)
    p = jobs.embed(ck, splits, split, out, grid=grid, seed=seed, trust_n=trust_n).to_json()
    m = p["measures"]
    emit(
        p,
        as_json,
        [
            f"wrote {p['png']}",
            f"wrote {p['codes']} ({p['n']:,} codes)",
            f"{m['k']}-NN accuracy ({m['folds']}-fold CV): {m['knn_accuracy']:.4f}",
            f"trustworthiness (k={m['k']}, {m['trust_n']:,} random points): "
            f"{m['trustworthiness']:.4f}",
            *_protocol_lines(p["protocol"]),
        ],
    )


def _protocol_lines(q: dict | None) -> list[str]:
    """The paper's protocol (``aecli.latent.protocol``) as two terminal lines."""
    if q is None:
        return ["paper's protocol: needs a training and a test split (not in this data)"]
    return [
        f"k-NN fitted on {q['n_train']:,} training codes, scored on {q['n_test']:,} test "
        f"codes: 1-NN {q['knn1_test']:.4f}, 5-NN {q['knn5_test']:.4f}",
        f"trustworthiness (k={q['trust_k']}, first {q['trust_n']:,} training images): "
        f"{q['trustworthiness']:.4f}",
    ]


def tsne(
    run: Run = None,
    checkpoint: Checkpoint = None,
    split: Split = "train",
    dataset: Dataset = None,
    data_dir: DataDir = None,
    offline: Offline = False,
    out: TsneOut = None,
    n: Annotated[
        int | None,
        typer.Option(
            "--n", help="Stratified seeded subsample of N images (default: the whole split)."
        ),
    ] = None,
    engine: Annotated[
        str,
        typer.Option(
            "--engine",
            help="opentsne (FFT, fast on large inputs), sklearn (Barnes-Hut), or auto: openTSNE "
            "from 3,000 images (faster there; scikit-learn below).",
        ),
    ] = "auto",
    compare: Annotated[
        bool, typer.Option("--compare", help="Also write PCA / autoencoder / t-SNE side by side.")
    ] = False,
    jobs_: Annotated[int, typer.Option("--jobs", help="Threads (-1: all cores).")] = -1,
    trust_n: Annotated[
        int, typer.Option("--trust-n", min=10, help="Subsample for trustworthiness.")
    ] = 4000,
    seed: seed_for("the subsample (--n), t-SNE's initialisation and the measures' subsample") = 0,
    as_json: Json = False,
) -> None:
    """t-SNE of the same images (PCA to 50 dimensions first), for comparison with the codes."""
    from aecli.experiment import jobs

    check_split(split)
    _check_tsne_options(engine, n, jobs_)
    check_out(out)
    ck = open_checkpoint(run, checkpoint)
    splits = jobs.run_splits(ck, dataset, data_dir, offline, notice)
    with progress_display() as progress:
        r = jobs.tsne(
            ck, splits, split, out, n=n, engine=engine, seed=seed, compare=compare,
            jobs=jobs_, trust_n=trust_n, progress=progress,
        )  # fmt: skip
    p = r.to_json()
    lines = [
        f"wrote {p['png']}",
        f"t-SNE ({p['engine']}) of {p['n']:,} images in {p['seconds']:.1f} s",
    ]
    if "compare_png" in p:
        lines.append(f"wrote {p['compare_png']}")
    for name, m in p["measures"].items():
        lines.append(
            f"{name:12s} {m['k']}-NN accuracy {m['knn_accuracy']:.4f}   "
            f"trustworthiness {m['trustworthiness']:.4f}"
        )
    emit(p, as_json, lines)


def _check_tsne_options(engine: str, n: int | None, threads: int) -> None:
    from aecli.latent.embed import ENGINES

    if engine not in ENGINES:
        raise typer.BadParameter(
            f"must be one of {', '.join(ENGINES)}, got {engine!r}", param_hint="--engine"
        )
    if n is not None and n < 10:
        raise typer.BadParameter(f"t-SNE needs at least 10 images, got {n}", param_hint="--n")
    if threads != -1 and not 1 <= threads <= MAX_THREADS:
        from aecli.errors import ConfigError

        raise ConfigError(
            f"--jobs must be -1 (every core) or 1 to {MAX_THREADS:,} threads, got {threads:,}"
        )


GridRange = Annotated[
    tuple[float, float] | None,
    typer.Option(
        "--range", metavar="LOW HIGH", help="Code range on both axes (default: the run's)."
    ),
]
GridStep = Annotated[
    float | None, typer.Option("--step", help="Spacing of the codes (default: the run's).")
]
GridSize = Annotated[
    int | None, typer.Option("--size", help="K x K codes over the range, instead of --step.")
]
Between = Annotated[
    tuple[int, int] | None,
    typer.Option(
        "--between", metavar="I J", help="Decode the line between images I and J instead."
    ),
]


def generate(
    run: Run = None,
    checkpoint: Checkpoint = None,
    range_: GridRange = None,
    step: GridStep = None,
    size: GridSize = None,
    between: Between = None,
    steps: Annotated[
        int, typer.Option("--steps", help="Codes on the --between line (ends included).")
    ] = 10,
    split: Split = "test",
    dataset: Dataset = None,
    data_dir: DataDir = None,
    offline: Offline = False,
    out: SheetOut = None,
    ascii_: Annotated[
        bool, typer.Option("--ascii", help="Also print the sheet as terminal text.")
    ] = False,
    text_mode: TextModeOption = None,
    seed: UnusedSeed = 0,
    as_json: Json = False,
) -> None:
    """Decode an evenly spaced grid of codes into one sheet (rows and columns follow the
    scatter's axes: code 1 left to right, code 2 bottom to top), or with --between the
    straight line between two images' codes."""
    from aecli.experiment import jobs

    del seed  # decoding is deterministic; accepted for symmetry with the other commands
    check_split(split)
    if between is not None:
        check_count(steps, 2, MAX_LINE_STEPS, "--steps", "codes on one readable --between strip")
    check_out(out)
    ck = open_checkpoint_file(run, checkpoint)  # a grid decoded before needs no model
    if between is not None:
        ck = _load(ck)
        splits = jobs.run_splits(ck, dataset, data_dir, offline, notice)
        line = jobs.interpolate(ck, splits, split, *between, steps, out)
        if ascii_ or text_mode is not None:
            screen = console(as_json)
            mode = ascii.pick_mode(screen, text_mode, notice)
            ascii.strip(screen, line.start, line.decoded, line.end, line.codes, mode)
        return emit(line.to_json(), as_json, [f"wrote {line.png}"])
    grid = jobs.resolve_grid(ck, range_, step, size)
    r = jobs.generate(ck, grid, out, model=lambda: _load(ck).model)
    if ascii_ or text_mode is not None:
        screen = console(as_json)
        mode = ascii.pick_mode(screen, text_mode, notice)
        ascii.decode_grid(screen, r.images, grid.xs, grid.ys, mode)
    p = r.to_json()
    sheet = (
        f"{p['rows']}x{p['cols']} codes from {p['low']:g} to {p['high']:g}, step "
        f"{p['step']:.3g}; code 1 left to right, code 2 bottom to top"
    )
    emit(p, as_json, [f"wrote {p['png']}", sheet])


def register(app: typer.Typer) -> None:
    """Add reconstruct, embed, tsne and generate to ``app``."""
    ex = examples
    app.command(
        "reconstruct",
        epilog=ex(
            "aecli reconstruct --run runs/mnist", "aecli reconstruct --run runs/mnist --n 6 --ascii"
        ),
    )(reconstruct)
    app.command(
        "embed",
        epilog=ex("aecli embed --run runs/mnist", "aecli embed --run runs/mnist --grid --json"),
    )(embed)
    app.command(
        "tsne",
        epilog=ex("aecli tsne --run runs/mnist --compare", "aecli tsne --run runs/mnist --n 3000"),
    )(tsne)
    app.command(
        "generate",
        epilog=ex(
            "aecli generate --run runs/mnist --range -2 2 --size 15 --ascii",
            "aecli generate --run runs/mnist --between 0 1 --steps 8",
        ),
    )(generate)
