"""reconstruct / embed / tsne / generate / experiment on a tiny run: files, JSON, errors.

The dataset is a small synthetic one injected through ``aecli.experiment.jobs.load_splits``, so
these tests need neither the data files nor a trained model (a seeded untrained one is enough
to check shapes, files, orderings and error handling).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jax
import numpy as np
import pytest
from letters import NAMES, FakeSplits
from typer.testing import CliRunner

from aecli.checkpoint import save_checkpoint
from aecli.cli.app import app
from aecli.config import Config
from aecli.experiment import jobs
from aecli.experiment import runner as experiment_runner
from aecli.model import TiedAutoencoder


def fake_splits(*_args, **_kwargs) -> FakeSplits:
    return FakeSplits()


@pytest.fixture(autouse=True)
def _fake_data(monkeypatch):
    monkeypatch.setattr(jobs, "load_splits", fake_splits)


def tiny_config(sizes=(784, 16, 2)) -> Config:
    return Config().replace(
        **{"name": "tiny", "model.sizes": sizes, "data.dataset": "letters", "train.epochs": 2}
    )


def write_run(run_dir: Path, sizes=(784, 16, 2), epoch: int = 2) -> Path:
    cfg = tiny_config(sizes)
    model = TiedAutoencoder.from_config(cfg.model, key=jax.random.key(0))
    save_checkpoint(
        run_dir / "latest.ckpt",
        model=model,
        opt_state=None,
        header={"config": cfg.to_dict(), "epoch": epoch},
    )
    return run_dir


@pytest.fixture
def run(tmp_path) -> Path:
    return write_run(tmp_path / "run")


runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def ok_json(*args: str) -> dict:
    r = invoke(*args, "--json")
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)  # exactly one JSON object: json.loads rejects anything else


def fails_one_line(*args: str, code: int = 1) -> str:
    r = invoke(*args)
    assert r.exit_code == code, (r.stdout, r.stderr)
    assert r.stdout == ""
    err = r.stderr.strip()
    assert "\n" not in err and err.startswith("error: "), err
    assert "Traceback" not in r.stderr
    return err


# ---- reconstruct --------------------------------------------------------------------------------


def test_reconstruct_json_and_png(run):
    p = ok_json("reconstruct", "--run", run, "--n", "5", "--seed", "3")
    assert Path(p["png"]) == run / "reconstruct.png" and Path(p["png"]).is_file()
    assert p["split"] == "test" and p["images_in_split"] == 24
    assert len(p["indices"]) == len(p["errors"]) == len(p["labels"]) == 5
    assert len(set(p["indices"])) == 5 and set(p["labels"]) <= set(NAMES)
    assert p["mean_loss"] >= p["mean_squared_error"] > 0
    assert p["epoch"] == 2
    # seeded: same images again
    assert (
        ok_json("reconstruct", "--run", run, "--n", "5", "--seed", "3")["indices"] == p["indices"]
    )


def test_reconstruct_text_ascii_and_out(run, tmp_path):
    out = tmp_path / "figs" / "r.png"
    r = invoke("reconstruct", "--run", run, "--n", "2", "--ascii", "--out", out)
    assert r.exit_code == 0, r.stderr
    assert out.is_file()
    assert f"wrote {out}" in r.stdout
    assert "mean squared error per image over all 24 test images" in r.stdout
    assert "original | reconstruction" in r.stdout and "err " in r.stdout


def test_reconstruct_split_and_tagged_default_name(run):
    p = ok_json("reconstruct", "--run", run, "--split", "validation", "--n", "3")
    assert Path(p["png"]).name == "reconstruct-validation.png"


def test_reconstruct_n_larger_than_split(run):
    err = fails_one_line("reconstruct", "--run", run, "--n", "25")
    assert "n=25 is larger than the split (24 images)" in err


# ---- embed --------------------------------------------------------------------------------------


def test_embed_codes_npz_and_measures(run):
    p = ok_json("embed", "--run", run, "--grid", "--trust-n", "40")
    assert Path(p["png"]).name == "embed.png" and Path(p["png"]).is_file()
    data = np.load(p["codes"])  # no pickle needed
    assert data["codes"].shape == (60, 2) and data["codes"].dtype == np.float32
    np.testing.assert_array_equal(data["labels"], fake_splits()["train"].labels)
    np.testing.assert_array_equal(data["indices"], np.arange(60))
    assert data["class_names"].tolist() == list(NAMES)
    assert str(data["split"]) == "train" and int(data["epoch"]) == 2
    m = p["measures"]
    assert 0 <= m["knn_accuracy"] <= 1 and 0 <= m["trustworthiness"] <= 1
    assert m["trust_n"] == 40 and m["k"] == 5
    assert p["grid_box"] == [-1.0, 0.8]
    np.testing.assert_allclose(p["code_min"], data["codes"].min(axis=0), rtol=1e-5)


def test_embed_with_checkpoint_file_and_test_split(run):
    r = invoke("embed", "--checkpoint", run / "latest.ckpt", "--split", "test", "--trust-n", "20")
    assert r.exit_code == 0, r.stderr
    assert (run / "embed-test.png").is_file() and (run / "codes-test.npz").is_file()
    assert "5-NN accuracy (5-fold CV):" in r.stdout and "trustworthiness" in r.stdout


# ---- tsne ---------------------------------------------------------------------------------------


def test_tsne_subsample_compare_json(run):
    p = ok_json(
        "tsne", "--run", run, "--n", "30", "--engine", "sklearn", "--compare", "--trust-n", "30"
    )
    assert p["engine"] == "sklearn" and p["n"] == 30
    data = np.load(p["npz"])
    assert data["embedding"].shape == (30, 2)
    # stratified: 10 of each class
    assert np.bincount(data["labels"]).tolist() == [10, 10, 10]
    assert np.all(np.diff(data["indices"]) > 0)
    assert Path(p["png"]).is_file() and Path(p["compare_png"]).is_file()
    assert set(p["measures"]) == {"tsne", "pca", "autoencoder"}
    assert p["measures"]["pca"]["knn_accuracy"] == 1.0  # the toy classes are linearly apart


def test_tsne_auto_engine_below_the_crossover_is_sklearn_and_help_names_it(run):
    from aecli.latent.embed import AUTO_OPENTSNE_FROM

    p = ok_json("tsne", "--run", run, "--n", "30", "--trust-n", "30")  # --engine auto
    assert p["engine"] == "sklearn" and p["n"] == 30
    r = invoke("tsne", "--help")
    assert r.exit_code == 0
    assert f"from {AUTO_OPENTSNE_FROM:,} images" in " ".join(r.stdout.split())


def test_tsne_bad_options(run):
    fails_one_line("tsne", "--run", run, "--n", "61", "--engine", "sklearn")
    r = invoke("tsne", "--run", run, "--engine", "umap")
    assert r.exit_code == 2 and "--engine" in r.stderr


# ---- generate -----------------------------------------------------------------------------------


def test_generate_default_grid_from_config(run):
    p = ok_json("generate", "--run", run)
    assert (p["rows"], p["cols"]) == (10, 10)
    np.testing.assert_allclose(p["xs"], np.round(np.arange(-1.0, 0.81, 0.2), 10))
    assert p["ys"] == p["xs"][::-1]  # code 2 descends down the rows
    assert Path(p["png"]) == run / "generate.png" and Path(p["png"]).is_file()


def test_generate_range_step_and_size(run, tmp_path):
    p = ok_json("generate", "--run", run, "--range", "-2", "2", "--step", "1")
    assert p["xs"] == [-2.0, -1.0, 0.0, 1.0, 2.0] and p["rows"] == 5
    p = ok_json("generate", "--run", run, "--size", "4", "--out", tmp_path / "g.png")
    assert (p["rows"], p["cols"]) == (4, 4) and p["png"] == str(tmp_path / "g.png")


def test_generate_ascii(run):
    r = invoke("generate", "--run", run, "--size", "3", "--ascii")
    assert r.exit_code == 0, r.stderr
    assert "code 1 →" in r.stdout and "-1" in r.stdout and "0.5" in r.stdout


def _axis_labels(stdout: str) -> tuple[list[str], list[str]]:
    """The --ascii sheet's code 2 labels (left of its lines) and code 1 labels (under it).

    The picture's characters hold no digits, so a number at a line's start is a label.
    """
    lines = stdout.splitlines()
    below = next(i for i, line in enumerate(lines) if line.strip().startswith("code 1"))
    left = [m.group(1) for line in lines[: below - 1] if (m := re.match(r"\s*(-?[\d.]+) ", line))]
    return left, lines[below - 1].split()


@pytest.mark.parametrize(("low", "high", "size"), [(-2, 2, 15), (-1, 0.8, 10), (-3, 3, 7)])
def test_generate_ascii_axis_labels_are_round(run, low, high, size):
    # A 15 x 15 grid over -2..2 has cells at -2, -1.714, ..., labelled today as round values
    # at the column and line where those values lie, not as 1.42857.
    r = invoke("generate", "--run", run, "--range", low, high, "--size", size, "--ascii")
    assert r.exit_code == 0, r.stderr
    left, bottom = _axis_labels(r.stdout)
    for labels in (left, bottom):
        assert len(labels) >= 2, r.stdout
        values = [float(v) for v in labels]
        assert all(len(v.partition(".")[2]) <= 2 for v in labels), labels
        steps = np.diff(sorted(values))
        np.testing.assert_allclose(steps, steps[0])
        assert low - 1e-9 <= min(values) and max(values) <= high + 1e-9
    assert float(bottom[0]) == low and "1.42857" not in r.stdout


def test_ascii_into_a_file_is_plain_ascii_and_text_mode_chooses(run):
    # CliRunner's stdout is not a terminal: the default must read in a file (no escapes).
    r = invoke("generate", "--run", run, "--size", "4", "--ascii")
    assert r.exit_code == 0, r.stderr
    sheet = r.stdout.split("code 1")[0]
    assert "\x1b" not in r.stdout and all(ord(c) < 128 for c in sheet)
    assert any(c in sheet for c in ".:-=+*#%@")
    shades = invoke("generate", "--run", run, "--size", "4", "--text-mode", "shades")
    assert shades.exit_code == 0 and "\x1b" not in shades.stdout  # --text-mode implies --ascii
    assert any(c in shades.stdout for c in "░▒▓█")
    blocks = invoke("reconstruct", "--run", run, "--n", "2", "--text-mode", "blocks")
    assert blocks.exit_code == 0 and "\x1b" not in blocks.stdout
    assert any(c in blocks.stdout for c in "▀▄█") and "err " in blocks.stdout
    line = invoke("generate", "--run", run, "--between", "0", "1", "--text-mode", "ascii")
    assert line.exit_code == 0 and "start" in line.stdout
    assert all(ord(c) < 128 for c in line.stdout.split("wrote")[0])
    bad = invoke("generate", "--run", run, "--text-mode", "colour")
    assert bad.exit_code == 2 and bad.stderr.strip().startswith("error: ")


def test_ascii_survives_an_ascii_only_stdout(run):
    # LANG=C: the output cannot encode Unicode; an explicit Unicode mode falls back to ASCII
    # with a notice, and nothing on stdout is outside ASCII.
    r = CliRunner(charset="ascii").invoke(
        app, ["generate", "--run", str(run), "--size", "3", "--text-mode", "shades"]
    )
    assert r.exit_code == 0, (r.stdout, r.stderr)
    assert "using ascii" in r.stderr
    assert all(ord(c) < 128 for c in r.stdout) and "code 1 ->" in r.stdout


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--range", "0", "1", "--step", "0"], "step must be positive"),
        (["--range", "1", "1", "--step", "0.1"], "low must be below high"),
        (["--range", "1", "0"], "low must be below high"),
        (["--step", "5"], "larger than the range"),
        (["--step", "0.1", "--size", "3"], "not both"),
        (["--size", "1"], "size must be between"),
        (["--between", "0", "24"], "J=24 is out of range"),
        (["--between", "-1", "3"], "I=-1 is out of range"),
    ],
)
def test_generate_bad_input_one_line(run, args, match):
    err = fails_one_line("generate", "--run", run, *args)
    assert match in err


def test_generate_between_strip(run):
    p = ok_json("generate", "--run", run, "--between", "0", "23", "--steps", "6")
    assert p["between"] == [0, 23] and p["labels"] == ["A", "C"]
    assert len(p["codes"]) == 6
    assert Path(p["png"]).name == "interpolate-test-0-23.png" and Path(p["png"]).is_file()
    r = invoke("generate", "--run", run, "--between", "0", "1", "--steps", "1")
    assert r.exit_code == 2


# ---- bad runs and checkpoints -------------------------------------------------------------------


@pytest.mark.parametrize("command", ["reconstruct", "embed", "tsne", "generate"])
def test_missing_run_dir(tmp_path, command):
    err = fails_one_line(command, "--run", tmp_path / "nope")
    assert "not found" in err


def test_run_dir_without_checkpoint(tmp_path):
    (tmp_path / "empty").mkdir()
    assert "no checkpoint" in fails_one_line("generate", "--run", tmp_path / "empty")


def test_neither_or_both_sources_is_usage_error(run):
    assert invoke("generate").exit_code == 2
    assert invoke("generate", "--run", run, "--checkpoint", run / "latest.ckpt").exit_code == 2


def test_checkpoint_of_another_shape(tmp_path):
    # The header says 784-16-2 but the weights are of a 784-8-2 model.
    other = TiedAutoencoder((784, 8, 2), key=jax.random.key(0))
    save_checkpoint(
        tmp_path / "bad.ckpt",
        model=other,
        opt_state=None,
        header={"config": tiny_config().to_dict(), "epoch": 1},
    )
    err = fails_one_line("generate", "--checkpoint", tmp_path / "bad.ckpt")
    assert "do not match the architecture" in err


def test_model_with_3d_code_cannot_embed_or_generate(tmp_path):
    run3 = write_run(tmp_path / "r3", sizes=(784, 8, 3))
    assert "2-D code" in fails_one_line("generate", "--run", run3)
    assert "2-D code" in fails_one_line("embed", "--run", run3)
    # reconstruct works for any code size
    assert ok_json("reconstruct", "--run", run3, "--n", "2")["epoch"] == 2


def test_not_a_checkpoint(tmp_path):
    f = tmp_path / "x.ckpt"
    f.write_text("hello\n")
    assert "not an aecli checkpoint" in fails_one_line("embed", "--checkpoint", f)


# ---- experiment ---------------------------------------------------------------------------------


def fake_train(config, run_dir, splits, progress, notice):
    """Stand-in for training: a checkpoint and metrics.jsonl as train() writes them."""
    state, _ = experiment_runner.run_state(run_dir, config)
    if state != "reuse":
        write_run(run_dir, epoch=config.train.epochs)
        with open(run_dir / "metrics.jsonl", "w") as f:
            for e in range(1, config.train.epochs + 1):
                f.write(
                    json.dumps({"epoch": e, "train_loss": 60.0 - e, "val_loss": 61.0 - e}) + "\n"
                )
    return state


def test_experiment_skip_tsne_writes_report(tmp_path, monkeypatch):
    monkeypatch.setattr(experiment_runner, "train_run", fake_train)
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(
        'name = "tiny"\n[model]\nsizes = [784, 16, 2]\n[data]\ndataset = "letters"\n'
        "[train]\nepochs = 2\n"
    )
    run_dir = tmp_path / "exp"
    p = ok_json("experiment", cfg, "--run-dir", run_dir, "--skip-tsne")
    assert p["trained"] == "new"
    assert set(p["figures"]) == {"samples", "reconstruct", "embed", "generate"}
    for f in p["figures"].values():
        assert Path(f).is_file() and Path(f).parent == run_dir
    report = (run_dir / "report.md").read_text()
    assert "| training loss, epoch 1 | 59.00 |" in report
    assert "![decoded grid](generate.png)" in report
    assert "t-SNE skipped" in report
    assert p["loss_epoch_1"] == 59.0
    # a second call reuses the finished run
    assert ok_json("experiment", cfg, "--run-dir", run_dir, "--skip-tsne")["trained"] == "reuse"


def test_experiment_with_tsne(tmp_path, monkeypatch):
    monkeypatch.setattr(experiment_runner, "train_run", fake_train)
    cfg = tmp_path / "tiny.toml"
    cfg.write_text('name = "tiny"\n[model]\nsizes = [784, 16, 2]\n[data]\ndataset = "letters"\n')
    p = ok_json("experiment", cfg, "--run-dir", tmp_path / "exp", "--epochs", "1")
    assert {"tsne", "compare"} <= set(p["figures"])
    assert set(p["measures"]) == {"pca", "autoencoder", "tsne"}
    report = (tmp_path / "exp" / "report.md").read_text()
    assert "| t-SNE of PCA-50 |" in report and "compare.png" in report


def test_run_state_refuses_another_config(tmp_path):
    run_dir = write_run(tmp_path / "r")
    assert experiment_runner.run_state(run_dir, tiny_config()) == ("reuse", 2)
    longer = tiny_config().replace(**{"train.epochs": 5})
    assert experiment_runner.run_state(run_dir, longer) == ("resume", 2)
    other = tiny_config().replace(**{"train.lr": 0.01})
    with pytest.raises(Exception, match="differs in train.lr"):
        experiment_runner.run_state(run_dir, other)
    assert experiment_runner.run_state(tmp_path / "new", tiny_config()) == ("new", 0)


def test_run_state_refuses_a_run_trained_on_other_data(tmp_path, tiny_mnist):
    # A run trained offline on the 4,000-image sample must not be passed off as one trained
    # on the data found now.
    run_dir = tmp_path / "r"
    cfg = tiny_config()
    model = TiedAutoencoder.from_config(cfg.model, key=jax.random.key(0))
    header = {"config": cfg.to_dict(), "epoch": 2, "dataset": {"n_train": 4000, "source": "x"}}
    save_checkpoint(run_dir / "latest.ckpt", model=model, opt_state=None, header=header)
    with pytest.raises(Exception, match="trained on 4,000 images"):
        experiment_runner.run_state(run_dir, cfg, tiny_mnist)
    n = len(tiny_mnist["train"].images)
    header["dataset"]["n_train"] = n
    save_checkpoint(run_dir / "latest.ckpt", model=model, opt_state=None, header=header)
    assert experiment_runner.run_state(run_dir, cfg, tiny_mnist) == ("reuse", 2)


def test_experiment_handles_every_training_event():
    # The runner's table must name every event type: dispatcher() refuses a table that misses
    # one, so a new event type fails here instead of being dropped by the experiment.
    from aecli import events
    from aecli.errors import TrainingError

    seen = []
    table = experiment_runner.training_handlers(lambda *a: seen.append(a), 3, 1)
    assert set(table) == set(events.EVENT_TYPES)
    dispatch = events.dispatcher(table)
    dispatch(events.Compiling())
    dispatch(events.EpochEnd(2, 3, 41.5, None, 1.0, 100.0, model=None))
    assert seen == [
        ("training: compiling the training step with XLA", 1, 3),
        ("training: epoch 2/3, loss 41.50", 2, 3),
    ]
    with pytest.raises(TrainingError, match="stopped at epoch 2: diverged"):
        dispatch(events.TrainingStopped(2, "diverged", "diverged", None))


def test_experiment_bad_config_one_line(tmp_path):
    assert "not found" in fails_one_line("experiment", tmp_path / "none.toml")


def test_experiment_trains_for_real_then_resumes_and_reuses(tmp_path):
    # The real training loop on the tiny synthetic letters: new run, longer run resumes it,
    # the same config again reuses it.
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(
        'name = "tiny"\n[model]\nsizes = [784, 16, 2]\n[data]\ndataset = "letters"\n'
        "[train]\nepochs = 1\nbatch_size = 20\nchunks_per_epoch = 1\n"
    )
    run_dir = tmp_path / "exp"
    p = ok_json("experiment", cfg, "--run-dir", run_dir, "--skip-tsne")
    assert (p["trained"], p["epoch"]) == ("new", 1)
    assert p["loss_epoch_1"] is not None and p["loss_epoch_1"] > 0
    p = ok_json("experiment", cfg, "--run-dir", run_dir, "--skip-tsne", "--epochs", "2")
    assert (p["trained"], p["epoch"]) == ("resume", 2)
    p = ok_json("experiment", cfg, "--run-dir", run_dir, "--skip-tsne", "--epochs", "2")
    assert (p["trained"], p["epoch"]) == ("reuse", 2)
    report = (run_dir / "report.md").read_text()
    assert "training loss, epoch 1" in report and "epoch 2 (last)" in report
