"""End to end: a real (tiny) training run through the TUI, then the explorer on its model."""

from __future__ import annotations

import asyncio

import numpy as np

from aecli.config import Config
from aecli.events import TrainingFinished
from aecli.tui.app import create_app
from aecli.tui.widgets.decoded_view import DecodedView
from aecli.tui.widgets.digits_panel import DigitsPanel


async def _wait(pilot, condition, timeout: float = 120.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError("condition not reached in time")


def test_real_training_through_the_tui(tiny_mnist, tmp_path):
    from aecli.checkpoint import load_checkpoint

    run_dir = tmp_path / "run"
    config = Config(name="tiny").replace(
        **{
            "train.epochs": 2,
            "train.batch_size": 25,
            "train.chunks_per_epoch": 2,
            "train.device": "cpu",
        }
    )
    app = create_app(config=config, run_dir=run_dir, data=tiny_mnist)

    async def scenario() -> None:
        async with app.run_test(size=(100, 32)) as pilot:
            await _wait(pilot, lambda: isinstance(app.run_model.final_event, TrainingFinished))
            await _wait(
                pilot,
                lambda: app.run_model.preview is not None and app.run_model.preview.epoch == 2,
            )
            panel = app.training_screen.query_one(DigitsPanel)
            assert panel.preview.epoch == 2 and panel.preview.recons.shape == (10, 28, 28)
            assert 0.0 <= panel.preview.recons.min() and panel.preview.recons.max() <= 1.0
            assert [r["epoch"] for r in app.run_model.history] == [1, 2]
            assert app.run_model.history[1]["train_loss"] < app.run_model.history[0]["train_loss"]
            await pilot.press("e")
            explorer = app.explorer_screen
            await _wait(pilot, lambda: explorer.codes is not None)
            assert explorer.codes.points.shape == (100, 2)  # the tiny test split, encoded by JAX
            before = explorer.query_one(DecodedView).image.copy()
            await pilot.press("shift+right", "shift+right", "shift+up")
            after = explorer.query_one(DecodedView).image
            assert after.shape == (28, 28) and not np.allclose(before, after)
            await pilot.press("q")
            await _wait(pilot, lambda: not app.is_running)

    asyncio.run(scenario())
    assert app.run_model.error is None
    ckpt = load_checkpoint(run_dir)
    assert ckpt.epoch == 2
