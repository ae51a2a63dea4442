"""Command ``aecli train``: train (or resume) the autoencoder and render the training events.

The loop itself lives in ``aecli.training.train``, a generator of events; this module parses
the options, builds the config (defaults < TOML file < options), loads the data, hands the
events to the renderer (``train_output``), and turns the outcome into an exit status:

* 0: finished; ``--json`` prints one summary object on stdout and nothing else goes there.
* 1: an error (one line on stderr), or training diverged (the last finite checkpoint is kept).
* 130 / 143 / 129: stopped by Ctrl-C (SIGINT) / SIGTERM / SIGHUP (the terminal closed). The
  run is saved after its last complete epoch and the resume command is printed (shell-quoted).
  A second Ctrl-C stops without waiting for the current chunk to finish (same checkpoint).

Several processes (``--coordinator``, ``--num-processes``, ``--process-id``, or a SLURM / Open
MPI launch; see ``aecli.distributed``): every process runs this same command. Process
0 shows the progress, prints the summary and writes its run directory; the others print one
line, write nothing (their ``--run-dir`` is accepted and not written) and end with the same
status. A process whose peers fail ends with one ``error:`` line and status 1.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from aecli import events
from aecli.cli.options import (
    Invert,
    RunName,
    TrainDataDir,
    TrainDataset,
    TrainOffline,
    TrainRunDir,
    examples,
)
from aecli.cli.train_output import Renderer, report_stop
from aecli.config import RESUME_KEYS
from aecli.errors import ConfigError, TrainingError

# SIGHUP (the terminal closed) stops like SIGTERM: consistent checkpoint, curve, resume hint.
_EXIT_SIGNAL = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGHUP: 129}


class Device(str, Enum):
    """Where to train."""

    auto = "auto"
    cpu = "cpu"
    gpu = "gpu"


def _option_overrides(**values: Any) -> dict[str, tuple[str, str, Any]]:
    """Map given options to ``(config key, option name, value)``; None means not given."""
    keys = {
        "epochs": ("train.epochs", "--epochs"),
        "batch_size": ("train.batch_size", "--batch-size"),
        "lr": ("train.lr", "--lr"),
        "l2_weight": ("train.l2_weight", "--l2-weight"),
        "seed": ("train.seed", "--seed"),
        "dataset": ("data.dataset", "--dataset"),
        "data_dir": ("data.data_dir", "--data-dir"),
        "offline": ("data.offline", "--offline"),
        "invert": ("data.invert", "--invert"),
        "device": ("train.device", "--device"),
        "devices": ("train.devices", "--devices"),
        "name": ("name", "--name"),
    }
    return {k: (*keys[k], v) for k, v in values.items() if v is not None}


def _apply(config: Any, overrides: dict[str, tuple[str, str, Any]]) -> Any:
    for key, option, value in overrides.values():
        try:
            config = config.replace(**{key: value})
        except ConfigError as e:
            raise typer.BadParameter(str(e), param_hint=option) from None
    return config


def _default_run_dir(name: str) -> Path:
    """Claim ``runs/<name>``, or ``runs/<name>-2``, ``-3``... when that one is taken.

    The claim is a ``mkdir``, atomic, so two trainings started together get different names.
    """
    base = Path("runs") / name
    base.parent.mkdir(parents=True, exist_ok=True)
    candidate, i = base, 1
    while True:
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            i += 1
            candidate = base.with_name(f"{name}-{i}")
        except OSError as e:
            raise typer.BadParameter(
                f"cannot create the run directory {str(candidate)[:80]} ({e.strerror}): "
                "pass --run-dir or another name",
                param_hint="--name",
            ) from None


def _cpu_device_flag(devices: int | None, device: str | None) -> None:
    """Let ``--device cpu --devices N`` work without the user knowing XLA's flag.

    XLA reads the flag when its CPU backend starts, so this only helps before the first JAX
    computation in the process (always true for the CLI).
    """
    if devices and devices > 1 and device == "cpu":
        flags = os.environ.get("XLA_FLAGS", "")
        if "xla_force_host_platform_device_count" not in flags:
            os.environ["XLA_FLAGS"] = (
                f"{flags} --xla_force_host_platform_device_count={devices}".strip()
            )


ConfigFile = Annotated[
    Path | None,
    typer.Argument(
        metavar="CONFIG.toml",
        help="TOML file of overrides (see configs/); defaults reproduce the MNIST experiment.",
        show_default=False,
    ),
]
Epochs = Annotated[
    int | None,
    typer.Option("--epochs", min=1, help="Epochs in all (with --resume: extends the run)."),
]
BatchSize = Annotated[
    int | None, typer.Option("--batch-size", min=1, help="Images per optimizer step.")
]
LearningRate = Annotated[float | None, typer.Option("--lr", help="Adam learning rate.")]
L2Weight = Annotated[
    float | None, typer.Option("--l2-weight", help="Weight of the squared-code penalty.")
]
Seed = Annotated[
    int | None,
    typer.Option(
        "--seed",
        min=0,
        max=2**32 - 1,
        help="PRNG seed of the initial weights and the epoch shuffles (train.seed).",
    ),
]
DeviceKind = Annotated[
    Device | None, typer.Option("--device", help="auto (GPU when present), cpu or gpu.")
]
DeviceCount = Annotated[
    int | None,
    typer.Option("--devices", min=1, help="Data-parallel devices (batch split over them)."),
]
Resume = Annotated[
    Path | None,
    typer.Option("--resume", metavar="RUN_DIR", help="Continue a run from its latest.ckpt."),
]
JsonOut = Annotated[
    bool, typer.Option("--json", help="Print one JSON summary on stdout, nothing else.")
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")]
Tui = Annotated[bool, typer.Option("--tui", help="Train with the Textual TUI.")]
_JOB_PANEL = "Several processes (hosts, GPU nodes; SLURM and Open MPI are found by themselves)"
Coordinator = Annotated[
    str | None,
    typer.Option(
        "--coordinator",
        envvar="AECLI_COORDINATOR",
        rich_help_panel=_JOB_PANEL,
        metavar="HOST:PORT",
        help="Train in several processes: process 0's host and a free port on it (with "
        "--num-processes and --process-id, the same on every process but the id).",
        show_default=False,
    ),
]
NumProcesses = Annotated[
    int | None,
    typer.Option(
        "--num-processes",
        envvar="AECLI_NUM_PROCESSES",
        rich_help_panel=_JOB_PANEL,
        min=1,
        help="Processes in the job.",
    ),
]
ProcessId = Annotated[
    int | None,
    typer.Option(
        "--process-id",
        envvar="AECLI_PROCESS_ID",
        rich_help_panel=_JOB_PANEL,
        min=0,
        help="This process's index in the job; process 0 writes the run directory.",
    ),
]
PeerTimeout = Annotated[
    float,
    typer.Option(
        "--peer-timeout",
        envvar="AECLI_PEER_TIMEOUT",
        rich_help_panel=_JOB_PANEL,
        min=1,
        help="Seconds a process of a job waits for the others (to connect, or between "
        "steps) before it stops with an error.",
    ),
]


def train_command(
    config_file: ConfigFile = None,
    epochs: Epochs = None,
    batch_size: BatchSize = None,
    lr: LearningRate = None,
    l2_weight: L2Weight = None,
    seed: Seed = None,
    dataset: TrainDataset = None,
    data_dir: TrainDataDir = None,
    offline: TrainOffline = False,
    invert: Invert = None,
    device: DeviceKind = None,
    devices: DeviceCount = None,
    run_dir: TrainRunDir = None,
    name: RunName = None,
    resume: Resume = None,
    json_out: JsonOut = False,
    quiet: Quiet = False,
    tui: Tui = False,
    coordinator: Coordinator = None,
    num_processes: NumProcesses = None,
    process_id: ProcessId = None,
    peer_timeout: PeerTimeout = 300.0,
) -> None:
    """Train the tied autoencoder; with no arguments, the original MNIST experiment."""
    given = _option_overrides(
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        l2_weight=l2_weight,
        seed=seed,
        dataset=dataset,
        data_dir=str(data_dir) if data_dir is not None else None,
        offline=True if offline else None,
        invert=invert.value if invert is not None else None,
        device=device.value if device is not None else None,
        devices=devices,
        name=name,
    )
    if tui and json_out:
        raise typer.BadParameter("--tui and --json cannot be combined", param_hint="--json")
    job = _find_job(coordinator, num_processes, process_id, tui)
    _cpu_device_flag(devices, device.value if device is not None else None)

    config, target = _config_and_target(resume, given, config_file, run_dir)
    from aecli.jaxsetup import use_compilation_cache

    use_compilation_cache()  # before anything compiles
    claimed = resume is None and run_dir is None
    try:
        if tui:
            last = _training_tui()(config, target, None, resume is not None)
            raise typer.Exit(_after_tui(last, target))

        def run(process: Any) -> int:
            return _run(
                config, target, resume is not None, json_out=json_out, quiet=quiet, job=process
            )

        raise typer.Exit(_in_job(job, peer_timeout, run))
    finally:
        if claimed:  # a claimed name whose run never began is given back
            from aecli.rundir import RunDir

            RunDir(target).remove_if_unused()


def _config_and_target(
    resume: Path | None, given: dict[str, tuple[str, str, Any]], config_file: Any, run_dir: Any
) -> tuple[Any, Path]:
    """The run's config (defaults < TOML file < options; a resume's own) and its directory."""
    if resume is not None:
        return _resumed_config(resume, given, config_file, run_dir), resume
    from aecli.config import load_config

    config = _apply(load_config(config_file), given)
    return config, run_dir if run_dir is not None else _default_run_dir(config.name)


def _in_job(job: Any, timeout: float, run: Callable[[Any], int]) -> int:
    """``run(process)`` as this process's part of ``job`` (None: alone); its exit status."""
    if job is None:
        return run(None)
    from aecli import distributed

    process = distributed.start(job, timeout)
    code = run(process)
    distributed.record_exit(code)
    return code


