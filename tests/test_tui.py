"""The TUI driven by Pilot with a scripted trainer (no JAX): messages update the widgets, and
every key in the footer does what it says: pause, stop (checkpoint saved, screen stays),
resume, save PNGs, explorer, quit (asks while training), Ctrl-C."""

from __future__ import annotations

import asyncio
import functools
import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from textual.widgets import DataTable, ProgressBar

from aecli.config import Config
from aecli.events import TrainingFinished, TrainingStopped
from aecli.tui.app import AecliApp, create_app
from aecli.tui.demo import CENTRES, FakeSplits, ScriptedTrainer, demo_backend
from aecli.tui.model import Progress, pick_samples
from aecli.tui.screens.quit import QuitScreen
from aecli.tui.screens.training import TrainingScreen
from aecli.tui.widgets.code_map import CodeMap
from aecli.tui.widgets.decoded_view import DecodedView
from aecli.tui.widgets.digits_layout import plan_digits, subgrid_indices
from aecli.tui.widgets.digits_panel import DigitsPanel
from aecli.tui.widgets.info_bar import InfoBar
from aecli.tui.widgets.ink import is_dark
from aecli.tui.widgets.loss_chart import LossChart
from aecli.tui.widgets.status_line import StatusLine

SIZE = (100, 32)


def run_async(fn):
    """Run an async test with asyncio.run (no pytest-asyncio needed)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return asyncio.run(fn(*args, **kwargs))

    return wrapper


def make_app(
    tmp_path: Path, *, epochs: int = 3, gate=None, **kw
) -> tuple[AecliApp, ScriptedTrainer]:
    trainer = ScriptedTrainer(gate=gate, fail_at_epoch=kw.pop("fail_at_epoch", None))
    config = Config(name="scripted").replace(**{"train.epochs": epochs})
    backend = demo_backend(trainer, **kw.pop("run", {}))
    app = create_app(
        config=config, run_dir=tmp_path / "run", backend=backend, clock=lambda: 0.0, **kw
    )
    return app, trainer


async def wait_for(pilot, condition, timeout: float = 10.0) -> None:
    """Let the app run until ``condition()`` holds (the trainer runs in a thread)."""
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError("condition not reached in time")


def progress(app: AecliApp) -> Progress:
    """This session's training progress (a default one before training starts)."""
    return app.run_model.progress or Progress()


def footer_keys(app: AecliApp) -> set[str]:
    """The keys the footer shows right now (bindings whose check_action allows them)."""
    return {
        key
        for key, active in app.screen.active_bindings.items()
        if active.binding.show and active.enabled
    }


@run_async
async def test_widgets_update_on_messages(tmp_path):
    app, trainer = make_app(tmp_path, epochs=3)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.run_model.final_event, TrainingFinished))
        await pilot.pause(0.1)
        screen = app.screen
        assert isinstance(screen, TrainingScreen)
        info = str(screen.query_one(InfoBar).render())
        for part in ("scripted", "demo-digits", "cpu (scripted)", "105,458", "5x7 font"):
            assert part in info
        assert screen.query_one(StatusLine).text.startswith("finished: 3 epochs")
        table = screen.query_one(DataTable)
        assert table.row_count == 3
        newest = table.get_row_at(0)
        assert str(newest[0]) == "3" and str(newest[1]) == f"{60 / 2.5 + 5:.2f}"
        bars = screen.query(ProgressBar)
        assert all(bar.percentage == pytest.approx(1.0) for bar in bars)
        chart = screen.query_one(LossChart)
        assert len(app.run_model.history) == 3 and chart.is_mounted
        panel = screen.query_one(DigitsPanel)
        assert panel.preview.epoch == 3
        assert panel.preview.recons.shape == (10, 28, 28)
        assert panel.preview.grid_images.shape == (100, 28, 28)  # the config's 10x10 grid
        assert panel.captions == tuple(str(d) for d in range(10))
        plan = panel.plan()
        assert plan.tests is not None and plan.grid is not None  # 100x32 shows both
        text = panel.render().plain
        assert "decode grid 4x4 of 10x10" in text and "test → decoded (epoch 3)" in text
        assert "▀" in text
    assert trainer.calls[0]["resume"] is False
    assert [e for _, e in trainer.saves] == [1, 2, 3]


