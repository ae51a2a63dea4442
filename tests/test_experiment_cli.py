"""``aecli experiment``: train's data options, the next free run name, the kept t-SNE step and
every published reference figure in report.md and on the loss curve.

The data are small synthetic splits injected through ``aecli.experiment.jobs.load_splits`` (as
in test_latent_cli.py); training is either the real loop on them (a 784-16-2 model, one or two
epochs) or, where only the report matters, a stand-in that writes what training writes.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jax
import pytest
from letters import FakeSplits
from typer.testing import CliRunner

from aecli.checkpoint import save_checkpoint
from aecli.cli.app import app
from aecli.config import Config
from aecli.experiment import earlier, jobs
from aecli.experiment import runner as experiment_runner
from aecli.model import TiedAutoencoder


def letters(name: str, per_class: int, source: str) -> FakeSplits:
    """The letters set with ``per_class`` training images per class (4 and 6 held out)."""
    return FakeSplits(name, per_class, source, validation=4, test=6)


runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def ok_json(*args) -> tuple[dict, str]:
    r = invoke(*args, "--json")
    assert r.exit_code == 0, (r.stdout, r.stderr)
    return json.loads(r.stdout), r.stderr


def write_config(path: Path, dataset: str = "letters", epochs: int = 1) -> Path:
    path.write_text(
        f'name = "tiny"\n[model]\nsizes = [784, 16, 2]\n[data]\ndataset = "{dataset}"\n'
        f"[train]\nepochs = {epochs}\nbatch_size = 20\nchunks_per_epoch = 1\n"
    )
    return path


def fake_train(losses: dict[int, float] | None = None):
    """A stand-in for training that writes a checkpoint and metrics.jsonl as train() does."""

    def train_run(config, run_dir, splits, progress, notice):
        state, _ = experiment_runner.run_state(run_dir, config, splits, notice)
        if state != "reuse":
            model = TiedAutoencoder.from_config(config.model, key=jax.random.key(0))
            header = {"config": config.to_dict(), "epoch": config.train.epochs}
            save_checkpoint(run_dir / "latest.ckpt", model=model, opt_state=None, header=header)
            with open(run_dir / "metrics.jsonl", "w") as f:
                for e in range(1, config.train.epochs + 1):
                    loss = (losses or {}).get(e, 60.0 - e / 10)
                    f.write(json.dumps({"epoch": e, "train_loss": loss, "val_loss": loss}) + "\n")
        return state

    return train_run


# ---- data options and the next free run name ----------------------------------------------------


def test_other_data_in_the_default_run_dir_takes_the_next_name(tmp_path, monkeypatch):
    # The README's path: the first experiment on the embedded sample, then the same config
    # with --data-dir on the full data. The second must not fail: it trains into runs/tiny-2
    # and says so; each data set finds its own run again afterwards.
    monkeypatch.chdir(tmp_path)
    found = {"small": letters("letters", 10, "embedded sample"),
             "full": letters("letters", 14, "the full files")}  # fmt: skip
    seen = []

    def load(dataset, data_dir, offline, notice, invert="auto"):
        seen.append((dataset, data_dir, offline))
        return found["full" if data_dir else "small"]

    monkeypatch.setattr(jobs, "load_splits", load)
    cfg = write_config(tmp_path / "tiny.toml")
    p, _ = ok_json("experiment", cfg, "--skip-tsne", "--offline")
    assert (p["run_dir"], p["trained"]) == (str(Path("runs/tiny")), "new")
    assert seen[-1] == ("letters", None, True)
    p, err = ok_json("experiment", cfg, "--skip-tsne", "--data-dir", tmp_path / "data")
    assert (p["run_dir"], p["trained"]) == (str(Path("runs/tiny-2")), "new")
    assert seen[-1] == ("letters", str(tmp_path / "data"), False)
    assert "runs/tiny holds a run trained on 30 images (embedded sample)" in err
    assert "uses runs/tiny-2" in err
    assert (tmp_path / "runs/tiny-2/report.md").is_file()
    # Each data set finds its own finished run again.
    p, _ = ok_json("experiment", cfg, "--skip-tsne", "--data-dir", tmp_path / "data")
    assert (p["run_dir"], p["trained"]) == (str(Path("runs/tiny-2")), "reuse")
    p, _ = ok_json("experiment", cfg, "--skip-tsne")
    assert (p["run_dir"], p["trained"]) == (str(Path("runs/tiny")), "reuse")


def test_an_explicit_run_dir_with_other_data_is_one_error_line(tmp_path, monkeypatch):
    monkeypatch.setattr(experiment_runner, "train_run", fake_train())
    sizes = iter([10, 14])
    monkeypatch.setattr(
        jobs, "load_splits", lambda *a, **k: letters("letters", next(sizes), "synthetic")
    )
    cfg = write_config(tmp_path / "tiny.toml")
    run_dir = tmp_path / "mine"
    ok_json("experiment", cfg, "--skip-tsne", "--run-dir", run_dir)
    # fake_train records no dataset, so write the record training keeps in the header
    from aecli.checkpoint import read_header

    header, _ = read_header(run_dir / "latest.ckpt")
    model_config = Config().replace(**{"model.sizes": (784, 16, 2)}).model
    model = TiedAutoencoder.from_config(model_config, key=jax.random.key(0))
    header["dataset"] = {"n_train": 30, "source": "synthetic"}
    save_checkpoint(run_dir / "latest.ckpt", model=model, opt_state=None, header=header)
    r = invoke("experiment", cfg, "--skip-tsne", "--run-dir", run_dir)
    assert r.exit_code == 1 and r.stdout == ""
    err = r.stderr.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in r.stderr
    assert "was trained on 30 images" in err and "--run-dir NEW_DIR" in err


def test_another_config_in_the_default_run_dir_takes_the_next_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(experiment_runner, "train_run", fake_train())
    monkeypatch.setattr(jobs, "load_splits", lambda *a, **k: letters("letters", 10, "x"))
    cfg = write_config(tmp_path / "tiny.toml")
    assert ok_json("experiment", cfg, "--skip-tsne")[0]["run_dir"] == str(Path("runs/tiny"))
    other = tmp_path / "other.toml"
    other.write_text(cfg.read_text().replace("batch_size = 20", "batch_size = 10"))
    p, err = ok_json("experiment", other, "--skip-tsne")
    assert p["run_dir"] == str(Path("runs/tiny-2"))
    assert "another configuration (differs in train.batch_size)" in err
    # --name chooses the name; --dataset is passed to the data loader as train does
    p, _ = ok_json("experiment", cfg, "--skip-tsne", "--name", "mine", "--dataset", "letters")
    assert p["run_dir"] == str(Path("runs/mine"))


def test_bad_data_options_are_usage_errors(tmp_path):
    cfg = write_config(tmp_path / "tiny.toml")
    for args in (["--invert", "maybe"], ["--epochs", "0"], ["--name", ""]):
        r = invoke("experiment", cfg, *args)
        assert r.exit_code == 2, (args, r.stderr)
        assert r.stderr.strip().startswith("error: ") and "\n" not in r.stderr.strip()


# ---- --skip-tsne keeps the earlier t-SNE step ----------------------------------------------------


def _stand_ins(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(experiment_runner, "train_run", fake_train())
    mp.setattr(jobs, "load_splits", lambda *a, **k: letters("letters", 20, "x"))


@pytest.fixture(scope="module")
def first_experiment(tmp_path_factory):
    """One full experiment (t-SNE included) on the stand-ins, made once for the module."""
    base = tmp_path_factory.mktemp("first")
    with pytest.MonkeyPatch.context() as mp:
        _stand_ins(mp)
        cfg = write_config(base / "tiny.toml", epochs=2)
        first, _ = ok_json("experiment", cfg, "--run-dir", base / "exp")
    return cfg, base / "exp", first


@pytest.fixture
def exp(first_experiment, tmp_path, monkeypatch):
    """A config and a copy of its run directory after one full experiment, with the stand-ins."""
    _stand_ins(monkeypatch)
    cfg, done, first = first_experiment
    shutil.copytree(done, tmp_path / "exp")
    return cfg, tmp_path / "exp", first


def test_skip_tsne_keeps_the_earlier_rows_and_figure(exp):
    cfg, run_dir, first = exp
    assert (run_dir / earlier.TSNE_RECORD).is_file()
    p, _ = ok_json("experiment", cfg, "--run-dir", run_dir, "--skip-tsne")
    assert p["measures"]["tsne"] == first["measures"]["tsne"]
    assert p["measures"]["pca"] == first["measures"]["pca"]
    assert p["earlier_tsne"]["stale"] is False and p["earlier_tsne"]["epoch"] == 2
    assert "tsne" not in p["figures"]  # not written by this call
    report = (run_dir / "report.md").read_text()
    assert "| t-SNE of PCA-50 |" in report and "| PCA, 2 components |" in report
    assert "](compare.png)" in report and "kept from an earlier experiment" in report
    assert "t-SNE skipped" not in report and "older than the checkpoint" not in report


def test_skip_tsne_says_when_the_kept_step_is_older_than_the_checkpoint(exp):
    cfg, run_dir, _ = exp
    r = invoke("experiment", cfg, "--run-dir", run_dir, "--skip-tsne", "--epochs", "3")
    assert r.exit_code == 0, r.stderr
    assert "kept the earlier t-SNE step" in r.stdout and "made at epoch 2" in r.stdout
    report = (run_dir / "report.md").read_text()
    assert "older than the checkpoint" in report
    assert "made at epoch 2, the checkpoint is now at epoch 3" in report
    assert "| t-SNE of PCA-50 |" in report


def _edit_record(path: Path, change) -> None:
    record = json.loads(path.read_text())
    change(record)
    path.write_text(json.dumps(record))


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: p.write_text("{not json"),
        lambda p: p.write_bytes(b" " * (earlier.MAX_RECORD_BYTES + 10)),
        lambda p: p.write_text(p.read_text().replace('"compare.png"', '"../../etc/passwd"')),
        lambda p: _edit_record(p, lambda r: r["measures"]["tsne"].update(knn_accuracy=7.0)),
        lambda p: (p.parent / "compare.png").unlink(),
    ],
    ids=["not-json", "huge", "outside", "bad-measure", "figure-gone"],
)
def test_a_damaged_record_is_ignored_with_a_notice(exp, damage):
    cfg, run_dir, _ = exp
    damage(run_dir / earlier.TSNE_RECORD)
    p, err = ok_json("experiment", cfg, "--run-dir", run_dir, "--skip-tsne")
    assert p["earlier_tsne"] is None and set(p["measures"]) == {"autoencoder"}
    assert "not keeping the earlier t-SNE step" in err
    assert "t-SNE skipped" in (run_dir / "report.md").read_text()


def test_a_record_of_other_data_is_not_kept(exp, monkeypatch):
    cfg, run_dir, _ = exp
    record = json.loads((run_dir / earlier.TSNE_RECORD).read_text())
    record["split_size"] = 999
    (run_dir / earlier.TSNE_RECORD).write_text(json.dumps(record))
    p, err = ok_json("experiment", cfg, "--run-dir", run_dir, "--skip-tsne")
    assert p["earlier_tsne"] is None and "made on other data" in err


# ---- every figure the original published -------------------------------------------------------


def test_report_shows_every_notmnist_reference_and_the_curve_marks_them(tmp_path, monkeypatch):
    monkeypatch.setattr(experiment_runner, "train_run", fake_train({1: 120.5, 100: 66.1}))
    monkeypatch.setattr(jobs, "load_splits", lambda *a, **k: letters("notmnist", 20, "x"))
    captured = {}
    from aecli.render import figures

    real = figures.loss_curve

    def spy(*a, **k):
        captured["fig"] = real(*a, **k)
        return captured["fig"]

    monkeypatch.setattr(figures, "loss_curve", spy)
    cfg = write_config(tmp_path / "n.toml", dataset="notmnist", epochs=100)
    run_dir = tmp_path / "exp"
    ok_json("experiment", cfg, "--run-dir", run_dir, "--skip-tsne")
    report = (run_dir / "report.md").read_text()
    assert "| training loss, epoch 1 | 120.50 | 95.69 |" in report
    assert "| training loss, epoch 100 (last) | 66.10 | 65.77 |" in report
    assert "200,000 notMNIST_large training images; this run on 60" in report
    assert (run_dir / "loss_curve.png").is_file()  # the stand-in writes none: the experiment did
    ax = captured["fig"].axes[0]
    notes = [t.get_text() for t in ax.texts]
    assert any("95.69" in t and "epoch 1" in t for t in notes)
    assert any("65.77" in t and "epoch 100" in t for t in notes)
    legend = " ".join(t.get_text() for t in ax.get_legend().get_texts())
    assert "original" in legend and "200,000 notMNIST_large" in legend and "this run: 60" in legend


def test_report_shows_references_beyond_a_short_run(tmp_path, monkeypatch):
    monkeypatch.setattr(experiment_runner, "train_run", fake_train())
    monkeypatch.setattr(jobs, "load_splits", lambda *a, **k: letters("mnist", 20, "x"))
    cfg = write_config(tmp_path / "m.toml", dataset="mnist", epochs=2)
    ok_json("experiment", cfg, "--run-dir", tmp_path / "exp", "--skip-tsne")
    report = (tmp_path / "exp" / "report.md").read_text()
    assert "| training loss, epoch 1 | 59.90 | 52.76 |" in report
    assert "| training loss, epoch 2 (last) | 59.80 | – |" in report
    assert "| training loss, epoch 67 | – (this run: 2 epochs) | 31.38 |" in report
