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

from aecli.config import RESUME_KEYS
from aecli.errors import TrainingError
from aecli.experiment import jobs
from aecli.experiment.earlier import EarlierTsne, load_tsne_record, save_tsne_record
from aecli.experiment.results import EmbedResult, ExperimentResult, TsneMapResult
from aecli.latent.embed import ProgressFn
from aecli.rundir import RunDir

Notice = Callable[[str], None]

# A finished run is reused, not retrained, when its config differs only in keys that do not
# change what it computes: those a resume may change, and how an epoch is cut into compiled
# chunks (a resume keeps the checkpoint's).
_REUSABLE = {*RESUME_KEYS, "train.chunks_per_epoch"}


def _ignore(_line: str) -> None:
    """A notice callback that shows nothing."""


def _comparable(cfg_dict: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for section, value in cfg_dict.items():
        if isinstance(value, dict):
            out[section] = {k: v for k, v in value.items() if f"{section}.{k}" not in _REUSABLE}
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


class OtherRun(TrainingError):
    """The run directory holds another run: another configuration, or trained on other data.

    Attributes:
        reason: what differs, in a few words (``trained on 4,000 images (embedded ...)``).
    """

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


def run_state(
    run_dir: Path, config: Any, splits: Any = None, notice: Notice | None = None
) -> tuple[str, int]:
    """``("new" | "resume" | "reuse", epochs done)`` for training ``config`` into ``run_dir``.

    Raises:
        OtherRun: the directory holds a run of another configuration, or one trained on
            other data than ``splits`` (say the embedded sample, now that full MNIST is found).
    """
    from aecli.checkpoint import read_header

    f = RunDir(run_dir).latest
    if not f.is_file():
        return "new", 0
    header, _ = read_header(f)
    old, new = _comparable(header.get("config", {})), _comparable(config.to_dict())
    if old != new:
        differs = ", ".join(_differences(old, new))
        raise OtherRun(
            f"{run_dir} holds a run with another configuration (differs in {differs}): pass "
            "--run-dir NEW_DIR, or delete that directory to retrain",
            f"a run with another configuration (differs in {differs})",
        )
    trained_on = header.get("dataset", {})
    if splits is not None and trained_on.get("n_train") not in (None, len(splits["train"].images)):
        was = f"{trained_on['n_train']:,} images ({trained_on.get('source') or 'another source'})"
        raise OtherRun(
            f"{run_dir} was trained on {was}, but the data found now has "
            f"{len(splits['train'].images):,} ({splits.source}): pass --run-dir NEW_DIR to train "
            "on this data, or point at the data the run was trained on",
            f"a run trained on {was}",
        )
    if splits is not None:
        _check_images(trained_on, run_dir, splits, notice or _ignore)
    epoch = int(header.get("epoch", 0))
    return ("reuse" if epoch >= config.train.epochs else "resume"), epoch


def _check_images(trained_on: dict[str, Any], run_dir: Path, splits: Any, notice: Notice) -> None:
    """``OtherRun`` when the run's training images are not those of ``splits`` (same count)."""
    from aecli.training.session import check_fingerprint, images_fingerprint

    now = images_fingerprint(splits["train"].images)
    try:
        check_fingerprint(trained_on, now, str(run_dir), splits.source, notice)
    except TrainingError as e:
        raise OtherRun(str(e), "a run trained on other images of the same count") from None


MAX_CANDIDATES = 1000  # runs/<name>-2 ... -1000: beyond that the folder is not a run folder


def claim_run_dir(
    base: Path, config: Any, splits: Any, notice: Notice
) -> tuple[Path, Callable[[], None]]:
    """The run directory for ``config`` on ``splits`` when none was chosen: as ``aecli train``.

    ``base`` (``runs/<name>``) when it is new or holds this run (finished, to reuse, or not, to
    resume); else the first of ``runs/<name>-2``, ``-3``... that is, with a notice naming the
    run that was passed over. A new directory is made with ``mkdir`` (atomic: two experiments
    started together get different ones). Returns the directory and a function that removes
    it again if nothing was written into it (a run that never began).

    Raises:
        TrainingError: no free name among the first ``MAX_CANDIDATES``, or the folder above
            cannot be written.
    """
    passed: list[tuple[Path, str]] = []
    for i in range(1, MAX_CANDIDATES + 1):
        candidate = base if i == 1 else base.with_name(f"{base.name}-{i}")
        if RunDir(candidate).is_locked():
            passed.append((candidate, "a run that a training is writing"))
            continue
        try:
            state, _ = run_state(candidate, config, splits, notice)
        except OtherRun as e:
            passed.append((candidate, e.reason))
            continue
        made = state == "new" and _make(candidate)
        if passed:
            first, why = passed[0]
            notice(
                f"{first} holds {why}: this experiment uses {candidate} "
                "(pass --run-dir to choose another)"
            )
        return candidate, RunDir(candidate).remove_if_unused if made else _nothing
    raise TrainingError(
        f"{base} and {base.name}-2 to -{MAX_CANDIDATES} all hold other runs: pass --run-dir NEW_DIR"
    )


def _nothing() -> None:
    """Nothing to undo."""


def _make(path: Path) -> bool:
    """Create ``path`` (and its parents); True when this call created it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir()
        return True
    except FileExistsError:
        return False
    except OSError as e:
        raise TrainingError(
            f"cannot create the run directory {str(path)[:80]} ({e.strerror}): pass --run-dir "
            "or another --name"
        ) from None


def training_handlers(progress: ProgressFn, epochs: int, done: int) -> dict[type, Callable]:
    """The experiment's handler for every training event type (for ``events.dispatcher``).

    Compiling and epoch events move the progress line; a stopped run is an error; the rest
    (start, checkpoints, the summary) have nothing to show here.
    """
    from aecli import events

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
    from aecli.training import train

    state, done = run_state(run_dir, config, splits, notice)
    if state == "reuse":
        notice(f"reusing the finished run in {run_dir} ({done} epochs)")
        return state
    if state == "resume":
        notice(f"resuming the run in {run_dir} from epoch {done}")
    handle = dispatcher(training_handlers(progress, config.train.epochs, done))
    for ev in train(config, run_dir=run_dir, data=splits, resume=state == "resume", report=notice):
        handle(ev)
    return state


class _Steps:
    """The experiment's numbered steps: ``[k/n] stage`` on the progress line, timed by name."""

    def __init__(self, names: list[str], progress: ProgressFn):
        self.names = names
        self.progress = progress
        self.seconds: dict[str, float] = {}

    def announce(self, name: str, stage: str) -> ProgressFn:
        """Show ``stage`` as step ``name``; returns the step's own progress callback."""
        k = self.names.index(name)

        def detail(stage: str, done: int = 0, total: int = 0) -> None:
            self.progress(f"[{k + 1}/{len(self.names)}] {stage}", done, total)

        detail(stage)
        return detail

    @contextmanager
    def run(self, name: str, stage: str) -> Iterator[ProgressFn]:
        """Announce the step, time the block into ``seconds[name]``; yields its callback."""
        t0 = time.perf_counter()
        yield self.announce(name, stage)
        self.seconds[name] = time.perf_counter() - t0


def _measures(
    emb: EmbedResult, ts: TsneMapResult | None, tsne_n: int | None, earlier: EarlierTsne | None
) -> dict[str, Any]:
    """The report's table: the codes' measures, beside PCA's and t-SNE's when they ran.

    With ``tsne_n`` the maps were made on a subsample, so the codes are measured on it too.
    A t-SNE step kept from an earlier run (``earlier``) gives the PCA and t-SNE rows; the codes'
    row is today's unless that step mapped a subsample (then its own, of its epoch).
    """
    if ts is not None:
        codes = emb.measures if tsne_n is None else ts.measures["autoencoder"]
        return {
            "pca": ts.measures["pca"].to_dict(),
            "autoencoder": codes.to_dict(),
            "tsne": ts.measures["tsne"].to_dict(),
        }
    if earlier is None:
        return {"autoencoder": emb.measures.to_dict()}
    whole = earlier.n == earlier.split_size or "autoencoder" not in earlier.measures
    out = {k: v for k, v in earlier.measures.items() if k == "pca"}
    out["autoencoder"] = emb.measures.to_dict() if whole else earlier.measures["autoencoder"]
    out["tsne"] = earlier.measures["tsne"]
    return out


def run_experiment(
    config: Any,
    run_dir: Path,
    *,
    seed: int,
    skip_tsne: bool,
    tsne_n: int | None,
    progress: ProgressFn,
    notice: Notice,
    claim: bool = False,
) -> ExperimentResult:
    """Train or reuse ``run_dir``, run every step, write ``report.md``; return what was made.

    With ``claim``, ``run_dir`` is the default ``runs/<name>``: when it holds another run
    (other data or configuration) the next free ``runs/<name>-2``... is used (``claim_run_dir``).

    Raises:
        AecliError: data, training or a step failed (with the step's message).
    """
    from aecli.checkpoint import load_checkpoint
    from aecli.experiment import report

    names = ["data", "train", "samples", "reconstruct", "embed", "tsne", "generate", "report"]
    if skip_tsne:
        names.remove("tsne")
    if config.map.kind != "none":  # a map run is compared with its plain run
        names.insert(names.index("report"), "compare")
    steps = _Steps(names, progress)
    with steps.run("data", "loading the data"):
        d = config.data
        splits = jobs.load_splits(d.dataset, d.data_dir, d.offline, notice, d.invert)
    with steps.run("train", "training") as detail:
        trained, run_dir = _train_step(config, run_dir, splits, claim, detail, notice)
    ck = load_checkpoint(run_dir)
    made = _figures(steps, ck, splits, run_dir, seed=seed, skip_tsne=skip_tsne, tsne_n=tsne_n)
    earlier = _tsne_record(run_dir, splits, ck.epoch, made["tsne"], notice)
    made["compare"] = None
    if "compare" in names:
        with steps.run("compare", "comparison with the plain run") as detail:
            made["compare"] = _compare(ck, splits, run_dir, skip_tsne, seed, detail, notice)
    steps.announce("report", "report")
    result = ExperimentResult(
        name=config.name,
        run_dir=run_dir,
        report=run_dir / report.REPORT,
        trained=trained,
        checkpoint=ck.path,
        epoch=ck.epoch,
        dataset=splits.name,
        source=getattr(splits, "source", ""),
        model=_model_facts(ck),
        metrics=RunDir(run_dir).read_metrics(ck.epoch),
        **made,
        measures=_measures(made["embed"], made["tsne"], tsne_n, earlier),
        seconds=steps.seconds,
        earlier_tsne=earlier,
    )
    report.write_loss_curve(result)
    report.write_report(result)
    return result


def _tsne_record(
    run_dir: Path, splits: Any, epoch: int, ts: TsneMapResult | None, notice: Notice
) -> EarlierTsne | None:
    """Record the t-SNE step that ran (``tsne.json``), or read the earlier one when it did not."""
    n_train = len(splits["train"].images)
    if ts is not None:
        save_tsne_record(run_dir, ts, n_train)
        return None
    return load_tsne_record(run_dir, splits.name, n_train, epoch, notice)


def _train_step(
    config: Any, run_dir: Path, splits: Any, claim: bool, progress: ProgressFn, notice: Notice
) -> tuple[str, Path]:
    """``train_run`` into ``run_dir``, or with ``claim`` into the directory claimed for it."""
    undo = _nothing
    if claim:
        run_dir, undo = claim_run_dir(run_dir, config, splits, notice)
    try:
        return train_run(config, run_dir, splits, progress, notice), run_dir
    finally:
        undo()  # removes a claimed directory only when nothing was written into it


def _figures(
    steps: _Steps, ck: Any, splits: Any, run_dir: Path, *, seed: int, skip_tsne: bool,
    tsne_n: int | None,
) -> dict[str, Any]:  # fmt: skip
    """The steps after training, by ``ExperimentResult`` field: samples to decode grid."""
    from aecli.latent.grid import code_grid

    made: dict[str, Any] = {"tsne": None}
    with steps.run("samples", "data sample sheet"):
        made["samples_png"] = jobs.sample_sheet(splits, run_dir / "samples.png", seed)
    with steps.run("reconstruct", "reconstructions"):
        n = min(10, len(splits["test"].images))
        made["reconstruct"] = jobs.reconstruct(ck, splits, "test", n, seed, None)
    with steps.run("embed", "embedding the training split"):
        made["embed"] = jobs.embed(ck, splits, "train", None, grid=True, seed=seed, trust_n=4000)
    if not skip_tsne:
        with steps.run("tsne", "t-SNE") as detail:
            made["tsne"] = jobs.tsne(
                ck, splits, "train", None, n=tsne_n, engine="auto", seed=seed, compare=True,
                jobs=-1, trust_n=4000, progress=detail,
            )  # fmt: skip
    with steps.run("generate", "decode grid"):
        g = ck.config.grid
        made["generate"] = jobs.generate(ck, code_grid(g.low, g.high, g.step), None)
    return made


def plain_run(ck: Any, run_dir: Path) -> Path | None:
    """The plain run beside a map run: ``runs/mnist`` for ``runs/mnist-map``, when it exists.

    Its name is the map config's name without ``-map``; None when there is no such finished
    run directory next to ``run_dir``.
    """
    name = ck.config.name
    if not name.endswith("-map"):
        return None
    other = run_dir.parent / name.removesuffix("-map")
    return other if other != run_dir and RunDir(other).latest.is_file() else None


def _compare(
    ck: Any, splits: Any, run_dir: Path, skip_tsne: bool, seed: int, detail: ProgressFn,
    notice: Notice,
) -> Any:  # fmt: skip
    """``compare_runs`` of the map run and its plain run (alone when there is none)."""
    from aecli.checkpoint import load_checkpoint
    from aecli.experiment.compare import compare_runs

    runs = [ck]
    other = plain_run(ck, run_dir)
    if other is not None:
        plain = load_checkpoint(other)
        if plain.header.get("dataset", {}).get("n_train") in (None, len(splits["train"].images)):
            runs.append(plain)
        else:
            notice(f"not comparing with {other}: it was trained on other data")
    else:
        notice(f"no plain run next to {run_dir} to compare with (train one into it to add it)")
    return compare_runs(runs, splits, run_dir, skip_tsne=skip_tsne, seed=seed, progress=detail)


def _model_facts(ck: Any) -> dict[str, Any]:
    """What the report says about the model: layer sizes, activation, parameters, L2 weight."""
    from aecli.model import count_parameters

    return {
        "sizes": list(ck.config.model.sizes),
        "activation": ck.config.model.activation,
        "n_params": count_parameters(ck.model),
        "l2_weight": ck.config.train.l2_weight,
    }