@run_async
async def test_compiling_is_shown_while_the_first_chunk_runs(tmp_path):
    gate = threading.Semaphore(0)
    app, _ = make_app(tmp_path, gate=gate)
    async with app.run_test(size=SIZE) as pilot:
        status = app.training_screen.query_one(StatusLine)
        await wait_for(pilot, lambda: "compiling" in status.text)
        assert status.busy  # the spinner runs: the UI is alive while XLA compiles
        gate.release(1)
        await wait_for(pilot, lambda: status.text.startswith("training epoch 1"))
        assert not status.busy


@run_async
async def test_pause_and_resume_key(tmp_path):
    gate = threading.Semaphore(0)
    app, _ = make_app(tmp_path, gate=gate)
    async with app.run_test(size=SIZE) as pilot:
        gate.release(1)
        await wait_for(pilot, lambda: progress(app).done > 0)
        assert {"p", "s", "q"} <= footer_keys(app) and "r" not in footer_keys(app)
        await pilot.press("p")
        assert app.control.paused
        assert "paused" in app.training_screen.query_one(StatusLine).text
        await pilot.press("p")
        assert not app.control.paused


@run_async
async def test_stop_saves_a_checkpoint_and_the_screen_stays(tmp_path):
    gate = threading.Semaphore(0)
    app, trainer = make_app(tmp_path, epochs=5, gate=gate)
    async with app.run_test(size=SIZE) as pilot:
        gate.release(4 + 2)  # one epoch and half of the next
        await wait_for(pilot, lambda: (progress(app).epoch, progress(app).done) == (2, 300))
        await pilot.press("s")
        await wait_for(pilot, lambda: not app.run_model.training_active)
        assert app.is_running and isinstance(app.screen, TrainingScreen)
        assert isinstance(app.run_model.final_event, TrainingStopped)
        assert trainer.saves[-1] == (tmp_path / "run" / "latest.json", 1)
        assert json.loads((tmp_path / "run" / "latest.json").read_text()) == {"epoch": 1}
        status = app.training_screen.query_one(StatusLine).text
        assert "stopped after epoch 1" in status and "latest.json" in status
        keys = footer_keys(app)
        assert "r" in keys and "p" not in keys and "s" not in keys
        # resume continues from the checkpoint
        await pilot.press("r")
        gate.release(100)
        await wait_for(pilot, lambda: isinstance(app.run_model.final_event, TrainingFinished))
        assert trainer.calls[-1]["resume"] is True
        assert [e for _, e in trainer.saves][-4:] == [2, 3, 4, 5]


@run_async
async def test_quit_asks_while_training_and_stops_with_a_checkpoint(tmp_path):
    gate = threading.Semaphore(0)
    app, trainer = make_app(tmp_path, epochs=5, gate=gate)
    async with app.run_test(size=SIZE) as pilot:
        gate.release(5)
        await wait_for(pilot, lambda: app.run_model.epochs_done == 1)
        await pilot.press("q")
        assert isinstance(app.screen, QuitScreen)
        await pilot.press("n")  # keep training
        assert isinstance(app.screen, TrainingScreen) and app.is_running
        assert not app.control.stopped
        await pilot.press("q")
        assert isinstance(app.screen, QuitScreen)
        await pilot.press("y")
        await wait_for(pilot, lambda: not app.is_running)
    assert isinstance(app.run_model.final_event, TrainingStopped)
    assert trainer.saves[-1][1] == 1
    assert app.return_value is app.run_model.final_event


@run_async
async def test_quit_after_training_exits_without_asking(tmp_path):
    app, _ = make_app(tmp_path, epochs=1)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.run_model.final_event, TrainingFinished))
        await wait_for(pilot, lambda: not app.run_model.training_active)
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running)
    assert isinstance(app.return_value, TrainingFinished)


@run_async
async def test_ctrl_c_stops_saves_and_quits(tmp_path):
    gate = threading.Semaphore(0)
    app, trainer = make_app(tmp_path, epochs=5, gate=gate)
    async with app.run_test(size=SIZE) as pilot:
        gate.release(4)
        await wait_for(pilot, lambda: app.run_model.epochs_done == 1)
        await pilot.press("ctrl+c")
        await wait_for(pilot, lambda: not app.is_running)
    ev = app.run_model.final_event
    assert isinstance(ev, TrainingStopped) and ev.reason == "interrupted"
    assert ev.message.startswith("Ctrl-C")
    assert trainer.saves[-1][1] == 1


