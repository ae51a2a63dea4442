"""Data people already have (issue 11): Keras .npz, torchvision roots, Kaggle CSV, image folders.

Every fixture is built inside the tests from the synthetic MNIST-like arrays of conftest (or
drawn with Pillow) and goes through the real CLI in-process: ``data show --json`` (split counts
and ``pixel_mean``) and a one-epoch ``train``. Bad inputs give one ``error:`` line naming the
file and the problem, exit status 1. Also: the ``fashion-mnist`` and ``kmnist`` registry entries
(md5 pins, no network), ``data list --json``'s ``pixel_mean`` and the image-fitting rule.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import tiny_mnist_arrays, write_tiny_mnist
from typer.testing import CliRunner

from aecli import data as D
from aecli.cli.app import app
from aecli.data import fetch
from aecli.data.fit import fit_glyph
from aecli.errors import DataError

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def show(dataset, *extra, tmp: Path) -> tuple[dict, str]:
    """``data show DATASET --json``: the dataset's summary and the notices on stderr."""
    r = invoke("data", "show", dataset, "--out", tmp / "sheet.png", "--n", "4", "--json", *extra)
    assert r.exit_code == 0, (r.stdout, r.stderr)
    out = json.loads(r.stdout)
    assert (tmp / "sheet.png").stat().st_size > 0
    (summary,) = out["datasets"].values()
    return summary, r.stderr


def trains_one_epoch(dataset, tmp: Path, *extra) -> dict:
    r = invoke(
        "train", "--dataset", dataset, "--epochs", "1", "--batch-size", "16",
        "--run-dir", tmp / "run", "--json", *extra,
    )  # fmt: skip
    assert r.exit_code == 0, (r.stdout, r.stderr)
    summary = json.loads(r.stdout)
    assert summary["epochs"] == 1 and np.isfinite(summary["train_loss"])
    return summary


def fails_one_line(*args) -> str:
    r = invoke(*args)
    assert r.exit_code == 1, (r.exit_code, r.stdout, r.stderr)
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert "Traceback" not in r.output and r.stdout == ""
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1, r.stderr
    return errors[0]


def mean_of(*arrays: np.ndarray) -> float:
    return round(float(np.concatenate([a.ravel() for a in arrays]).mean()), 3)


# =========================================================================== fixtures


@pytest.fixture(scope="module")
def arrays():
    """Synthetic MNIST-like arrays: 600 training and 100 test images, labels 0-9."""
    x_train, y_train = tiny_mnist_arrays(600, 0)
    x_test, y_test = tiny_mnist_arrays(100, 1)
    return x_train, y_train, x_test, y_test


@pytest.fixture(scope="module")
def small():
    """The arrays of conftest's tiny IDX set (300 + 100 images): the sets that train all have
    its 275 / 25 / 100 splits, so that a worker compiles the training step once for them."""
    x_train, y_train = tiny_mnist_arrays(300, 0)
    x_test, y_test = tiny_mnist_arrays(100, 1)
    return x_train, y_train, x_test, y_test


def write_csv(path: Path, images: np.ndarray, labels: np.ndarray, header: bool) -> Path:
    rows = np.column_stack([labels, images.reshape(len(images), -1)]).astype(np.int64)
    lines = [",".join(map(str, r)) for r in rows]
    if header:
        lines.insert(0, "label," + ",".join(f"pixel{i}" for i in range(784)))
    path.write_text("\n".join(lines) + "\n")
    return path


SHAPES = ("bar", "ring", "cross")


