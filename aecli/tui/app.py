"""The Textual app: one training loop in a thread worker, two screens, no JAX on the UI thread.

``aecli train --tui`` calls ``run_training_tui``; ``aecli tui RUN_DIR`` calls ``open_run_tui``.
Both build the app with ``create_app``, whose ``backend`` (trainer, data loader, model view,
run loader) tests replace with scripted fakes, so Pilot tests need neither JAX nor data.

Threads: the training worker iterates ``train(...)`` and posts each event as a message
(``post_message`` is thread-safe); after every epoch it also decodes the panels' images there,
so the UI thread only draws. Pause, stop and quit flip the ``TrainControl`` the loop checks
between chunks; quitting while training stops it and waits for its checkpoint first.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from textual import work
from textual.app import App
from textual.binding import Binding

from aecli.events import (
    CheckpointSaved,
    Compiling,
    EpochEnd,
    EpochProgress,
    RunStarted,
    TrainControl,
    TrainingFinished,
    TrainingStopped,
)
from aecli.latent.grid import grid_values
from aecli.tui.backend import Backend, RunSnapshot, read_history
from aecli.tui.messages import (
    CodesReady,
    DataReady,
    PreviewReady,
    RunLoaded,
    Samples,
    Saved,
    Status,
    TrainerEvent,
    TrainingEnded,
    WorkerFailed,
)
from aecli.tui.screens import ExplorerScreen, QuitScreen, TrainingScreen, history_row, next_mode
from aecli.tui.widgets import (
    CodeMap,
    DecodedView,
    DigitsPanel,
    EpochTable,
    InfoBar,
    LossChart,
    StatusLine,
    TrainProgress,
)


def pick_samples(splits: Any, split: str = "test", per_class: int = 1, limit: int = 10) -> Samples:
    """The first image of each class in ``split`` (validation when there is no test split)."""
    name = split
    try:
        ds = splits[split]
    except Exception:  # no such split (DataError, KeyError): fall back to validation
        name, ds = "validation", splits["validation"]
    labels = np.asarray(ds.labels)
    chosen: list[int] = []
    for c in range(len(splits.class_names)):
        chosen.extend(np.flatnonzero(labels == c)[:per_class].tolist())
    chosen = sorted(chosen, key=lambda i: (labels[i], i))[:limit]
    idx = np.asarray(chosen, dtype=np.int64)
    return Samples(np.asarray(ds.images)[idx], labels[idx], idx, name)


class AecliApp(App[Any]):
    """Training and exploring one run. Build it with ``create_app``."""

    CSS_PATH = "app.tcss"
    TITLE = "aecli"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-tall")]
    BINDINGS = [
        Binding("ctrl+c", "interrupt", "Stop, save, quit", show=False, priority=True),
        Binding("ctrl+t", "toggle_dark", "Dark/light", show=False),
    ]

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
        self.config = config
        self.run_dir = Path(run_dir)
        self.splits = data
        self.resume_at_start = resume
        self.explore_at_start = explore
        self.data_overrides = data_overrides or {}
        self.split = split
        self.clock = clock
        self.rng = np.random.default_rng(seed)
        # run state (touched on the UI thread only)
        self.samples: Samples | None = None
        self.class_names: tuple[str, ...] = ()
        self.history: list[dict[str, Any]] = []
        self.view: Any = None  # ModelView of the newest model
        self.view_epoch: int | None = None
        self.preview: PreviewReady | None = None
        self.codes_epoch: int | None = None
        self._codes_pending: int | None = None
        self.info: dict[str, Any] = {}
        self.control = TrainControl()
        self.training_active = False
        self.epochs_done = 0
        self.has_checkpoint = False
        self.last_checkpoint: Path | None = None
        self.final_event: Any = None
        self.error: BaseException | None = None
        # Half blocks need colour; with NO_COLOR the shading ramp keeps digits readable.
        self.render_mode = "shade" if os.environ.get("NO_COLOR") else "blocks"
        self._exit_after_training = False
        self._interrupted = False
        self._run_started = False
        self._idle_status = ""
        self._keys_state: tuple[bool, bool] | None = None
        self.status_text = ""
        self._progress: dict[str, Any] = {}
        self._train_thread_done = threading.Event()
        self._train_thread_done.set()
        self.training_screen = TrainingScreen()
        self.explorer_screen = ExplorerScreen()

    # -- small accessors -----------------------------------------------------------------
    @property
    def run_name(self) -> str:
        """The run's name (config name, else the directory name)."""
        return self.config.name if self.config is not None else self.run_dir.name

    @property
    def total_epochs(self) -> int:
        """Epochs the run is configured for."""
        return int(self.config.train.epochs) if self.config is not None else 0

    @property
    def can_resume(self) -> bool:
        """True when training is idle, unfinished, and there is a checkpoint to resume from."""
        return (
            not self.training_active
            and self.config is not None
            and self.has_checkpoint
            and self.epochs_done < self.total_epochs
        )

    def _explorer(self) -> ExplorerScreen | None:
        """The explorer screen once its widgets exist (it is composed on first show)."""
        screen = self.explorer_screen
        return screen if screen.is_mounted and screen.query(CodeMap) else None

    def _training(self) -> TrainingScreen | None:
        """The training screen once its widgets exist."""
        screen = self.training_screen
        return screen if screen.is_mounted and screen.query(DigitsPanel) else None

    # -- lifecycle -----------------------------------------------------------------------
    def on_mount(self) -> None:
        self.install_screen(self.training_screen, "training")
        self.install_screen(self.explorer_screen, "explorer")
        self.push_screen("training")
        self._set_title()
        if self.explore_at_start:
            self.push_screen("explorer")
            self._load_worker()
        else:
            self._start_training(self.resume_at_start)

    def _set_title(self) -> None:
        self.title = f"aecli · {self.run_name}"
        self.sub_title = str(self.run_dir)

    def sync_training_screen(self, screen: TrainingScreen) -> None:
        """Push the current state into a freshly mounted training screen."""
        self._show_info()
        panel = screen.query_one(DigitsPanel)
        panel.mode = self.render_mode
        if self.config is not None:
            g = self.config.grid
            panel.set_grid_values(grid_values(g.low, g.high, g.step))
        if self.samples is not None:
            panel.set_samples(self.samples.images, self._captions(self.samples.labels))
        if self.preview is not None:
            p = self.preview
            panel.set_decoded(p.epoch, p.grid_images, p.recons, p.errors)
        self._show_history()
        self._show_progress()

    def sync_explorer(self, screen: ExplorerScreen) -> None:
        """Fresh explorer: ask for codes if the model is newer than the map."""
        screen.query_one(DecodedView).mode = self.render_mode
        self._request_codes()

    # -- training --------------------------------------------------------------------------
    def _start_training(self, resume: bool) -> None:
        if self.config is None:
            self.notify("no config to train with", severity="error")
            return
        self.control = TrainControl()
        self.training_active = True
        self._exit_after_training = False
        self._train_thread_done.clear()
        self._status("starting…", busy=True)
        self._training_worker(resume)
        self._refresh_keys()

    @work(thread=True, group="training", exclusive=True, exit_on_error=False)
    def _training_worker(self, resume: bool) -> None:
        post = self.post_message
        control = self.control
        config = self.config
        try:
            splits = self._ensure_data(config)
            if resume and not self.history:
                history = self.backend_history()
                if history:
                    post(RunLoaded(None, history=history))
            events = self.backend.trainer(
                config,
                run_dir=self.run_dir,
                data=splits,
                resume=resume,
                control=control,
                report=lambda line: post(Status(str(line))),
            )
            for event in events:
                post(TrainerEvent(event))
                if isinstance(event, EpochEnd) and event.model is not None:
                    self._post_preview(self.backend.make_view(event.model), event.epoch)
        except BaseException as e:  # shown in the UI, re-raised by run_training_tui
            post(WorkerFailed(e, "training"))
        finally:
            self._train_thread_done.set()
            post(TrainingEnded())

    def _refresh_keys(self) -> None:
        """Redraw the footer only when the usable keys change (not on every progress event)."""
        state = (self.training_active, self.can_resume)
        if state != self._keys_state:
            self._keys_state = state
            self.refresh_bindings()

    def backend_history(self) -> list[dict[str, Any]]:
        """Metrics already in the run directory (when resuming)."""
        try:
            return read_history(self.run_dir, _header_or_none(self.run_dir))
        except Exception:
            return []

    def _ensure_data(self, config: Any) -> Any:
        """Load the dataset once (worker thread); post it with the fixed sample images."""
        splits = self.splits
        if splits is None:
            self.post_message(Status(f"loading dataset {config.data.dataset}…"))
            splits = self.backend.load_data(
                config, report=lambda line: self.post_message(Status(str(line)))
            )
        if self.samples is None or splits is not self.splits:
            self.post_message(DataReady(splits, pick_samples(splits)))
        self.splits = splits  # read-only from here on; the UI thread also gets it by message
        return splits

    def _post_preview(self, view: Any, epoch: int) -> None:
        """Decode the panels' images with ``view`` (worker thread) and post them."""
        config = self.config
        samples = self.samples or pick_samples(self.splits)
        recons = np.asarray(view.decode(view.encode(samples.images)), np.float32)
        originals = samples.images.astype(np.float32) / 255.0
        errors = ((recons - originals) ** 2).reshape(len(recons), -1).sum(axis=1)
        code_dim = np.asarray(view.encode(samples.images[:1])).shape[-1]
        g = config.grid
        values = grid_values(g.low, g.high, g.step)
        codes = np.array([[x, y] for y in reversed(values) for x in values], np.float32)
        if code_dim > 2:  # higher-dimensional codes: the grid varies the first two dims
            codes = np.concatenate([codes, np.zeros((len(codes), code_dim - 2), np.float32)], 1)
        grid_images = np.asarray(view.decode(codes), np.float32)
        view.decode(np.zeros((1, code_dim), np.float32))  # warm the explorer's one-code call
        self.post_message(PreviewReady(epoch, grid_images, recons, errors, view))

    # -- message handlers (UI thread) -----------------------------------------------------
    def on_status(self, message: Status) -> None:
        self._status(message.text, busy=self.training_active)

    def on_data_ready(self, message: DataReady) -> None:
        self.splits = message.splits
        self.samples = message.samples
        self.class_names = tuple(str(c) for c in message.splits.class_names)
        self.info.setdefault("dataset", getattr(message.splits, "name", ""))
        self.info.setdefault("source", getattr(message.splits, "source", ""))
        self._show_info()
        panel = self._panel()
        if panel is not None:
            panel.set_samples(self.samples.images, self._captions(self.samples.labels))
        self.explorer_screen.refresh_bindings()
        if not self.training_active and self._idle_status:
            self._status(self._idle_status)

    def on_run_loaded(self, message: RunLoaded) -> None:
        snap: RunSnapshot | None = message.snapshot
        if snap is not None:
            self.config = snap.config.replace(**self.data_overrides)
            self.epochs_done = snap.epoch
            self.has_checkpoint = True
            ds = snap.header.get("dataset")
            ds = ds if isinstance(ds, dict) else {"name": ds}
            self.info.update(
                name=snap.config.name,
                n_params=snap.n_params,
                device=str(snap.header.get("device") or "-"),
                dataset=str(ds.get("name") or snap.config.data.dataset),
            )
            if ds.get("source"):
                self.info["source"] = str(ds["source"])
            self._set_title()
            state = "finished" if snap.finished else "interrupted"
            self._idle_status = f"{state} run: {snap.epoch}/{snap.config.train.epochs} epochs" + (
                "" if snap.finished else "; press r to resume training"
            )
            self._status(self._idle_status)
            panel = self._panel()
            if panel is not None:
                g = self.config.grid
                panel.set_grid_values(grid_values(g.low, g.high, g.step))
        if message.history:
            self.history = list(message.history)
            self._show_history()
        self._show_info()
        self._show_progress()
        self._refresh_keys()

    def on_trainer_event(self, message: TrainerEvent) -> None:
        ev = message.event
        if isinstance(ev, RunStarted):
            self._run_started = True
            self.config = ev.config if ev.config is not None else self.config
            self.epochs_done = ev.start_epoch
            self.has_checkpoint = self.has_checkpoint or ev.start_epoch > 0
            self.info.update(
                name=ev.name,
                dataset=ev.dataset,
                source=ev.source,
                device=ev.device,
                n_params=ev.n_params,
            )
            self._progress = {
                "epoch": ev.start_epoch + 1,
                "epochs": ev.epochs,
                "n_train": ev.n_train,
                "done": 0,
                "rate": None,
                "t0": None,
                "d0": 0,
            }
            self._set_title()
            self._show_info()
            panel = self._panel()
            if panel is not None and self.config is not None:
                g = self.config.grid
                panel.set_grid_values(grid_values(g.low, g.high, g.step))
            verb = "resuming" if ev.start_epoch else "starting"
            self._status(f"{verb} at epoch {ev.start_epoch + 1} of {ev.epochs}", busy=True)
            self._show_progress()
        elif isinstance(ev, Compiling):
            self._status(f"{ev.message} (first epoch only)…", busy=True, style="bold yellow")
        elif isinstance(ev, EpochProgress):
            p = self._progress
            now = self.clock()
            if p.get("epoch") != ev.epoch or p.get("t0") is None:
                p.update(epoch=ev.epoch, t0=now, d0=ev.images_done)
            elif now > p["t0"] and ev.images_done > p["d0"]:
                p["live_rate"] = (ev.images_done - p["d0"]) / (now - p["t0"])
            p["done"] = ev.images_done
            p["n_train"] = ev.images_total or p.get("n_train", 0)
            if not self.control.paused and not self.control.stopped:
                self._status(f"training epoch {ev.epoch} of {p.get('epochs', '?')}")
            self._show_progress()
        elif isinstance(ev, EpochEnd):
            self.epochs_done = ev.epoch
            row = history_row(ev)
            self.history = [r for r in self.history if int(r["epoch"]) != ev.epoch] + [row]
            p = self._progress
            p.update(
                epoch=ev.epoch + 1 if ev.epoch < ev.epochs else ev.epoch,
                done=0 if ev.epoch < ev.epochs else p.get("n_train", 0),
                t0=None,
                rate=ev.images_per_second or p.get("rate"),
                epochs=ev.epochs,
            )
            p.pop("live_rate", None)
            self._show_history()
            self._show_progress()
        elif isinstance(ev, CheckpointSaved):
            self.has_checkpoint = True
            self.last_checkpoint = ev.path
        elif isinstance(ev, TrainingFinished):
            self.final_event = ev
            self._status(_finished_text(ev, self.epochs_done), style="bold green")
        elif isinstance(ev, TrainingStopped):
            if self._interrupted and ev.reason == "stopped":  # Ctrl-C: say so to the CLI
                ev = dataclasses.replace(ev, reason="interrupted", message=f"Ctrl-C: {ev.message}")
            self.final_event = ev
            self.epochs_done = ev.epoch
            self._progress.update(
                epoch=max(1, ev.epoch), done=self._progress.get("n_train", 0), t0=None
            )
            self._show_progress()
            if ev.checkpoint is not None:
                self.has_checkpoint = True
                self.last_checkpoint = ev.checkpoint
            where = f"checkpoint {ev.checkpoint}" if ev.checkpoint else "no checkpoint written"
            self._status(
                f"{ev.reason} after epoch {ev.epoch}: {where}"
                + ("; press r to resume" if ev.epoch < self.total_epochs else ""),
                style="bold yellow",
            )
        self._refresh_keys()

    def on_preview_ready(self, message: PreviewReady) -> None:
        self.preview = message
        self.view = message.view
        self.view_epoch = message.epoch
        panel = self._panel()
        if panel is not None:
            panel.set_decoded(message.epoch, message.grid_images, message.recons, message.errors)
        if self.screen is self.explorer_screen:
            self._request_codes()

    def on_codes_ready(self, message: CodesReady) -> None:
        self.codes_epoch = message.epoch
        self._codes_pending = None
        if (ex := self._explorer()) is not None:
            ex.set_codes(message.codes, message.labels, message.split, message.epoch)

    def on_worker_failed(self, message: WorkerFailed) -> None:
        err = message.error
        self.error = err if message.where in ("training", "load") else self.error
        text = f"error ({message.where}): {' '.join(str(err).split()) or type(err).__name__}"
        self._status(text, style="bold red")
        self.notify(text, severity="error", timeout=10)
        if (ex := self._explorer()) is not None and ex.codes is None:
            ex.set_message(text)
        # A run that never started (data missing, run directory taken, unreadable checkpoint)
        # leaves nothing to look at: close at once so the CLI prints the one-line error.
        never_started = message.where == "training" and not self._run_started
        if never_started and self.history == [] and self.preview is None:
            self._exit_after_training = True
        elif message.where == "load" and self.preview is None:
            self.exit()

    def on_training_ended(self, message: TrainingEnded) -> None:
        self.training_active = False
        self._refresh_keys()
        if self._exit_after_training:
            self.exit(self.final_event)

    def on_saved(self, message: Saved) -> None:
        names = ", ".join(Path(p).name for p in message.paths)
        where = Path(message.paths[0]).parent if message.paths else self.run_dir
        self.notify(f"saved {names} in {where}", timeout=6)

    # -- drawing helpers --------------------------------------------------------------------
    def _panel(self) -> DigitsPanel | None:
        ts = self._training()
        return ts.query_one(DigitsPanel) if ts is not None else None

    def _captions(self, labels: np.ndarray) -> list[str]:
        names = self.class_names or tuple(str(i) for i in range(int(labels.max()) + 1))
        return [str(names[int(c)]) for c in labels]

    def _status(self, text: str, *, busy: bool = False, style: str = "") -> None:
        self.status_text = text
        if (ts := self._training()) is not None:
            ts.query_one(StatusLine).set(text, style=style, busy=busy)

    def _show_info(self) -> None:
        if self._training() is None:
            return
        i = self.info
        self.training_screen.query_one(InfoBar).show(
            name=i.get("name") or self.run_name,
            dataset=i.get("dataset") or (self.config.data.dataset if self.config else "?"),
            source=i.get("source", ""),
            device=i.get("device", "?"),
            n_params=i.get("n_params"),
        )

    def _show_history(self) -> None:
        if self._training() is None:
            return
        self.training_screen.query_one(LossChart).set_history(self.history)
        self.training_screen.query_one(EpochTable).set_history(self.history)

    def _show_progress(self) -> None:
        if self._training() is None:
            return
        p = self._progress
        epochs = p.get("epochs") or self.total_epochs or 1
        n_train = p.get("n_train") or 0
        if not p:  # nothing trained in this session: show the run's state
            done_epochs = self.epochs_done
            self.training_screen.query_one(TrainProgress).show(
                epoch=min(done_epochs, epochs),
                epochs=epochs,
                images_done=1,
                images_total=1,
                run_done=done_epochs,
                run_total=epochs,
                rate=None,
                eta=None,
                epoch_eta=None,
            )
            return
        epoch = min(p.get("epoch", 1), epochs)
        done = p.get("done", 0)
        rate = p.get("live_rate") or p.get("rate")
        run_done = (epoch - 1) * n_train + done
        run_total = epochs * n_train
        remaining = max(0, run_total - run_done)
        eta = remaining / rate if rate else None
        epoch_eta = max(0, n_train - done) / rate if rate else None
        self.training_screen.query_one(TrainProgress).show(
            epoch=epoch,
            epochs=epochs,
            images_done=done,
            images_total=n_train,
            run_done=run_done,
            run_total=run_total,
            rate=rate,
            eta=eta,
            epoch_eta=epoch_eta,
        )

    def cycle_render_mode(self) -> None:
        """Half blocks -> shading ramp -> ASCII, on every image panel."""
        self.render_mode = next_mode(self.render_mode)
        for screen in (self._training(), self._explorer()):
            if screen is not None:
                for w in screen.query(DigitsPanel):
                    w.mode = self.render_mode
                for w in screen.query(DecodedView):
                    w.mode = self.render_mode
        self.notify(f"text mode: {self.render_mode}", timeout=2)

    # -- explorer -------------------------------------------------------------------------
    def _request_codes(self) -> None:
        ex = self._explorer()
        if self.view is None or self.splits is None:
            if ex is not None and ex.codes is None:
                ex.set_message(
                    "waiting for a model (first epoch) and data…"
                    if self.training_active
                    else "loading run…"
                )
            return
        if self.codes_epoch == self.view_epoch and self.explorer_screen.codes is not None:
            return
        if self._codes_pending == self.view_epoch:
            return
        self._codes_pending = self.view_epoch
        if ex is not None and ex.codes is None:
            ex.set_message(f"encoding the {self.split} split…")
        self._codes_worker(self.view, self.view_epoch, self.splits)

    @work(thread=True, group="codes", exclusive=True, exit_on_error=False)
    def _codes_worker(self, view: Any, epoch: int, splits: Any) -> None:
        try:
            split = self.split
            try:
                ds = splits[split]
            except Exception:  # no such split: fall back to validation
                split, ds = "validation", splits["validation"]
            codes = np.asarray(view.encode(np.asarray(ds.images)), np.float32)
            view.decode(codes[:1])  # warm the one-code decode before the cursor needs it
            self.post_message(CodesReady(epoch, codes, np.asarray(ds.labels), split))
        except BaseException as e:
            self._codes_pending = None
            self.post_message(WorkerFailed(e, "explorer"))

    def decode_one(self, code: np.ndarray) -> np.ndarray | None:
        """The image at one code: one (jitted, warmed-up) decode call on the UI thread."""
        if self.view is None:
            return None
        return np.asarray(self.view.decode(np.asarray(code, np.float32)[None]))[0]

    @work(thread=True, group="load", exit_on_error=False)
    def _load_worker(self) -> None:
        """``aecli tui RUN_DIR``: checkpoint, data, panels and codes, all off the UI thread."""
        post = self.post_message
        try:
            post(Status(f"loading {self.run_dir}…"))
            snap = self.backend.load_run(self.run_dir)
            config = snap.config.replace(**self.data_overrides)
            self.config = config
            post(RunLoaded(snap, history=snap.history))
            self._ensure_data(config)
            self._post_preview(self.backend.make_view(snap.model), snap.epoch)
        except BaseException as e:
            post(WorkerFailed(e, "load"))

    def save_decoded(self, code: np.ndarray) -> None:
        """Save the image at ``code`` as PNG (worker thread)."""
        if self.view is None:
            self.notify("no model yet", severity="warning")
            return
        self._save_worker("decoded", code=np.asarray(code))

    def save_grid_around(
        self, center: tuple[float, float], step: float, k: int, extra: np.ndarray
    ) -> None:
        """Save a ``k`` x ``k`` decode grid with spacing ``step`` around ``center`` as PNG."""
        if self.view is None:
            self.notify("no model yet", severity="warning")
            return
        self._save_worker("grid", center=center, step=step, k=k, extra=extra)

    def figures_dir(self) -> Path:
        """Where saved PNGs go: ``RUN_DIR/figures``."""
        return self.run_dir / "figures"

    @work(thread=True, group="save", exit_on_error=False)
    def _save_worker(self, what: str, **kw: Any) -> None:
        from aecli.tui import export

        try:
            out, name, view = self.figures_dir(), self.run_name, self.view
            if what == "decoded":
                image = np.asarray(view.decode(kw["code"][None]))[0]
                paths = [export.save_decoded(out, image, kw["code"][:2], name=name)]
            elif what == "grid":
                cx, cy = kw["center"]
                k, step = kw["k"], kw["step"]
                offs = (np.arange(k) - (k - 1) / 2) * step
                xs, ys = cx + offs, (cy + offs)[::-1]
                codes = np.array([[x, y, *kw["extra"]] for y in ys for x in xs], np.float32)
                images = np.asarray(view.decode(codes))
                paths = [export.save_grid_around(out, images, xs, ys, (cx, cy), name=name)]
            else:
                p, s = kw["preview"], kw["samples"]
                g = self.config.grid
                values = grid_values(g.low, g.high, g.step)
                paths = export.save_training_figures(
                    out,
                    name=name,
                    epoch=p.epoch if p else self.epochs_done,
                    history=kw["history"],
                    grid_images=p.grid_images if p else None,
                    grid_xs=values,
                    grid_ys=values[::-1],
                    originals=s.images if (s is not None and p) else None,
                    recons=p.recons if p else None,
                    captions=kw["captions"],
                    errors=p.errors if p else [],
                )
            self.post_message(Saved(paths))
        except BaseException as e:
            self.post_message(WorkerFailed(e, "saving figures"))

    # -- actions (keys) -------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        name = action.rsplit(".", 1)[-1]
        if name in ("toggle_pause", "stop"):
            return self.training_active
        if name == "resume_training":
            return self.can_resume
        return True

    def action_toggle_pause(self) -> None:
        """Pause the loop between chunks, or let it go on."""
        if not self.training_active:
            return
        if self.control.paused:
            self.control.unpause()
            self._progress["t0"] = None  # measure the speed afresh, without the pause
            self._status("resumed", busy=True)
        else:
            self.control.pause()
            self._status("paused after the current chunk: press p to go on", style="bold yellow")

    def action_stop(self) -> None:
        """Stop after the current chunk; the loop saves a checkpoint; the screen stays."""
        if not self.training_active or self.control.stopped:
            return
        self.control.stop()
        self._status(
            "stopping after the current chunk, then saving a checkpoint…",
            busy=True,
            style="bold yellow",
        )

    def action_resume_training(self) -> None:
        """Resume an unfinished run from its checkpoint."""
        if not self.can_resume:
            return
        if self.screen is self.explorer_screen:
            self.pop_screen()
        self._progress = {}
        self._start_training(resume=True)

    def action_save_figures(self) -> None:
        """Save the loss chart, decode grid and reconstructions as PNG (through aecli.figures)."""
        if not self.history and self.preview is None:
            self.notify("nothing to save before the first epoch", severity="warning")
            return
        captions = self._captions(self.samples.labels) if self.samples is not None else []
        self._save_worker(
            "training",
            preview=self.preview,
            samples=self.samples,
            history=list(self.history),
            captions=captions,
        )

    def action_explorer(self) -> None:
        """Show the code-space explorer."""
        if self.screen is not self.explorer_screen:
            self.push_screen("explorer")  # its on_mount (first time) or on_screen_resume asks
        else:
            self._request_codes()

    def action_training(self) -> None:
        """Back to the training screen."""
        if self.screen is self.explorer_screen:
            self.pop_screen()

    def action_quit_app(self) -> None:
        """Quit; while training, ask first (yes stops, saves a checkpoint, then quits)."""
        if not self.training_active:
            self.exit(self.final_event)
            return
        if isinstance(self.screen, QuitScreen):
            return
        question = (
            f"Training is running (epoch {self._progress.get('epoch', '?')} of "
            f"{self.total_epochs}).\nQuit? It stops after the current chunk and saves a "
            "checkpoint first, so you can resume it later."
        )
        self.push_screen(QuitScreen(question), self._quit_answer)

    def _quit_answer(self, answer: bool | None) -> None:
        if answer:
            self._stop_then_exit()

    def _stop_then_exit(self) -> None:
        if not self.training_active:
            self.exit(self.final_event)
            return
        self._exit_after_training = True
        self.control.stop()
        self._status(
            "quitting: stopping after the current chunk and saving a checkpoint…",
            busy=True,
            style="bold yellow",
        )

    def action_interrupt(self) -> None:
        """Ctrl-C: stop, save and quit without asking; a second Ctrl-C quits at once (the
        training thread still finishes its chunk and saves before the process ends)."""
        if self._exit_after_training or not self.training_active:
            self.exit(self.final_event)
            return
        self._interrupted = True
        self._stop_then_exit()

    def exit(self, result: Any = None, return_code: int = 0, message: Any = None) -> None:
        """Leave the app; a training loop still running is told to stop (it saves first)."""
        if self.training_active:
            self.control.stop()
        super().exit(result, return_code, message)

    def on_unmount(self) -> None:
        # However the app ends (exit, test harness, error), a running loop must stop, or its
        # thread would keep the process alive; it saves its checkpoint on the way out.
        if not self._train_thread_done.is_set():
            self.control.stop()

    def action_toggle_dark(self) -> None:
        """Switch between the dark and the light theme."""
        self.theme = "textual-light" if self.current_theme.dark else "textual-dark"

    def wait_for_training(self, timeout: float | None = None) -> bool:
        """After the app exits: stop the loop if it still runs and wait for its checkpoint."""
        if not self._train_thread_done.is_set():
            self.control.stop()
            print("aecli: waiting for training to save a checkpoint…", file=sys.stderr, flush=True)
        return self._train_thread_done.wait(timeout)