@run_async
async def test_training_error_is_shown_and_kept(tmp_path):
    app, _ = make_app(tmp_path, epochs=3, fail_at_epoch=2)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.run_model.error is not None)
        await wait_for(pilot, lambda: not app.run_model.training_active)
        assert "scripted failure in epoch 2" in app.training_screen.query_one(StatusLine).text
        assert app.is_running  # the screen stays for the user to read it
    assert isinstance(app.run_model.error, RuntimeError)


@run_async
async def test_a_run_that_cannot_start_closes_and_keeps_the_error(tmp_path):
    from aecli.errors import DataError

    app, _ = make_app(tmp_path)

    def missing(config, report=None):
        raise DataError("no MNIST files in /nowhere: pass --data-dir")

    app.backend.load_data = missing
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: not app.is_running)
    assert isinstance(app.run_model.error, DataError)


@run_async
async def test_a_run_that_cannot_be_opened_closes_and_keeps_the_error(tmp_path):
    from aecli.errors import CheckpointError

    def broken(run_dir):
        raise CheckpointError(f"{run_dir}/latest.ckpt is truncated: use the other checkpoint")

    backend = demo_backend()
    backend.load_run = broken
    app = create_app(run_dir=tmp_path, explore=True, backend=backend)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: not app.is_running)
    assert isinstance(app.run_model.error, CheckpointError)


@run_async
async def test_save_figures_key_writes_pngs(tmp_path):
    app, _ = make_app(tmp_path, epochs=2)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(
            pilot, lambda: app.run_model.preview is not None and app.run_model.preview.epoch == 2
        )
        await pilot.press("f")
        figures = tmp_path / "run" / "figures"
        names = [
            "tui-epoch002-loss.png",
            "tui-epoch002-grid.png",
            "tui-epoch002-reconstructions.png",
        ]
        await wait_for(pilot, lambda: all((figures / n).is_file() for n in names), timeout=30)
        for n in names:
            assert (figures / n).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@run_async
async def test_render_mode_and_digits_view_keys(tmp_path):
    app, _ = make_app(tmp_path, epochs=1)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.run_model.preview is not None)
        panel = app.training_screen.query_one(DigitsPanel)
        assert panel.mode == "blocks"
        await pilot.press("m")
        assert panel.mode == "shade"
        await pilot.press("m")
        assert panel.mode == "ascii"
        await pilot.pause()
        assert str(panel.render()).isascii()  # the plain-ASCII fallback, titles included
        await pilot.press("v")
        assert panel.show == "tests" and panel.plan().grid is None
        await pilot.press("v")
        assert panel.show == "grid" and panel.plan().tests is None


def test_no_color_starts_in_shade_mode(tmp_path, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app, _ = make_app(tmp_path)
    assert app.render_mode == "shade"


@run_async
async def test_explorer_cursor_zoom_class_jump_and_saves(tmp_path):
    app, _ = make_app(tmp_path, epochs=2)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.run_model.final_event, TrainingFinished))
        await pilot.press("e")
        explorer = app.explorer_screen
        assert app.screen is explorer
        await wait_for(pilot, lambda: explorer.codes is not None)
        assert len(explorer.codes.points) == 300  # the scripted test split
        calls = app.run_model.view.decode_calls
        x0, y0 = explorer.frame.cursor
        await pilot.press("right", "right", "up")
        cw, ch = explorer.query_one(CodeMap).cell_size()
        assert explorer.frame.cursor == pytest.approx((x0 + 2 * cw, y0 + ch))
        assert app.run_model.view.decode_calls == calls + 3  # one decode per move
        view = explorer.query_one(DecodedView)
        assert view.image is not None and view.image.shape == (28, 28)
        assert "decoded at" in view.caption.plain
        width = explorer.frame.bounds[1] - explorer.frame.bounds[0]
        await pilot.press("plus")
        assert explorer.frame.bounds[1] - explorer.frame.bounds[0] == pytest.approx(width * 0.667)
        await pilot.press("minus")
        assert explorer.frame.bounds[1] - explorer.frame.bounds[0] == pytest.approx(
            width * 0.667 * 1.5
        )
        await pilot.press("3")  # a random image of class 3: the cursor goes to its code
        assert (
            explorer.frame.picked is not None and explorer.codes.labels[explorer.frame.picked] == 3
        )
        assert np.hypot(*(np.array(explorer.frame.cursor) - CENTRES[3])) < 0.6
        assert "picked" in view.caption.plain and "'3'" in view.caption.plain
        assert "A" not in {k for k in footer_keys(app)}  # letters are hidden for digits
        await pilot.press("d")
        await pilot.press("g")
        figures = tmp_path / "run" / "figures"
        await wait_for(pilot, lambda: len(list(figures.glob("*.png"))) == 2, timeout=30)
        assert len(list(figures.glob("decoded-*.png"))) == 1
        assert len(list(figures.glob("grid-*.png"))) == 1
        await pilot.press("t")
        assert isinstance(app.screen, TrainingScreen)