def ink_drawing(shape: str, rng: np.random.Generator, size: int = 64) -> bytes:
    """A ``size`` x ``size`` colour PNG: a dark blue shape on white paper, jittered."""
    from PIL import Image, ImageDraw

    im = Image.new("RGB", (size, size), (255, 255, 255))
    draw = ImageDraw.Draw(im)
    ink = (20, 20, int(rng.integers(60, 120)))
    dx, dy = (int(v) for v in rng.integers(-6, 7, size=2))
    c = size // 2
    if shape == "bar":
        draw.rectangle((c - 4 + dx, 12 + dy, c + 4 + dx, size - 12 + dy), fill=ink)
    elif shape == "ring":
        draw.ellipse((14 + dx, 14 + dy, size - 14 + dx, size - 14 + dy), outline=ink, width=6)
    else:
        draw.line((14 + dx, 14 + dy, size - 14 + dx, size - 14 + dy), fill=ink, width=6)
        draw.line((14 + dx, size - 14 + dy, size - 14 + dx, 14 + dy), fill=ink, width=6)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def write_drawings(root: Path, per_class: int = 12) -> Path:
    rng = np.random.default_rng(0)
    for shape in SHAPES:
        (root / shape).mkdir(parents=True)
        for i in range(per_class):
            (root / shape / f"{i:02d}.png").write_bytes(ink_drawing(shape, rng))
    return root


# =========================================================================== Keras .npz


def test_keras_npz_shows_and_trains(small, tmp_path):
    x_train, y_train, x_test, y_test = small
    np.savez(tmp_path / "mnist.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    summary, _ = show(tmp_path / "mnist.npz", tmp=tmp_path)
    # MNIST-shaped: the head of x_train is validation (1/12 of a training set this small).
    assert summary["splits"] == {"train": 275, "validation": 25, "test": 100}
    assert summary["pixel_mean"] == mean_of(x_train, x_test)
    assert summary["name"] == "mnist" and summary["class_names"] == list("0123456789")
    trains_one_epoch(tmp_path / "mnist.npz", tmp_path)


def test_keras_fashion_npz_gets_the_registry_class_names(arrays, tmp_path):
    x_train, y_train, x_test, y_test = arrays
    path = tmp_path / "fashion_mnist.npz"
    np.savez_compressed(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    splits = D.load_dataset(path, report=lambda _: None, progress=False)
    assert splits.name == "fashion-mnist" and splits.class_names[-1] == "Ankle boot"
    head = 600 // 12
    assert np.array_equal(splits.validation.images, x_train[:head])
    assert np.array_equal(splits.train.images, x_train[head:])
    assert np.array_equal(splits.test.labels, y_test)


# =========================================================================== torchvision


@pytest.mark.parametrize("where", ["root", "dataset", "raw"])
def test_torchvision_root_dataset_folder_and_raw_all_work(where, tmp_path_factory):
    root = tmp_path_factory.mktemp("tv")
    raw = write_tiny_mnist(root / "MNIST" / "raw")
    # torchvision keeps the decompressed files beside the .gz ones
    for gz in list(raw.glob("*.gz")):
        (raw / gz.stem).write_bytes(gzip.decompress(gz.read_bytes()))
    path = {"root": root, "dataset": root / "MNIST", "raw": raw}[where]
    splits = D.load_dataset(path, report=lambda _: None, progress=False)
    assert splits.name == "mnist" and splits.counts() == {
        "train": 275,
        "validation": 25,
        "test": 100,
    }


def test_torchvision_root_shows_and_trains(tmp_path):
    write_tiny_mnist(tmp_path / "data" / "FashionMNIST" / "raw")
    summary, _ = show(tmp_path / "data", tmp=tmp_path)
    assert summary["name"] == "fashion-mnist"  # named after the folder, not `raw` or `data`
    assert summary["class_names"][0] == "T-shirt/top"
    assert summary["splits"] == {"train": 275, "validation": 25, "test": 100}
    x_train, _ = tiny_mnist_arrays(300, 0)
    x_test, _ = tiny_mnist_arrays(100, 1)
    assert summary["pixel_mean"] == mean_of(x_train, x_test)
    trains_one_epoch(tmp_path / "data" / "FashionMNIST" / "raw", tmp_path)


def test_torchvision_root_of_several_datasets_asks_which(tmp_path):
    write_tiny_mnist(tmp_path / "MNIST" / "raw")
    write_tiny_mnist(tmp_path / "KMNIST" / "raw")
    line = fails_one_line("data", "show", tmp_path, "-o", tmp_path / "s.png")
    assert "several datasets (KMNIST, MNIST)" in line and str(tmp_path / "KMNIST") in line


# =========================================================================== Kaggle CSV


@pytest.mark.parametrize("header", [True, False])
def test_kaggle_csv_with_its_test_file_beside(arrays, tmp_path, header):
    x_train, y_train, x_test, y_test = arrays
    write_csv(tmp_path / "mnist_train.csv", x_train, y_train, header)
    write_csv(tmp_path / "mnist_test.csv", x_test, y_test, header)
    summary, _ = show(tmp_path / "mnist_train.csv", tmp=tmp_path)
    assert summary["splits"] == {"train": 550, "validation": 50, "test": 100}
    assert summary["pixel_mean"] == mean_of(x_train, x_test)
    assert summary["name"] == "mnist" and len(summary["files"]) == 2
    splits = D.load_dataset(tmp_path / "mnist_train.csv", report=lambda _: None, progress=False)
    assert np.array_equal(splits.test.images, x_test) and np.array_equal(splits.test.labels, y_test)
    assert np.array_equal(splits.validation.images, x_train[:50])


def test_kaggle_csv_trains(small, tmp_path):
    x_train, y_train, x_test, y_test = small
    write_csv(tmp_path / "mnist_train.csv", x_train, y_train, header=True)
    write_csv(tmp_path / "mnist_test.csv", x_test, y_test, header=True)
    summary = trains_one_epoch(tmp_path / "mnist_train.csv", tmp_path)
    assert summary["n_train"] == 275


def test_a_lone_csv_is_split_like_any_flat_set(arrays, tmp_path):
    x_train, y_train, _, _ = arrays
    path = write_csv(tmp_path / "digits.csv", x_train, y_train, header=False)
    summary, _ = show(path, tmp=tmp_path)
    assert summary["splits"] == {"train": 480, "validation": 60, "test": 60}
    assert summary["pixel_mean"] == mean_of(x_train)
    assert "stratified" in summary["split_rule"]


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("3," + ",".join(["0"] * 700) + ",x7" + ",0" * 83, "line 3, column 702: 'x7' is not"),
        ("3," + ",".join(["0"] * 783) + ",256", "line 3, column 785: pixel 256 is outside 0-255"),
        ("-1," + ",".join(["0"] * 784), "line 3, column 1: label -1 is outside"),
        ("3," + ",".join(["0"] * 700), "line 3 has 701 values, expected 785"),
    ],
)
def test_csv_bad_value_names_its_line_and_column(arrays, tmp_path, line, words):
    x_train, y_train, _, _ = arrays
    path = write_csv(tmp_path / "digits.csv", x_train[:30], y_train[:30], header=True)
    lines = path.read_text().splitlines()
    lines[2] = line  # the second data row is the file's third line
    path.write_text("\n".join(lines) + "\n")
    error = fails_one_line("data", "show", path, "-o", tmp_path / "s.png")
    assert str(path) in error and words in error