def _find_job(coordinator: Any, num_processes: Any, process_id: Any, tui: bool) -> Any:
    """The multi-process job to join (``distributed.find_job``), or None; usage errors."""
    from aecli.distributed import find_job

    try:
        job = find_job(coordinator, num_processes, process_id)
    except ConfigError as e:
        raise typer.BadParameter(str(e)) from None
    if job is not None and tui:
        raise typer.BadParameter(
            "--tui trains in one process (a pause in one process would stall the others): "
            "leave out --tui, or the multi-process settings",
            param_hint="--tui",
        )
    return job


def _resumed_config(
    resume: Path, given: dict[str, tuple[str, str, Any]], config_file: Any, run_dir: Any
) -> Any:
    """The run's own config from its checkpoint, with the options a resume may change."""
    bad = [opt for key, opt, _ in given.values() if key not in RESUME_KEYS]
    if config_file is not None:
        bad.insert(0, "CONFIG.toml")
    if run_dir is not None:
        bad.append("--run-dir")
    if bad:
        raise typer.BadParameter(
            f"{', '.join(bad)} cannot be changed when resuming (the run keeps its own "
            f"settings; {_resume_options()} may be given)",
            param_hint="--resume",
        )
    from aecli.checkpoint import LATEST, read_header, resolve_path
    from aecli.config import from_dict

    if resume.is_file():  # a checkpoint file: its run directory is what resumes
        raise typer.BadParameter(
            f"{resume} is a file: pass its run directory ({resume.parent}); a run always "
            f"resumes from its {LATEST}",
            param_hint="--resume",
        )
    header, _ = read_header(resolve_path(resume, which=LATEST))
    return _apply(from_dict(header["config"]), given)


