"""``aecli train`` end to end: options, --json, resume, errors, run directories, signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aecli.checkpoint import load_checkpoint
from aecli.cli.app import app

runner = CliRunner()
SUMMARY_KEYS = {
    "run_dir",
    "checkpoint",
    "epochs",
    "train_loss",
    "val_loss",
    "test_loss",
    "test_recon_error",
    "median_epoch_seconds",
    "images_per_second",
    "device",
    "dataset_source",
}


@pytest.fixture
def data_args(tiny_mnist_dir) -> list[str]:
    return ["--dataset", str(tiny_mnist_dir / "mnist")]


def invoke(*args: str):
    return runner.invoke(app, ["train", *args])


def fails(r, code: int, *words: str) -> str:
    assert r.exit_code == code, (r.stdout, r.stderr)
    assert r.stdout == ""
    err = r.stderr.strip()
    assert "Traceback" not in err
    for w in words:
        assert w in err, err
    return err


def test_json_summary_is_the_only_stdout(tmp_path, data_args):
    run_dir = tmp_path / "run"
    r = invoke(*data_args, "--epochs", "2", "--run-dir", str(run_dir), "--json")
    assert r.exit_code == 0, r.stderr
    s = json.loads(r.stdout)  # exactly one JSON object
    assert SUMMARY_KEYS <= set(s)
    assert s["epochs"] == 2 and s["run_dir"] == str(run_dir)
    assert s["device"].startswith("cpu")
    assert "epoch 2/2" in r.stderr  # progress went to stderr
    for name in ("config.json", "metrics.jsonl", "loss_curve.png", "latest.ckpt", "best.ckpt"):
        assert (run_dir / name).is_file(), name

    r = invoke("--resume", str(run_dir), "--epochs", "3", "--json")
    assert r.exit_code == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["epochs"] == 3 and load_checkpoint(run_dir).epoch == 3


def test_options_override_the_file(tmp_path, data_args):
    cfg = tmp_path / "c.toml"
    cfg.write_text('name = "fromfile"\n[train]\nepochs = 5\nbatch_size = 64\n')
    run_dir = tmp_path / "run"
    args = [str(cfg), *data_args, "--epochs", "1", "--lr", "0.002", "--l2-weight", "0.5"]
    r = invoke(*args, "--seed", "3", "--run-dir", str(run_dir), "--quiet")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == "" and r.stderr == ""  # --quiet
    c = load_checkpoint(run_dir).config
    assert (c.name, c.train.epochs, c.train.batch_size) == ("fromfile", 1, 64)
    assert (c.train.lr, c.train.l2_weight, c.train.seed) == (0.002, 0.5, 3)


def test_human_summary_names_both_units(tmp_path, data_args):
    r = invoke(*data_args, "--epochs", "1", "--run-dir", str(tmp_path / "r"))
    assert r.exit_code == 0, r.stderr
    assert "loss per image" in r.stdout and "[0,1] pixel units" in r.stdout
    assert "run directory" in r.stdout


def test_default_run_dir_is_runs_name_and_never_reused(tmp_path, data_args, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for expected in ("runs/demo", "runs/demo-2"):
        r = invoke(*data_args, "--epochs", "1", "--name", "demo", "--json")
        assert r.exit_code == 0, r.stderr
        assert json.loads(r.stdout)["run_dir"] == expected


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["--batch-size", "100000"], 1, ("batch_size", "--batch-size")),
        (["--device", "tpu"], 2, ("--device",)),
        (["--lr", "nan"], 2, ("--lr",)),
        (["--lr", "-1"], 2, ("--lr",)),
        (["--epochs", "0"], 2, ("--epochs",)),
        (["--devices", "4096"], 1, ("--devices",)),
        (["--l2-weight", "-0.1"], 2, ("--l2-weight",)),
    ],
)
def test_bad_values(tmp_path, data_args, args, code, words):
    fails(invoke(*data_args, *args, "--run-dir", str(tmp_path / "r")), code, *words)


def test_config_file_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[train\nepochs = 3\n")
    fails(invoke(str(bad), "--run-dir", str(tmp_path / "r")), 1, "TOML", str(bad))
    bad.write_text("[train]\nepoch = 3\n")
    fails(invoke(str(bad), "--run-dir", str(tmp_path / "r")), 1, "train.epoch")
    fails(invoke(str(tmp_path / "missing.toml")), 1, "not found")


def test_resume_errors(tmp_path, data_args):
    fails(invoke("--resume", str(tmp_path / "nope")), 1, "not found")
    run_dir = tmp_path / "run"
    assert invoke(*data_args, "--epochs", "1", "--run-dir", str(run_dir), "-q").exit_code == 0
    fails(invoke("--resume", str(run_dir), "--lr", "0.1"), 2, "--lr", "resuming")
    # a fresh run into a used directory points at --resume
    fails(invoke(*data_args, "--run-dir", str(run_dir)), 1, "--resume")


def test_tui_flag_hands_the_run_to_the_tui(tmp_path, data_args, monkeypatch):
    import aecli.tui.app as tui_app
    from aecli.events import TrainingFinished, TrainingStopped

    calls = []

    def fake(config, run_dir, data, resume):
        calls.append((config, run_dir, data, resume))
        return outcome

    monkeypatch.setattr(tui_app, "run_training_tui", fake)
    outcome = TrainingFinished(summary={"run_dir": str(tmp_path / "r")}, model=None)
    r = invoke(*data_args, "--tui", "--epochs", "3", "--run-dir", str(tmp_path / "r"))
    assert r.exit_code == 0, r.stderr
    config, run_dir, data, resume = calls[0]
    assert config.train.epochs == 3 and run_dir == tmp_path / "r" and not resume

    outcome = TrainingStopped(epoch=0, reason="diverged", message="diverged", checkpoint=None)
    assert invoke(*data_args, "--tui", "--run-dir", str(tmp_path / "r")).exit_code == 1
    fails(invoke("--tui", "--json"), 2, "--tui")


def _train_process(tmp_path: Path, tiny_mnist_dir: Path) -> tuple[subprocess.Popen, Path]:
    run_dir = tmp_path / "run"
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    cmd = [sys.executable, "-m", "aecli", "train", "--dataset", str(tiny_mnist_dir / "mnist")]
    cmd += ["--epochs", "100000", "--run-dir", str(run_dir)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait for two finished epochs
        metrics = run_dir / "metrics.jsonl"
        if metrics.is_file() and len(metrics.read_text().splitlines()) >= 2:
            return proc, run_dir
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("training did not start")


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_saves_and_prints_the_resume_command(tmp_path, tiny_mnist_dir, sig, code):
    proc, run_dir = _train_process(tmp_path, tiny_mnist_dir)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert f"aecli train --resume {run_dir}" in err
    assert "Traceback" not in err
    ckpt = load_checkpoint(run_dir, with_optimizer=True)
    assert ckpt.epoch >= 2
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    assert len(lines) >= ckpt.epoch


def test_no_arguments_trains_mnist_on_whatever_is_found(tmp_path, monkeypatch):
    """`aecli train` alone: offline (as in the tests) it uses the embedded MNIST sample."""
    monkeypatch.chdir(tmp_path)
    r = invoke("--epochs", "1", "--json")
    assert r.exit_code == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["run_dir"] == "runs/mnist" and s["dataset"] == "mnist"
    assert s["dataset_source"] and s["test_loss"] > 0
    assert (tmp_path / "runs" / "mnist" / "latest.ckpt").is_file()


def test_the_renderer_handles_every_event_type(tmp_path, capsys):
    from aecli import events
    from aecli.cli.train_output import Renderer

    r = Renderer(quiet=True, json_out=True, run_dir=tmp_path, stopped_exit=lambda reason: 7)
    assert set(r.handlers()) == set(events.EVENT_TYPES)  # a new event type needs a handler
    assert r.dispatch(events.CheckpointSaved(path=tmp_path / "x", epoch=1)) is None
    assert r.dispatch(events.TrainingFinished(summary={"epochs": 1}, model=None)) == 0
    assert json.loads(capsys.readouterr().out) == {"epochs": 1}
    stop = events.TrainingStopped(epoch=1, reason="stopped", message="stopped", checkpoint=None)
    assert r.dispatch(stop) == 7


def test_tui_missing_from_the_build(tmp_path, data_args, monkeypatch):
    monkeypatch.setitem(sys.modules, "aecli.tui.app", None)  # as if aecli.tui were not there
    err = fails(invoke(*data_args, "--tui", "--run-dir", str(tmp_path / "r")), 1)
    assert "not available in this build" in err and len(err.splitlines()) == 1


def test_tui_with_a_missing_dependency_names_it(tmp_path, data_args, monkeypatch):
    import importlib.abc

    class NoTextual(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name == "aecli.tui.app":
                raise ModuleNotFoundError("No module named 'textual'", name="textual")
            return None

    monkeypatch.delitem(sys.modules, "aecli.tui.app", raising=False)
    monkeypatch.setattr(sys, "meta_path", [NoTextual(), *sys.meta_path])
    err = fails(invoke(*data_args, "--tui", "--run-dir", str(tmp_path / "r")), 1, "'textual'")
    assert "not available in this build" not in err and len(err.splitlines()) == 1