# =========================================================================== image folders


def test_folder_of_dark_ink_on_white_colour_images_is_fitted_and_inverted(tmp_path):
    root = write_drawings(tmp_path / "shapes")
    summary, notices = show(root, tmp=tmp_path)
    assert summary["splits"] == {"train": 30, "validation": 3, "test": 3}
    assert summary["class_names"] == sorted(SHAPES)
    assert "36 of 36 images fitted into 28x28" in notices
    assert "dark ink on a light background" in notices and "inverted 36 images" in notices
    assert summary["pixel_mean"] < 60  # light ink on black now, like MNIST (33.3)
    kept, notices = show(root, "--invert", "no", tmp=tmp_path)
    assert kept["pixel_mean"] > 190 and "kept so (--invert no)" in notices
    # A run remembers --invert: later commands read its data as it was trained on.
    trains_one_epoch(root, tmp_path, "--invert", "no")
    r = invoke("reconstruct", "--run", tmp_path / "run", "--json", "--n", "3")
    assert r.exit_code == 0, r.stderr
    assert "kept so (--invert no)" in r.stderr


def test_fitted_images_follow_mnists_rule(tmp_path):
    root = write_drawings(tmp_path / "shapes", per_class=10)
    splits = D.load_dataset(root, report=lambda _: None, progress=False)
    images = np.concatenate([splits[s].images for s in D.SPLITS])
    for im in images:
        rows = np.flatnonzero(im.max(axis=1) > 25)
        cols = np.flatnonzero(im.max(axis=0) > 25)
        # the ink's longer side is 20 pixels, give or take the anti-aliased edge
        assert 19 <= max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 <= 21
        w = im.astype(float)
        cy = (w.sum(axis=1) * np.arange(28)).sum() / w.sum()
        cx = (w.sum(axis=0) * np.arange(28)).sum() / w.sum()
        assert abs(cy - 13.5) <= 0.5 and abs(cx - 13.5) <= 0.5  # centred by its mass


