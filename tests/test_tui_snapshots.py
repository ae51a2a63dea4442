"""SVG snapshots of the training screen and the explorer at 100x32 (scripted run, no JAX).

Regenerate after an intended change with ``pytest tests/test_tui_snapshots.py
--snapshot-update`` and look at the SVGs in ``tests/__snapshots__/`` before committing them.
"""

from __future__ import annotations

import pytest

from aecli.config import Config
from aecli.events import TrainingFinished
from aecli.tui.app import create_app
from aecli.tui.demo import ScriptedTrainer, demo_backend

SIZE = (100, 32)


@pytest.fixture
def app(tmp_path, monkeypatch):
    # A relative run directory: the screen shows it, and it must not vary between machines.
    monkeypatch.chdir(tmp_path)
    config = Config(name="demo").replace(**{"train.epochs": 4})
    return create_app(
        config=config,
        run_dir="runs/demo",
        backend=demo_backend(ScriptedTrainer()),
        clock=lambda: 0.0,
        seed=0,
    )


async def finished(pilot) -> None:
    app = pilot.app
    for _ in range(500):
        if (
            isinstance(app.run_model.final_event, TrainingFinished)
            and not app.run_model.training_active
        ):
            break
        await pilot.pause(0.02)
    await pilot.pause(0.2)


def test_training_screen(snap_compare, app):
    assert snap_compare(app, terminal_size=SIZE, run_before=finished)


def test_explorer(snap_compare, app):
    async def explore(pilot) -> None:
        await finished(pilot)
        await pilot.press("e")
        for _ in range(500):
            if pilot.app.explorer_screen.codes is not None:
                break
            await pilot.pause(0.02)
        await pilot.press("7", "left", "left", "up")
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=SIZE, run_before=explore)
