"""The paper's protocol (embed --json, report.md) and ``aecli compare`` (figure, table, JSON).

Runs on the small synthetic letters set of tests/test_latent_cli.py (injected through
``aecli.experiment.jobs.load_splits``) with seeded untrained models, except the experiment on
a map config, which trains one epoch for real.
"""

from __future__ import annotations

import json
from pathlib import Path

import jax
import numpy as np
import pytest
from letters import FakeSplits
from sklearn.manifold import trustworthiness
from sklearn.neighbors import KNeighborsClassifier
from typer.testing import CliRunner

from aecli.checkpoint import save_checkpoint
from aecli.cli.app import app
from aecli.config import Config
from aecli.experiment import jobs
from aecli.latent.protocol import protocol, trustworthiness_many
from aecli.model import TiedAutoencoder


def fake_splits(*_args, **_kwargs) -> FakeSplits:
    return FakeSplits(ragged=True)


@pytest.fixture(autouse=True)
def _fake_data(monkeypatch):
    monkeypatch.setattr(jobs, "load_splits", fake_splits)


def config(sizes=(784, 16, 2), **over) -> Config:
    base = {"name": "tiny", "model.sizes": sizes, "data.dataset": "letters", "train.epochs": 2}
    return Config().replace(**(base | over))


def write_run(run_dir: Path, cfg: Config, seed: int = 0) -> Path:
    model = TiedAutoencoder.from_config(cfg.model, key=jax.random.key(seed))
    header = {"config": cfg.to_dict(), "epoch": 2}
    save_checkpoint(run_dir / "latest.ckpt", model=model, opt_state=None, header=header)
    rows = [{"epoch": e, "train_loss": 60.0 - e, "val_loss": 61.0 - e} for e in (1, 2)]
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return run_dir


runner = CliRunner()


def ok_json(*args) -> dict:
    r = runner.invoke(app, [str(a) for a in args] + ["--json"])
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


def fails_one_line(*args) -> str:
    r = runner.invoke(app, [str(a) for a in args])
    assert r.exit_code == 1, (r.stdout, r.stderr)
    err = r.stderr.strip()
    assert "\n" not in err and err.startswith("error: ") and "Traceback" not in r.stderr
    return err


# ---- the protocol ----------------------------------------------------------------------------


def test_trustworthiness_equals_scikit_learns():
    rng = np.random.default_rng(0)
    high = rng.normal(size=(300, 20))
    lows = [high[:, :2] + rng.normal(scale=s, size=(300, 2)) for s in (0.01, 0.5, 3.0)]
    got = trustworthiness_many(high, lows, k=5)
    want = [trustworthiness(high, low, n_neighbors=5) for low in lows]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    assert got[0] > got[1] > got[2]


def test_protocol_knn_is_fitted_on_train_and_scored_on_test():
    rng = np.random.default_rng(1)
    tr, te = rng.normal(size=(200, 2)), rng.normal(size=(50, 2))
    ytr, yte = rng.integers(0, 3, 200), rng.integers(0, 3, 50)
    images = rng.integers(0, 255, (200, 28, 28)).astype(np.uint8)
    (p,) = protocol(images, [(tr, te)], ytr, yte, trust_n=120)
    for k, got in ((1, p.knn1_test), (5, p.knn5_test)):
        want = KNeighborsClassifier(n_neighbors=k).fit(tr, ytr).score(te, yte)
        assert got == pytest.approx(want)
    x = images[:120].reshape(120, -1) / 255.0
    assert p.trustworthiness == pytest.approx(trustworthiness(x, tr[:120], n_neighbors=5))
    assert (p.trust_n, p.trust_k, p.n_train, p.n_test) == (120, 5, 200, 50)


def test_embed_json_keeps_its_keys_and_adds_the_protocol(tmp_path):
    run = write_run(tmp_path / "run", config())
    p = ok_json("embed", "--run", run, "--trust-n", "40")
    old = {"command", "png", "codes", "checkpoint", "epoch", "dataset", "split", "n", "measures",
           "code_min", "code_max", "grid_box", "fraction_inside_grid", "seconds"}  # fmt: skip
    assert old | {"protocol"} == set(p)
    q = p["protocol"]
    assert set(q) == {"knn1_test", "knn5_test", "trustworthiness", "trust_k", "trust_n",
                      "n_train", "n_test", "seconds"}  # fmt: skip
    assert (q["trust_k"], q["trust_n"], q["n_train"], q["n_test"]) == (5, 60, 60, 24)
    # recomputed independently from the written codes and the data
    train_codes = np.load(p["codes"])["codes"]
    s = fake_splits()
    x = s["train"].images.reshape(60, -1) / 255.0
    assert q["trustworthiness"] == pytest.approx(trustworthiness(x, train_codes, n_neighbors=5),
                                                 abs=1e-6)  # fmt: skip
    r = runner.invoke(app, ["embed", "--run", str(run), "--trust-n", "40"])
    assert "1-NN" in r.stdout and "first 60 training images" in r.stdout