def test_fit_keeps_the_aspect_ratio():
    ink = np.zeros((90, 30))
    ink[:, :] = 255  # a 3:1 upright block
    out = fit_glyph(ink)
    rows = np.flatnonzero(out.max(axis=1) > 128)
    cols = np.flatnonzero(out.max(axis=0) > 128)
    assert len(rows) == 20 and len(cols) in (6, 7, 8)


def test_light_on_dark_folder_is_not_inverted_and_28x28_images_are_kept(tmp_path):
    from conftest import png_bytes

    x, y = tiny_mnist_arrays(100, 3)
    for i, (im, k) in enumerate(zip(x, y, strict=True)):
        (tmp_path / "digits" / str(k)).mkdir(parents=True, exist_ok=True)
        (tmp_path / "digits" / str(k) / f"{i}.png").write_bytes(png_bytes(im))
    notices: list[str] = []
    splits = D.load_dataset(tmp_path / "digits", report=notices.append, progress=False)
    assert not any("invert" in n or "fitted" in n for n in notices)
    assert splits.pixel_mean() == mean_of(x)


def test_image_folder_with_a_corrupt_jpeg_names_it(tmp_path):
    root = write_drawings(tmp_path / "shapes")
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (64, 64), "white").save(buf, format="JPEG")
    (root / "bar" / "broken.jpg").write_bytes(buf.getvalue()[:300])  # cut short
    error = fails_one_line("data", "show", root, "-o", tmp_path / "s.png")
    assert "bar/broken.jpg: not a readable image" in error and "remove or replace" in error


def test_image_folder_checks_the_pixel_count_before_decoding(tmp_path, monkeypatch):
    from aecli.data.formats import imagefolder

    root = write_drawings(tmp_path / "shapes", per_class=10)
    monkeypatch.setattr(imagefolder, "MAX_SOURCE_PIXELS", 64 * 63)
    monkeypatch.setattr(imagefolder, "_grey", lambda im: pytest.fail("decoded anyway"))
    with pytest.raises(DataError, match=r"00.png: image is 64x64 pixels, more than 4,032"):
        D.load_dataset(root, report=lambda _: None, progress=False)


def test_images_outside_class_folders_say_how_to_arrange_them(tmp_path):
    root = tmp_path / "loose"
    root.mkdir()
    (root / "a.png").write_bytes(ink_drawing("bar", np.random.default_rng(0)))
    error = fails_one_line("data", "show", root, "-o", tmp_path / "s.png")
    assert "1 image files but no class folders" in error and "ROOT/<class>/" in error


# =========================================================================== .npz, other files


def test_npz_with_images_and_labels_still_works(arrays, tmp_path):
    x_train, y_train, _, _ = arrays
    np.savez(tmp_path / "mine.npz", images=x_train, labels=y_train)
    summary, _ = show(tmp_path / "mine.npz", tmp=tmp_path)
    assert summary["splits"] == {"train": 480, "validation": 60, "test": 60}
    assert summary["pixel_mean"] == mean_of(x_train)


@pytest.mark.parametrize("keras", [True, False])
def test_npz_with_mismatched_lengths(arrays, tmp_path, keras):
    x_train, y_train, x_test, y_test = arrays
    path = tmp_path / "data.npz"
    if keras:
        np.savez(path, x_train=x_train, y_train=y_train[:-1], x_test=x_test, y_test=y_test)
        words = "'x_train' holds 600 images but 'y_train' 599 labels"
    else:
        np.savez(path, images=x_train, labels=y_train[:-1])
        words = "600 images but 599 labels"
    error = fails_one_line("data", "show", path, "-o", tmp_path / "s.png")
    assert str(path) in error and words in error


