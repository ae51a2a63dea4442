"""End to end: a real (tiny) training run through the TUI, then the explorer on its model;
the TUI's per-image errors against ``aecli reconstruct``'s."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import numpy as np
import pytest

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


def test_the_tui_error_of_an_image_is_aecli_reconstructs(tiny_mnist_dir, tmp_path):
    """The digits panel's error under a test image is the number ``aecli reconstruct`` prints
    for it: both come from ``aecli.latent.codes`` on the unclipped reconstruction."""
    import equinox as eqx
    import jax
    import jax.numpy as jnp

    from aecli.checkpoint import save_checkpoint
    from aecli.model import TiedAutoencoder

    run_dir = tmp_path / "run"
    config = Config(name="tiny").replace(
        **{"data.dataset": str(tiny_mnist_dir / "mnist"), "model.sizes": (784, 32, 2)}
    )
    model = TiedAutoencoder.from_config(config.model, key=jax.random.key(3))
    # Decodes below the display range, as a trained model's background often is: an error
    # taken on the clipped display images would differ from the loss's error here.
    model = eqx.tree_at(lambda m: m.out_bias, model, jnp.full(784, -0.7, jnp.float32))
    header = {"config": config.to_dict(), "epoch": 1}
    save_checkpoint(run_dir / "latest.ckpt", model=model, opt_state=None, header=header)
    app = create_app(run_dir=run_dir, explore=True)

    async def scenario() -> None:
        async with app.run_test(size=(100, 32)) as pilot:
            await _wait(pilot, lambda: app.run_model.preview is not None)
            await pilot.press("q")

    asyncio.run(scenario())
    assert app.run_model.error is None
    samples, preview = app.run_model.samples, app.run_model.preview
    assert samples.split == "test" and len(samples.indices) == 10

    cli = subprocess.run(
        [sys.executable, "-m", "aecli", "reconstruct", "--run", str(run_dir), "--n", "100"]
        + ["--out", str(tmp_path / "r.png"), "--json"],
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 0, cli.stderr
    printed = json.loads(cli.stdout)
    by_index = dict(zip(printed["indices"], printed["errors"], strict=True))
    assert len(by_index) == 100  # the whole tiny test split
    tui = [float(e) for e in preview.errors]
    # Same function, other batch shapes: equal up to float32 rounding.
    assert tui == pytest.approx([by_index[int(i)] for i in samples.indices], rel=1e-5)


def _tiny(name: str, tiny_mnist_dir, **overrides) -> Config:
    return Config(name=name).replace(
        **{
            "data.dataset": str(tiny_mnist_dir / "mnist"),
            "train.epochs": 2,
            "train.batch_size": 25,
            "train.chunks_per_epoch": 2,
            "train.device": "cpu",
            **overrides,
        }
    )


def test_a_map_run_trains_live_and_explores_in_the_tui(tiny_mnist_dir, tiny_mnist, tmp_path):
    """Issue 13: the live screen and the explorer work unchanged for a run with a UMAP term;
    the map term's loss shows in the epoch table, and both PNG exports work."""
    from aecli.tui.widgets.epoch_table import EpochTable

    config = _tiny(
        "tiny-map",
        tiny_mnist_dir,
        **{"map.kind": "umap", "map.weight": 30.0, "map.edges_per_step": 32},
    )
    run_dir = tmp_path / "map"
    app = create_app(config=config, run_dir=run_dir, data=tiny_mnist)

    async def scenario() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await _wait(pilot, lambda: isinstance(app.run_model.final_event, TrainingFinished))
            await _wait(pilot, lambda: app.run_model.preview is not None)
            rows = app.run_model.history
            assert [r["epoch"] for r in rows] == [1, 2]
            assert all(r["map_loss"] > 0 for r in rows)  # the map term, live from the loop
            table = app.training_screen.query_one(EpochTable)
            await _wait(pilot, lambda: table.row_count == 2)
            assert [str(c.label) for c in table.columns.values()][3] == "map"
            assert str(table.get_row_at(0)[3]) == f"{rows[-1]['map_loss']:.3f}"
            await pilot.press("e")
            explorer = app.explorer_screen
            await _wait(pilot, lambda: explorer.codes is not None)
            assert explorer.codes.points.shape == (100, 2)
            before = explorer.query_one(DecodedView).image.copy()
            await pilot.press("shift+right", "shift+up")
            assert not np.allclose(before, explorer.query_one(DecodedView).image)
            await pilot.press("d", "g")
            figures = run_dir / "figures"
            await _wait(pilot, lambda: len(list(figures.glob("*.png"))) == 2)
            await pilot.press("q")
            await _wait(pilot, lambda: not app.is_running)

    asyncio.run(scenario())
    assert app.run_model.error is None


def test_an_untied_run_opens_in_the_explorer_and_decodes(tiny_mnist_dir, tiny_mnist, tmp_path):
    """``model.tied = false``: ``aecli tui RUN`` decodes with the run's own decoder."""
    from aecli.checkpoint import load_checkpoint
    from aecli.latent import codes
    from aecli.model import UntiedAutoencoder
    from aecli.training import train

    run_dir = tmp_path / "untied"
    config = _tiny("tiny-untied", tiny_mnist_dir, **{"model.tied": False, "train.epochs": 1})
    list(train(config, run_dir=run_dir, data=tiny_mnist))
    model = load_checkpoint(run_dir).model
    assert isinstance(model, UntiedAutoencoder)
    app = create_app(run_dir=run_dir, explore=True)

    async def scenario() -> None:
        async with app.run_test(size=(100, 32)) as pilot:
            explorer = app.explorer_screen
            await _wait(pilot, lambda: explorer.codes is not None)
            assert explorer.codes.points.shape == (100, 2)
            assert "finished run: 1/1 epochs" in app.run_model.status.text
            await pilot.press("shift+left", "shift+down")
            code = np.asarray(explorer.frame.cursor, np.float32)[None]
            shown = explorer.query_one(DecodedView).image
            np.testing.assert_allclose(shown, codes.decode(model, code)[0], atol=1e-6)
            await pilot.press("t")  # the training screen of a finished run: its history
            assert app.screen is app.training_screen and len(app.run_model.history) == 1
            await pilot.press("q")
            await _wait(pilot, lambda: not app.is_running)

    asyncio.run(scenario())
    assert app.run_model.error is None