# ---- compare ---------------------------------------------------------------------------------


def test_compare_writes_figure_and_table(tmp_path):
    a = write_run(tmp_path / "a", config(name="alpha"))
    b = write_run(tmp_path / "b", config(sizes=(784, 8, 2), name="beta"), seed=1)
    p = ok_json("compare", a, b, "--skip-tsne", "--out", tmp_path / "cmp")
    assert set(p) == {"command", "png", "table", "dataset", "runs", "pca", "tsne", "seconds"}
    assert Path(p["png"]) == tmp_path / "cmp" / "comparison.png" and Path(p["png"]).is_file()
    assert p["tsne"] is None and p["pca"]["knn1_test"] == pytest.approx(1.0)
    assert [r["name"] for r in p["runs"]] == ["alpha", "beta"]
    row = p["runs"][0]
    assert {"knn1_test", "knn5_test", "trustworthiness", "trust_n", "test_error", "test_loss",
            "sizes", "tied", "map", "epoch", "n_params"} <= set(row)  # fmt: skip
    assert row["test_loss"] >= row["test_error"] > 0 and row["map"] == "none"
    table = Path(p["table"]).read_text()
    assert table.count("| `") == 2 and "| PCA, 2 components |" in table
    assert "![comparison](comparison.png)" in table


def test_compare_with_tsne_defaults_to_the_first_runs_folder(tmp_path):
    a = write_run(tmp_path / "a", config())
    p = ok_json("compare", a)
    assert Path(p["png"]).parent == a and (a / "comparison.md").is_file()
    assert p["tsne"]["n_train"] == 60 and 0 < p["tsne"]["trustworthiness"] <= 1


def test_compare_refuses_what_it_cannot_compare(tmp_path):
    a = write_run(tmp_path / "a", config())
    three = write_run(tmp_path / "c", config(sizes=(784, 8, 3)))
    assert "2-D code" in fails_one_line("compare", a, three, "--skip-tsne")
    assert "not found" in fails_one_line("compare", a, tmp_path / "nope", "--skip-tsne")
    other = write_run(tmp_path / "o", config())
    save_checkpoint(
        other / "latest.ckpt",
        model=TiedAutoencoder((784, 16, 2), key=jax.random.key(0)),
        opt_state=None,
        header={"config": config().to_dict(), "epoch": 2,
                "dataset": {"name": "letters", "n_train": 999}},
    )  # fmt: skip
    assert "same data" in fails_one_line("compare", a, other, "--skip-tsne")


def test_experiment_on_a_map_config_compares_with_the_plain_run(tmp_path):
    runs = tmp_path / "runs"
    write_run(runs / "tiny", config())  # the plain run, next to the map run
    cfg = tmp_path / "tiny-map.toml"
    cfg.write_text(
        'name = "tiny-map"\n[model]\nsizes = [784, 16, 2]\n[data]\ndataset = "letters"\n'
        '[train]\nepochs = 1\nbatch_size = 20\n[map]\nkind = "umap"\nn_neighbors = 5\n'
        "edges_per_step = 8\n"
    )
    p = ok_json("experiment", cfg, "--run-dir", runs / "tiny-map", "--skip-tsne")
    assert p["comparison"]["runs"][0]["map"] == "umap"
    assert [r["name"] for r in p["comparison"]["runs"]] == ["tiny-map", "tiny"]
    assert Path(p["figures"]["comparison"]).is_file() and p["protocol"]["trust_n"] == 60
    report = (runs / "tiny-map" / "report.md").read_text()
    assert "## Map against the plain autoencoder" in report
    assert "![comparison](comparison.png)" in report and "1-NN (test)" in report
    assert (runs / "tiny-map" / "map_graph.npz").is_file()