def test_keras_npz_of_other_shapes_is_refused_before_loading(tmp_path, monkeypatch):
    path = tmp_path / "cifar.npz"
    x = np.zeros((4, 32, 32, 3), np.uint8)
    np.savez(path, x_train=x, y_train=np.zeros(4, np.uint8), x_test=x, y_test=np.zeros(4))
    monkeypatch.setattr(np, "load", lambda *a, **k: pytest.fail("loaded anyway"))
    with pytest.raises(DataError, match=r"'x_train' has shape \(4, 32, 32, 3\)"):
        D.load_dataset(path, report=lambda _: None, progress=False)


def test_keras_npz_whose_header_lies_is_refused_before_allocating(small, tmp_path, monkeypatch):
    import zipfile

    x_train, y_train, x_test, y_test = small
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    # the same bytes, but a header claiming 900,000 training images (3 padding spaces fewer)
    blob = members["x_train.npy"]
    end = blob.index(b"\n")
    header = blob[:end].replace(b"(300, 28", b"(900000, 28", 1).replace(b"   ", b"", 1)
    members["x_train.npy"] = header + blob[end:]
    with zipfile.ZipFile(path, "w") as z:
        for name, blob in members.items():
            z.writestr(name, blob)
    monkeypatch.setattr(np, "load", lambda *a, **k: pytest.fail("loaded anyway"))
    with pytest.raises(DataError, match=r"'x_train' claims shape \(900000, 28, 28\)"):
        D.load_dataset(path, report=lambda _: None, progress=False)


def test_unrecognised_file_lists_the_formats_and_how_to_convert(tmp_path):
    path = tmp_path / "digits.npy"
    np.save(path, np.zeros((3, 28, 28), np.uint8))
    error = fails_one_line("data", "show", path, "-o", tmp_path / "s.png")
    for word in ("IDX", "torchvision", "Keras", ".csv", "folder of class folders", ".tar.gz"):
        assert word in error
    assert 'np.savez("data.npz", images=x, labels=y)' in error


def test_invert_yes_inverts_a_stored_set(arrays, tmp_path):
    x_train, y_train, _, _ = arrays
    np.savez(tmp_path / "mine.npz", images=x_train, labels=y_train)
    summary, notices = show(tmp_path / "mine.npz", "--invert", "yes", tmp=tmp_path)
    assert summary["pixel_mean"] == round(255 - mean_of(x_train), 3)
    assert "as --invert yes asks" in notices


# =========================================================================== registry


def _pinned_to(folder: Path, name: str, monkeypatch) -> None:
    """Pin the registry entry ``name`` to the md5 sums of the tiny files in ``folder``."""
    entry = D.REGISTRY[name]
    files = tuple(
        dataclasses.replace(
            rf, size=None, md5=hashlib.md5((folder / rf.name).read_bytes()).hexdigest()
        )
        for rf in entry.downloads
    )
    monkeypatch.setitem(D.REGISTRY, name, dataclasses.replace(entry, downloads=files))


@pytest.mark.parametrize(("name", "first"), [("fashion-mnist", "T-shirt/top"), ("kmnist", "o")])
def test_registry_idx_sets_load_from_a_data_dir_with_md5_pins(name, first, tmp_path, monkeypatch):
    folder = write_tiny_mnist(tmp_path / name)
    _pinned_to(folder, name, monkeypatch)
    splits = D.load_dataset(name, tmp_path, report=lambda _: None, progress=False)
    assert splits.counts() == {"train": 275, "validation": 25, "test": 100}
    assert splits.class_names[0] == first and len(splits.class_names) == 10
    assert "md5 verified" in splits.source


