"""Training: the loss, the compiled epoch, the run directory, resume, control and failure modes.

Everything runs on the tiny MNIST-format set (275 training images = two full batches of 128
and one partial batch of 19), so each training takes a fraction of a second after the first
compilation, which the jit cache shares between tests.
"""

from __future__ import annotations

import contextlib
import json
import threading

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from aecli import events as ev
from aecli.checkpoint import BEST, LATEST, load_checkpoint, read_header
from aecli.config import Config
from aecli.errors import ConfigError, TrainingError
from aecli.model import TiedAutoencoder, preprocess
from aecli.optim import make_optimizer
from aecli.render.figures import loss_curve
from aecli.rundir import RunDir
from aecli.training import train
from aecli.training.devices import select_devices
from aecli.training.evaluate import EvalSet
from aecli.training.step import Layout, flops_per_image, loss_fn

TINY = Config().replace(**{"train.epochs": 2, "train.chunks_per_epoch": 2, "name": "tiny"})


def run(config: Config, run_dir, data, **kw) -> list:
    return list(train(config, run_dir=run_dir, data=data, **kw))


def of(events: list, kind: type) -> list:
    return [e for e in events if isinstance(e, kind)]


def leaves(tree) -> list[np.ndarray]:
    return [np.asarray(x) for x in jax.tree_util.tree_leaves(eqx.filter(tree, eqx.is_array))]


def numpy_loss(model: TiedAutoencoder, images: np.ndarray, l2: float) -> float:
    """The original's batch loss computed by hand in float64."""
    x = images.reshape(len(images), 784).astype(np.float64) / 255.0 - 0.5
    ws = [np.asarray(w, np.float64) for w in model.weights]
    bs = [np.asarray(b, np.float64) for b in model.biases]
    h = x
    for i, (w, b) in enumerate(zip(ws, bs, strict=True)):
        h = h @ w.T + b
        if i < len(ws) - 1:
            h = np.maximum(h, 0)
    z = h
    for i in reversed(range(len(ws))):
        bias = np.asarray(model.out_bias, np.float64) if i == 0 else bs[i - 1]
        h = h @ ws[i] + bias
        if i > 0:
            h = np.maximum(h, 0)
    return float(np.sum((h - x) ** 2) + l2 * np.sum(z**2))


@pytest.fixture(scope="module")
def straight4(tiny_mnist, tmp_path_factory):
    """An uninterrupted 4-epoch run: the reference for the resume tests."""
    run_dir = tmp_path_factory.mktemp("straight4")
    events = run(TINY.replace(**{"train.epochs": 4}), run_dir, tiny_mnist)
    return run_dir, events


# ------------------------------------------------------------------------------ loss


def test_loss_matches_hand_computation(tiny_mnist):
    model = TiedAutoencoder(key=jax.random.key(3))
    images = np.asarray(tiny_mnist["train"].images[:50])
    got = float(loss_fn(model, jnp.asarray(images), 0.1))
    assert got == pytest.approx(numpy_loss(model, images, 0.1), rel=1e-5)


def test_loss_weights_drop_padding_rows(tiny_mnist):
    model = TiedAutoencoder(key=jax.random.key(0))
    images = jnp.asarray(tiny_mnist["train"].images[:10])
    w = jnp.asarray([1.0] * 6 + [0.0] * 4)
    assert float(loss_fn(model, images, 0.1, w)) == pytest.approx(
        float(loss_fn(model, images[:6], 0.1)), rel=1e-6
    )


def test_evaluate_per_image_and_pixel_units(tiny_mnist):
    model = TiedAutoencoder(key=jax.random.key(1))
    images = np.asarray(tiny_mnist["test"].images)
    n = len(images)
    # batch_size 30 does not divide 100: the padded last batch must not count.
    assert EvalSet(images, batch_size=30).evaluate(model, 0.1).loss == pytest.approx(
        numpy_loss(model, images, 0.1) / n, rel=1e-5
    )
    parts = EvalSet(images, batch_size=64).evaluate(model, l2_weight=0.1)
    assert parts.n == n
    assert parts.recon == pytest.approx(numpy_loss(model, images, 0.0) / n, rel=1e-5)
    assert parts.loss == pytest.approx(parts.recon + 0.1 * parts.code, rel=1e-6)


def test_layout_keeps_the_partial_batch():
    lay = Layout.make(275, 128, chunks=2)
    assert (lay.steps, lay.chunk_steps, lay.chunks) == (3, 2, 2)
    assert lay.n - (lay.steps - 1) * lay.batch_size == 19  # the last step: a partial batch
    assert lay.images_after_chunk(0) == 256 and lay.images_after_chunk(1) == 275
    mnist = Layout.make(55_000, 128, chunks=8)
    assert mnist.steps == 430 and mnist.chunks * mnist.chunk_steps >= 430
    assert Layout.make(275, 128, chunks=1, devices=3).padded_batch == 129


