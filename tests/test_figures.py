"""aecli.render.figures: what each figure draws (axes, titles, legends, layout); that it saves."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.collections import PathCollection
from matplotlib.patches import Rectangle

from aecli.render import figures
from aecli.render.decode_grid import decode_grid_figure, draw_decode_grid
from aecli.render.palette import to_unit
from aecli.render.ticks import nice_ticks, tick_label

NAMES = ("A", "B", "C")


def points(n: int = 90, seed: int = 0):
    rng = np.random.default_rng(seed)
    pts = rng.standard_normal((n, 2)).astype(np.float32)
    return pts, np.arange(n) % 3


def test_to_unit_and_tile():
    u8 = np.array([[[0, 255]]], np.uint8)
    np.testing.assert_allclose(to_unit(u8), [[[0.0, 1.0]]])
    # floats are intensities (what decode returns): clipped to [0, 1], NaN is paper
    floats = np.array([-0.5, 0.0, 0.25, 0.9, 1.7, np.nan])
    np.testing.assert_allclose(to_unit(floats), [0.0, 0.0, 0.25, 0.9, 1.0, 0.0])
    assert to_unit(floats).dtype == np.float32
    imgs = np.stack([np.full((2, 2), v, np.float32) for v in (0.1, 0.2, 0.3, 0.4)])
    sheet = figures.tile(imgs, 2, 2, pad=0)
    np.testing.assert_allclose(sheet, [[0.1, 0.1, 0.2, 0.2]] * 2 + [[0.3, 0.3, 0.4, 0.4]] * 2)


def test_class_colors_distinct_and_scatter_style_scales():
    cols = figures.class_colors(10)
    assert len(set(cols)) == 10
    assert len(figures.class_colors(12)) == 12
    small, big = figures.scatter_style(500), figures.scatter_style(55_000)
    assert small[0] > big[0] and small[1] > big[1]
    assert big[0] >= 1.0 and 0.3 <= big[1] <= 0.6  # visible, yet dense clusters show structure


def test_embedding_scatter_draws_every_point_with_labels_and_legend():
    pts, labels = points(300)
    fig = figures.embedding_scatter(
        pts, labels, NAMES, title="toy train · codes · epoch 3", grid_box=(-1.0, 0.8)
    )
    ax = fig.axes[0]
    assert ax.get_title() == "toy train · codes · epoch 3"
    assert ax.get_xlabel() == "code 1" and ax.get_ylabel() == "code 2"
    (coll,) = [c for c in ax.collections if isinstance(c, PathCollection)]
    offsets = np.asarray(coll.get_offsets())
    assert offsets.shape == (300, 2)  # all points, not a subsample
    # drawn in shuffled order, but the same set of points
    np.testing.assert_allclose(np.sort(offsets[:, 0]), np.sort(pts[:, 0]))
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[:3] == list(NAMES)
    assert "decode grid" in legend[3]
    boxes = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert len(boxes) == 1
    assert boxes[0].get_xy() == (-1.0, -1.0)
    assert boxes[0].get_width() == pytest.approx(1.8)
    # colours follow the classes: point k (in drawing order) has its class's palette colour
    order = np.random.default_rng(0).permutation(300)
    np.testing.assert_allclose(offsets, pts[order])
    want = np.asarray(figures.class_colors(3))[labels[order]]
    np.testing.assert_allclose(coll.get_facecolors()[:, :3], want[:, :3])


def test_embedding_scatter_custom_axes_no_box():
    pts, labels = points()
    fig = figures.embedding_scatter(
        pts, labels, NAMES, title="t", xlabel="t-SNE 1", ylabel="t-SNE 2"
    )
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("t-SNE 1", "t-SNE 2")
    assert not [p for p in ax.patches if isinstance(p, Rectangle)]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(NAMES)


def test_decode_grid_sheet_axes_are_code_values_in_scatter_orientation():
    xs = np.array([-1.0, -0.5, 0.0])
    ys = np.array([0.5, 0.0, -0.5])  # descending: top row is the highest code 2
    images = np.zeros((3, 3, 28, 28), np.float32)
    images[0, 2] = 1.0  # the code (0.0, 0.5): right column, top row
    fig = figures.decode_grid_sheet(images, xs, ys, title="grid")
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == ["-1", "-0.8", "-0.6", "-0.4", "-0.2", "0"]
    np.testing.assert_allclose(ax.get_xticks(), [float(t) for t in labels])  # value = place
    # every cell's centre has a tick (a minor one unless a labelled one is there)
    for major, minor, cells in ((ax.get_xticks(), ax.get_xticks(minor=True), xs),
                                (ax.get_yticks(), ax.get_yticks(minor=True), ys)):  # fmt: skip
        assert all(np.isclose(np.r_[major, minor], c).any() for c in cells)
    assert "code 1" in ax.get_xlabel() and "code 2" in ax.get_ylabel()
    # the inked cell is drawn where (0.0, 0.5) is in data coordinates
    im = ax.get_images()[0]
    left, right, bottom, top = im.get_extent()
    assert (left, right) == pytest.approx((-1.25, 0.25))
    assert (bottom, top) == pytest.approx((-0.75, 0.75))
    assert im.origin == "upper"
    sheet = np.asarray(im.get_array())
    assert sheet[:28, 56:].min() == 1.0 and sheet[28:, :].max() == 0.0
    assert ax.get_title() == "grid"
    assert figures.decode_grid_sheet is decode_grid_figure  # the earlier name, one builder


def test_decode_grid_sheet_thins_tick_labels_on_big_grids():
    v = np.round(np.arange(-2.0, 1.81, 0.2), 10)
    fig = figures.decode_grid_sheet(np.zeros((20, 20, 28, 28)), v, v[::-1], title="20x20")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        "-2", "-1.5", "-1", "-0.5", "0", "0.5", "1", "1.5"
    ]  # fmt: skip


def _is_round(label: str) -> bool:
    """At most 2 decimals and a multiple of 1, 2 or 5 times a power of ten."""
    if "." in label and len(label.split(".")[1]) > 2:
        return False
    return "e" not in label


def _check_round_ticks(ax, xs, ys) -> None:
    for axis, values in ((ax.xaxis, xs), (ax.yaxis, ys)):
        ticks = axis.get_majorticklocs()
        labels = [t.get_text() for t in axis.get_ticklabels()]
        assert len(labels) >= 2, labels
        assert all(_is_round(t) for t in labels), labels
        np.testing.assert_allclose(ticks, [float(t) for t in labels], atol=1e-12)
        steps = np.diff(ticks)
        np.testing.assert_allclose(steps, steps[0])  # evenly spaced
        mantissa = steps[0] / 10 ** np.floor(np.log10(steps[0]))
        assert min(abs(mantissa - m) for m in (1, 2, 5)) < 1e-9, steps[0]
        lo, hi = min(values), max(values)
        assert lo - 1e-9 <= ticks.min() and ticks.max() <= hi + 1e-9  # within the codes


@pytest.mark.parametrize(
    ("low", "high", "size"),
    [(-2, 2, 15), (-1, 0.8, 10), (-2, 1.8, 20), (-3, 3, 7), (0.137, 1.93, 11), (-5, 5, 200),
     (-0.3, 0.3, 4), (-2, 2, 2)],
)  # fmt: skip
def test_decode_grid_ticks_are_round_numbers_at_their_true_place(low, high, size):
    xs = np.round(np.linspace(low, high, size), 10)
    fig = decode_grid_figure(np.zeros((size, size, 28, 28)), xs, xs[::-1], title="t")
    _check_round_ticks(fig.axes[0], xs, xs)


def test_grid_around_a_cursor_and_the_compare_panel_get_round_ticks():
    # The TUI's "grid around the cursor" export: codes centred on an arbitrary point.
    from matplotlib.figure import Figure

    from aecli.latent.grid import grid_around

    g = grid_around((0.3717, -1.0423), 9, 0.137)
    fig = decode_grid_figure(np.zeros((9, 9, 28, 28)), g.xs, g.ys, title="around")
    _check_round_ticks(fig.axes[0], g.xs, g.ys)
    ax = Figure().subplots()
    draw_decode_grid(ax, np.zeros((15, 15, 28, 28)), g.xs[:1].repeat(15) + np.arange(15) * 0.29,
                     (g.ys[:1].repeat(15) - np.arange(15) * 0.29), max_ticks=6)  # fmt: skip
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert 2 <= len(labels) <= 6 and all(_is_round(t) for t in labels), labels


def test_nice_ticks():
    assert nice_ticks(-2, 2, 11) == [-2, -1.5, -1, -0.5, 0, 0.5, 1, 1.5, 2]
    assert nice_ticks(-1, 0.8, 11) == pytest.approx(np.round(np.arange(-1, 0.81, 0.2), 10))
    assert nice_ticks(2, -2, 5) == [-2, -1, 0, 1, 2]  # either order
    assert nice_ticks(0.5, 0.5) == [0.5]
    assert nice_ticks(0.1, 0.3, 3) == [0.1, 0.2, 0.3]  # no 0.30000000000000004
    labels = [tick_label(v) for v in nice_ticks(-0.4, 0.4, 3)]
    assert labels == ["-0.4", "-0.2", "0", "0.2", "0.4"]  # 0.5 apart would leave only 0; no -0
    assert nice_ticks(0.06, 0.14, 2) == [0.06, 0.08, 0.1, 0.12, 0.14]
    assert nice_ticks(float("nan"), 1) == []


def test_loss_curve_marks_the_originals_figures_with_their_values():
    rows = [{"epoch": e, "train_loss": 100 - e, "val_loss": 101 - e} for e in range(1, 81)]
    fig = figures.loss_curve(
        rows, reference={1: 52.76, 67: 31.38, 100: 30.0}, reference_note="(on 55,000 images)"
    )
    ax = fig.axes[0]
    marks = [c for c in ax.collections if c.get_label().startswith("original")]
    np.testing.assert_allclose(marks[0].get_offsets(), [[1, 52.76], [67, 31.38]])
    notes = [t.get_text() for t in ax.texts]
    assert notes == ["original 52.76\n(epoch 1)", "original 31.38\n(epoch 67)"]
    legend = " ".join(t.get_text() for t in ax.get_legend().get_texts())
    assert "30 at epoch 100 (after this run's 80)" in legend and "55,000 images" in legend
    assert all(float(t).is_integer() for t in ax.get_xticks())  # whole epochs


def test_reconstruction_grid_originals_above_errors_below():
    rng = np.random.default_rng(0)
    orig = rng.integers(0, 256, (4, 28, 28), dtype=np.uint8)
    rec = rng.random((4, 28, 28)).astype(np.float32)
    errs = [1.234, 20.0, 33.33, 7.0]
    fig = figures.reconstruction_grid(
        orig, rec, errs, labels=[0, 1, 2, 0], class_names=NAMES, title="toy test"
    )
    axes = np.array(fig.axes).reshape(2, 4)
    assert [a.get_title() for a in axes[0]] == ["A", "B", "C", "A"]
    assert [a.get_title() for a in axes[1]] == ["1.2", "20.0", "33.3", "7.0"]
    assert axes[0, 0].get_ylabel() == "original"
    assert axes[1, 0].get_ylabel().startswith("reconstruction")
    np.testing.assert_allclose(axes[0, 1].get_images()[0].get_array(), orig[1] / 255.0)
    np.testing.assert_allclose(axes[1, 1].get_images()[0].get_array(), rec[1])
    assert fig._suptitle.get_text() == "toy test"


def test_reconstruction_grid_wraps_into_pairs_of_rows():
    fig = figures.reconstruction_grid(
        np.zeros((13, 28, 28), np.uint8), np.zeros((13, 28, 28)), [0.0] * 13, title="t", cols=5
    )
    # 3 blocks of (original row, reconstruction row) x 5 columns; 2 unused cells per row pair
    assert len(fig.axes) == 30
    assert sum(1 for a in fig.axes if a.get_images()) == 26


def test_interpolation_strip_endpoints_are_the_originals():
    codes = np.array([[0.0, 0.0], [0.5, 0.5], [1.0, 1.0]], np.float32)
    dec = np.zeros((3, 28, 28), np.float32)
    start = np.full((28, 28), 255, np.uint8)
    fig = figures.interpolation_strip(
        start,
        np.zeros((28, 28), np.uint8),
        dec,
        codes,
        title="line",
        start_label="#1: A",
        end_label="#2: B",
    )
    assert len(fig.axes) == 5
    titles = [a.get_title() for a in fig.axes]
    assert titles[0] == "#1: A" and titles[-1] == "#2: B"
    assert titles[2] == "(0.50,\n0.50)"
    np.testing.assert_allclose(fig.axes[0].get_images()[0].get_array(), 1.0)


def test_comparison_figure_three_panels_with_measures_in_titles():
    pts, labels = points()
    panels = [
        ("PCA\n5-NN acc 0.400 · trust. 0.700", pts, "PC 1", "PC 2"),
        ("autoencoder\n5-NN acc 0.700 · trust. 0.900", pts * 2, "code 1", "code 2"),
        ("t-SNE\n5-NN acc 0.970 · trust. 0.980", pts * 3, "t-SNE 1", "t-SNE 2"),
    ]
    fig = figures.comparison_figure(panels, labels, NAMES, title="three maps")
    axes = fig.axes
    assert len(axes) == 3
    assert [a.get_title() for a in axes] == [p[0] for p in panels]
    assert [a.get_xlabel() for a in axes] == ["PC 1", "code 1", "t-SNE 1"]
    assert [t.get_text() for t in fig.legends[0].get_texts()] == list(NAMES)
    assert fig._suptitle.get_text() == "three maps"


def test_save_figure_writes_png_atomically(tmp_path):
    pts, labels = points()
    fig = figures.embedding_scatter(pts, labels, NAMES, title="t")
    path = figures.save_figure(fig, tmp_path / "sub" / "scatter.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in path.parent.iterdir()] == ["scatter.png"]  # no temporary left


def test_sample_sheet_titles_are_class_names():
    imgs = np.zeros((4, 28, 28), np.uint8)
    fig = figures.sample_sheet(imgs, [2, 1, 0, 2], NAMES, title="sample", cols=2)
    titles = [a.get_title() for a in fig.axes]
    assert titles == ["C", "B", "A", "C"]