@run_async
async def test_explorer_mouse_click_moves_the_cursor(tmp_path):
    app, _ = make_app(tmp_path, epochs=1)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.run_model.final_event, TrainingFinished))
        await pilot.press("e")
        explorer = app.explorer_screen
        await wait_for(pilot, lambda: explorer.codes is not None)
        cmap = explorer.query_one(CodeMap)
        await pilot.click(CodeMap, offset=(3, 2))
        assert explorer.frame.cursor == pytest.approx(cmap.to_code(3, 2))
        before = explorer.frame.bounds
        await pilot.mouse_down(CodeMap)  # the wheel is not in Pilot: use the message
        cmap.post_message(CodeMap.Zoom(0.5))
        await pilot.pause()
        assert explorer.frame.bounds[1] - explorer.frame.bounds[0] < before[1] - before[0]


@run_async
async def test_open_run_shows_history_and_resumes(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "latest.json").write_text(json.dumps({"epoch": 6}))
    trainer = ScriptedTrainer()
    app = create_app(
        run_dir=run_dir,
        explore=True,
        backend=demo_backend(trainer, epoch=6, epochs=8),
        clock=lambda: 0.0,
    )
    async with app.run_test(size=SIZE) as pilot:
        explorer = app.explorer_screen
        await wait_for(pilot, lambda: explorer.codes is not None)
        assert app.screen is explorer
        assert len(app.run_model.history) == 6 and app.run_model.epochs_done == 6
        assert "r" in footer_keys(app)  # unfinished: resumable
        assert "interrupted run: 6/8 epochs" in app.run_model.status.text
        await pilot.press("r")
        assert isinstance(app.screen, TrainingScreen)
        await wait_for(pilot, lambda: isinstance(app.run_model.final_event, TrainingFinished))
        assert trainer.calls == [{"resume": True, "run_dir": run_dir, "data": app.run_model.splits}]
        assert [r["epoch"] for r in app.run_model.history] == list(range(1, 9))
        assert app.training_screen.query_one(DataTable).row_count == 8


@run_async
async def test_open_finished_run_cannot_resume(tmp_path):
    app = create_app(
        run_dir=tmp_path, explore=True, backend=demo_backend(epoch=10, epochs=10), clock=lambda: 0.0
    )
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.explorer_screen.codes is not None)
        assert "r" not in footer_keys(app)
        await pilot.press("r")
        assert not app.run_model.training_active
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running)


@run_async
async def test_theme_toggle_inverts_the_images(tmp_path):
    app, _ = make_app(tmp_path, epochs=1)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.run_model.preview is not None)
        assert app.current_theme.dark
        await pilot.press("ctrl+t")
        assert not app.current_theme.dark
        assert not is_dark(app.training_screen.query_one(DigitsPanel))