def _training_tui() -> Callable[..., Any]:
    """``aecli.tui.app.run_training_tui``; a one-line error when the TUI cannot be imported.

    Only a build without ``aecli.tui`` is "not available"; any other missing module (textual,
    say) is named as it is, so a broken install is not mistaken for a missing feature.
    """
    try:
        from aecli.tui.app import run_training_tui
    except ModuleNotFoundError as e:
        if e.name in ("aecli.tui", "aecli.tui.app"):
            raise TrainingError(
                "the training TUI is not available in this build (no aecli.tui): "
                "run 'aecli train' without --tui"
            ) from None
        raise TrainingError(
            f"the training TUI cannot start: module {e.name!r} is missing ({e}): install it, "
            "or run 'aecli train' without --tui"
        ) from None
    return run_training_tui


def _resume_options() -> str:
    """``--epochs, --device, ... and --offline``: the options ``RESUME_KEYS`` come from."""
    options = ["--" + key.partition(".")[2].replace("_", "-") for key in RESUME_KEYS]
    return f"{', '.join(options[:-1])} and {options[-1]}"


def _events(
    config: Any, run_dir: Path, resume: bool, control: Any, notice: Callable[[str], None]
) -> Iterator[events.Event]:
    """Load the run's data (its notices first), then train on it."""
    from aecli.data import load_dataset
    from aecli.training import train

    d = config.data
    data = load_dataset(
        d.dataset, data_dir=d.data_dir, offline=d.offline, report=notice, invert=d.invert
    )
    yield from train(
        config, run_dir=run_dir, data=data, resume=resume, control=control, report=notice
    )


