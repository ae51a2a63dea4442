"""How ``aecli train`` shows a run: the rich renderer of training events and the outcome.

Progress (rich bars, one line per epoch, notices) goes to stderr; stdout carries only the
final summary (human, or one JSON object with ``--json``) or a stop's JSON record.
"""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aecli import events


class Renderer:
    """Renders training events: rich progress on stderr, one line per epoch, then the outcome.

    Every event type has a handler (``handlers``; ``aecli.events.dispatcher`` refuses a table
    that misses one). ``dispatch(event)`` returns None while training goes on and the exit
    status once it has ended.

    Args:
        quiet: no progress display and no notices.
        json_out: print the summary (or the stop) as one JSON object on stdout.
        run_dir: the run directory (named in a stop's resume hint).
        stopped_exit: the exit status of a stop, from its reason.
    """

    def __init__(
        self, *, quiet: bool, json_out: bool, run_dir: Path, stopped_exit: Callable[[str], int]
    ):
        from rich.console import Console

        self.quiet, self.json_out, self.run_dir = quiet, json_out, run_dir
        self.stopped_exit = stopped_exit
        self.console = Console(stderr=True, highlight=False)
        self.progress = None
        self.run_task = None
        self.epoch_task = None
        self.dispatch = events.dispatcher(self.handlers())

    def handlers(self) -> dict[type, Callable[[Any], int | None]]:
        """The handler of each event type."""
        return {
            events.RunStarted: self.start,
            events.Compiling: self.compiling,
            events.EpochProgress: self.epoch_progress,
            events.EpochEnd: self.epoch_end,
            events.CheckpointSaved: self.checkpoint_saved,
            events.TrainingFinished: self.finished,
            events.TrainingStopped: self.training_stopped,
        }

    def notice(self, message: str) -> None:
        """Print a one-line notice on stderr (above the progress bars while they run)."""
        if not self.quiet:
            target = self.progress.console if self.progress is not None else self.console
            target.print(message, markup=False, soft_wrap=True)

    def start(self, ev: events.RunStarted) -> None:
        """Announce the run and start the progress bars."""
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

    def compiling(self, ev: events.Compiling) -> None:
        """Say that XLA is compiling (the first epoch waits for it)."""
        if self.progress is not None:
            self.progress.update(self.epoch_task, info="compiling with XLA...")

    def epoch_progress(self, ev: events.EpochProgress) -> None:
        """Move the epoch bar."""
        if self.progress is not None:
            self.progress.update(
                self.epoch_task,
                description=f"epoch {ev.epoch}",
                completed=ev.images_done,
                info="",
            )

    def epoch_end(self, ev: events.EpochEnd) -> None:
        """Print the epoch's line and move the run bar."""
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

    def checkpoint_saved(self, ev: events.CheckpointSaved) -> None:
        """Nothing to show: the epoch line already says the epoch is done."""

    def finished(self, ev: events.TrainingFinished) -> int:
        """Print the summary (human or JSON); exit status 0."""
        self.stop()
        if self.json_out:
            print(json.dumps(ev.summary))
        elif not self.quiet:
            _print_summary(ev.summary)
        return 0

    def training_stopped(self, ev: events.TrainingStopped) -> int:
        """Report the stop and how to resume; its exit status."""
        self.stop()
        return report_stop(ev, self.run_dir, self.json_out, self.stopped_exit(ev.reason))

    def stop(self) -> None:
        """Take the progress bars down (idempotent)."""
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def _print_summary(s: dict[str, Any]) -> None:
    """The human summary of a finished run (stdout)."""

    def f(v: Any, spec: str = ".3f") -> str:
        return "n/a" if v is None else format(v, spec)

    from aecli.reference import HINTON_2006_AUTOENCODER_30D, HINTON_2006_PCA_30D
    from aecli.rundir import RunDir

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
    run = RunDir(s["run_dir"])
    files = ", ".join(p.name for p in (run.latest, run.best, run.metrics, run.loss_curve))
    print(f"run directory: {s['run_dir']}  ({files})")


def report_stop(ev: events.TrainingStopped, run_dir: Path, json_out: bool, code: int) -> int:
    """Say why training stopped and how to resume (stderr; JSON on stdout); return ``code``."""
    has_ckpt = ev.checkpoint is not None and Path(ev.checkpoint).exists()
    resume_cmd = f"aecli train --resume {shlex.quote(str(run_dir))}" if has_ckpt else None
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
    message = " ".join(ev.message.splitlines())  # one line; a path's own spaces stay
    print(f"error: {message}" if ev.reason == "diverged" else message, file=sys.stderr, flush=True)
    if resume_cmd and ev.reason != "diverged" and resume_cmd not in message:
        print(f"resume with: {resume_cmd}", file=sys.stderr, flush=True)
    return code