@pytest.mark.parametrize("size", [(49, 17), (69, 25), (99, 41), (30, 10), (200, 60)])
def test_plan_digits_fits_the_panel(size):
    w, h = size
    plan = plan_digits(w, h, n_tests=10, n_grid=10)
    if plan.grid:
        k, p = plan.grid
        assert k * p <= w and 1 + k * p // 2 <= h and k >= 3 and p >= 8
    if plan.tests:
        k, p = plan.tests
        if plan.side:
            rows = -(-k // plan.pair_cols)
            assert 1 + rows * (p // 2 + 1) <= h
            assert (
                plan.pair_cols * (2 * p + 1)
                + (plan.pair_cols - 1) * 2
                + plan.grid[0] * plan.grid[1]
                + 2
                <= w
            )
        else:
            assert k * (p + 1) - 1 <= w and p + 2 <= h
            if plan.grid:
                assert p + 2 + 1 + 1 + plan.grid[0] * plan.grid[1] // 2 <= h
    if w >= 49 and h >= 17:
        assert plan.tests is not None and plan.tests[1] >= 10  # legible tests at 80x24


def test_plan_digits_uses_more_space_when_it_has_it():
    small = plan_digits(49, 17, n_tests=10, n_grid=10)
    large = plan_digits(99, 41, n_tests=10, n_grid=10)
    assert small.grid is None  # 80x24: the test row; 'v' shows the grid
    assert large.grid is not None and large.grid[0] >= 5 and large.tests[0] >= 5


def test_subgrid_indices_keep_both_ends():
    assert subgrid_indices(10, 4) == [0, 3, 6, 9]
    assert subgrid_indices(10, 12) == list(range(10))
    assert subgrid_indices(20, 5)[-1] == 19


def test_pick_samples_takes_the_first_of_each_class():
    splits = FakeSplits()
    s = pick_samples(splits)
    assert list(s.labels) == list(range(10)) and s.split == "test"
    labels = splits["test"].labels
    for c, i in zip(s.labels, s.indices, strict=True):
        assert labels[i] == c and not np.any(labels[:i] == c)


def test_tui_modules_do_not_import_jax():
    code = (
        "import sys, aecli.tui.app, aecli.tui.demo, aecli.tui.workers, aecli.cli.tui; "
        "bad = [m for m in ('jax', 'equinox', 'matplotlib') if m in "
        "sys.modules]; print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@run_async
async def test_explorer_exports_are_the_clis_figures(tmp_path, monkeypatch):
    """``d``: black ink on white, as every aecli figure; ``g``: the sheet ``aecli generate``
    draws (``render.figures.decode_grid_sheet``), on round code values whose tick labels do
    not run into each other."""
    from PIL import Image

    from aecli.render import figures

    sheets = []

    def recording(*args, **kwargs):
        sheets.append((args, fig := real(*args, **kwargs)))
        return fig

    real = figures.decode_grid_sheet
    monkeypatch.setattr(figures, "decode_grid_sheet", recording)
    app, _ = make_app(tmp_path, epochs=1)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.run_model.final_event, TrainingFinished))
        await pilot.press("e")
        explorer = app.explorer_screen
        await wait_for(pilot, lambda: explorer.codes is not None)
        await pilot.press("3", "plus", "plus", "right")  # an odd cursor, a zoomed view
        await pilot.press("d", "g")
        figures_dir = tmp_path / "run" / "figures"
        await wait_for(pilot, lambda: len(list(figures_dir.glob("*.png"))) == 2, timeout=30)
    decoded = np.asarray(Image.open(next(figures_dir.glob("decoded-*.png"))).convert("L"))
    assert np.median(decoded) > 200 and decoded.min() < 60  # white paper, dark ink
    (_, xs, ys), fig = sheets[0]
    step = xs[1] - xs[0]
    assert any(step == pytest.approx(m * 10.0**e) for m in (1, 2, 2.5, 5) for e in range(-3, 2))
    assert np.allclose(np.round(xs / step), xs / step) and np.allclose(ys, xs[::-1] + ys[4] - xs[4])
    fig.canvas.draw()
    boxes = [t.get_window_extent() for t in fig.axes[0].get_xticklabels() if t.get_text()]
    assert len(boxes) >= 3 and all(len(t.get_text()) <= 6 for t in fig.axes[0].get_xticklabels())
    assert all(a.x1 < b.x0 for a, b in zip(boxes, boxes[1:], strict=False))  # apart


def test_round_step():
    from aecli.tui.screens.explorer import round_step

    assert [round_step(v) for v in (0.237, 0.09, 1.0, 3.7, 27.0)] == [0.2, 0.05, 1.0, 2.5, 25.0]


def bar_text(app: AecliApp) -> str:
    from aecli.tui.widgets.keys_bar import KeysBar

    return app.screen.query_one(KeysBar).plain()


def assert_every_key_listed(app: AecliApp) -> None:
    """Each key bound on the screen now (and not refused by check_action) is in its bar."""
    from aecli.tui.widgets.keys_bar import HIDDEN_ACTIONS

    text = bar_text(app)
    for active in app.screen.active_bindings.values():
        b = active.binding
        if b.action in HIDDEN_ACTIONS or not active.enabled:
            continue
        assert app.get_key_display(b) in text, (b.key, text)
        assert b.description in text, (b.key, text)


@run_async
async def test_the_keys_bar_lists_every_key_and_fits_80_columns(tmp_path):
    from aecli.tui.widgets.keys_bar import KeysBar
    from aecli.tui.widgets.title_bar import TitleBar

    gate = threading.Semaphore(0)
    app, _ = make_app(tmp_path, epochs=2, gate=gate)
    async with app.run_test(size=(80, 24)) as pilot:
        gate.release(2)
        await wait_for(pilot, lambda: progress(app).done > 0)
        await pilot.pause()
        training = "p Pause s Stop f PNGs e Explorer v View m Text q Quit ^t Theme ^c/^q Quit now"
        assert bar_text(app) == training  # one line at 80 columns
        assert_every_key_listed(app)
        title = app.screen.query_one(TitleBar).render().plain
        assert title.startswith("▦ aecli · scripted  ") and title.endswith("/run")
        assert len(title) <= 78  # inside the padding: nothing cut or wrapped
        await pilot.press("q")  # the quit question lists its keys too
        assert isinstance(app.screen, QuitScreen)
        assert " ".join(bar_text(app).split()) == (
            "⏎ Press button y Stop, save and quit n/esc Keep training ^c/^q Quit now"
        )  # enter presses the focused button; ctrl+t does nothing here, ctrl+c does
        assert_every_key_listed(app)
        await pilot.press("n")
        gate.release(100)
        await wait_for(pilot, lambda: not app.run_model.training_active)
        await pilot.pause()
        assert bar_text(app).startswith("f PNGs") and "Pause" not in bar_text(app)
        await pilot.press("e")
        explorer = app.explorer_screen
        await wait_for(pilot, lambda: explorer.codes is not None)
        await pilot.pause()
        text = bar_text(app)
        for item in ("←↑↓→ Move", "⇧←↑↓→ Fast", "+/- Zoom", "c Fit", "0-9 Class", "d PNG"):
            assert item in text
        for item in ("g Grid PNG", "t/esc Train", "m Text", "q Quit", "^t Theme"):
            assert item in text
        assert "A-J" not in text and "Resume" not in text  # digits; a finished run
        assert_every_key_listed(app)
        lines = text.splitlines()
        bar = explorer.query_one(KeysBar)
        assert len(lines) == 2 and bar.size.height == 2  # wrapped, not cut
        assert all(len(line) <= 78 for line in lines)
        await pilot.resize_terminal(120, 40)
        await pilot.pause()
        assert "\n" not in bar_text(app) and bar.size.height == 1


@run_async
async def test_ctrl_q_saves_and_quits_like_ctrl_c(tmp_path):
    gate = threading.Semaphore(0)
    app, trainer = make_app(tmp_path, epochs=5, gate=gate)
    async with app.run_test(size=SIZE) as pilot:
        gate.release(4)
        await wait_for(pilot, lambda: app.run_model.epochs_done == 1)
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: not app.is_running)
    assert isinstance(app.run_model.final_event, TrainingStopped)
    assert trainer.saves[-1][1] == 1