def test_flops_per_image_default_model():
    # forward 2 x 104,512 multiply-adds, backward twice that less 784 * 128
    assert flops_per_image((784, 128, 32, 2)) == 2 * (3 * 2 * 104_512 - 784 * 128)


# ------------------------------------------------------------------------------ training


def test_run_directory_contents(tiny_mnist, tmp_path):
    events = run(TINY, tmp_path, tiny_mnist)
    kinds = [type(e) for e in events]
    assert kinds[0] is ev.RunStarted and kinds[1] is ev.Compiling
    assert kinds[-1] is ev.TrainingFinished
    assert len(of(events, ev.EpochEnd)) == 2
    assert [e.images_done for e in of(events, ev.EpochProgress)][:2] == [256, 275]

    assert json.loads((tmp_path / "config.json").read_text()) == TINY.to_dict()
    metrics = RunDir(tmp_path).read_metrics()
    assert [m["epoch"] for m in metrics] == [1, 2]
    assert set(metrics[0]) == {"epoch", "train_loss", "val_loss", "seconds", "images_per_second"}
    assert (tmp_path / "loss_curve.png").read_bytes()[:4] == b"\x89PNG"

    header, _ = read_header(tmp_path / LATEST)
    assert header["epoch"] == 2 and header["step"] == 6
    assert header["config"] == TINY.to_dict()
    assert header["prng"]["seed"] == 0 and header["prng"]["shuffle_key"]
    assert header["dataset"]["source"] == tiny_mnist.source
    assert header["dataset"]["n_train"] == 275
    assert {"jax", "equinox", "optax", "aecli"} <= set(header["versions"])
    assert header["device"].startswith("cpu")
    assert [m["epoch"] for m in header["metrics"]] == [1, 2]
    assert (tmp_path / BEST).is_file()

    s = events[-1].summary
    assert s["epochs"] == 2 and s["n_params"] == 105_458
    assert s["train_loss"] == metrics[-1]["train_loss"]
    assert 0 < s["test_recon_error"] <= s["test_loss"]
    assert s["test_recon_mse_per_pixel"] == pytest.approx(s["test_recon_error"] / 784)
    assert json.loads((tmp_path / "summary.json").read_text()) == s
    assert not (tmp_path / ".lock").exists() or _lock_is_free(tmp_path)


def _lock_is_free(run_dir) -> bool:
    try:
        with RunDir(run_dir).lock():
            return True
    except TrainingError:
        return False


def test_loss_decreases(tiny_mnist, tmp_path):
    events = run(TINY.replace(**{"train.epochs": 5}), tmp_path, tiny_mnist)
    losses = [e.train_loss for e in of(events, ev.EpochEnd)]
    assert losses[-1] < 0.8 * losses[0]


@contextlib.contextmanager
def traced_functions():
    """Names of the functions JAX traces for jit inside the block (its own trace events)."""
    names: list[str] = []

    def listen(event: str, duration: float, **kwargs) -> None:
        if event == "/jax/core/compile/jaxpr_trace_duration":
            names.append(str(kwargs.get("fun_name")))

    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        yield names
    finally:
        jax.monitoring.unregister_event_duration_listener(listen)


def test_no_recompilation_after_first_epoch(tiny_mnist, tmp_path):
    # A layout this test alone uses (batch 100), so epoch 1 traces here whatever ran before.
    config = TINY.replace(**{"train.epochs": 4, "train.batch_size": 100})
    after_epoch = []
    with traced_functions() as traced:
        for e in train(config, run_dir=tmp_path, data=tiny_mnist):
            if isinstance(e, ev.EpochEnd):
                after_epoch.append(list(traced))
    assert len(after_epoch) == 4
    assert any("train_chunk" in name for name in after_epoch[0])
    assert any("epoch_order" in name for name in after_epoch[0])
    assert after_epoch[0] == after_epoch[1] == after_epoch[2] == after_epoch[3]


def test_partial_batch_trained_and_padding_steps_skipped(tiny_mnist, tmp_path):
    # 3 real steps per epoch; the layout adds one padding step that must change nothing.
    run(TINY.replace(**{"train.epochs": 3}), tmp_path, tiny_mnist)
    ckpt = load_checkpoint(tmp_path, with_optimizer=True)
    counts = [
        int(x)
        for x in jax.tree_util.tree_leaves(ckpt.opt_state)
        if np.asarray(x).dtype == np.int32 and np.asarray(x).shape == ()
    ]
    assert counts and all(c == 9 for c in counts)
    assert ckpt.header["step"] == 9