def _run(
    config: Any, run_dir: Path, resume: bool, *, json_out: bool, quiet: bool, job: Any = None
) -> int:
    """Train, rendering the events; the exit status. ``job``: this process's place in a job."""
    from aecli.rundir import RunDir

    control = events.TrainControl()
    received: list[int] = []

    def on_signal(signum: int, frame: Any) -> None:
        if received:  # second signal: do not wait for the chunk to end
            raise KeyboardInterrupt
        received.append(signum)
        control.stop()

    handlers: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in _EXIT_SIGNAL:
            handlers[sig] = signal.signal(sig, on_signal)

    def stopped_exit(reason: str) -> int:
        if reason == "diverged":
            return 1
        return _EXIT_SIGNAL.get(received[0], 130) if received else 130

    if job is not None and job.index != 0:  # process 0 speaks for the job
        print(f"{job.name}: training with the job at {job.coordinator}; process 0 shows the "
              "progress and writes the run directory", file=sys.stderr, flush=True)  # fmt: skip
        quiet, json_out = True, False
    renderer = Renderer(quiet=quiet, json_out=json_out, run_dir=run_dir, stopped_exit=stopped_exit)
    stream = _events(config, run_dir, resume, control, renderer.notice)
    if job is not None:
        from aecli.distributed import watch

        stream = watch(stream, job)
    try:
        for ev in stream:
            code = renderer.dispatch(ev)
            if code is not None:
                return code
        return 1  # pragma: no cover - the generator always ends with one of the two
    except KeyboardInterrupt:
        stream.close()  # releases the run directory's lock
        renderer.stop()
        ev = events.TrainingStopped(
            epoch=-1,
            reason="interrupted",
            message="training interrupted; the run is saved after its last complete epoch",
            checkpoint=RunDir(run_dir).latest,
        )
        return report_stop(ev, run_dir, json_out, 130)
    finally:
        renderer.stop()
        for sig, old in handlers.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(sig, old)


def _after_tui(last: Any, run_dir: Path) -> int:
    """Exit status after the TUI closed: its last training event decides (None: never began)."""
    if isinstance(last, events.TrainingFinished):
        print(f"run directory: {last.summary['run_dir']}")
        return 0
    if isinstance(last, events.TrainingStopped):
        # A stop asked for with the TUI's key is a normal end; Ctrl-C and divergence are not.
        code = {"diverged": 1, "interrupted": 130}.get(last.reason, 0)
        return report_stop(last, run_dir, False, code)
    return 0


def register(app: typer.Typer) -> None:
    """Add ``train`` to the app."""
    app.command(
        "train",
        epilog=examples(
            "aecli train configs/quick.toml --data-dir ../shared/data",
            "aecli train --resume runs/mnist --epochs 150",
        ),
    )(train_command)