@pytest.mark.parametrize("theme", ["aecli-dark", "aecli-light"])
@run_async
async def test_both_themes_paint_every_colour_themselves(tmp_path, theme):
    """No cell of the screen is left to the terminal's default colours, in either theme,
    and the header and keys bar contrast with their text (WCAG ratio >= 4.5)."""
    from textual.color import Color

    from aecli.tui.widgets.keys_bar import KeysBar
    from aecli.tui.widgets.title_bar import TitleBar

    app, _ = make_app(tmp_path, epochs=1)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.run_model.preview is not None)
        app.theme = theme
        await pilot.pause(0.2)
        for screen in ("training", "explorer"):
            if screen == "explorer":
                await pilot.press("e")
                await wait_for(pilot, lambda: app.explorer_screen.codes is not None)
                await pilot.pause(0.2)
            for y, strip in enumerate(app.screen._compositor.render_strips()):
                for seg in strip:
                    if seg.text.strip():
                        style = seg.style
                        assert style is not None and style.bgcolor is not None, (y, seg.text)
                        assert style.color is not None, (screen, y, seg.text)
            for widget in (app.screen.query_one(TitleBar), app.screen.query_one(KeysBar)):
                bg, fg = widget.styles.background, widget.styles.color
                assert contrast(bg, fg) >= 4.5, (theme, type(widget).__name__)
            assert (
                contrast(
                    Color.parse(app.theme_variables["warning"]),
                    Color.parse(app.theme_variables["background"]),
                )
                >= 4.5
            )


