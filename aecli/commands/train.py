"""Command ``aecli train``: train (or resume) the autoencoder and render the training events.

The loop itself lives in ``aecli.train.train``, a generator of events; this module parses the
options, builds the config (defaults < TOML file < options), renders progress with rich on
stderr, and turns the outcome into output and an exit status:

* 0: finished; ``--json`` prints one summary object on stdout and nothing else goes there.
* 1: an error (one line on stderr), or training diverged (the last finite checkpoint is kept).
* 130 / 143: stopped by Ctrl-C (SIGINT) / SIGTERM. The run is saved after its last complete
  epoch and the resume command is printed. A second Ctrl-C stops without waiting for the
  current chunk to finish (the checkpoint is the same).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from aecli.errors import ConfigError, TrainingError

_EXIT_SIGNAL = {signal.SIGINT: 130, signal.SIGTERM: 143}

# Options that may be given together with --resume (everything else is fixed by the run).
_RESUME_OK = ("epochs", "device", "devices", "data_dir", "offline")


class Device(str, Enum):
    """Where to train."""

    auto = "auto"
    cpu = "cpu"
    gpu = "gpu"


class Invert(str, Enum):
    """Whether to invert the images (light ink on dark is what the model expects)."""

    auto = "auto"
    yes = "yes"
    no = "no"


INVERT_HELP = (
    "auto: invert images of dark ink on a light background (so they look like MNIST); "
    "yes: invert every image; no: keep them as stored."
)


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
    """``runs/<name>``, or ``runs/<name>-2``, ``-3``... when that one already holds a run."""
    base = Path("runs") / name
    candidate, i = base, 1
    while candidate.exists() and any(candidate.iterdir()):
        i += 1
        candidate = base.with_name(f"{name}-{i}")
    return candidate


def _resume_command(run_dir: Path) -> str:
    return f"aecli train --resume {run_dir}"


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


class _Renderer:
    """Rich progress on stderr (epoch bar with loss, images/s and ETA) plus one line per epoch."""

    def __init__(self, quiet: bool):
        from rich.console import Console

        self.quiet = quiet
        self.console = Console(stderr=True, highlight=False)
        self.progress = None
        self.run_task = None
        self.epoch_task = None
        self.epochs = 0

    def notice(self, message: str) -> None:
        if not self.quiet:
            target = self.progress.console if self.progress is not None else self.console
            target.print(message, markup=False, soft_wrap=True)

    def start(self, ev: Any) -> None:
        if self.quiet:
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.epochs = ev.epochs
        self.notice(
            f"training {ev.name}: {ev.n_train:,} {ev.dataset} images ({ev.source}), "
            f"{ev.n_params:,} parameters, {ev.steps_per_epoch} steps/epoch on {ev.device}"
        )
        self.notice(f"run directory: {ev.run_dir}")
        if ev.start_epoch:
            self.notice(f"resuming after epoch {ev.start_epoch} of {ev.epochs}")
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(bar_width=30),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        self.progress.start()
        self.run_task = self.progress.add_task(
            "epochs", total=ev.epochs, completed=ev.start_epoch, info=""
        )
        self.epoch_task = self.progress.add_task(
            f"epoch {ev.start_epoch + 1}", total=ev.n_train, info=""
        )

    def compiling(self) -> None:
        if self.progress is not None:
            self.progress.update(self.epoch_task, info="compiling with XLA...")

    def epoch_progress(self, ev: Any) -> None:
        if self.progress is not None:
            self.progress.update(
                self.epoch_task,
                description=f"epoch {ev.epoch}",
                completed=ev.images_done,
                info="",
            )

    def epoch_end(self, ev: Any) -> None:
        val = f"  val {ev.val_loss:7.3f}" if ev.val_loss is not None else ""
        line = (
            f"epoch {ev.epoch:>{len(str(ev.epochs))}}/{ev.epochs}  train {ev.train_loss:7.3f}"
            f"{val}  {ev.seconds:6.2f} s  {ev.images_per_second:,.0f} img/s"
        )
        self.notice(line)
        if self.progress is not None:
            info = f"loss {ev.train_loss:.2f}  {ev.images_per_second:,.0f} img/s"
            self.progress.update(self.run_task, completed=ev.epoch, info=info)
            if ev.epoch < ev.epochs:
                self.progress.reset(self.epoch_task, description=f"epoch {ev.epoch + 1}", info="")
            else:
                self.progress.remove_task(self.epoch_task)

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def _print_summary(s: dict[str, Any]) -> None:
    def f(v: Any, spec: str = ".3f") -> str:
        return "n/a" if v is None else format(v, spec)

    from aecli.train import HINTON_2006_AUTOENCODER_30D, HINTON_2006_PCA_30D

    median = s.get("median_epoch_seconds")
    ips = s.get("images_per_second")
    print(
        f"finished {s['epochs']} epochs in {s['wall_seconds']:.1f} s"
        + (f" (median epoch {median:.2f} s, {ips:,.0f} images/s)" if median and ips else "")
        + f" on {s['device']}"
    )
    print(
        "loss per image (squared error + l2_weight * |code|^2): "
        f"train {f(s['train_loss'])}  validation {f(s['val_loss'])}  test {f(s['test_loss'])}"
    )
    if s.get("test_recon_error") is not None:
        print(
            "test reconstruction error per image, [0,1] pixel units, no code penalty: "
            f"{s['test_recon_error']:.3f} (Hinton & Salakhutdinov 2006: 30-D autoencoder "
            f"{HINTON_2006_AUTOENCODER_30D:.2f}, 30-D PCA {HINTON_2006_PCA_30D:.2f})"
        )
    print(f"run directory: {s['run_dir']}  (latest.ckpt, best.ckpt, metrics.jsonl, loss_curve.png)")


def train_command(
    config_file: Annotated[
        Path | None,
        typer.Argument(
            metavar="CONFIG.toml",
            help="TOML file of overrides (see configs/); defaults reproduce the MNIST experiment.",
            show_default=False,
        ),
    ] = None,
    epochs: Annotated[
        int | None,
        typer.Option("--epochs", min=1, help="Epochs in all (with --resume: extends the run)."),
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option("--batch-size", min=1, help="Images per optimizer step.")
    ] = None,
    lr: Annotated[float | None, typer.Option("--lr", help="Adam learning rate.")] = None,
    l2_weight: Annotated[
        float | None, typer.Option("--l2-weight", help="Weight of the squared-code penalty.")
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", min=0, max=2**32 - 1, help="PRNG seed.")
    ] = None,
    dataset: Annotated[
        str | None,
        typer.Option(
            "--dataset",
            help="mnist, fashion-mnist, kmnist, notmnist, letters, or a path to a dataset file "
            "or folder (IDX, torchvision root, .npz, .csv, folder of images by class).",
        ),
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Folder holding mnist/ and notmnist/.")
    ] = None,
    offline: Annotated[
        bool, typer.Option("--offline", help="Never download; fall back to embedded data.")
    ] = False,
    invert: Annotated[
        Invert | None, typer.Option("--invert", help=INVERT_HELP, show_default=False)
    ] = None,
    device: Annotated[
        Device | None, typer.Option("--device", help="auto (GPU when present), cpu or gpu.")
    ] = None,
    devices: Annotated[
        int | None,
        typer.Option("--devices", min=1, help="Data-parallel devices (batch split over them)."),
    ] = None,
    run_dir: Annotated[
        Path | None,
        typer.Option(
            "--run-dir",
            help="Run directory (default runs/<name>, or runs/<name>-2... if that holds a run).",
            show_default=False,
        ),
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Run name (default: config's).")
    ] = None,
    resume: Annotated[
        Path | None,
        typer.Option("--resume", metavar="RUN_DIR", help="Continue a run from its latest.ckpt."),
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print one JSON summary on stdout, nothing else.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
    tui: Annotated[bool, typer.Option("--tui", help="Train with the Textual TUI.")] = False,
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
    _cpu_device_flag(devices, device.value if device is not None else None)

    from aecli.config import from_dict, load_config

    if resume is not None:
        bad = [opt for k, (_, opt, _) in given.items() if k not in _RESUME_OK]
        if config_file is not None:
            bad.insert(0, "CONFIG.toml")
        if run_dir is not None:
            bad.append("--run-dir")
        if bad:
            raise typer.BadParameter(
                f"{', '.join(bad)} cannot be changed when resuming (the run keeps its own "
                "settings; --epochs, --device, --devices, --data-dir and --offline may be given)",
                param_hint="--resume",
            )
        from aecli.checkpoint import LATEST, read_header, resolve_path

        if resume.is_file():  # a checkpoint file: its run directory is what resumes
            raise typer.BadParameter(
                f"{resume} is a file: pass its run directory ({resume.parent}); a run always "
                "resumes from its latest.ckpt",
                param_hint="--resume",
            )
        header, _ = read_header(resolve_path(resume, which=LATEST))
        config = _apply(from_dict(header["config"]), given)
        target = resume
    else:
        config = _apply(load_config(config_file), given)
        target = run_dir if run_dir is not None else _default_run_dir(config.name)

    if tui:
        try:
            from aecli.tui.app import run_training_tui
        except ImportError:
            raise TrainingError(
                "the training TUI is not available in this build (aecli.tui.app."
                "run_training_tui is missing): run 'aecli train' without --tui"
            ) from None
        last = run_training_tui(config, target, None, resume is not None)
        raise typer.Exit(_after_tui(last, target))

    code = _run(config, target, resume is not None, json_out=json_out, quiet=quiet)
    raise typer.Exit(code)


def _run(config: Any, run_dir: Path, resume: bool, *, json_out: bool, quiet: bool) -> int:
    from aecli.events import (
        Compiling,
        EpochEnd,
        EpochProgress,
        RunStarted,
        TrainControl,
        TrainingFinished,
        TrainingStopped,
    )
    from aecli.train import train

    control = TrainControl()
    received: list[int] = []
    renderer = _Renderer(quiet)

    def on_signal(signum: int, frame: Any) -> None:
        if received:  # second signal: do not wait for the chunk to end
            raise KeyboardInterrupt
        received.append(signum)
        control.stop()

    handlers: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            handlers[sig] = signal.signal(sig, on_signal)

    def stopped_exit(reason: str) -> int:
        if reason == "diverged":
            return 1
        return _EXIT_SIGNAL.get(received[0], 130) if received else 130

    events = train(config, run_dir=run_dir, resume=resume, control=control, report=renderer.notice)
    try:
        for ev in events:
            if isinstance(ev, RunStarted):
                renderer.start(ev)
            elif isinstance(ev, Compiling):
                renderer.compiling()
            elif isinstance(ev, EpochProgress):
                renderer.epoch_progress(ev)
            elif isinstance(ev, EpochEnd):
                renderer.epoch_end(ev)
            elif isinstance(ev, TrainingFinished):
                renderer.stop()
                if json_out:
                    print(json.dumps(ev.summary))
                elif not quiet:
                    _print_summary(ev.summary)
                return 0
            elif isinstance(ev, TrainingStopped):
                renderer.stop()
                return _report_stop(ev, run_dir, json_out, stopped_exit(ev.reason))
        return 1  # pragma: no cover - the generator always ends with one of the two
    except KeyboardInterrupt:
        events.close()  # releases the run directory's lock
        renderer.stop()
        ev = TrainingStopped(
            epoch=-1,
            reason="interrupted",
            message="training interrupted; the run is saved after its last complete epoch",
            checkpoint=Path(run_dir) / "latest.ckpt",
        )
        return _report_stop(ev, run_dir, json_out, 130)
    finally:
        renderer.stop()
        for sig, old in handlers.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(sig, old)


def _after_tui(last: Any, run_dir: Path) -> int:
    """Exit status after the TUI closed: its last training event decides (None: never began)."""
    from aecli.events import TrainingFinished, TrainingStopped

    if isinstance(last, TrainingFinished):
        print(f"run directory: {last.summary['run_dir']}")
        return 0
    if isinstance(last, TrainingStopped):
        # A stop asked for with the TUI's key is a normal end; Ctrl-C and divergence are not.
        code = {"diverged": 1, "interrupted": 130}.get(last.reason, 0)
        return _report_stop(last, run_dir, False, code)
    return 0


def _report_stop(ev: Any, run_dir: Path, json_out: bool, code: int) -> int:
    has_ckpt = ev.checkpoint is not None and Path(ev.checkpoint).exists()
    resume_cmd = _resume_command(run_dir) if has_ckpt else None
    if json_out:
        print(
            json.dumps(
                {
                    "status": ev.reason,
                    "message": ev.message,
                    "run_dir": str(run_dir),
                    "epochs_completed": ev.epoch if ev.epoch >= 0 else None,
                    "checkpoint": str(ev.checkpoint) if has_ckpt else None,
                    "resume_command": resume_cmd,
                }
            )
        )
    message = " ".join(ev.message.split())
    print(f"error: {message}" if ev.reason == "diverged" else message, file=sys.stderr, flush=True)
    if resume_cmd and ev.reason != "diverged" and resume_cmd not in message:
        print(f"resume with: {resume_cmd}", file=sys.stderr, flush=True)
    return code


def register(app: typer.Typer) -> None:
    """Add ``train`` to the app."""
    app.command("train")(train_command)