def test_matches_a_plain_python_loop(tiny_mnist, tmp_path):
    """The scanned, chunked, masked epoch equals the obvious loop over batches."""
    cfg = TINY
    events = run(cfg, tmp_path, tiny_mnist)
    images = jnp.asarray(tiny_mnist["train"].images)
    n = images.shape[0]
    init_key, shuffle_key = jax.random.split(jax.random.key(cfg.train.seed))
    model = TiedAutoencoder.from_config(cfg.model, key=init_key)
    opt = optax.adam(cfg.train.lr)
    state = opt.init(eqx.filter(model, eqx.is_array))
    epoch_losses = []
    for epoch in (1, 2):
        perm = np.asarray(jax.random.permutation(jax.random.fold_in(shuffle_key, epoch), n))
        total = 0.0
        for s in range(0, n, 128):
            batch = images[perm[s : s + 128]]
            loss, grads = eqx.filter_value_and_grad(loss_fn)(model, batch, 0.1)
            updates, state = opt.update(grads, state)
            model = eqx.apply_updates(model, updates)
            total += float(loss)
        epoch_losses.append(total / n)
    got = [e.train_loss for e in of(events, ev.EpochEnd)]
    np.testing.assert_allclose(got, epoch_losses, rtol=1e-5)
    trained = of(events, ev.TrainingFinished)[0].model
    for a, b in zip(leaves(trained), leaves(model), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_resume_is_bit_for_bit(tiny_mnist, tmp_path, straight4):
    ref_dir, ref_events = straight4
    run(TINY.replace(**{"train.epochs": 2}), tmp_path, tiny_mnist)
    events = run(TINY.replace(**{"train.epochs": 4}), tmp_path, tiny_mnist, resume=True)
    assert events[0].start_epoch == 2
    assert [e.epoch for e in of(events, ev.EpochEnd)] == [3, 4]

    a = load_checkpoint(ref_dir, with_optimizer=True)
    b = load_checkpoint(tmp_path, with_optimizer=True)
    assert a.epoch == b.epoch == 4
    for x, y in zip(leaves((a.model, a.opt_state)), leaves((b.model, b.opt_state)), strict=True):
        assert np.array_equal(x, y)

    def strip(run_dir) -> list[dict]:
        keys = ("epoch", "train_loss", "val_loss")
        return [{k: m[k] for k in keys} for m in RunDir(run_dir).read_metrics()]

    assert strip(tmp_path) == strip(ref_dir)


def test_stop_mid_epoch_discards_it_and_resumes_exactly(tiny_mnist, tmp_path, straight4):
    control = ev.TrainControl()
    events = []
    for e in train(
        TINY.replace(**{"train.epochs": 4}), run_dir=tmp_path, data=tiny_mnist, control=control
    ):
        events.append(e)
        if isinstance(e, ev.EpochProgress) and e.epoch == 2:
            control.stop()  # after the first chunk of epoch 2
    stopped = events[-1]
    assert isinstance(stopped, ev.TrainingStopped) and stopped.reason == "stopped"
    assert stopped.epoch == 1 and "--resume" in stopped.message
    assert load_checkpoint(tmp_path).epoch == 1
    assert [m["epoch"] for m in RunDir(tmp_path).read_metrics()] == [1]

    run(TINY.replace(**{"train.epochs": 4}), tmp_path, tiny_mnist, resume=True)
    ref = load_checkpoint(straight4[0], with_optimizer=True)
    got = load_checkpoint(tmp_path, with_optimizer=True)
    for x, y in zip(
        leaves((ref.model, ref.opt_state)), leaves((got.model, got.opt_state)), strict=True
    ):
        assert np.array_equal(x, y)


def test_keyboard_interrupt_inside_the_loop(tiny_mnist, tmp_path):
    class Interrupting(ev.TrainControl):
        checks = 0

        @property
        def paused(self) -> bool:  # checked between chunks
            Interrupting.checks += 1
            if Interrupting.checks == 3:
                raise KeyboardInterrupt
            return False

    events = run(TINY.replace(**{"train.epochs": 3}), tmp_path, tiny_mnist, control=Interrupting())
    stopped = events[-1]
    assert isinstance(stopped, ev.TrainingStopped) and stopped.reason == "interrupted"
    assert stopped.epoch == 1 and load_checkpoint(tmp_path).epoch == 1
    assert _lock_is_free(tmp_path)


def test_pause_waits_for_resume(tiny_mnist, tmp_path):
    control = ev.TrainControl()
    control.pause()
    timer = threading.Timer(0.3, control.unpause)
    timer.start()
    events = run(TINY.replace(**{"train.epochs": 1}), tmp_path, tiny_mnist, control=control)
    timer.join()
    assert isinstance(events[-1], ev.TrainingFinished)


def test_resume_truncates_metrics_past_the_checkpoint(tiny_mnist, tmp_path):
    run(TINY, tmp_path, tiny_mnist)
    with open(tmp_path / "metrics.jsonl", "a") as f:  # a line written after the last save
        f.write(json.dumps({"epoch": 3, "train_loss": 1.0}) + "\n")
    run(TINY.replace(**{"train.epochs": 3}), tmp_path, tiny_mnist, resume=True)
    assert [m["epoch"] for m in RunDir(tmp_path).read_metrics()] == [1, 2, 3]


def test_resume_of_a_finished_run_trains_nothing(tiny_mnist, tmp_path):
    run(TINY, tmp_path, tiny_mnist)
    events = run(TINY, tmp_path, tiny_mnist, resume=True)
    assert not of(events, ev.EpochEnd)
    assert events[-1].summary["epochs"] == 2


# ------------------------------------------------------------------------------ refusals


def test_second_training_on_a_locked_run_dir_refuses(tiny_mnist, tmp_path):
    with RunDir(tmp_path).lock():
        with pytest.raises(TrainingError, match="in use by another training"):
            run(TINY, tmp_path, tiny_mnist)


def test_fresh_run_refuses_a_used_run_dir(tiny_mnist, tmp_path):
    run(TINY.replace(**{"train.epochs": 1}), tmp_path, tiny_mnist)
    with pytest.raises(TrainingError, match="--resume"):
        run(TINY, tmp_path, tiny_mnist)


def test_resume_with_other_data_refuses(tiny_mnist, tmp_path):
    from aecli.data import DatasetSplits

    run(TINY.replace(**{"train.epochs": 1}), tmp_path, tiny_mnist)
    splits = dict(tiny_mnist.splits)
    train_split = splits["train"]
    splits["train"] = type(train_split)(
        train_split.name,
        "train",
        train_split.images[:200],
        train_split.labels[:200],
        train_split.class_names,
        train_split.source,
    )
    other = DatasetSplits(tiny_mnist.name, tiny_mnist.class_names, tiny_mnist.source, splits)
    with pytest.raises(TrainingError, match="200"):
        run(TINY, tmp_path, other, resume=True)


def test_batch_larger_than_the_data_is_a_config_error(tiny_mnist, tmp_path):
    with pytest.raises(ConfigError, match="batch_size"):
        run(TINY.replace(**{"train.batch_size": 1000}), tmp_path, tiny_mnist)


def test_divergence_stops_and_keeps_a_finite_checkpoint(tiny_mnist, tmp_path):
    events = run(TINY.replace(**{"train.lr": 10.0, "train.epochs": 5}), tmp_path, tiny_mnist)
    stopped = events[-1]
    assert isinstance(stopped, ev.TrainingStopped) and stopped.reason == "diverged"
    assert "diverged" in stopped.message and "--lr" in stopped.message
    ckpt = load_checkpoint(tmp_path, with_optimizer=True)
    assert ckpt.epoch == stopped.epoch
    assert all(np.all(np.isfinite(x)) for x in leaves((ckpt.model, ckpt.opt_state)))
    assert EvalSet(tiny_mnist["test"].images).evaluate(ckpt.model, 0.1).loss < 1e6


def test_select_devices_errors():
    assert select_devices("cpu", 1)[0].platform == "cpu"
    with pytest.raises(TrainingError, match="--devices"):
        select_devices("cpu", 4096)
    if not any(d.platform == "gpu" for d in jax.devices()):
        with pytest.raises(TrainingError, match="--device cpu"):
            select_devices("gpu", 1)


def test_make_optimizer_is_adam_with_live_lr():
    opt = make_optimizer(Config().train)
    state = opt.init({"w": jnp.zeros(3)})
    assert float(state.hyperparams["learning_rate"]) == pytest.approx(1e-3)
    assert make_optimizer(Config().train) is opt  # shared: the compiled epoch is reused


def test_loss_curve_figure():
    metrics = [
        {"epoch": i, "train_loss": 50 - i, "val_loss": 49 - i + (i == 3) * 5} for i in range(1, 6)
    ]
    fig = loss_curve(metrics, title="mnist")
    ax = fig.axes[0]
    assert len(ax.lines) == 2 and ax.get_xlabel() == "epoch" and ax.get_title() == "mnist"


def test_preprocess_is_what_the_loss_sees(tiny_mnist):
    x = np.asarray(tiny_mnist["train"].images[:2])
    np.testing.assert_allclose(
        np.asarray(preprocess(x)), x.reshape(2, 784) / 255.0 - 0.5, rtol=1e-6
    )