def _header_or_none(run_dir: Path) -> dict[str, Any] | None:
    try:
        from aecli.checkpoint import resolve_path

        path = resolve_path(run_dir)
        with open(path, "rb") as f:
            import json

            return json.loads(f.readline().decode("utf-8"))
    except Exception:
        return None


def _finished_text(ev: TrainingFinished, epochs: int) -> str:
    s = ev.summary or {}
    parts = [f"finished: {s.get('epochs', epochs)} epochs"]
    for key, label in (("train_loss", "train"), ("val_loss", "validation"), ("test_loss", "test")):
        v = s.get(key)
        if isinstance(v, (int, float)):
            parts.append(f"{label} {v:.2f}")
    return ", ".join(parts) + " (loss per image); e: explorer, q: quit"


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


def run_training_tui(config: Any, run_dir: str | Path, data: Any = None, resume: bool = False):
    """``aecli train --tui``: train ``config`` into ``run_dir`` with the TUI as front end.

    Returns the last training event (``TrainingFinished`` or ``TrainingStopped``, None if the
    user quit before training started). Raises the training loop's exception (an
    ``AecliError`` for the CLI to print as one line) after the terminal is restored.
    """
    app = create_app(config=config, run_dir=run_dir, data=data, resume=resume)
    app.run()
    app.wait_for_training()
    if app.error is not None:
        raise app.error
    return app.final_event


def open_run_tui(
    run_dir: str | Path, *, split: str = "test", data_overrides: dict[str, Any] | None = None
) -> Any:
    """``aecli tui RUN_DIR``: open a finished or interrupted run in the explorer."""
    app = create_app(run_dir=run_dir, explore=True, split=split, data_overrides=data_overrides)
    app.run()
    app.wait_for_training()
    if app.error is not None:
        raise app.error
    return app.final_event