def contrast(a, b) -> float:
    def lum(c) -> float:
        def ch(v: int) -> float:
            v = v / 255
            return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

        r, g, b_ = c.rgb
        return 0.2126 * ch(r) + 0.7152 * ch(g) + 0.0722 * ch(b_)

    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@run_async
async def test_a_map_runs_table_shows_the_map_loss_and_never_scrolls_sideways(tmp_path):
    from dataclasses import replace

    from aecli.tui.widgets.epoch_table import EpochTable

    app, _ = make_app(tmp_path, epochs=1)
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for(pilot, lambda: not app.run_model.training_active)
        rows = tuple(
            {"epoch": e, "train_loss": 40.0 - e, "val_loss": 41.0 - e, "seconds": 1.0,
             "images_per_second": 3952.0, "map_loss": 1.2 - e / 10}
            for e in (1, 2)
        )  # fmt: skip
        app.run_model = replace(app.run_model, history=rows)
        table = app.training_screen.query_one(EpochTable)
        await pilot.pause(0.2)
        labels = [str(c.label) for c in table.columns.values()]
        assert labels == ["epoch", "train", "valid", "map"]  # 32 cells: no room for img/s
        assert [str(c) for c in table.get_row_at(0)] == ["2", "38.00", "39.00", "1.000"]
        assert table.virtual_size.width <= table.size.width
        await pilot.resize_terminal(120, 40)
        await pilot.pause(0.3)
        labels = [str(c.label) for c in table.columns.values()]
        assert labels == ["epoch", "train", "valid", "map", "img/s"]
        assert str(table.get_row_at(1)[4]) == "3,952"
        assert table.virtual_size.width <= table.size.width


@run_async
async def test_the_explorer_follows_a_map_that_grows_until_the_user_zooms(tmp_path):
    """A map run's codes spread from about -1..1 to -10..10 over the epochs: the view frames
    each epoch's codes while it is the automatic one, and stays put once the user zooms."""
    from dataclasses import replace

    from aecli.tui.messages import CodesReady
    from aecli.tui.model import Codes

    app, _ = make_app(tmp_path, epochs=1)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: not app.run_model.training_active)
        await pilot.press("e")
        explorer = app.explorer_screen
        await wait_for(pilot, lambda: explorer.codes is not None)
        first = explorer.codes
        width = explorer.frame.bounds[1] - explorer.frame.bounds[0]
        app.post_message(CodesReady(replace(first, epoch=2, points=first.points * 10)))
        await wait_for(pilot, lambda: explorer.codes.epoch == 2)
        grown = explorer.frame.bounds[1] - explorer.frame.bounds[0]
        assert grown == pytest.approx(10 * width, rel=1e-3)
        await pilot.press("plus")  # the user's own view from here on
        mine = explorer.frame.bounds
        app.post_message(CodesReady(Codes(3, first.points * 20, first.labels, first.split)))
        await wait_for(pilot, lambda: explorer.codes.epoch == 3)
        assert explorer.frame.bounds == mine
        await pilot.press("c")  # fit: back to the newest codes' frame
        fit = explorer.frame.bounds[1] - explorer.frame.bounds[0]
        assert fit == pytest.approx(20 * width, rel=1e-3)