def test_registry_md5_mismatch_is_an_error_naming_the_file(tmp_path):
    write_tiny_mnist(tmp_path / "kmnist")  # not the published KMNIST
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte.gz: checksum mismatch \(md5"):
        D.load_dataset("kmnist", tmp_path, report=lambda _: None, progress=False)


def test_registry_entries_as_published():
    fashion, kmnist = D.REGISTRY["fashion-mnist"], D.REGISTRY["kmnist"]
    assert fashion.downloads[0].md5 == "8d4fb7e6c68d591d4c3dfef9ec88bf0d"
    assert kmnist.downloads[3].md5 == "7320c461ea6c1c855c0b718fb2a4b134"
    for entry in (fashion, kmnist):
        assert entry.downloads[0].mirrors[0].startswith("https://")
        assert [rf.name for rf in entry.downloads] == [rf.name for rf in D.MNIST_FILES]
    assert fashion.class_names[-1] == "Ankle boot" and kmnist.class_names[-1] == "wo"


def test_fashion_mnist_offline_and_absent_is_one_error():
    error = fails_one_line("data", "show", "fashion-mnist", "-o", "unused.png")
    assert "fashion-mnist is not local and downloads are off" in error
    assert "aecli data download fashion-mnist" in error


def test_fashion_mnist_downloads_with_its_md5(tmp_path_factory, monkeypatch, isolated_cache):
    folder = write_tiny_mnist(tmp_path_factory.mktemp("remote") / "fashion")
    _pinned_to(folder, "fashion-mnist", monkeypatch)
    mirror = D.REGISTRY["fashion-mnist"].downloads[0].mirrors[0]
    routes = {mirror + p.name: p.read_bytes() for p in folder.iterdir()}
    routes[mirror + "t10k-labels-idx1-ubyte.gz"] = b"tampered"
    second = D.REGISTRY["fashion-mnist"].downloads[0].mirrors[1]
    routes[second + "t10k-labels-idx1-ubyte.gz"] = (
        folder / "t10k-labels-idx1-ubyte.gz"
    ).read_bytes()
    monkeypatch.setattr(fetch, "http_downloader", lambda bar: _Serve(routes))
    monkeypatch.delenv("AECLI_OFFLINE")
    result = D.download("fashion-mnist", report=lambda _: None, progress=False)
    assert result["action"] == "downloaded"
    assert result["dataset"]["splits"] == {"train": 275, "validation": 25, "test": 100}


class _Serve:
    def __init__(self, routes):
        self.routes = routes

    def __call__(self, url, output_file, pooch, check_only=False):
        if url not in self.routes:
            raise ConnectionError(url)
        Path(output_file).write_bytes(self.routes[url])


def test_data_list_reports_pixel_mean_where_local(monkeypatch):
    for name in ("notmnist", "letters"):  # 100 letters instead of 20,000: quicker
        entry = D.REGISTRY[name]
        made = dataclasses.replace(entry.default, per_class=10)
        monkeypatch.setitem(D.REGISTRY, name, dataclasses.replace(entry, default=made))
    r = invoke("data", "list", "--json")
    assert r.exit_code == 0, r.stderr
    ds = json.loads(r.stdout)["datasets"]
    assert ds["fashion-mnist"]["pixel_mean"] is None and ds["fashion-mnist"]["origin"] == "download"
    assert ds["kmnist"]["splits"] == {"train": 55_000, "validation": 5_000, "test": 10_000}
    assert 20 < ds["mnist"]["pixel_mean"] < 45  # the embedded sample, light on dark
    assert ds["letters"]["pixel_mean"] > 0


def test_real_pixel_means(shared_data):
    r = invoke("data", "list", "--data-dir", shared_data, "--json")
    ds = json.loads(r.stdout)["datasets"]
    assert round(ds["mnist"]["pixel_mean"], 1) == 33.4  # 70,000 images; the 60,000: 33.3
    assert 100 < ds["notmnist"]["pixel_mean"] < 115


@pytest.mark.parametrize(("name", "low"), [("fashion-mnist", -2.0), ("kmnist", -1.5)])
def test_configs_of_the_new_datasets(name, low):
    from aecli.config import load_config

    config = load_config(Path(__file__).parents[1] / "configs" / f"{name}.toml")
    assert config.data.dataset == name and config.name == name
    assert config.grid.low == low and config.grid.step == 0.2
