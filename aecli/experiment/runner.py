"""The whole original experiment on one config: reuse or train the run, then every step, timed.

``run_experiment`` loads the data, trains (or resumes, or reuses a finished run), then writes
the sample sheet, reconstructions, embedding, t-SNE comparison and decode grid through the
same jobs as the single commands, and finally ``report.md``. Progress goes to a
``progress(stage, done, total)`` callback and notices to a ``notice(line)`` callback, so the
command line decides how they look; nothing here prints.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aecli.experiment import jobs
from aecli.experiment.results import EmbedResult, ExperimentResult, TsneMapResult
from aecli.latent.embed import ProgressFn

Notice = Callable[[str], None]

# Config keys that do not change what a run computes: a finished run with other values of these
# is reused, not retrained.
_IRRELEVANT = {
    ("train", "epochs"),
    ("train", "device"),
    ("train", "devices"),
    ("train", "chunks_per_epoch"),
    ("data", "data_dir"),
    ("data", "offline"),
}


def _comparable(cfg_dict: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for section, value in cfg_dict.items():
        if isinstance(value, dict):
            out[section] = {k: v for k, v in value.items() if (section, k) not in _IRRELEVANT}
        else:
            out[section] = value
    return out


def _as_dict(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """``section.key`` names that differ between two comparable config dicts."""
    return sorted(
        f"{s}.{k}"
        for s in set(old) | set(new)
        for k in set(_as_dict(old.get(s))) | set(_as_dict(new.get(s)))
        if _as_dict(old.get(s)).get(k) != _as_dict(new.get(s)).get(k)
    ) or sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))


def run_state(run_dir: Path, config: Any, splits: Any = None) -> tuple[str, int]:
    """``("new" | "resume" | "reuse", epochs done)`` for training ``config`` into ``run_dir``.

    Raises:
        TrainingError: the directory holds a run of another configuration, or one trained on
            other data than ``splits`` (say the embedded sample, now that full MNIST is found).
    """
    from aecli.checkpoint import read_header
    from aecli.errors import TrainingError
    from aecli.rundir import RunDir

    f = RunDir(run_dir).latest
    if not f.is_file():
        return "new", 0
    header, _ = read_header(f)
    old, new = _comparable(header.get("config", {})), _comparable(config.to_dict())
    if old != new:
        raise TrainingError(
            f"{run_dir} holds a run with another configuration (differs in "
            f"{', '.join(_differences(old, new))}): pass --run-dir NEW_DIR, or delete that "
            "directory to retrain"
        )
    trained_on = header.get("dataset", {})
    if splits is not None and trained_on.get("n_train") not in (None, len(splits["train"].images)):
        raise TrainingError(
            f"{run_dir} was trained on {trained_on['n_train']:,} images "
            f"({trained_on.get('source') or 'another source'}), but the data found now has "
            f"{len(splits['train'].images):,} ({splits.source}): pass --run-dir NEW_DIR to train "
            "on this data, or point at the data the run was trained on"
        )
    epoch = int(header.get("epoch", 0))
    return ("reuse" if epoch >= config.train.epochs else "resume"), epoch


def training_handlers(progress: ProgressFn, epochs: int, done: int) -> dict[type, Callable]:
    """The experiment's handler for every training event type (for ``events.dispatcher``).

    Compiling and epoch events move the progress line; a stopped run is an error; the rest
    (start, checkpoints, the summary) have nothing to show here.
    """
    from aecli import events
    from aecli.errors import TrainingError

    def stopped(ev: events.TrainingStopped) -> None:
        raise TrainingError(f"training stopped at epoch {ev.epoch}: {ev.message}")

    def ignore(ev: Any) -> None:
        return None

    return {
        events.RunStarted: ignore,
        events.Compiling: lambda ev: progress(f"training: {ev.message}", done, epochs),
        events.EpochProgress: lambda ev: progress(
            f"training epoch {ev.epoch}/{epochs}", ev.epoch - 1, epochs
        ),
        events.EpochEnd: lambda ev: progress(
            f"training: epoch {ev.epoch}/{epochs}, loss {ev.train_loss:.2f}", ev.epoch, epochs
        ),
        events.CheckpointSaved: ignore,
        events.TrainingFinished: ignore,
        events.TrainingStopped: stopped,
    }


def train_run(config: Any, run_dir: Path, splits: Any, progress: ProgressFn, notice: Notice) -> str:
    """Train, resume or reuse ``run_dir`` for ``config``; returns which (``run_state``).

    Raises:
        TrainingError: another config or other data in ``run_dir``, or training stopped.
    """
    from aecli.events import dispatcher
    from aecli.train import train

    state, done = run_state(run_dir, config, splits)
    if state == "reuse":
        notice(f"reusing the finished run in {run_dir} ({done} epochs)")
        return state
    if state == "resume":
        notice(f"resuming the run in {run_dir} from epoch {done}")
    handle = dispatcher(training_handlers(progress, config.train.epochs, done))
    for ev in train(config, run_dir=run_dir, data=splits, resume=state == "resume", report=notice):
        handle(ev)
    return state


@contextmanager
def _timed(seconds: dict[str, float], step: str) -> Iterator[None]:
    t0 = time.perf_counter()
    yield
    seconds[step] = time.perf_counter() - t0


def _measures(emb: EmbedResult, ts: TsneMapResult | None, tsne_n: int | None) -> dict[str, Any]:
    """The report's table: the codes' measures, beside PCA's and t-SNE's when they ran.

    With ``tsne_n`` the maps were made on a subsample, so the codes are measured on it too.
    """
    if ts is None:
        return {"autoencoder": emb.measures.to_dict()}
    codes = emb.measures if tsne_n is None else ts.measures["autoencoder"]
    return {
        "pca": ts.measures["pca"].to_dict(),
        "autoencoder": codes.to_dict(),
        "tsne": ts.measures["tsne"].to_dict(),
    }


def run_experiment(
    config: Any,
    run_dir: Path,
    *,
    seed: int,
    skip_tsne: bool,
    tsne_n: int | None,
    progress: ProgressFn,
    notice: Notice,
) -> ExperimentResult:
    """Train or reuse ``run_dir``, run every step, write ``report.md``; return what was made.

    Raises:
        AecliError: data, training or a step failed (with the step's message).
    """
    from aecli.checkpoint import load_checkpoint
    from aecli.experiment import report

    names = ["data", "train", "samples", "reconstruct", "embed", "tsne", "generate", "report"]
    if skip_tsne:
        names.remove("tsne")

    def step(stage: str, k: int) -> ProgressFn:
        def detail(stage: str, done: int = 0, total: int = 0) -> None:
            progress(f"[{k + 1}/{len(names)}] {stage}", done, total)

        detail(stage)
        return detail

    seconds: dict[str, float] = {}
    with _timed(seconds, "data"):
        step("loading the data", 0)
        d = config.data
        splits = jobs.load_splits(d.dataset, d.data_dir, d.offline, notice)
    with _timed(seconds, "train"):
        trained = train_run(config, run_dir, splits, step("training", 1), notice)
    ck = load_checkpoint(run_dir)
    made = _steps(ck, splits, run_dir, seconds, step, seed=seed, skip_tsne=skip_tsne, tsne_n=tsne_n)
    step("report", len(names) - 1)
    result = _result(config, run_dir / report.REPORT, trained, ck, splits, made, seconds, tsne_n)
    report.write_report(result)
    return result


def _steps(
    ck: Any,
    splits: Any,
    run_dir: Path,
    seconds: dict[str, float],
    step: Callable[[str, int], ProgressFn],
    *,
    seed: int,
    skip_tsne: bool,
    tsne_n: int | None,
) -> dict[str, Any]:
    """The figure steps after training, each timed into ``seconds``."""
    from aecli.latent.grid import code_grid

    made: dict[str, Any] = {"tsne": None}
    with _timed(seconds, "samples"):
        step("data sample sheet", 2)
        made["samples"] = jobs.sample_sheet(splits, run_dir / "samples.png", seed)
    with _timed(seconds, "reconstruct"):
        step("reconstructions", 3)
        n = min(10, len(splits["test"].images))
        made["reconstruct"] = jobs.reconstruct(ck, splits, "test", n, seed, None)
    with _timed(seconds, "embed"):
        step("embedding the training split", 4)
        made["embed"] = jobs.embed(ck, splits, "train", None, grid=True, seed=seed, trust_n=4000)
    k = 5
    if not skip_tsne:
        with _timed(seconds, "tsne"):
            made["tsne"] = jobs.tsne(
                ck, splits, "train", None, n=tsne_n, engine="auto", seed=seed, compare=True,
                jobs=-1, trust_n=4000, progress=step("t-SNE", k),
            )  # fmt: skip
        k += 1
    with _timed(seconds, "generate"):
        step("decode grid", k)
        g = ck.config.grid
        made["generate"] = jobs.generate(ck, code_grid(g.low, g.high, g.step), None)
    return made


def _result(
    config: Any,
    report_path: Path,
    trained: str,
    ck: Any,
    splits: Any,
    made: dict[str, Any],
    seconds: dict[str, float],
    tsne_n: int | None,
) -> ExperimentResult:
    from aecli.model import count_parameters
    from aecli.rundir import RunDir

    return ExperimentResult(
        name=config.name,
        run_dir=report_path.parent,
        report=report_path,
        trained=trained,
        checkpoint=ck.path,
        epoch=ck.epoch,
        dataset=splits.name,
        source=getattr(splits, "source", ""),
        model={
            "sizes": list(ck.config.model.sizes),
            "activation": ck.config.model.activation,
            "n_params": count_parameters(ck.model),
            "l2_weight": ck.config.train.l2_weight,
        },
        metrics=RunDir(report_path.parent).read_metrics(ck.epoch),
        samples_png=made["samples"],
        reconstruct=made["reconstruct"],
        embed=made["embed"],
        tsne=made["tsne"],
        generate=made["generate"],
        measures=_measures(made["embed"], made["tsne"], tsne_n),
        seconds=seconds,
    )
