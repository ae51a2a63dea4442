"""Faults: signals, kill -9 at random moments, a full disk. Nothing is lost, resume is exact.

The kill loop (20 seeded kills) is marked slow and runs in ``nox -s faults``; the default
suite runs a few kills, the signal tests and the disk-full tests.
"""

from __future__ import annotations

import errno
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aecli.checkpoint import BEST, LATEST, load_checkpoint, read_header
from aecli.cli.app import app

runner = CliRunner()

# Tiny epochs take ~15 ms plus two checkpoint writes, so 60 epochs last a few seconds: long
# enough to be interrupted at a random moment, short enough to run many times.
EPOCHS = 60


def _train_argv(data: Path, run: Path, epochs: int, *extra: str) -> list[str]:
    return [
        "train",
        "--dataset",
        str(data / "mnist"),
        "--epochs",
        str(epochs),
        "--batch-size",
        "32",
        "--run-dir",
        str(run),
        "--offline",
        "--quiet",
        *extra,
    ]


def _spawn(argv: list[str]) -> subprocess.Popen:
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "AECLI_OFFLINE": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "aecli", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _weights_digest(run: Path) -> str:
    header, _ = read_header(run / LATEST)
    return header["payload_sha256"]


def _wait_for_epochs(run: Path, n: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    metrics = run / "metrics.jsonl"
    while time.monotonic() < deadline:
        if metrics.exists() and len(metrics.read_text().splitlines()) >= n:
            return
        if proc.poll() is not None:
            raise AssertionError(f"training ended early: {proc.communicate()}")
        time.sleep(0.02)
    raise AssertionError("training made no progress")


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory, tiny_mnist_dir: Path) -> Path:
    """An uninterrupted run: what every interrupted-and-resumed run must equal."""
    run = tmp_path_factory.mktemp("ref") / "run"
    result = runner.invoke(app, _train_argv(tiny_mnist_dir, run, EPOCHS))
    assert result.exit_code == 0, result.output
    return run


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_saves_and_resume_is_bit_for_bit(
    sig, code, tmp_path: Path, tiny_mnist_dir: Path, reference_run: Path
):
    run = tmp_path / "run"
    proc = _spawn(_train_argv(tiny_mnist_dir, run, EPOCHS))
    _wait_for_epochs(run, 2, proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    if proc.returncode == 0:  # the run finished before the signal landed: nothing to test
        pytest.skip("training finished before the signal arrived")
    assert proc.returncode == code, err
    assert f"aecli train --resume {run}" in err
    assert "Traceback" not in err
    saved = load_checkpoint(run).epoch
    assert 1 <= saved < EPOCHS
    assert (run / "loss_curve.png").is_file()  # a stopped run keeps its curve so far
    result = runner.invoke(app, ["train", "--resume", str(run), "--quiet", "--offline"])
    assert result.exit_code == 0, result.output
    assert load_checkpoint(run).epoch == EPOCHS
    assert _weights_digest(run) == _weights_digest(reference_run)
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in lines] == list(range(1, EPOCHS + 1))


def _kill_trials(n: int, seed: int, tiny_mnist_dir: Path, tmp_path: Path, reference: Path):
    """Start training, SIGKILL it at a seeded random moment, then load and resume it.

    Every fifth kill lands during start-up (imports, data, compile: a few seconds); the others
    land while the 60 tiny epochs run (~3 s, mostly the two checkpoint writes per epoch), so
    some hit a checkpoint write mid-way, which shows as a temporary file left behind.

    Returns:
        One outcome per trial: where the kill landed.
    """
    rng = random.Random(seed)
    outcomes = []
    for trial in range(n):
        run = tmp_path / f"k{trial}"
        proc = _spawn(_train_argv(tiny_mnist_dir, run, EPOCHS))
        if trial % 5 == 0:
            time.sleep(rng.uniform(0.2, 3.0))
        else:
            deadline = time.monotonic() + 120
            while not (run / LATEST).exists() and proc.poll() is None:
                assert time.monotonic() < deadline, "training never started"
                time.sleep(0.005)
            time.sleep(rng.uniform(0.0, 3.0))
        proc.kill()
        proc.communicate()
        mid_write = bool(list(run.glob(".*.tmp"))) if run.exists() else False
        if not (run / LATEST).exists():
            outcomes.append("start-up")
            # A run killed before its first checkpoint can simply be started again.
            result = runner.invoke(app, _train_argv(tiny_mnist_dir, run, EPOCHS))
            assert result.exit_code == 0, result.output
        else:
            ckpt = load_checkpoint(run, with_optimizer=True)  # never half-written
            if (run / BEST).exists():  # absent if killed between the first two writes
                load_checkpoint(run, which=BEST)
            where = "finished" if ckpt.epoch == EPOCHS else f"epoch {ckpt.epoch}"
            outcomes.append(where + (", mid-write" if mid_write else ""))
            result = runner.invoke(app, ["train", "--resume", str(run), "--quiet", "--offline"])
            assert result.exit_code == 0, (trial, result.output)
        assert not list(run.glob(".*.tmp")), "a temporary checkpoint file was left behind"
        assert _weights_digest(run) == _weights_digest(reference), trial
    return outcomes


def test_kill_minus_9_a_few_times(tiny_mnist_dir: Path, tmp_path: Path, reference_run: Path):
    _kill_trials(3, 1234, tiny_mnist_dir, tmp_path, reference_run)


@pytest.mark.slow
def test_kill_minus_9_twenty_seeded_times(
    tiny_mnist_dir: Path, tmp_path: Path, reference_run: Path
):
    outcomes = _kill_trials(20, 2026, tiny_mnist_dir, tmp_path, reference_run)
    print("kill outcomes:", outcomes)
    assert len(outcomes) == 20


def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_disk_full_while_saving_checkpoint_keeps_the_old_one(
    tmp_path: Path, tiny_mnist_dir: Path, monkeypatch
):
    run = tmp_path / "run"
    assert runner.invoke(app, _train_argv(tiny_mnist_dir, run, 1)).exit_code == 0
    before = (run / LATEST).read_bytes()
    monkeypatch.setattr("aecli.atomic.os.fsync", _enospc)
    result = runner.invoke(app, ["train", "--resume", str(run), "--epochs", "2", "--offline"])
    assert result.exit_code == 1
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "No space left on device" in errors[0], result.stderr
    assert "disk space" in errors[0]
    assert (run / LATEST).read_bytes() == before
    assert not list(run.glob(".*.tmp"))
    monkeypatch.undo()
    assert load_checkpoint(run).epoch == 1


def test_disk_full_while_saving_a_figure(tmp_path: Path, tiny_mnist_dir: Path, monkeypatch):
    run = tmp_path / "run"
    assert runner.invoke(app, _train_argv(tiny_mnist_dir, run, 1)).exit_code == 0
    out = tmp_path / "grid.png"
    ok = runner.invoke(app, ["generate", "--run", str(run), "--out", str(out)])
    assert ok.exit_code == 0, ok.output
    before = out.read_bytes()
    monkeypatch.setattr("aecli.atomic.os.fsync", _enospc)
    result = runner.invoke(app, ["generate", "--run", str(run), "--out", str(out), "--size", "4"])
    assert result.exit_code == 1
    assert "No space left on device" in result.stderr
    assert out.read_bytes() == before
    assert not list(tmp_path.glob(".*.tmp"))
