"""End to end: a real (tiny) training run through the TUI, then the explorer on its model."""

from __future__ import annotations

import asyncio

import numpy as np

from aecli.config import Config
from aecli.events import TrainingFinished
from aecli.tui.app import create_app
from aecli.tui.widgets import DecodedView, DigitsPanel


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
            await _wait(pilot, lambda: isinstance(app.final_event, TrainingFinished))
            await _wait(pilot, lambda: app.preview is not None and app.preview.epoch == 2)
            panel = app.training_screen.query_one(DigitsPanel)
            assert panel.epoch == 2 and panel.recons.shape == (10, 28, 28)
            assert 0.0 <= panel.recons.min() and panel.recons.max() <= 1.0
            assert [r["epoch"] for r in app.history] == [1, 2]
            assert app.history[1]["train_loss"] < app.history[0]["train_loss"]
            await pilot.press("e")
            explorer = app.explorer_screen
            await _wait(pilot, lambda: explorer.codes is not None)
            assert explorer.codes.shape == (100, 2)  # the tiny test split, encoded by JAX
            before = explorer.query_one(DecodedView).image.copy()
            await pilot.press("shift+right", "shift+right", "shift+up")
            after = explorer.query_one(DecodedView).image
            assert after.shape == (28, 28) and not np.allclose(before, after)
            await pilot.press("q")
            await _wait(pilot, lambda: not app.is_running)

    asyncio.run(scenario())
    assert app.error is None
    ckpt = load_checkpoint(run_dir)
    assert ckpt.epoch == 2
