"""Map mode: the k-NN graph, the UMAP term inside the compiled step, resume, devices, untied.

The graph is checked against brute force written out here (distances, smooth-kNN bandwidths,
memberships, the fuzzy union, the alias table's probabilities); training runs on the tiny
MNIST-format set (275 training images), a few epochs each.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from aecli import events as ev
from aecli.checkpoint import load_checkpoint
from aecli.config import Config
from aecli.errors import AecliError, ConfigError
from aecli.model import TiedAutoencoder, UntiedAutoencoder, count_parameters, model_skeleton
from aecli.rundir import RunDir
from aecli.training import train
from aecli.training.graph import (
    build_graph,
    exact_knn,
    find_ab_params,
    fuzzy_union,
    load_graph,
    smooth_knn_dist,
)
from aecli.training.map import make_map_term

TINY = Config().replace(**{"train.epochs": 2, "train.chunks_per_epoch": 2, "name": "tiny"})
MAP = TINY.replace(**{"map.kind": "umap", "map.weight": 30.0, "map.edges_per_step": 32})


def run(config: Config, run_dir, data, **kw) -> list:
    return list(train(config, run_dir=run_dir, data=data, **kw))


def leaves(tree) -> list[np.ndarray]:
    return [np.asarray(x) for x in jax.tree_util.tree_leaves(eqx.filter(tree, eqx.is_array))]


# ----------------------------------------------------------------------------- the graph


def test_knn_is_brute_force_with_self_first():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 5)).astype(np.float32)
    x[7] = x[3]  # a duplicate: either may sort first, each must list itself first
    idx, dist = exact_knn(x, 6)
    d = np.sqrt(((x[:, None, :].astype(np.float64) - x[None, :, :]) ** 2).sum(-1))
    assert (idx[:, 0] == np.arange(80)).all() and (dist[:, 0] == 0).all()
    for i in range(80):
        want = np.sort(d[i])[:6]
        np.testing.assert_allclose(np.sort(d[i, idx[i]]), want, atol=1e-5)
        np.testing.assert_allclose(dist[i], d[i, idx[i]], atol=1e-5)
    assert 3 in idx[7] and 7 in idx[3]


def test_fuzzy_weights_match_umap_formulas_written_out():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(60, 4)).astype(np.float32)
    k = 8
    idx, dist = exact_knn(x, k)
    sigma, rho = smooth_knn_dist(dist, float(k))
    # UMAP's bandwidth: sum_j exp(-(d_ij - rho_i) / sigma_i) over the k-1 neighbours = log2 k.
    sums = np.exp(-np.maximum(dist[:, 1:] - rho[:, None], 0) / sigma[:, None]).sum(1)
    np.testing.assert_allclose(sums, np.log2(k), rtol=1e-4)
    np.testing.assert_allclose(rho, dist[:, 1], rtol=1e-6)
    # Memberships by brute force, then the fuzzy union P + P^T - P o P^T.
    p = np.zeros((60, 60))
    for i in range(60):
        for j, dij in zip(idx[i, 1:], dist[i, 1:], strict=True):
            p[i, j] = np.exp(-max(dij - rho[i], 0.0) / sigma[i])
    g = p + p.T - p * p.T
    g[g < g.max() / 200] = 0
    head, tail, weight = fuzzy_union(idx, dist, k)
    got = np.zeros((60, 60))
    got[head, tail] = weight
    np.testing.assert_allclose(got, g, atol=1e-6)
    assert np.allclose(got, got.T) and (np.diag(got) == 0).all()


def test_a_heads_neighbour_is_drawn_in_proportion_to_weight(tiny_mnist):
    images = np.asarray(tiny_mnist["train"].images)
    graph = build_graph(images, n_neighbors=10, pca_dims=20)
    term = make_map_term(MAP.map, graph, seed=0)
    heads = np.arange(graph.n)
    k = 4000  # evenly spaced uniforms: each edge's share is exact to 1/k
    u = (np.arange(k) + 0.5) / k
    queries = jnp.repeat(jnp.asarray(heads), k), jnp.tile(jnp.asarray(u), graph.n)
    drawn = np.asarray(term._draw(*queries))
    assert (graph.head[drawn] == np.repeat(heads, k)).all()  # always an edge of the head's row
    share = np.bincount(drawn, minlength=len(graph.head)) / k
    rowsum = np.bincount(graph.head, weights=graph.weight, minlength=graph.n)
    np.testing.assert_allclose(share, graph.weight / rowsum[graph.head], atol=2.0 / k)
    # The importance of a head makes uniform heads x row draws UMAP's draw in proportion to w.
    np.testing.assert_allclose(np.asarray(term.importance), rowsum / rowsum.mean(), rtol=1e-5)


def test_find_ab_params_is_umaps():
    # umap-learn 0.5's find_ab_params(1.0, 0.1)
    np.testing.assert_allclose(find_ab_params(1.0, 0.1), (1.5769434603, 0.8950608779), rtol=1e-6)


def test_graph_of_images_is_stored_without_pickle(tiny_mnist, tmp_path):
    images = np.asarray(tiny_mnist["train"].images)
    graph = build_graph(images, n_neighbors=10, pca_dims=20)
    assert graph.head.shape == graph.tail.shape == graph.weight.shape
    assert graph.n == len(images) and (graph.head != graph.tail).all()
    run(MAP.replace(**{"map.n_neighbors": 10, "map.pca_dims": 20}), tmp_path, tiny_mnist)
    stored = load_graph(RunDir(tmp_path).map_graph)
    assert stored.source == graph.source
    for name in ("head", "tail", "weight"):
        assert np.array_equal(getattr(stored, name), getattr(graph, name))
    with np.load(RunDir(tmp_path).map_graph, allow_pickle=False) as z:
        assert all(z[k].dtype != object for k in z.files)


# -------------------------------------------------------------------------- training


@pytest.fixture(scope="module")
def map4(tiny_mnist, tmp_path_factory):
    """An uninterrupted 4-epoch map run: the reference for the resume test."""
    run_dir = tmp_path_factory.mktemp("map4")
    notices: list[str] = []
    events = run(MAP.replace(**{"train.epochs": 4}), run_dir, tiny_mnist, report=notices.append)
    return run_dir, events, notices


def test_map_loss_decreases_and_is_logged(map4):
    run_dir, events, notices = map4
    rows = RunDir(run_dir).read_metrics()
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4]
    assert rows[-1]["map_loss"] < 0.9 * rows[0]["map_loss"]
    assert rows[-1]["train_loss"] < rows[0]["train_loss"]
    assert any(n.startswith("map: 15-NN graph of 275 images") for n in notices)
    assert isinstance(events[-1], ev.TrainingFinished)


def test_map_resume_is_bit_for_bit_and_reuses_the_graph(tiny_mnist, tmp_path, map4):
    ref_dir, _, _ = map4
    run(MAP.replace(**{"train.epochs": 2}), tmp_path, tiny_mnist)
    graph_mtime = RunDir(tmp_path).map_graph.stat().st_mtime_ns
    notices: list[str] = []
    run(MAP.replace(**{"train.epochs": 4}), tmp_path, tiny_mnist, resume=True,
        report=notices.append)  # fmt: skip
    assert not any(n.startswith("map:") for n in notices)  # read back, not rebuilt
    assert RunDir(tmp_path).map_graph.stat().st_mtime_ns == graph_mtime
    a = load_checkpoint(ref_dir, with_optimizer=True)
    b = load_checkpoint(tmp_path, with_optimizer=True)
    assert a.epoch == b.epoch == 4
    for x, y in zip(leaves((a.model, a.opt_state)), leaves((b.model, b.opt_state)), strict=True):
        assert np.array_equal(x, y)

    def strip(run_dir) -> list[dict]:
        return [{k: r[k] for k in ("epoch", "train_loss", "val_loss", "map_loss")}
                for r in RunDir(run_dir).read_metrics()]  # fmt: skip

    assert strip(tmp_path) == strip(ref_dir)


def test_map_off_is_the_original_whatever_the_other_map_keys(tiny_mnist, tmp_path):
    plain = run(TINY, tmp_path / "plain", tiny_mnist)
    off = TINY.replace(**{"map.weight": 7.0, "map.n_neighbors": 4, "map.edges_per_step": 3})
    other = run(off, tmp_path / "off", tiny_mnist)
    a, b = plain[-1].model, other[-1].model
    for x, y in zip(leaves(a), leaves(b), strict=True):
        assert np.array_equal(x, y)
    assert not RunDir(tmp_path / "off").map_graph.exists()
    assert all("map_loss" not in r for r in RunDir(tmp_path / "off").read_metrics())


def test_map_changes_the_codes(tiny_mnist, tmp_path, map4):
    plain = run(TINY.replace(**{"train.epochs": 4}), tmp_path, tiny_mnist)[-1].model
    mapped = load_checkpoint(map4[0]).model
    assert not np.array_equal(np.asarray(plain.weights[-1]), np.asarray(mapped.weights[-1]))


def test_map_does_not_recompile_after_the_first_epoch(tiny_mnist, tmp_path):
    names: list[str] = []

    def listen(event: str, duration: float, **kwargs) -> None:
        if event == "/jax/core/compile/jaxpr_trace_duration":
            names.append(str(kwargs.get("fun_name")))

    after = []
    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        config = MAP.replace(**{"train.epochs": 3, "train.batch_size": 90})
        for e in train(config, run_dir=tmp_path, data=tiny_mnist):
            if isinstance(e, ev.EpochEnd):
                after.append(list(names))
    finally:
        jax.monitoring.unregister_event_duration_listener(listen)
    assert any("train_chunk" in n for n in after[0])
    assert after[0] == after[1] == after[2]


def test_bad_map_settings_name_the_key(tiny_mnist, tmp_path):
    with pytest.raises(ConfigError, match="map.kind"):
        Config().replace(**{"map.kind": "tsne"})
    with pytest.raises(ConfigError, match="map.min_dist"):
        Config().replace(**{"map.min_dist": 2.0})
    with pytest.raises(ConfigError, match="map.n_neighbors.*275"):
        run(MAP.replace(**{"map.n_neighbors": 400}), tmp_path, tiny_mnist)
    # Every pair of a step's codes is repelled: a huge batch or edge count is refused up front.
    with pytest.raises(ConfigError, match=r"batch_size' \+ 'map.edges_per_step'.*128 \+ 100,000"):
        MAP.replace(**{"map.edges_per_step": 100_000})
    assert TINY.replace(**{"map.edges_per_step": 100_000}).map.edges_per_step == 100_000  # off


MULTI = textwrap.dedent(
    """
    import json, sys, tempfile
    import jax
    from aecli.config import Config
    from aecli.data import load_dataset
    from aecli.events import EpochEnd
    from aecli.training import train

    data = load_dataset(sys.argv[1], report=lambda _: None)
    base = Config().replace(**{"train.epochs": 3, "train.chunks_per_epoch": 2,
                               "map.kind": "umap", "map.weight": 30.0,
                               "map.edges_per_step": 32})
    out = {"n_devices": len(jax.devices())}
    for n in (1, 2):
        with tempfile.TemporaryDirectory() as d:
            out[str(n)] = [[e.train_loss, e.val_loss]
                           for e in train(base.replace(**{"train.devices": n}), run_dir=d,
                                          data=data)
                           if isinstance(e, EpochEnd)]
    print(json.dumps(out))
    """
)


def test_map_data_parallel_matches_one_device(tiny_mnist_dir):
    env = dict(os.environ)
    env["XLA_FLAGS"] = (
        env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2"
    ).strip()
    env["JAX_PLATFORMS"] = "cpu"
    proc = subprocess.run(
        [sys.executable, "-c", MULTI, str(tiny_mnist_dir / "mnist")],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["n_devices"] == 2
    np.testing.assert_allclose(np.asarray(out["2"]), np.asarray(out["1"]), rtol=1e-3)


# ---------------------------------------------------------------------------- untied


def test_untied_has_its_own_decoder_and_twice_the_weights():
    cfg = Config().model
    tied = TiedAutoencoder.from_config(cfg, key=jax.random.key(0))
    untied = TiedAutoencoder.from_config(
        Config().replace(**{"model.tied": False}).model, key=jax.random.key(0)
    )
    assert isinstance(untied, UntiedAutoencoder)
    assert count_parameters(tied) == 105_458
    # + decoder matrices 128*784 + 32*128 + 2*32 and decoder hidden biases 128 + 32
    assert count_parameters(untied) == 105_458 + 104_512 + 160
    for a, b in zip(tied.weights, untied.weights, strict=True):  # same encoder init
        assert np.array_equal(np.asarray(a), np.asarray(b))
    assert [w.shape for w in untied.dec_weights] == [(784, 128), (128, 32), (32, 2)]
    x = jax.random.uniform(jax.random.key(1), (784,)) - 0.5
    assert not np.allclose(np.asarray(tied(x)[0]), np.asarray(untied(x)[0]))


def test_untied_trains_and_reloads(tiny_mnist, tmp_path):
    cfg = TINY.replace(**{"model.tied": False})
    events = run(cfg, tmp_path, tiny_mnist)
    ckpt = load_checkpoint(tmp_path)
    assert isinstance(ckpt.model, UntiedAutoencoder)
    assert isinstance(model_skeleton(cfg.model), UntiedAutoencoder)
    assert ckpt.header["n_params"] == events[0].n_params == 210_130
    for a, b in zip(leaves(ckpt.model), leaves(events[-1].model), strict=True):
        assert np.array_equal(a, b)


def test_protocol_fits_a_shorter_map_on_its_own_training_rows():
    """t-SNE's map in ``compare`` holds only the first trust_n training points (not all)."""
    from aecli.latent.protocol import protocol

    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(2), 30)  # 0 x 30 then 1 x 30: the first 20 are all class 0
    images = rng.integers(0, 255, (60, 28, 28), dtype=np.uint8)
    short = (np.zeros((20, 2)) + rng.normal(0, 0.01, (20, 2)), np.zeros((4, 2)))
    (score,) = protocol(images, [short], labels, np.array([0, 0, 0, 1]), trust_n=20)
    assert score.n_train == 20 and score.knn1_test == 0.75  # every test point called class 0


def test_a_folder_where_the_graph_goes_is_named_and_left_alone(tiny_mnist, tmp_path):
    # The graph file's name is the run's, not the user's: the fix is to move the folder away.
    planted = RunDir(tmp_path).map_graph
    planted.mkdir(parents=True)
    (planted / "keep.txt").write_text("mine")
    with pytest.raises(AecliError, match=r"map_graph\.npz is a folder.*move it out of the way"):
        run(MAP, tmp_path, tiny_mnist)
    assert (planted / "keep.txt").read_text() == "mine"
    assert not RunDir(tmp_path).latest.exists()
