"""aecli.latent: batched encode/decode, grid layout, interpolation, sampling, measures, t-SNE."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from aecli.errors import AecliError, ConfigError
from aecli.latent import codes, embed, grid, sampling
from aecli.model import TiedAutoencoder, postprocess, preprocess


@pytest.fixture(scope="module")
def model():
    return TiedAutoencoder((784, 16, 2), key=jax.random.key(0))


def images(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 28, 28), dtype=np.uint8)


def blobs(n_per: int, centers, spread: float = 0.1, seed: int = 0):
    """Points around ``centers`` (k, d) with labels 0..k-1."""
    rng = np.random.default_rng(seed)
    centers = np.asarray(centers, float)
    pts = np.concatenate([c + spread * rng.standard_normal((n_per, len(c))) for c in centers])
    return pts.astype(np.float32), np.repeat(np.arange(len(centers)), n_per)


# ---- grid layout --------------------------------------------------------------------------------


def test_code_grid_follows_scatter_axes():
    g = grid.code_grid(-1.0, 0.8, 0.2)
    assert g.shape == (10, 10)
    assert g.codes.shape == (10, 10, 2)
    np.testing.assert_allclose(g.xs, np.round(np.arange(-1.0, 0.81, 0.2), 10))
    np.testing.assert_allclose(g.ys, g.xs[::-1])
    # top-left is (low, high): code 1 smallest on the left, code 2 largest on top
    np.testing.assert_allclose(g.codes[0, 0], [-1.0, 0.8], atol=1e-6)
    np.testing.assert_allclose(g.codes[0, -1], [0.8, 0.8], atol=1e-6)
    np.testing.assert_allclose(g.codes[-1, 0], [-1.0, -1.0], atol=1e-6)
    # every cell: codes[r, c] == (xs[c], ys[r])
    for r in range(10):
        for c in range(10):
            np.testing.assert_allclose(g.codes[r, c], [g.xs[c], g.ys[r]], atol=1e-6)
    assert (g.low, g.high) == (-1.0, 0.8)
    assert g.step == pytest.approx(0.2)


def test_code_grid_notmnist_default_is_20x20():
    g = grid.code_grid(-2.0, 1.8, 0.2)
    assert g.shape == (20, 20)


def test_code_grid_by_size():
    g = grid.code_grid(0.0, 1.0, size=5)
    np.testing.assert_allclose(g.xs, [0, 0.25, 0.5, 0.75, 1.0])
    assert g.shape == (5, 5)


@pytest.mark.parametrize(
    ("low", "high", "step", "size", "match"),
    [
        (0.0, 1.0, 0.0, None, "step must be positive"),
        (1.0, 1.0, 0.1, None, "low must be below high"),
        (2.0, 1.0, 0.1, None, "low must be below high"),
        (0.0, 1.0, 2.0, None, "larger than the range"),
        (0.0, 1.0, None, 1, "size must be between"),
        (0.0, 1.0, 0.1, 5, "either a step or a size"),
        (0.0, 100.0, 0.1, None, "at most 200"),
    ],
)
def test_code_grid_rejects_bad_ranges(low, high, step, size, match):
    with pytest.raises(ConfigError, match=match):
        grid.code_grid(low, high, step, size=size)


def test_interpolate_is_a_straight_line_with_endpoints():
    z = grid.interpolate(np.array([0.0, 1.0]), np.array([1.0, -1.0]), 5)
    assert z.shape == (5, 2)
    np.testing.assert_allclose(z[0], [0, 1])
    np.testing.assert_allclose(z[-1], [1, -1])
    np.testing.assert_allclose(np.diff(z, axis=0), [[0.25, -0.5]] * 4, atol=1e-6)
    with pytest.raises(ConfigError):
        grid.interpolate(np.zeros(2), np.ones(2), 1)


def test_check_index_and_count():
    assert sampling.check_index(4, 5, "I", "test") == 4
    with pytest.raises(AecliError, match="I=5 is out of range"):
        sampling.check_index(5, 5, "I", "test")
    with pytest.raises(AecliError, match="out of range"):
        sampling.check_index(-1, 5, "J", "test")
    with pytest.raises(AecliError, match="larger than the split"):
        sampling.check_count(6, 5, "reconstruct")


# ---- encode / decode -------------------------------------------------------------------------


def test_encode_matches_model_and_ignores_batching(model):
    x = images(37)
    want = np.asarray(jax.vmap(model.encode)(preprocess(x)))
    np.testing.assert_allclose(codes.encode(model, x), want, rtol=1e-5, atol=1e-5)
    # padding the last batch (37 = 4 * 8 + 5) changes nothing
    np.testing.assert_allclose(codes.encode(model, x, batch_size=8), want, rtol=1e-5, atol=1e-5)


def test_decode_shape_range_and_values(model):
    z = np.array([[0.0, 0.0], [1.0, -1.0], [-2.0, 0.5]], np.float32)
    out = codes.decode(model, z, batch_size=2)
    assert out.shape == (3, 28, 28)
    assert out.min() >= 0.0 and out.max() <= 1.0
    want = np.asarray(postprocess(jax.vmap(model.decode)(z))).reshape(3, 28, 28)
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-6)
    with pytest.raises(AecliError, match="2-D code"):
        codes.decode(model, np.zeros((2, 3), np.float32))


def test_reconstruct_errors_are_the_loss_pixel_term(model):
    x = images(9)
    r = codes.reconstruct(model, x, batch_size=4)
    xp = np.asarray(preprocess(x))
    recon, z = jax.vmap(model)(preprocess(x))
    want = ((np.asarray(recon) - xp) ** 2).sum(axis=1)
    np.testing.assert_allclose(r.errors, want, rtol=1e-4)
    np.testing.assert_allclose(r.code_sq, (np.asarray(z) ** 2).sum(axis=1), rtol=1e-4)
    np.testing.assert_allclose(r.loss(0.1), want + 0.1 * r.code_sq, rtol=1e-4)
    assert r.images.shape == (9, 28, 28)


def test_reconstruct_is_decode_of_encode(model):
    # One implementation: a reconstruction is the decode of the image's code, so the CLI's
    # reconstructions, its decode grids and the TUI (which calls the same functions) agree.
    x = images(7)
    r = codes.reconstruct(model, x)
    np.testing.assert_allclose(r.images, codes.decode(model, codes.encode(model, x)), atol=1e-6)
    # the error is of the unclipped decode: larger than the clipped display images' error
    clipped = ((r.images.reshape(7, -1) - x.reshape(7, -1) / 255.0) ** 2).sum(axis=1)
    assert np.all(r.errors >= clipped - 1e-4)


def test_decode_grid_layout(model):
    g = grid.code_grid(-1.0, 1.0, size=3)
    sheet = grid.decode_grid(model, g)
    assert sheet.shape == (3, 3, 28, 28)
    one = codes.decode(model, np.array([[g.xs[2], g.ys[0]]], np.float32))[0]
    np.testing.assert_allclose(sheet[0, 2], one, atol=1e-6)


def test_require_2d_code():
    m3 = TiedAutoencoder((784, 8, 3), key=jax.random.key(1))
    with pytest.raises(AecliError, match="3 dimensions"):
        grid.decode_grid(m3, grid.code_grid(0.0, 1.0, size=2))


def test_empty_split_is_an_error(model):
    with pytest.raises(AecliError, match="empty"):
        codes.encode(model, np.zeros((0, 28, 28), np.uint8))


# ---- sampling -----------------------------------------------------------------------------------


def test_stratified_indices_keep_proportions_and_are_seeded():
    labels = np.repeat([0, 1, 2], [500, 300, 200])
    idx = sampling.stratified_indices(labels, 100, seed=3)
    assert len(idx) == 100 and len(set(idx)) == 100
    assert np.all(np.diff(idx) > 0)
    assert np.bincount(labels[idx]).tolist() == [50, 30, 20]
    np.testing.assert_array_equal(idx, sampling.stratified_indices(labels, 100, seed=3))
    assert not np.array_equal(idx, sampling.stratified_indices(labels, 100, seed=4))
    # rounding: the remainder goes to the largest fractions, total stays exact
    assert len(sampling.stratified_indices(labels, 7, seed=0)) == 7
    np.testing.assert_array_equal(sampling.stratified_indices(labels, 1000, 0), np.arange(1000))
    with pytest.raises(AecliError, match="larger than the split"):
        sampling.stratified_indices(labels, 1001, seed=0)


def test_random_indices_distinct_and_seeded():
    a = sampling.random_indices(50, 10, 1)
    assert len(set(a)) == 10 and a.max() < 50
    np.testing.assert_array_equal(a, sampling.random_indices(50, 10, 1))


# ---- measures -----------------------------------------------------------------------------------


def test_knn_accuracy_on_known_structure():
    pts, labels = blobs(40, [[0, 0], [5, 0], [0, 5]])
    assert embed.knn_accuracy(pts, labels) == 1.0
    # labels that ignore the geometry: chance level (1/3) within sampling noise
    rng = np.random.default_rng(0)
    shuffled = rng.permutation(labels)
    assert embed.knn_accuracy(pts, shuffled) < 0.55
    # two classes that overlap completely are at chance too
    same, lab2 = blobs(60, [[0, 0], [0, 0]], spread=1.0)
    assert 0.3 < embed.knn_accuracy(same, lab2) < 0.7


def test_trustworthiness_on_known_structure():
    rng = np.random.default_rng(0)
    high = rng.standard_normal((300, 2)).astype(np.float32)
    assert embed.trustworthiness(high, high, n=300)[0] == pytest.approx(1.0)
    # a scaled copy keeps every neighbourhood
    assert embed.trustworthiness(high, 3 * high, n=300)[0] == pytest.approx(1.0)
    noise = rng.standard_normal((300, 2)).astype(np.float32)
    low_t, used = embed.trustworthiness(high, noise, n=200, seed=1)
    assert used == 200
    assert low_t < 0.7


def test_measure_bundles_both():
    pts, labels = blobs(30, [[0, 0], [4, 4]])
    high = np.concatenate([pts, np.zeros((len(pts), 3), np.float32)], axis=1)
    m = embed.measure(high, pts, labels, trust_n=50)
    assert m.knn_accuracy == 1.0
    assert m.trustworthiness == pytest.approx(1.0)
    assert m.trust_n == 50 and m.k == 5
    assert m.short().startswith("5-NN acc 1.000")
    assert set(m.to_dict()) == {
        "knn_accuracy",
        "trustworthiness",
        "k",
        "folds",
        "trust_n",
        "seconds",
    }


# ---- PCA and t-SNE ------------------------------------------------------------------------------


def toy_images(n_per: int = 30, seed: int = 0):
    """Three classes of 28x28 images: a bar in one of three places, plus noise."""
    rng = np.random.default_rng(seed)
    out, labels = [], []
    for c in range(3):
        for _ in range(n_per):
            img = rng.integers(0, 40, (28, 28)).astype(np.uint8)
            img[4 + 8 * c : 10 + 8 * c, 4:24] = 220
            out.append(img)
            labels.append(c)
    return np.stack(out), np.array(labels)


def test_pca_is_seeded_and_separates_toy_classes():
    x, y = toy_images()
    p = embed.pca(x, 2, seed=0)
    assert p.shape == (90, 2) and p.dtype == np.float32
    np.testing.assert_allclose(p, embed.pca(x, 2, seed=0))
    assert embed.knn_accuracy(p, y) == 1.0


def test_resolve_engine():
    assert embed.resolve_engine("auto", 100) == "sklearn"
    assert embed.resolve_engine("auto", embed.AUTO_OPENTSNE_FROM - 1) == "sklearn"
    assert embed.resolve_engine("auto", embed.AUTO_OPENTSNE_FROM) == "opentsne"
    # Measured idle (benchmarks/latent_speed.py --sizes): scikit-learn is 2-3.6x faster at
    # 500-1,000 images, the two are even at 3,000 (openTSNE at 0.7x the CPU), openTSNE is 1.4x
    # faster at 5,000 and 8x at 55,000.
    assert embed.resolve_engine("auto", 1000) == "sklearn"
    assert embed.resolve_engine("auto", 3000) == "opentsne"
    assert embed.resolve_engine("auto", 5000) == "opentsne"
    assert embed.resolve_engine("auto", 250) == "sklearn"
    assert embed.resolve_engine("opentsne", 10) == "opentsne"
    assert embed.resolve_engine("sklearn", 10**6) == "sklearn"
    with pytest.raises(ConfigError, match="engine"):
        embed.resolve_engine("umap", 10)


@pytest.mark.parametrize("engine", ["sklearn", "opentsne"])
def test_tsne_engines_separate_toy_classes_and_report_progress(engine):
    x, y = toy_images()
    seen = []
    r = embed.tsne(x, engine=engine, seed=0, n_jobs=1, progress=lambda *a: seen.append(a))
    assert r.engine == engine
    assert r.embedding.shape == (90, 2)
    assert np.isfinite(r.embedding).all()
    assert embed.knn_accuracy(r.embedding, y) == 1.0
    stages = [s for s, _, _ in seen]
    assert stages[0] == "t-SNE: PCA to 50 dimensions"
    done = [(d, t) for s, d, t in seen if s == "t-SNE: optimising"]
    assert done and done[-1][0] == done[-1][1] > 0  # ends complete
    assert r.params["pca_dims"] == 50
    # seeded: the same call gives the same map
    again = embed.tsne(x, engine=engine, seed=0, n_jobs=1)
    np.testing.assert_allclose(again.embedding, r.embedding, rtol=1e-4, atol=1e-4)


def test_tsne_needs_some_images():
    with pytest.raises(AecliError, match="at least 10"):
        embed.tsne(images(5))


def test_grid_around_is_centred_in_the_scatter_layout():
    from aecli.latent.grid import grid_around

    g = grid_around((1.0, 2.0), 3, 0.5)
    np.testing.assert_allclose(g.xs, [0.5, 1.0, 1.5])
    np.testing.assert_allclose(g.ys, [2.5, 2.0, 1.5])  # code 2 descends down the rows
    np.testing.assert_allclose(g.codes[1, 1], [1.0, 2.0])
    np.testing.assert_allclose(g.codes[0, 2], [1.5, 2.5])
    with pytest.raises(ConfigError):
        grid_around((0.0, 0.0), 3, 0.0)
