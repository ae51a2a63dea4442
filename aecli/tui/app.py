"""The Textual app: installs the screens, holds the run model, routes messages.

``aecli train --tui`` calls ``run_training_tui``; ``aecli tui RUN_DIR`` calls ``open_run_tui``.
Both build the app with ``create_app``, whose ``backend`` (trainer, data loader, model view,
run loader) tests replace with scripted fakes, so Pilot tests need neither JAX nor data.

The app's one piece of state is ``run_model``, an immutable ``RunModel``: every message from a
worker (``aecli.tui.workers``) and every key that steers training makes a new one (through the
pure functions of ``aecli.tui.model``), and both screens are bound to it. Pause, stop and quit
flip the ``TrainControl`` the loop checks between chunks; quitting while training stops it
and waits for its checkpoint first.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from textual import on
from textual.app import App
from textual.binding import Binding
from textual.reactive import var

from aecli.events import TrainControl
from aecli.render import textart
from aecli.tui import model, themes, workers
from aecli.tui.backend import Backend
from aecli.tui.messages import (
    CodesReady,
    CodesWanted,
    DataReady,
    Notice,
    PreviewReady,
    RunLoaded,
    Saved,
    SaveDecoded,
    SaveGrid,
    TrainerEvent,
    TrainingEnded,
    WorkerFailed,
)
from aecli.tui.model import RunModel
from aecli.tui.screens.explorer import ExplorerScreen
from aecli.tui.screens.quit import QuitScreen
from aecli.tui.screens.training import TrainingScreen


class AecliApp(App[Any]):
    """Training and exploring one run. Build it with ``create_app``."""

    CSS_PATH = "app.tcss"
    TITLE = "aecli"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-tall")]
    ENABLE_COMMAND_PALETTE = False  # every key is in the keys bar; no hidden palette key
    BINDINGS = [
        Binding("ctrl+t", "toggle_dark", "Theme", key_display="^t"),
        # Both quit at once (while training: stop after the chunk, save, then quit). Textual's
        # own ctrl+q would quit without saving; here it does what ctrl+c does.
        Binding("ctrl+c", "interrupt", "Quit now", key_display="^c", priority=True),
        Binding("ctrl+q", "interrupt", "Quit now", key_display="^q", priority=True),
    ]

    run_model: var[RunModel] = var(RunModel(Path()), init=False)
    render_mode: var[str] = var("blocks")

    def __init__(
        self,
        *,
        config: Any = None,
        run_dir: Path,
        data: Any = None,
        resume: bool = False,
        explore: bool = False,
        backend: Backend | None = None,
        data_overrides: dict[str, Any] | None = None,
        split: str = "test",
        clock: Callable[[], float] = time.monotonic,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.backend = backend or Backend()
        self.resume_at_start = resume
        self.explore_at_start = explore
        self.data_overrides = data_overrides or {}
        self.split = split
        self.clock = clock
        self.control = TrainControl()
        self.set_reactive(AecliApp.run_model, RunModel(Path(run_dir), config=config, splits=data))
        # Half blocks need colour; with NO_COLOR the shading ramp keeps digits readable.
        self.set_reactive(AecliApp.render_mode, "shade" if os.environ.get("NO_COLOR") else "blocks")
        for theme in themes.THEMES:
            self.register_theme(theme)
        self.theme = themes.DARK.name
        self.training_screen = TrainingScreen()
        self.explorer_screen = ExplorerScreen(np.random.default_rng(seed))
        self._exit_after_training = False
        self._codes_pending: int | None = None
        self._train_thread_done = threading.Event()
        self._train_thread_done.set()

    def get_theme_variable_defaults(self) -> dict[str, str]:
        """aecli's own theme variables (header, keys bar, chart lines), for any theme."""
        return dict(themes.DARK.variables)

    # -- lifecycle -----------------------------------------------------------------------
    def on_mount(self) -> None:
        for name, screen in (
            ("training", self.training_screen),
            ("explorer", self.explorer_screen),
        ):
            self.install_screen(screen.data_bind(AecliApp.run_model, AecliApp.render_mode), name)
        self.push_screen("training")
        self._show_title(self.run_model)
        if self.explore_at_start:
            self.push_screen("explorer")
            m = self.run_model
            self._run(
                workers.open_run,
                "load",
                self.backend,
                run_dir=m.run_dir,
                splits=m.splits,
                overrides=self.data_overrides,
            )
        else:
            self._start_training(self.resume_at_start)

    def watch_run_model(self, old: RunModel, new: RunModel) -> None:
        self._show_title(new)
        if (old.training_active, old.can_resume) != (new.training_active, new.can_resume):
            self.refresh_bindings()  # the footer shows only the keys that work now

    def _show_title(self, m: RunModel) -> None:
        self.title = f"aecli · {m.run_name}"
        self.sub_title = str(m.run_dir)

    def _run(self, work: Callable[..., None], group: str, *args: Any, **kwargs: Any) -> None:
        """Run ``work(post, ...)`` in a thread worker; it reports by message only. A new
        training or encoding worker supersedes the group's previous one."""
        job = partial(work, self.post_message, *args, **kwargs)
        exclusive = group in ("training", "codes")
        self.run_worker(job, thread=True, group=group, exclusive=exclusive, exit_on_error=False)

    def _start_training(self, resume: bool) -> None:
        m = self.run_model
        if m.config is None:
            self.notify("no config to train with", severity="error")
            return
        self.control = TrainControl()
        self._exit_after_training = False
        self._train_thread_done = threading.Event()
        self.run_model = model.training_started(m)
        self._run(
            workers.train,
            "training",
            self.backend,
            config=m.config,
            run_dir=m.run_dir,
            splits=m.splits,
            samples=m.samples,
            resume=resume,
            read_old_history=resume and not m.history,
            control=self.control,
            done=self._train_thread_done,
            clock=self.clock,
        )

    # -- messages from the workers (UI thread) ----------------------------------------------
    def on_trainer_event(self, message: TrainerEvent) -> None:
        self.run_model = model.apply(self.run_model, message.event, message.at)

    def on_notice(self, message: Notice) -> None:
        m = self.run_model
        self.run_model = model.with_status(m, message.text, busy=m.training_active)

    def on_data_ready(self, message: DataReady) -> None:
        self.run_model = model.with_data(self.run_model, message.splits, message.samples)

    def on_run_loaded(self, message: RunLoaded) -> None:
        m = self.run_model
        if message.snapshot is not None:
            m = model.loaded(m, message.snapshot, message.config)
        self.run_model = model.with_history(m, message.history)

    def on_preview_ready(self, message: PreviewReady) -> None:
        self.run_model = replace(self.run_model, preview=message.preview)
        if self.screen is self.explorer_screen:
            self._request_codes()

    def on_codes_ready(self, message: CodesReady) -> None:
        self._codes_pending = None
        self.run_model = replace(self.run_model, codes=message.codes)

    def on_worker_failed(self, message: WorkerFailed) -> None:
        if message.where == "explorer":
            self._codes_pending = None
        m = self.run_model = model.failed(self.run_model, message.error, message.where)
        self.notify(m.status.text, severity="error", timeout=10)
        # A run that never started (data missing, run directory taken, unreadable checkpoint)
        # leaves nothing to look at: close at once so the CLI prints the one-line error.
        never_started = message.where == "training" and not m.run_started
        if never_started and not m.history and m.preview is None:
            self._exit_after_training = True
        elif message.where == "load" and m.preview is None:
            self.exit()

    def on_training_ended(self, message: TrainingEnded) -> None:
        self.run_model = replace(self.run_model, training_active=False)
        if self._exit_after_training:
            self.exit(self.run_model.final_event)

    def on_saved(self, message: Saved) -> None:
        names = ", ".join(Path(p).name for p in message.paths)
        where = Path(message.paths[0]).parent if message.paths else self.run_model.run_dir
        self.notify(f"saved {names} in {where}", timeout=6)

    # -- the explorer's requests ------------------------------------------------------------
    @on(CodesWanted)
    def _request_codes(self) -> None:
        """Encode the explorer's split with the newest model, unless that is done or under way."""
        m = self.run_model
        if m.view is None or m.splits is None:
            if m.codes is None:
                waiting = "waiting for a model (first epoch) and data…"
                note = waiting if m.training_active else "loading run…"
                self.run_model = replace(m, explorer_note=note)
            return
        epoch = m.preview.epoch
        if (m.codes is not None and m.codes.epoch == epoch) or self._codes_pending == epoch:
            return
        self._codes_pending = epoch
        if m.codes is None:
            self.run_model = replace(m, explorer_note=f"encoding the {self.split} split…")
        self._run(workers.encode_split, "codes", m.view, epoch, m.splits, self.split)

    @on(SaveDecoded)
    def _save_decoded(self, message: SaveDecoded) -> None:
        if self.run_model.view is None:
            self.notify("no model yet", severity="warning")
            return
        m = self.run_model
        self._run(
            workers.save_decoded, "save", m.view, self.figures_dir(), m.run_name, message.code
        )

    @on(SaveGrid)
    def _save_grid(self, message: SaveGrid) -> None:
        if self.run_model.view is None:
            self.notify("no model yet", severity="warning")
            return
        m = self.run_model
        self._run(workers.save_grid, "save", m.view, self.figures_dir(), m.run_name, message)

    def figures_dir(self) -> Path:
        """Where saved PNGs go: ``RUN_DIR/figures``."""
        return self.run_model.run_dir / "figures"

    # -- keys -------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        name = action.rsplit(".", 1)[-1]
        if name in ("toggle_pause", "stop"):
            return self.run_model.training_active
        if name == "resume_training":
            return self.run_model.can_resume
        return True

    def action_toggle_pause(self) -> None:
        """Pause the loop between chunks, or let it go on."""
        if not self.run_model.training_active:
            return
        if self.control.paused:
            self.control.unpause()
            self.run_model = model.unpaused(self.run_model, self.clock())
        else:
            self.control.pause()
            self.run_model = model.paused(self.run_model)

    def action_stop(self) -> None:
        """Stop after the current chunk; the loop saves a checkpoint; the screen stays."""
        if not self.run_model.training_active or self.control.stopped:
            return
        self.control.stop()
        text = "stopping after the current chunk, then saving a checkpoint…"
        self.run_model = model.stopping(self.run_model, text)

    def action_resume_training(self) -> None:
        """Resume an unfinished run from its checkpoint."""
        if not self.run_model.can_resume:
            return
        if self.screen is self.explorer_screen:
            self.pop_screen()
        self.run_model = replace(self.run_model, progress=None)
        self._start_training(resume=True)

    def action_save_figures(self) -> None:
        """Save the loss chart, decode grid and reconstructions as PNG (aecli.render.figures)."""
        m = self.run_model
        if not m.history and m.preview is None:
            self.notify("nothing to save before the first epoch", severity="warning")
            return
        self._run(workers.save_training, "save", self.figures_dir(), m)

    def action_explorer(self) -> None:
        """Show the code-space explorer."""
        if self.screen is not self.explorer_screen:
            self.push_screen("explorer")  # it asks for codes when it shows
        else:
            self._request_codes()

    def action_training(self) -> None:
        """Back to the training screen."""
        if self.screen is self.explorer_screen:
            self.pop_screen()

    def action_cycle_render_mode(self) -> None:
        """Half blocks -> shading ramp -> ASCII, on every image panel."""
        modes = textart.MODES
        self.render_mode = modes[(modes.index(self.render_mode) + 1) % len(modes)]
        self.notify(f"text mode: {self.render_mode}", timeout=2)

    def action_toggle_dark(self) -> None:
        """Switch between the dark and the light theme."""
        self.theme = themes.other(self.theme)

    # -- quitting ---------------------------------------------------------------------------
    def action_quit_app(self) -> None:
        """Quit; while training, ask first (yes stops, saves a checkpoint, then quits)."""
        m = self.run_model
        if not m.training_active:
            self.exit(m.final_event)
            return
        if isinstance(self.screen, QuitScreen):
            return
        epoch = m.progress.epoch if m.progress is not None else "?"
        question = (
            f"Training is running (epoch {epoch} of {m.total_epochs}).\nQuit? It stops after "
            "the current chunk and saves a checkpoint first, so you can resume it later."
        )
        self.push_screen(QuitScreen(question), self._quit_answer)

    def _quit_answer(self, answer: bool | None) -> None:
        if answer:
            self._stop_then_exit()

    def _stop_then_exit(self) -> None:
        if not self.run_model.training_active:
            self.exit(self.run_model.final_event)
            return
        self._exit_after_training = True
        self.control.stop()
        text = "quitting: stopping after the current chunk and saving a checkpoint…"
        self.run_model = model.stopping(self.run_model, text)

    def action_interrupt(self) -> None:
        """Ctrl-C: stop, save and quit without asking; a second Ctrl-C quits at once (the
        training thread still finishes its chunk and saves before the process ends)."""
        if self._exit_after_training or not self.run_model.training_active:
            self.exit(self.run_model.final_event)
            return
        self.run_model = replace(self.run_model, interrupted=True)
        self._stop_then_exit()

    def exit(self, result: Any = None, return_code: int = 0, message: Any = None) -> None:
        """Leave the app; a training loop still running is told to stop (it saves first)."""
        if self.run_model.training_active:
            self.control.stop()
        super().exit(result, return_code, message)

    def on_unmount(self) -> None:
        # However the app ends (exit, test harness, error), a running loop must stop, or its
        # thread would keep the process alive; it saves its checkpoint on the way out.
        if not self._train_thread_done.is_set():
            self.control.stop()

    def wait_for_training(self, timeout: float | None = None) -> bool:
        """After the app exits: stop the loop if it still runs and wait for its checkpoint."""
        if not self._train_thread_done.is_set():
            self.control.stop()
            print("aecli: waiting for training to save a checkpoint…", file=sys.stderr, flush=True)
        return self._train_thread_done.wait(timeout)


