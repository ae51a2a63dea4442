"""The run directory: its one metrics rule, the appender, the summary and the lock."""

from __future__ import annotations

import json

import pytest

from aecli.errors import TrainingError
from aecli.rundir import RunDir


def test_file_names(tmp_path):
    run = RunDir(tmp_path)
    names = [run.latest, run.best, run.config_json, run.metrics, run.summary, run.lock_path]
    assert [p.name for p in names] == [
        "latest.ckpt",
        "best.ckpt",
        "config.json",
        "metrics.jsonl",
        "summary.json",
        ".lock",
    ]
    assert run.loss_curve.name == "loss_curve.png" and run.path == tmp_path


def test_read_metrics_one_rule(tmp_path):
    run = RunDir(tmp_path)
    assert run.read_metrics() == []
    for epoch in (1, 2, 3):
        run.append_metrics({"epoch": epoch, "train_loss": float(epoch)})
    with open(run.metrics, "a", encoding="utf-8") as f:
        f.write('{"epoch": 2, "train_lo\n')  # torn: ignored, later lines still count
        f.write("[1, 2]\n")  # not an object
        f.write('{"train_loss": 9.0}\n')  # no epoch
        f.write(json.dumps({"epoch": 2, "train_loss": 20.0}) + "\n")  # last one wins
    assert [(m["epoch"], m["train_loss"]) for m in run.read_metrics()] == [
        (1, 1.0),
        (2, 20.0),
        (3, 3.0),
    ]
    assert [m["epoch"] for m in run.read_metrics(upto_epoch=2)] == [1, 2]
    assert run.read_metrics(upto_epoch=0) == []


def test_write_metrics_replaces(tmp_path):
    run = RunDir(tmp_path)
    run.append_metrics({"epoch": 5, "train_loss": 1.0})
    run.write_metrics([{"epoch": 1, "train_loss": 2.0}])
    assert run.read_metrics() == [{"epoch": 1, "train_loss": 2.0}]


def test_summary_round_trip(tmp_path):
    run = RunDir(tmp_path)
    assert run.read_summary() is None
    run.write_summary({"epochs": 3})
    assert run.read_summary() == {"epochs": 3}
    run.summary.write_text("{not json")
    assert run.read_summary() is None


def test_lock_is_exclusive(tmp_path):
    run = RunDir(tmp_path / "run")
    assert not run.is_locked()
    with run.lock():
        assert run.is_locked()
        with pytest.raises(TrainingError, match="in use by another training"):
            with RunDir(run.path).lock():
                pass
    assert not run.is_locked()