def create_app(
    *,
    config: Any = None,
    run_dir: str | Path,
    data: Any = None,
    resume: bool = False,
    explore: bool = False,
    backend: Backend | None = None,
    trainer: Callable[..., Any] | None = None,
    **kwargs: Any,
) -> AecliApp:
    """Build the app. ``trainer`` (or a whole ``backend``) replaces the real training loop.

    Args:
        config: the resolved ``Config`` to train (None with ``explore=True``: read from the run).
        run_dir: the run directory.
        data: a ``DatasetSplits`` already loaded, or None to load it as the config says.
        resume: resume from the run's checkpoint.
        explore: open ``run_dir`` in the explorer instead of training.
        backend: the trainer, data loader, model view and run loader to use.
        trainer: shortcut for ``Backend(trainer=...)`` with the other defaults.
        **kwargs: passed to ``AecliApp`` (``split``, ``clock``, ``seed``, ``data_overrides``).
    """
    if backend is None:
        backend = Backend()
    if trainer is not None:
        backend.trainer = trainer
    return AecliApp(
        config=config,
        run_dir=Path(run_dir),
        data=data,
        resume=resume,
        explore=explore,
        backend=backend,
        **kwargs,
    )


def _run_app(app: AecliApp) -> Any:
    app.run()
    app.wait_for_training()
    if app.run_model.error is not None:
        raise app.run_model.error
    return app.run_model.final_event


def run_training_tui(config: Any, run_dir: str | Path, data: Any = None, resume: bool = False):
    """``aecli train --tui``: train ``config`` into ``run_dir`` with the TUI as front end.

    Returns the last training event (``TrainingFinished`` or ``TrainingStopped``, None if the
    user quit before training started). Raises the training loop's exception (an
    ``AecliError`` for the CLI to print as one line) after the terminal is restored.
    """
    return _run_app(create_app(config=config, run_dir=run_dir, data=data, resume=resume))


def open_run_tui(
    run_dir: str | Path, *, split: str = "test", data_overrides: dict[str, Any] | None = None
) -> Any:
    """``aecli tui RUN_DIR``: open a finished or interrupted run in the explorer."""
    app = create_app(run_dir=run_dir, explore=True, split=split, data_overrides=data_overrides)
    return _run_app(app)
